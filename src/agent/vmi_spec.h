// Translates a VirtualMachineInstance into what the runtime needs: vCPUs, memory, the disk
// image (a KubeVirt containerDisk names a Kumo Image), cloud-init data, networking.
#pragma once

#include "agent/runtime/runtime.h"
#include "client/rest_client.h"
#include "common/json.h"

namespace kumo::agent {

// NotFound (with a message a user can act on) when the image is missing or not ready;
// BadRequest for volumes Kumo cannot run yet.
StatusOr<VmSpec> SpecFromVmi(const json::value& vmi, client::RestClient& client);

// The Image name a containerDisk reference resolves to: "tiny", "kumo/tiny:latest" and
// "quay.io/containerdisks/fedora:39" give "tiny", "tiny" and "fedora".
std::string ImageNameOf(const std::string& container_disk_image);

// status.interfaces: the VMI's routed address (annotation kumo.io/ip), or 10.0.2.15 for a VM on
// QEMU user-mode NAT (no IP pool), as KubeVirt's masquerade binding reports its guest address.
json::array InterfacesStatus(const json::value& vmi);

}  // namespace kumo::agent
