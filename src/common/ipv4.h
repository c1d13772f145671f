// IPv4 addresses and prefixes as plain integers (host byte order), parsed and printed in the
// dotted form that `ip`, BIRD and DHCP use. Shared by the tap, DHCP and BIRD helpers.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "common/status.h"

namespace kumo {

// An IPv4 prefix: `addr` has no bits set past `len`.
struct Ipv4Prefix {
  uint32_t addr = 0;  // host byte order
  int len = 0;        // 0..32
  bool Contains(uint32_t ip) const;
  bool Contains(const Ipv4Prefix& other) const;
  std::string ToString() const;  // "10.64.0.0/16"
  bool operator==(const Ipv4Prefix&) const = default;
};

// "10.0.0.5" -> host-order integer. BadRequest on anything else (no shorthand forms).
StatusOr<uint32_t> ParseIpv4(std::string_view text);
std::string FormatIpv4(uint32_t ip);

// "10.64.0.0/16" -> prefix; a bare address is a /32. BadRequest when host bits are set
// ("10.64.0.1/16"), so a typo in a pool is reported instead of silently widened.
StatusOr<Ipv4Prefix> ParseIpv4Prefix(std::string_view text);

// Netmask of a prefix length: 24 -> 0xffffff00.
uint32_t PrefixMask(int len);

}  // namespace kumo
