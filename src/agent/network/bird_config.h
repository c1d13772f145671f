// BIRD 2 configuration for a node, rendered the way Calico's confd templates do it: BIRD learns
// the VM /32 routes the agent adds to the kernel (`learn` in the kernel protocol, import filter
// on the pools), announces them over BGP to the configured peers (a top-of-rack router, route
// reflectors) and, with the node-to-node mesh, over iBGP to every other node; /32s learned from
// BGP are installed in the kernel so the node can reach VMs on other nodes.
//
// The output depends only on the struct (no timestamps, input order kept, mesh sorted), so it
// can be compared with the file on disk to decide whether BIRD needs a reload.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/status.h"

namespace kumo::agent::net {

inline constexpr uint32_t kDefaultAsNumber = 64512;  // Calico's default private AS

struct BgpPeer {
  std::string address;     // IPv4 of the peer
  uint32_t as_number = 0;  // == local AS: iBGP; otherwise eBGP
  std::string password;    // TCP MD5 secret; "" = none. No '"', '\\' or control characters.
  // false: BIRD's `direct` (the peer shares a subnet with us, no multihop);
  // true: `multihop` (the next hop must then be resolvable in BIRD's own table).
  bool multihop = false;
  std::string name;  // BIRD protocol name; "" = "peer_<address with '_'>"
};

struct BirdConfig {
  std::string router_id;  // IPv4, usually the node's address
  uint32_t as_number = kDefaultAsNumber;
  // IP pools (CIDRs). Only /32s inside them are learned from the kernel, announced and
  // accepted from peers; the pools' own unreachable routes stay local.
  std::vector<std::string> pools;
  std::vector<BgpPeer> peers;
  // Calico's nodeToNodeMeshEnabled: iBGP (local AS) to every address in mesh_nodes, skipping
  // router_id itself and addresses already listed in `peers` (one session per router pair).
  bool node_to_node_mesh = false;
  std::vector<std::string> mesh_nodes;
  bool mesh_multihop = false;  // as BgpPeer::multihop, for the mesh sessions
  std::string source_address;  // IPv4 for outgoing BGP sessions; "" = chosen by BIRD
  // How often BIRD reads the kernel table; new VM routes are announced within this time.
  int kernel_scan_seconds = 1;
  // Install /32s learned over BGP into the kernel (needed for the mesh and for a ToR run by
  // BIRD); off for a node that only announces.
  bool program_kernel = true;
  std::string log_file;  // "" = BIRD's default (syslog)
};

// The bird.conf text for `config`. BadRequest naming the field when an address, prefix, AS
// number, password or protocol name is invalid.
StatusOr<std::string> RenderBirdConfig(const BirdConfig& config);

}  // namespace kumo::agent::net
