#include "agent/network/dhcp_packet.h"

#include <algorithm>

namespace kumo::agent::net::dhcp {
namespace {

constexpr size_t kBootpFixed = 236;  // op .. file
constexpr uint32_t kMagicCookie = 0x63825363;
constexpr size_t kMinReply = 300;  // BOOTP minimum; some clients drop shorter messages

enum Option : uint8_t {
  kPad = 0,
  kSubnetMask = 1,
  kRouter = 3,
  kDnsServers = 6,
  kHostName = 12,
  kInterfaceMtu = 26,
  kRequestedIp = 50,
  kLeaseTime = 51,
  kMessageType = 53,
  kServerId = 54,
  kRenewalTime = 58,
  kRebindingTime = 59,
  kClasslessRoutes = 121,
  kEnd = 255,
};

uint32_t Get32(const uint8_t* p) {
  return (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) | (uint32_t{p[2]} << 8) | p[3];
}
uint16_t Get16(const uint8_t* p) { return static_cast<uint16_t>((p[0] << 8) | p[1]); }
void Put32(std::vector<uint8_t>& out, uint32_t v) {
  out.insert(out.end(), {static_cast<uint8_t>(v >> 24), static_cast<uint8_t>(v >> 16),
                         static_cast<uint8_t>(v >> 8), static_cast<uint8_t>(v)});
}
void Put16(std::vector<uint8_t>& out, uint16_t v) {
  out.insert(out.end(), {static_cast<uint8_t>(v >> 8), static_cast<uint8_t>(v)});
}
void Set16(std::vector<uint8_t>& out, size_t at, uint16_t v) {
  out[at] = static_cast<uint8_t>(v >> 8);
  out[at + 1] = static_cast<uint8_t>(v);
}

void PutOption(std::vector<uint8_t>& out, uint8_t code, const std::vector<uint8_t>& data) {
  // Options longer than 255 bytes would need RFC 3396 splitting; ours never are (the
  // hostname is capped by the caller, DNS lists are short).
  size_t n = std::min<size_t>(data.size(), 255);
  out.push_back(code);
  out.push_back(static_cast<uint8_t>(n));
  out.insert(out.end(), data.begin(), data.begin() + static_cast<long>(n));
}
void PutOption32(std::vector<uint8_t>& out, uint8_t code, uint32_t v) {
  std::vector<uint8_t> d;
  Put32(d, v);
  PutOption(out, code, d);
}

// One's-complement sum over 16-bit words, as used by the IP and UDP checksums.
uint32_t SumWords(const uint8_t* p, size_t n, uint32_t sum) {
  for (size_t i = 0; i + 1 < n; i += 2) sum += Get16(p + i);
  if (n & 1) sum += static_cast<uint32_t>(p[n - 1]) << 8;
  return sum;
}
uint16_t Fold(uint32_t sum) {
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return static_cast<uint16_t>(~sum);
}

}  // namespace

const char* MessageTypeName(uint8_t type) {
  switch (type) {
    case kDiscover:
      return "DISCOVER";
    case kOffer:
      return "OFFER";
    case kRequest:
      return "REQUEST";
    case kDecline:
      return "DECLINE";
    case kAck:
      return "ACK";
    case kNak:
      return "NAK";
    case kRelease:
      return "RELEASE";
    case kInform:
      return "INFORM";
    default:
      return "UNKNOWN";
  }
}

std::optional<std::array<uint8_t, 6>> Request::Mac() const {
  if (htype != 1 || hlen != 6) return std::nullopt;
  std::array<uint8_t, 6> mac{};
  std::copy_n(chaddr.begin(), 6, mac.begin());
  return mac;
}

StatusOr<Request> ParseRequest(std::span<const uint8_t> b) {
  if (b.size() < kBootpFixed + 4) return BadRequest("DHCP message too short");
  if (b[0] != 1) return BadRequest("not a BOOTREQUEST");
  if (Get32(b.data() + kBootpFixed) != kMagicCookie) return BadRequest("no DHCP magic cookie");
  Request r;
  r.htype = b[1];
  r.hlen = b[2];
  r.xid = Get32(b.data() + 4);
  r.flags = Get16(b.data() + 10);
  r.ciaddr = Get32(b.data() + 12);
  r.giaddr = Get32(b.data() + 24);
  std::copy_n(b.data() + 28, 16, r.chaddr.begin());
  size_t i = kBootpFixed + 4;
  while (i < b.size()) {
    uint8_t code = b[i++];
    if (code == kPad) continue;
    if (code == kEnd) break;
    if (i >= b.size()) return BadRequest("DHCP option truncated");
    size_t len = b[i++];
    if (i + len > b.size()) return BadRequest("DHCP option overruns the message");
    const uint8_t* v = b.data() + i;
    if (code == kMessageType && len == 1) r.type = v[0];
    if (code == kRequestedIp && len == 4) r.requested_ip = Get32(v);
    if (code == kServerId && len == 4) r.server_id = Get32(v);
    i += len;
  }
  return r;
}

std::optional<uint8_t> ChooseReply(const Request& req, uint32_t lease_ip, uint32_t server_id) {
  switch (req.type) {
    case kDiscover:
      return kOffer;
    case kRequest: {
      if (req.server_id && *req.server_id != server_id) return std::nullopt;
      uint32_t wanted = req.requested_ip ? *req.requested_ip : req.ciaddr;
      return wanted == lease_ip ? kAck : kNak;
    }
    case kInform:
      return kAck;
    default:
      return std::nullopt;
  }
}

std::vector<uint8_t> BuildReply(const Request& req, uint8_t type, const Lease& lease) {
  const bool inform = req.type == kInform;
  const uint32_t yiaddr = (type == kNak || inform) ? 0 : lease.ip;
  std::vector<uint8_t> out;
  out.reserve(kMinReply + 64);
  out.insert(out.end(), {2, req.htype, req.hlen, 0});
  Put32(out, req.xid);
  Put16(out, 0);  // secs
  Put16(out, req.flags);
  Put32(out, type == kNak ? 0 : req.ciaddr);
  Put32(out, yiaddr);
  Put32(out, 0);  // siaddr: no next server (no network boot)
  Put32(out, req.giaddr);
  out.insert(out.end(), req.chaddr.begin(), req.chaddr.end());
  out.resize(kBootpFixed, 0);  // sname and file left empty
  Put32(out, kMagicCookie);

  PutOption(out, kMessageType, {type});
  PutOption32(out, kServerId, lease.server_id);
  if (type != kNak) {
    if (!inform) {
      PutOption32(out, kLeaseTime, lease.lease_seconds);
      PutOption32(out, kRenewalTime, lease.lease_seconds / 2);
      PutOption32(out, kRebindingTime, static_cast<uint32_t>(lease.lease_seconds * 7ull / 8));
    }
    PutOption32(out, kSubnetMask, 0xffffffffu);
    PutOption32(out, kRouter, lease.server_id);
    // RFC 3442: clients that understand option 121 ignore option 3. The gateway is outside
    // the client's /32, so it first gets an on-link host route, then the default route.
    std::vector<uint8_t> routes = {32};
    Put32(routes, lease.server_id);
    Put32(routes, 0);     // on-link
    routes.push_back(0);  // 0.0.0.0/0: no destination octets
    Put32(routes, lease.server_id);
    PutOption(out, kClasslessRoutes, routes);
    if (!lease.dns.empty()) {
      std::vector<uint8_t> dns;
      for (uint32_t d : lease.dns) Put32(dns, d);
      PutOption(out, kDnsServers, dns);
    }
    if (lease.mtu != 0) {
      std::vector<uint8_t> mtu;
      Put16(mtu, lease.mtu);
      PutOption(out, kInterfaceMtu, mtu);
    }
    if (!lease.hostname.empty()) {
      PutOption(out, kHostName, std::vector<uint8_t>(lease.hostname.begin(), lease.hostname.end()));
    }
  }
  out.push_back(kEnd);
  if (out.size() < kMinReply) out.resize(kMinReply, 0);
  return out;
}

Destination ReplyDestination(const Request& req, uint8_t type, uint32_t yiaddr) {
  Destination d;
  std::array<uint8_t, 6> bcast;
  bcast.fill(0xff);
  auto mac = req.Mac();
  if (type == kNak || !mac) {
    d.ip = 0xffffffffu;
    d.mac = bcast;
  } else if (req.ciaddr != 0) {
    d.ip = req.ciaddr;  // renewing/rebinding/informing: the client has its address
    d.mac = *mac;
  } else if (req.flags & kBroadcastFlag) {
    d.ip = 0xffffffffu;
    d.mac = bcast;
  } else {
    d.ip = yiaddr;  // unicast to an address the client does not have yet, at L2 to its MAC
    d.mac = *mac;
  }
  return d;
}

std::vector<uint8_t> BuildUdpPacket(uint32_t src_ip, uint32_t dst_ip, uint16_t src_port,
                                    uint16_t dst_port, std::span<const uint8_t> payload) {
  const size_t udp_len = 8 + payload.size();
  const size_t total = 20 + udp_len;
  std::vector<uint8_t> p;
  p.reserve(total);
  p.insert(p.end(), {0x45, 0x10});  // IPv4, IHL 5; TOS low delay, as ISC dhcpd sends
  Put16(p, static_cast<uint16_t>(total));
  Put16(p, 0);                  // id
  Put16(p, 0);                  // no fragmentation flags
  p.insert(p.end(), {64, 17});  // TTL, UDP
  Put16(p, 0);                  // header checksum, filled below
  Put32(p, src_ip);
  Put32(p, dst_ip);
  Set16(p, 10, Fold(SumWords(p.data(), 20, 0)));

  Put16(p, src_port);
  Put16(p, dst_port);
  Put16(p, static_cast<uint16_t>(udp_len));
  Put16(p, 0);  // UDP checksum, filled below
  p.insert(p.end(), payload.begin(), payload.end());
  // Pseudo-header: source, destination, zero + protocol, UDP length.
  uint32_t sum = SumWords(p.data() + 12, 8, 0) + 17 + static_cast<uint32_t>(udp_len);
  uint16_t csum = Fold(SumWords(p.data() + 20, udp_len, sum));
  Set16(p, 26, csum == 0 ? 0xffff : csum);
  return p;
}

std::optional<std::span<const uint8_t>> UdpPayload(std::span<const uint8_t> ip, uint16_t dst_port) {
  if (ip.size() < 20 || (ip[0] >> 4) != 4) return std::nullopt;
  size_t ihl = (ip[0] & 0x0f) * 4u;
  if (ihl < 20 || ip.size() < ihl + 8 || ip[9] != 17) return std::nullopt;
  if (Get16(ip.data() + 6) & 0x3fff) return std::nullopt;  // a fragment (MF or offset)
  size_t total = Get16(ip.data() + 2);
  if (total < ihl + 8 || total > ip.size()) return std::nullopt;
  const uint8_t* udp = ip.data() + ihl;
  if (Get16(udp + 2) != dst_port) return std::nullopt;
  size_t udp_len = Get16(udp + 4);
  if (udp_len < 8 || ihl + udp_len > total) return std::nullopt;
  return ip.subspan(ihl + 8, udp_len - 8);
}

}  // namespace kumo::agent::net::dhcp
