// Semantics that several modules read off objects: a VM's run strategy, whether a VMI's live
// migration is under way, and how the API server finds and trusts a node's agent.
#pragma once

#include <string>
#include <string_view>

#include "common/json.h"

namespace kumo::api {

// Node annotations an agent publishes for the API server: its HTTPS endpoint ("host:port")
// and the SHA-256 (hex) of its self-signed certificate, which the server pins.
inline constexpr char kAgentEndpointAnnotation[] = "kumo.io/agent-endpoint";
inline constexpr char kAgentCertAnnotation[] = "kumo.io/agent-cert-sha256";
// The user name in the client certificate the API server presents to agents.
inline constexpr char kApiServerClientName[] = "kumo-apiserver";

// The address IPAM gave a VMI, written by the VM controller only: admission refuses it (and
// changes of it) from every API caller, and the agent routes nothing else.
inline constexpr char kVmiIpAnnotation[] = "kumo.io/ip";

// Names the IPReservation a VM (or VMI) takes its address from, on the object or its template.
inline constexpr char kIpReservationAnnotation[] = "kumo.io/ip-reservation";

// The reservation `vm` names: its own kumo.io/ip-reservation annotation, else its template's;
// "" when none. The one answer for IPAM, quota and admission.
std::string VmReservation(const json::value& vm);

// The uid in a VMI's VirtualMachine ownerReference, "" when no VM owns it. Only the VM
// controller sets that reference; admission refuses it from API callers.
std::string VmOwnerUid(const json::value& vmi);

// True when `node` runs the VMI or takes part in its live migration: status.nodeName, or
// status.migrationState's sourceNode or targetNode.
bool VmiBoundTo(const json::value& vmi, std::string_view node);

// spec.runStrategy, or what the deprecated spec.running means (true: Always, else Halted).
std::string RunStrategyOf(const json::value& vm);

// True while status.migrationState (may be null) describes a migration that has neither
// completed nor failed.
bool MigrationActive(const json::value* migration_state);

// The Image name a containerDisk reference (or a DataVolume's registry URL) resolves to:
// "tiny", "kumo/tiny:latest", "docker://quay.io/containerdisks/fedora:39" give "tiny", "tiny",
// "fedora".
std::string ImageNameOf(std::string_view container_disk_image);

}  // namespace kumo::api
