#include "agent/network/ip_tool.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cctype>
#include <cstdio>

#include "common/ipv4.h"
#include "agent/runtime/subprocess.h"

namespace kumo::agent::net {
namespace {

constexpr int kIpTimeoutMs = 15000;

Status ValidateNetnsName(const std::string& netns) {
  if (netns.empty()) return Status::Ok();
  if (netns.size() > 64 || netns[0] == '-' || netns[0] == '.') {
    return BadRequest("invalid network namespace name '" + netns + "'");
  }
  for (char c : netns) {
    if (!isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '_' && c != '.') {
      return BadRequest("invalid network namespace name '" + netns +
                        "' (use letters, digits, '-', '_', '.')");
    }
  }
  return Status::Ok();
}

// Prefix that runs a non-`ip` program inside the namespace.
std::vector<std::string> InNetns(const std::string& netns, std::vector<std::string> argv) {
  if (netns.empty()) return argv;
  std::vector<std::string> out = {"ip", "netns", "exec", netns};
  out.insert(out.end(), argv.begin(), argv.end());
  return out;
}

// Errors from `ip` that mean "already in the wanted state" for a delete.
bool IsGoneError(const Status& st) {
  const std::string& m = st.message();
  return m.find("Cannot find device") != std::string::npos ||
         m.find("No such process") != std::string::npos ||
         m.find("No such device") != std::string::npos ||
         m.find("does not exist") != std::string::npos;
}

Status ValidateHostAddress(const std::string& ip) {
  auto parsed = ParseIpv4(ip);
  return parsed.ok() ? Status::Ok() : parsed.status();
}

}  // namespace

std::string TapName(std::string_view ns, std::string_view name) {
  uint64_t h = 14695981039346656037ull;  // FNV-1a 64
  auto mix = [&h](std::string_view s) {
    for (unsigned char c : s) {
      h ^= c;
      h *= 1099511628211ull;
    }
  };
  mix(ns);
  mix("/");
  mix(name);
  char buf[16];
  snprintf(buf, sizeof buf, "kt%012llx", static_cast<unsigned long long>(h & 0xffffffffffffull));
  return buf;
}

Status ValidateInterfaceName(std::string_view name) {
  if (name.empty() || name.size() > kMaxInterfaceName || name[0] == '-' || name == "." ||
      name == "..") {
    return BadRequest("invalid interface name '" + std::string(name) +
                      "' (1-15 characters, not starting with '-')");
  }
  for (char c : name) {
    if (!isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '_' && c != '.') {
      return BadRequest("invalid interface name '" + std::string(name) +
                        "' (use letters, digits, '-', '_', '.')");
    }
  }
  return Status::Ok();
}

StatusOr<std::string> RunIp(const std::vector<std::string>& args, const std::string& netns) {
  KUMO_RETURN_IF_ERROR(ValidateNetnsName(netns));
  std::vector<std::string> argv = {"ip"};
  if (!netns.empty()) argv.insert(argv.end(), {"-n", netns});
  argv.insert(argv.end(), args.begin(), args.end());
  KUMO_ASSIGN_OR_RETURN(ProcessResult r, RunChecked(argv, {.timeout_ms = kIpTimeoutMs}));
  return std::move(r.out);
}

Status SetSysctls(const std::vector<std::pair<std::string, std::string>>& values,
                  const std::string& netns) {
  KUMO_RETURN_IF_ERROR(ValidateNetnsName(netns));
  if (values.empty()) return Status::Ok();
  // `sysctl` reads /proc/sys, which shows the net.* values of the namespace it runs in.
  std::vector<std::string> argv = {"sysctl", "-q", "-w"};
  for (const auto& [key, value] : values) argv.push_back(key + "=" + value);
  auto r = RunChecked(InNetns(netns, argv), {.timeout_ms = kIpTimeoutMs});
  return r.ok() ? Status::Ok() : r.status();
}

Status EnableIpForwarding(const std::string& netns) {
  return SetSysctls({{"net/ipv4/ip_forward", "1"}}, netns);
}

Status ConfigureWorkloadInterface(const std::string& dev, const std::string& netns) {
  KUMO_RETURN_IF_ERROR(ValidateInterfaceName(dev));
  auto r = RunIp({"link", "set", "dev", dev, "address", kHostSideMac, "up"}, netns);
  if (!r.ok()) return r.status();
  // Interface names with '.' would need '/' in sysctl keys; the slash form handles both.
  return SetSysctls({{"net/ipv4/ip_forward", "1"},
                     {"net/ipv4/conf/" + dev + "/forwarding", "1"},
                     {"net/ipv4/conf/" + dev + "/proxy_arp", "1"},
                     {"net/ipv4/neigh/" + dev + "/proxy_delay", "0"}},
                    netns);
}

Status CreateTap(const std::string& tap, const std::string& netns) {
  KUMO_RETURN_IF_ERROR(ValidateInterfaceName(tap));
  if (!LinkExists(tap, netns)) {
    auto r = RunIp({"tuntap", "add", "dev", tap, "mode", "tap"}, netns);
    // A concurrent creator may have won the race; that is fine as long as the tap is there.
    if (!r.ok() && !LinkExists(tap, netns)) return r.status();
  }
  return ConfigureWorkloadInterface(tap, netns);
}

Status AddWorkloadRoute(const std::string& vm_ip, const std::string& dev,
                        const std::string& netns) {
  KUMO_RETURN_IF_ERROR(ValidateHostAddress(vm_ip));
  KUMO_RETURN_IF_ERROR(ValidateInterfaceName(dev));
  auto r = RunIp({"-4", "route", "replace", vm_ip + "/32", "dev", dev}, netns);
  return r.ok() ? Status::Ok() : r.status();
}

Status DeleteWorkloadRoute(const std::string& vm_ip, const std::string& dev,
                           const std::string& netns) {
  KUMO_RETURN_IF_ERROR(ValidateHostAddress(vm_ip));
  KUMO_RETURN_IF_ERROR(ValidateInterfaceName(dev));
  auto r = RunIp({"-4", "route", "del", vm_ip + "/32", "dev", dev}, netns);
  if (!r.ok() && !IsGoneError(r.status())) return r.status();
  return Status::Ok();
}

Status SetUpWorkload(const std::string& tap, const std::string& vm_ip, const std::string& netns) {
  KUMO_RETURN_IF_ERROR(ValidateHostAddress(vm_ip));
  KUMO_RETURN_IF_ERROR(CreateTap(tap, netns));
  return AddWorkloadRoute(vm_ip, tap, netns);
}

Status TearDownWorkload(const std::string& tap, const std::string& vm_ip,
                        const std::string& netns) {
  KUMO_RETURN_IF_ERROR(ValidateInterfaceName(tap));
  Status route_st = Status::Ok();
  // Deleting the link removes its routes too; deleting the route first narrows the window in
  // which BIRD could still see it, and covers a route left behind on a re-created tap.
  if (!vm_ip.empty()) route_st = DeleteWorkloadRoute(vm_ip, tap, netns);
  KUMO_RETURN_IF_ERROR(DeleteLink(tap, netns));
  return route_st;
}

Status EnsureUnreachableRoute(const std::string& cidr, const std::string& netns) {
  KUMO_ASSIGN_OR_RETURN(Ipv4Prefix p, ParseIpv4Prefix(cidr));
  auto r = RunIp({"-4", "route", "replace", "unreachable", p.ToString()}, netns);
  return r.ok() ? Status::Ok() : r.status();
}

Status DeleteUnreachableRoute(const std::string& cidr, const std::string& netns) {
  KUMO_ASSIGN_OR_RETURN(Ipv4Prefix p, ParseIpv4Prefix(cidr));
  auto r = RunIp({"-4", "route", "del", "unreachable", p.ToString()}, netns);
  if (!r.ok() && !IsGoneError(r.status())) return r.status();
  return Status::Ok();
}

bool LinkExists(const std::string& dev, const std::string& netns) {
  if (!ValidateInterfaceName(dev).ok()) return false;
  return RunIp({"link", "show", "dev", dev}, netns).ok();
}

Status DeleteLink(const std::string& dev, const std::string& netns) {
  KUMO_RETURN_IF_ERROR(ValidateInterfaceName(dev));
  auto r = RunIp({"link", "del", "dev", dev}, netns);
  if (r.ok() || !LinkExists(dev, netns)) return Status::Ok();
  return r.status();
}

Status CreateNetns(const std::string& name) {
  if (name.empty()) return BadRequest("a network namespace needs a name");
  KUMO_RETURN_IF_ERROR(ValidateNetnsName(name));
  if (NetnsExists(name)) return AlreadyExists("network namespace '" + name + "' exists");
  auto r = RunIp({"netns", "add", name});
  if (!r.ok()) return r.status();
  r = RunIp({"link", "set", "lo", "up"}, name);
  return r.ok() ? Status::Ok() : r.status();
}

Status DeleteNetns(const std::string& name) {
  if (name.empty()) return BadRequest("a network namespace needs a name");
  KUMO_RETURN_IF_ERROR(ValidateNetnsName(name));
  if (!NetnsExists(name)) return Status::Ok();
  auto r = RunIp({"netns", "del", name});
  if (!r.ok() && NetnsExists(name)) return r.status();
  return Status::Ok();
}

bool NetnsExists(const std::string& name) {
  if (name.empty() || !ValidateNetnsName(name).ok()) return false;
  struct stat st {};
  return stat(("/run/netns/" + name).c_str(), &st) == 0;
}

Status CreateVethPair(const std::string& a, const std::string& a_netns, const std::string& b,
                      const std::string& b_netns) {
  KUMO_RETURN_IF_ERROR(ValidateInterfaceName(a));
  KUMO_RETURN_IF_ERROR(ValidateInterfaceName(b));
  KUMO_RETURN_IF_ERROR(ValidateNetnsName(b_netns));
  std::vector<std::string> args = {"link", "add", a, "type", "veth", "peer", "name", b};
  if (!b_netns.empty()) {
    args.insert(args.end(), {"netns", b_netns});
  } else if (!a_netns.empty()) {
    // `ip -n A` would create the peer in A too; name the caller's namespace by our pid.
    args.insert(args.end(), {"netns", std::to_string(getpid())});
  }
  auto r = RunIp(args, a_netns);
  return r.ok() ? Status::Ok() : r.status();
}

}  // namespace kumo::agent::net
