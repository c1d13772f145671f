// A DHCP responder for one VM on one interface (its tap): it answers DISCOVER with OFFER and
// REQUEST with ACK for exactly one address, the VM's, as a /32 with gateway 169.254.1.1
// (Calico's routed model; see ip_tool.h). It listens on a packet socket bound to the interface,
// so it needs no address on the tap, does not compete for UDP port 67 with other responders,
// and can answer a client that has no address yet at layer 2.
//
// Known limitation: a client renewing at T1 sends its REQUEST by unicast to 169.254.1.1 via
// its default route. The responder sees and answers it on the tap, but the node's kernel may
// also forward that packet along its own default route (169.254.1.1 is not a local address);
// a forward-chain rule dropping UDP to port 67 from the taps stops that.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <future>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <thread>
#include <vector>

#include "agent/network/dhcp_packet.h"
#include "common/status.h"

namespace kumo::agent::net {

struct DhcpConfig {
  std::string ip;                // the VM's address, handed out with mask 255.255.255.255
  std::string hostname;          // option 12; "" = none
  std::vector<std::string> dns;  // option 6, in order
  int mtu = 1500;                // option 26; 0 = none
  uint32_t lease_seconds = 86400;
  // When set ("52:54:00:12:34:56"), only this client is answered; "" answers any client on
  // the interface (a tap has only its VM behind it).
  std::string client_mac;
};

// Validates and converts a config into what goes on the wire (server id 169.254.1.1).
StatusOr<dhcp::Lease> MakeLease(const DhcpConfig& config);

// Counters of messages sent, for tests and status pages.
struct DhcpStats {
  uint64_t offers = 0;
  uint64_t acks = 0;
  uint64_t naks = 0;
  uint64_t ignored = 0;  // malformed, another client, another server chosen, relayed
};

// Owned by whoever runs the VM's networking (one per VM); all methods are thread-safe.
class DhcpServer {
 public:
  // `interface` in network namespace `netns` ("" = the caller's namespace).
  DhcpServer(std::string interface, std::string netns, DhcpConfig config);
  ~DhcpServer();  // Stop()
  DhcpServer(const DhcpServer&) = delete;
  DhcpServer& operator=(const DhcpServer&) = delete;

  // Validates the config, starts the responder thread, enters the namespace, opens the socket
  // and returns once it listens (or with the error that stopped it: NotFound for a missing
  // interface or namespace). The socket is tied to the interface's index: when the tap is
  // deleted and created again, Stop() and Start() the responder too. Conflict when already
  // running; BadRequest when the config given to the constructor is invalid.
  Status Start();
  // Stops the thread and closes the socket. Idempotent; safe to call when never started.
  void Stop();
  bool running() const;

  // Replaces the lease answered from now on (e.g. a new hostname). BadRequest when invalid.
  Status UpdateConfig(const DhcpConfig& config);

  DhcpStats stats() const;
  const std::string& interface() const { return interface_; }

 private:
  struct Filter {  // the lease answered and the client it is for, swapped as a whole
    dhcp::Lease lease;
    std::optional<std::array<uint8_t, 6>> client_mac;
  };
  static StatusOr<Filter> MakeFilter(const DhcpConfig& config);
  // The responder thread: enters the namespace, opens the socket, reports the outcome through
  // `started`, then serves until wake_fd_ is signalled.
  void Run(std::promise<Status>* started);
  void Handle(int fd, int ifindex, std::span<const uint8_t> packet);

  const std::string interface_;
  const std::string netns_;

  std::mutex life_mu_;  // serialises Start and Stop
  std::thread thread_;
  int wake_fd_ = -1;  // eventfd; written by Stop

  mutable std::mutex mu_;  // guards filter_
  Filter filter_;
  Status config_status_;  // of the config given to the constructor

  std::atomic<uint64_t> offers_{0}, acks_{0}, naks_{0}, ignored_{0};
  std::atomic<bool> running_{false};
};

}  // namespace kumo::agent::net
