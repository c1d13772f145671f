#include "agent/network/dhcp_server.h"

#include <arpa/inet.h>
#include <linux/filter.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <poll.h>
#include <spdlog/spdlog.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdio>
#include <cstring>

#include "agent/network/ip_tool.h"
#include "common/ipv4.h"
#include "agent/network/netns.h"

namespace kumo::agent::net {
namespace {

std::string MacToString(const std::array<uint8_t, 6>& m) {
  char buf[18];
  snprintf(buf, sizeof buf, "%02x:%02x:%02x:%02x:%02x:%02x", m[0], m[1], m[2], m[3], m[4], m[5]);
  return buf;
}

StatusOr<std::array<uint8_t, 6>> ParseMac(const std::string& text) {
  std::array<unsigned, 6> v{};
  char tail;
  if (sscanf(text.c_str(), "%2x:%2x:%2x:%2x:%2x:%2x%c", &v[0], &v[1], &v[2], &v[3], &v[4], &v[5],
             &tail) != 6 ||
      text.size() != 17) {
    return BadRequest("'" + text + "' is not a MAC address (expected aa:bb:cc:dd:ee:ff)");
  }
  std::array<uint8_t, 6> mac{};
  for (int i = 0; i < 6; ++i) mac[i] = static_cast<uint8_t>(v[i]);
  return mac;
}

Status ValidateHostname(const std::string& h) {
  if (h.size() > 253) return BadRequest("DHCP hostname longer than 253 characters");
  for (char c : h) {
    if (!isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '.') {
      return BadRequest("DHCP hostname '" + h + "' may hold only letters, digits, '-' and '.'");
    }
  }
  return Status::Ok();
}

// Accepts unfragmented UDP to port 67 only, so the thread does not wake up for the VM's
// ordinary traffic on the tap. Offsets are from the IP header (SOCK_DGRAM packet socket).
constexpr sock_filter kDhcpFilter[] = {
    BPF_STMT(BPF_LD | BPF_B | BPF_ABS, 9),                         // protocol
    BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, IPPROTO_UDP, 0, 6),        // UDP?
    BPF_STMT(BPF_LD | BPF_H | BPF_ABS, 6),                         // flags/offset
    BPF_JUMP(BPF_JMP | BPF_JSET | BPF_K, 0x1fff, 4, 0),            // a fragment?
    BPF_STMT(BPF_LDX | BPF_B | BPF_MSH, 0),                        // X = IHL * 4
    BPF_STMT(BPF_LD | BPF_H | BPF_IND, 2),                         // UDP dest port
    BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, dhcp::kServerPort, 0, 1),  // port 67?
    BPF_STMT(BPF_RET | BPF_K, 0x40000),                            // accept
    BPF_STMT(BPF_RET | BPF_K, 0),                                  // drop
};

}  // namespace

StatusOr<dhcp::Lease> MakeLease(const DhcpConfig& config) {
  dhcp::Lease lease;
  if (config.ip.empty()) return BadRequest("DHCP config needs the VM's IP address");
  KUMO_ASSIGN_OR_RETURN(lease.ip, ParseIpv4(config.ip));
  KUMO_ASSIGN_OR_RETURN(lease.server_id, ParseIpv4(kGatewayIp));
  for (const auto& d : config.dns) {
    KUMO_ASSIGN_OR_RETURN(uint32_t a, ParseIpv4(d));
    lease.dns.push_back(a);
  }
  if (lease.dns.size() > 16) return BadRequest("DHCP config lists more than 16 DNS servers");
  if (config.mtu != 0 && (config.mtu < 68 || config.mtu > 65535)) {
    return BadRequest("DHCP MTU " + std::to_string(config.mtu) + " is outside 68-65535");
  }
  lease.mtu = static_cast<uint16_t>(config.mtu);
  if (config.lease_seconds < 60) return BadRequest("DHCP lease must be at least 60 seconds");
  lease.lease_seconds = config.lease_seconds;
  KUMO_RETURN_IF_ERROR(ValidateHostname(config.hostname));
  lease.hostname = config.hostname;
  return lease;
}

StatusOr<DhcpServer::Filter> DhcpServer::MakeFilter(const DhcpConfig& config) {
  Filter f;
  KUMO_ASSIGN_OR_RETURN(f.lease, MakeLease(config));
  if (!config.client_mac.empty()) {
    KUMO_ASSIGN_OR_RETURN(f.client_mac, ParseMac(config.client_mac));
  }
  return f;
}

DhcpServer::DhcpServer(std::string interface, std::string netns, DhcpConfig config)
    : interface_(std::move(interface)), netns_(std::move(netns)) {
  auto f = MakeFilter(config);
  if (f.ok()) {
    filter_ = std::move(f).value();
  } else {
    config_status_ = f.status();
  }
}

DhcpServer::~DhcpServer() { Stop(); }

Status DhcpServer::Start() {
  std::lock_guard<std::mutex> life(life_mu_);
  if (thread_.joinable()) return Conflict("DHCP responder on " + interface_ + " already runs");
  {
    std::lock_guard<std::mutex> lock(mu_);
    KUMO_RETURN_IF_ERROR(config_status_);
  }
  KUMO_RETURN_IF_ERROR(ValidateInterfaceName(interface_));
  wake_fd_ = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (wake_fd_ < 0) return Internal(std::string("eventfd: ") + strerror(errno));
  std::promise<Status> started;
  std::future<Status> result = started.get_future();
  thread_ = std::thread([this, &started] { Run(&started); });
  Status st = result.get();
  if (!st.ok()) {
    thread_.join();
    close(wake_fd_);
    wake_fd_ = -1;
    return st;
  }
  running_ = true;
  uint32_t ip;
  {
    std::lock_guard<std::mutex> lock(mu_);
    ip = filter_.lease.ip;
  }
  spdlog::info("DHCP responder on {}{} serves {}", interface_,
               netns_.empty() ? "" : " (netns " + netns_ + ")", FormatIpv4(ip));
  return Status::Ok();
}

void DhcpServer::Stop() {
  std::lock_guard<std::mutex> life(life_mu_);
  if (!thread_.joinable()) return;
  uint64_t one = 1;
  if (write(wake_fd_, &one, sizeof one) != sizeof one) {
    spdlog::error("DHCP responder on {}: cannot signal the thread: {}", interface_,
                  strerror(errno));
  }
  thread_.join();
  close(wake_fd_);
  wake_fd_ = -1;
  running_ = false;
}

bool DhcpServer::running() const { return running_; }

Status DhcpServer::UpdateConfig(const DhcpConfig& config) {
  KUMO_ASSIGN_OR_RETURN(Filter f, MakeFilter(config));
  std::lock_guard<std::mutex> lock(mu_);
  filter_ = std::move(f);
  config_status_ = Status::Ok();
  return Status::Ok();
}

DhcpStats DhcpServer::stats() const {
  return DhcpStats{offers_.load(), acks_.load(), naks_.load(), ignored_.load()};
}

void DhcpServer::Run(std::promise<Status>* started) {
  // Until set_value, `started` lives on Start()'s stack; afterwards it must not be touched.
  Status st = EnterNetns(netns_);
  if (!st.ok()) {
    started->set_value(st);
    return;
  }
  // if_nametoindex asks through a socket it creates now, i.e. inside the namespace.
  const int ifindex = static_cast<int>(if_nametoindex(interface_.c_str()));
  if (ifindex == 0) {
    started->set_value(NotFound("interface " + interface_ + " not found" +
                                (netns_.empty() ? "" : " in network namespace " + netns_)));
    return;
  }
  // Protocol 0 receives nothing until bind, so no unfiltered packet slips in before the filter.
  int fd = socket(AF_PACKET, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) {
    started->set_value(
        Internal(std::string("packet socket: ") + strerror(errno) + " (needs CAP_NET_RAW)"));
    return;
  }
  sock_fprog prog{static_cast<unsigned short>(std::size(kDhcpFilter)),
                  const_cast<sock_filter*>(kDhcpFilter)};
  sockaddr_ll addr{};
  addr.sll_family = AF_PACKET;
  addr.sll_protocol = htons(ETH_P_IP);
  addr.sll_ifindex = ifindex;
  if (setsockopt(fd, SOL_SOCKET, SO_ATTACH_FILTER, &prog, sizeof prog) != 0 ||
      bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    started->set_value(Internal("DHCP socket on " + interface_ + ": " + strerror(errno)));
    close(fd);
    return;
  }
  started->set_value(Status::Ok());

  std::vector<uint8_t> buf(65536);
  for (;;) {
    pollfd fds[2] = {{fd, POLLIN, 0}, {wake_fd_, POLLIN, 0}};
    if (poll(fds, 2, -1) < 0) {
      if (errno == EINTR) continue;
      spdlog::error("DHCP responder on {}: poll: {}", interface_, strerror(errno));
      break;
    }
    if (fds[1].revents) break;
    if (!fds[0].revents) continue;
    for (;;) {
      sockaddr_ll from{};
      socklen_t from_len = sizeof from;
      ssize_t n =
          recvfrom(fd, buf.data(), buf.size(), 0, reinterpret_cast<sockaddr*>(&from), &from_len);
      if (n < 0) {
        // ENETDOWN and friends are reported once when the interface goes down; the socket
        // keeps working when it comes back up.
        if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
          spdlog::debug("DHCP responder on {}: recv: {}", interface_, strerror(errno));
        }
        break;
      }
      if (from.sll_pkttype == PACKET_OUTGOING) continue;
      Handle(fd, ifindex, std::span<const uint8_t>(buf.data(), static_cast<size_t>(n)));
    }
  }
  close(fd);
}

void DhcpServer::Handle(int fd, int ifindex, std::span<const uint8_t> packet) {
  auto payload = dhcp::UdpPayload(packet, dhcp::kServerPort);
  if (!payload) return;
  auto req = dhcp::ParseRequest(*payload);
  if (!req.ok()) {
    ++ignored_;
    spdlog::debug("DHCP responder on {}: {}", interface_, req.status().message());
    return;
  }
  Filter f;
  {
    std::lock_guard<std::mutex> lock(mu_);
    f = filter_;
  }
  auto mac = req->Mac();
  const std::string client = mac ? MacToString(*mac) : std::string("non-Ethernet client");
  if (req->giaddr != 0 || (f.client_mac && (!mac || *mac != *f.client_mac))) {
    ++ignored_;
    spdlog::debug("DHCP responder on {}: ignoring {} from {}", interface_,
                  dhcp::MessageTypeName(req->type), client);
    return;
  }
  auto type = dhcp::ChooseReply(*req, f.lease.ip, f.lease.server_id);
  if (!type) {
    ++ignored_;
    if (req->type == dhcp::kDecline) {
      spdlog::warn("DHCP responder on {}: {} declined {} (address conflict in the guest?)",
                   interface_, client, FormatIpv4(f.lease.ip));
    }
    return;
  }
  auto reply = dhcp::BuildReply(*req, *type, f.lease);
  auto dest = dhcp::ReplyDestination(*req, *type, f.lease.ip);
  auto ip_packet =
      dhcp::BuildUdpPacket(f.lease.server_id, dest.ip, dhcp::kServerPort, dhcp::kClientPort, reply);
  sockaddr_ll to{};
  to.sll_family = AF_PACKET;
  to.sll_protocol = htons(ETH_P_IP);
  to.sll_ifindex = ifindex;
  to.sll_halen = 6;
  std::copy(dest.mac.begin(), dest.mac.end(), to.sll_addr);
  if (sendto(fd, ip_packet.data(), ip_packet.size(), 0, reinterpret_cast<sockaddr*>(&to),
             sizeof to) < 0) {
    spdlog::warn("DHCP responder on {}: sending {} to {}: {}", interface_,
                 dhcp::MessageTypeName(*type), client, strerror(errno));
    return;
  }
  if (*type == dhcp::kOffer) ++offers_;
  if (*type == dhcp::kAck) ++acks_;
  if (*type == dhcp::kNak) ++naks_;
  auto level = *type == dhcp::kOffer ? spdlog::level::debug : spdlog::level::info;
  spdlog::log(level, "DHCP responder on {}: {} {} to {}", interface_, dhcp::MessageTypeName(*type),
              FormatIpv4(f.lease.ip), client);
}

}  // namespace kumo::agent::net
