// Hollow nodes, as Kubernetes' kubemark: one process simulates many nodes over the real API, so
// that the control plane can be measured at the size of a real cloud without the machines.
// Each hollow node has its own identity (a client certificate for system:node:NAME issued from
// the server's CA) and its own connections, and makes the requests of a real agent: it
// registers its Node, renews its Lease at the kubelet's period and posts its Ready condition
// every few minutes, watches the VMIs bound to it and migrating to it and the volumes and
// snapshots it holds, and reports each VMI Running (with the address IPAM gave it, checked
// against its IPAllocation) as the agent does, without starting QEMU. Deleted VMIs are
// released (finalizer) as the agent releases them. Real VMs: `kumo agent` or `kumo lab`.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "common/status.h"

namespace kumo::agent {

struct HollowOptions {
  int count = 0;
  int first_index = 0;                   // nodes are PREFIX00000 .. (zero-padded)
  std::string name_prefix = "hollow-";
  std::string server_data_dir = "/var/lib/kumo";  // its pki/ issues the node identities
  std::string server_url;                // "" = the admin kubeconfig's in server_data_dir
  int64_t cpus = 64;
  int64_t memory_bytes = 256LL << 30;
  int heartbeat_seconds = 10;
  int lease_duration_seconds = 40;
  int status_report_seconds = 300;
  int workers = 8;  // threads that register nodes and report VMIs
  // Each node connects from its own loopback address (127.1.x.y) when the server is on
  // loopback, as real nodes come from their own addresses (and per-address limits apply).
  bool distinct_source_addresses = true;
};

// Start() returns once every node is registered; Stop() or destruction ends all threads.
class HollowNodes {
 public:
  virtual ~HollowNodes() = default;
  static StatusOr<std::unique_ptr<HollowNodes>> Start(const HollowOptions& options);
  virtual void Stop() = 0;
  // VMIs reported Running and still held, over all nodes.
  virtual size_t running() const = 0;
};

}  // namespace kumo::agent
