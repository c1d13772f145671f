#include "common/ipv4.h"

#include <arpa/inet.h>

#include <charconv>

namespace kumo {

uint32_t PrefixMask(int len) {
  if (len <= 0) return 0;
  if (len >= 32) return 0xffffffffu;
  return ~((1u << (32 - len)) - 1);
}

bool Ipv4Prefix::Contains(uint32_t ip) const { return (ip & PrefixMask(len)) == addr; }

bool Ipv4Prefix::Contains(const Ipv4Prefix& other) const {
  return other.len >= len && Contains(other.addr);
}

std::string Ipv4Prefix::ToString() const { return FormatIpv4(addr) + "/" + std::to_string(len); }

StatusOr<uint32_t> ParseIpv4(std::string_view text) {
  // inet_pton accepts only the four-part dotted decimal form, which is what we want.
  std::string s(text);
  in_addr a{};
  if (s.empty() || inet_pton(AF_INET, s.c_str(), &a) != 1) {
    return BadRequest("'" + s + "' is not an IPv4 address (expected a.b.c.d)");
  }
  return ntohl(a.s_addr);
}

std::string FormatIpv4(uint32_t ip) {
  return std::to_string(ip >> 24) + "." + std::to_string((ip >> 16) & 0xff) + "." +
         std::to_string((ip >> 8) & 0xff) + "." + std::to_string(ip & 0xff);
}

StatusOr<Ipv4Prefix> ParseIpv4Prefix(std::string_view text) {
  auto slash = text.find('/');
  Ipv4Prefix p;
  KUMO_ASSIGN_OR_RETURN(p.addr, ParseIpv4(text.substr(0, slash)));
  p.len = 32;
  if (slash != std::string_view::npos) {
    std::string_view len = text.substr(slash + 1);
    auto [end, ec] = std::from_chars(len.data(), len.data() + len.size(), p.len);
    if (len.empty() || ec != std::errc() || end != len.data() + len.size() || p.len < 0 ||
        p.len > 32) {
      return BadRequest("'" + std::string(text) + "' has no valid prefix length (0-32)");
    }
  }
  if ((p.addr & ~PrefixMask(p.len)) != 0) {
    return BadRequest("'" + std::string(text) + "' has host bits set; did you mean " +
                      Ipv4Prefix{p.addr & PrefixMask(p.len), p.len}.ToString() + "?");
  }
  return p;
}

}  // namespace kumo
