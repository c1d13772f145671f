// DHCP (RFC 2131/2132, option 121 from RFC 3442) message encoding for the per-VM responder:
// parsing a client's BOOTREQUEST out of an IPv4/UDP packet, deciding the answer, and building
// the BOOTREPLY inside an IPv4/UDP packet. Pure functions over bytes, so they are unit-tested
// without sockets; dhcp_server.h does the I/O.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "common/status.h"

namespace kumo::agent::net::dhcp {

inline constexpr uint16_t kServerPort = 67;
inline constexpr uint16_t kClientPort = 68;
inline constexpr uint16_t kBroadcastFlag = 0x8000;

enum MessageType : uint8_t {
  kDiscover = 1,
  kOffer = 2,
  kRequest = 3,
  kDecline = 4,
  kAck = 5,
  kNak = 6,
  kRelease = 7,
  kInform = 8,
};
const char* MessageTypeName(uint8_t type);

// What the responder hands out, already parsed (host byte order).
struct Lease {
  uint32_t ip = 0;         // the VM's address, offered with mask 255.255.255.255
  uint32_t server_id = 0;  // also the router and the source address of replies
  std::vector<uint32_t> dns;
  uint16_t mtu = 0;  // 0 = option 26 omitted
  uint32_t lease_seconds = 0;
  std::string hostname;  // "" = option 12 omitted
};

// The fields of a client message the responder looks at.
struct Request {
  uint8_t type = 0;  // option 53; 0 when absent (plain BOOTP, ignored)
  uint32_t xid = 0;
  uint16_t flags = 0;
  uint8_t htype = 0;
  uint8_t hlen = 0;
  uint32_t ciaddr = 0;
  uint32_t giaddr = 0;
  std::array<uint8_t, 16> chaddr{};
  std::optional<uint32_t> requested_ip;  // option 50
  std::optional<uint32_t> server_id;     // option 54
  // The client's hardware address when it is Ethernet (htype 1, hlen 6).
  std::optional<std::array<uint8_t, 6>> Mac() const;
};

// Parses a BOOTP/DHCP message (the UDP payload). BadRequest when it is not a well-formed
// BOOTREQUEST with the DHCP magic cookie.
StatusOr<Request> ParseRequest(std::span<const uint8_t> bootp);

// The reply type for `req` when we own exactly `lease_ip`: DISCOVER -> OFFER; REQUEST for our
// address (option 50 or ciaddr) -> ACK, for another -> NAK; REQUEST naming another server ->
// none (the client chose that server); INFORM -> ACK; everything else -> none.
std::optional<uint8_t> ChooseReply(const Request& req, uint32_t lease_ip, uint32_t server_id);

// The BOOTREPLY payload: yiaddr, mask /32, router, classless routes (server_id/32 on-link, then
// default via server_id), DNS, MTU, lease and renewal times, server id, hostname. A NAK carries
// only the type and server id; an ACK to INFORM carries no address or lease times.
std::vector<uint8_t> BuildReply(const Request& req, uint8_t type, const Lease& lease);

// Where a reply goes, following RFC 2131 section 4.1 for a server without relays.
struct Destination {
  uint32_t ip = 0;
  std::array<uint8_t, 6> mac{};
};
Destination ReplyDestination(const Request& req, uint8_t type, uint32_t yiaddr);

// An IPv4 packet (no options, DF clear, TTL 64) carrying a UDP datagram, checksums filled in.
std::vector<uint8_t> BuildUdpPacket(uint32_t src_ip, uint32_t dst_ip, uint16_t src_port,
                                    uint16_t dst_port, std::span<const uint8_t> payload);

// The UDP payload of an IPv4 packet when it is an unfragmented UDP datagram to `dst_port`.
std::optional<std::span<const uint8_t>> UdpPayload(std::span<const uint8_t> ip_packet,
                                                   uint16_t dst_port);

}  // namespace kumo::agent::net::dhcp
