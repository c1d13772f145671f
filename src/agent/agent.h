// The node agent (`kumo agent`): registers this host as a Node, renews its Lease, and runs the
// VirtualMachineInstances bound to it with the QEMU runtime, reporting their status. Restarting
// the agent neither kills nor forgets running VMs: it adopts them again.
#pragma once

#include <memory>
#include <string>

#include "agent/runtime/runtime.h"
#include "client/rest_client.h"
#include "common/status.h"

namespace kumo::agent {

struct AgentOptions {
  std::string node_name;   // defaults to the host name
  std::string data_dir = "/var/lib/kumo-agent";
  std::string accel = "auto";  // auto (probe KVM, else TCG), kvm, tcg
  std::string node_ip;         // the node's address (InternalIP, BGP router id); "" = no BGP
  // The agent's HTTPS endpoint for consoles (see node_endpoint.h). Port 0: any free port.
  std::string listen_host = "0.0.0.0";
  int listen_port = 10250;
  std::string advertise_host;  // the address the API server dials; "" = node_ip, else 127.0.0.1
  std::string ca_pem;          // the cluster CA; "" disables the endpoint (no consoles)
  int heartbeat_seconds = 10;  // Lease renewal, as the kubelet's (a quarter of the duration)
  int status_report_seconds = 300;  // the Ready condition, as the kubelet's status report
  // How long the agent trusts that a running VM's address is still allocated to it before it
  // asks the server again (a withdrawn allocation withdraws the route within this time).
  int address_recheck_seconds = 300;
  int lease_duration_seconds = 40;
  int64_t reserved_memory_bytes = 512LL << 20;  // kept for the host, not offered to VMs
};

// Start() from one thread; Stop() or destruction ends all agent threads (VMs keep running).
class Agent {
 public:
  virtual ~Agent() = default;
  static StatusOr<std::unique_ptr<Agent>> Start(const AgentOptions& options,
                                                std::unique_ptr<client::RestClient> client,
                                                std::unique_ptr<Runtime> runtime);
  virtual void Stop() = 0;
};

}  // namespace kumo::agent
