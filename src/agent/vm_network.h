// The routed network of the VMs on this node (Calico style): a tap per VM with its /32 route
// and proxy ARP, a DHCP responder handing the guest its own address, unreachable routes for
// the pools, and BIRD announcing the VM /32s to the configured BGP peers.
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "agent/network/bird_process.h"
#include "agent/network/dhcp_server.h"
#include "client/rest_client.h"
#include "common/status.h"

namespace kumo::agent {

struct VmNetworkOptions {
  std::string state_dir;           // BIRD's files live under state_dir/bird
  std::string node_name;
  std::string node_ip;             // router id and BGP source; "" = no BGP
  std::vector<std::string> dns = {"169.254.1.1"};
  int mtu = 1500;
};

// Thread-safe. Owned by the agent.
class VmNetwork {
 public:
  explicit VmNetwork(VmNetworkOptions options);
  ~VmNetwork();

  // Creates the VM's tap and /32 route and starts its DHCP responder; returns the tap name.
  // Idempotent (also re-attaches the responder after an agent restart).
  StatusOr<std::string> SetUp(const std::string& ns, const std::string& name, const std::string& ip,
                              const std::string& hostname);
  // Stops the responder and removes the /32 route (so BIRD withdraws it) but keeps the tap that
  // QEMU holds: SetUp routes it again. For an address the VM may no longer use.
  Status Withdraw(const std::string& ns, const std::string& name, const std::string& ip);
  // Stops the responder and removes the route and tap. OK when already gone.
  Status TearDown(const std::string& ns, const std::string& name, const std::string& ip);

  // Reads IPPools, BGPConfiguration and BGPPeers; keeps unreachable routes for every pool and
  // BIRD's configuration current. Called periodically.
  Status Sync(client::RestClient& client);

 private:
  void StopResponder(const std::string& ns, const std::string& name);

  VmNetworkOptions options_;
  std::mutex mu_;
  std::map<std::string, std::unique_ptr<net::DhcpServer>> dhcp_;  // by ns/name
  std::vector<std::string> pools_;
  std::unique_ptr<net::BirdProcess> bird_;
};

}  // namespace kumo::agent
