// Translates a VirtualMachineInstance into what the runtime needs: vCPUs, memory, the disk
// image (a KubeVirt containerDisk names a Kumo Image), cloud-init data, networking.
#pragma once

#include "agent/runtime/runtime.h"
#include "client/rest_client.h"
#include "common/json.h"

#include <functional>
#include <string>
#include <vector>

namespace kumo::agent {

// Where this node finds a Ready Image's bytes: its status.path, or (for an uploaded image) a
// file in the node's image cache.
using ImageResolver = std::function<StatusOr<std::string>(const json::value& image)>;

// NotFound (with a message a user can act on) when the image is missing or not ready;
// BadRequest for volumes Kumo cannot run yet. `resolve` null: status.path.
StatusOr<VmSpec> SpecFromVmi(const json::value& vmi, client::RestClient& client,
                             const ImageResolver& resolve = nullptr);

// status.interfaces: the VMI's routed address (annotation kumo.io/ip), or 10.0.2.15 for a VM on
// QEMU user-mode NAT (no IP pool), as KubeVirt's masquerade binding reports its guest address.
json::array InterfacesStatus(const json::value& vmi);

// status.volumeStatus as KubeVirt reports it: each claim the VMI runs on, Ready, with its
// size (the volume controller marks a volume populated once it sees this).
json::array VolumeStatus(const json::value& vmi);

// cloud-init network config (version 2) for a routed address: `ip`/32 on the first Ethernet
// interface, 169.254.1.1 on-link and the default route through it, DNS and MTU — what the DHCP
// responder hands out, for cloud images that configure their network from the seed.
std::string RoutedNetworkConfig(const std::string& ip, const std::vector<std::string>& dns, int mtu);

}  // namespace kumo::agent
