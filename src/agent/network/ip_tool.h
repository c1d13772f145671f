// The node side of Calico-style routed networking, done with the `ip` and `sysctl` commands:
// one persistent tap per VM with the fixed host MAC ee:ee:ee:ee:ee:ee, proxy ARP so the guest's
// gateway 169.254.1.1 resolves to that MAC, a /32 route to the VM through its tap, and an
// unreachable route per pool so traffic for a VM that is gone is dropped on the node.
//
// Every function takes an optional network namespace name: "" means the caller's namespace, a
// name runs the command inside /run/netns/<name> (`ip -n NAME`, `ip netns exec NAME`), so the
// same code serves a real node and the lab, where each node is a namespace.
//
// Proxy ARP answers only for addresses the node itself can route. The node therefore needs a
// route covering 169.254.1.1 (normally its default route); without one the guest's ARP request
// for its gateway goes unanswered and the guest has no connectivity. Tests must give the node
// namespace a default route (e.g. through a veth to another test namespace).
//
// All functions are thread-safe (they only run child processes) and idempotent where noted.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace kumo::agent::net {

// The MAC every workload interface has on the node side, as in Calico.
inline constexpr char kHostSideMac[] = "ee:ee:ee:ee:ee:ee";
// The guest's gateway. It exists nowhere; proxy ARP on the tap answers for it.
inline constexpr char kGatewayIp[] = "169.254.1.1";
// Linux interface names are at most 15 characters.
inline constexpr size_t kMaxInterfaceName = 15;

// A stable tap name for a VM: "kt" + 12 hex digits of a 64-bit FNV-1a hash of "ns/name".
// The same VM gets the same name across agent restarts and builds (no std::hash).
std::string TapName(std::string_view ns, std::string_view name);

// Checks a Linux interface name (1-15 chars of [A-Za-z0-9_.-], not starting with '-').
Status ValidateInterfaceName(std::string_view name);

// Runs `ip [-n netns] args...` and returns its stdout; Internal with ip's stderr on failure.
StatusOr<std::string> RunIp(const std::vector<std::string>& args, const std::string& netns = "");

// Sets sysctls ("net/ipv4/conf/tap/proxy_arp" = "1") inside `netns`, in one `sysctl` run.
Status SetSysctls(const std::vector<std::pair<std::string, std::string>>& values,
                  const std::string& netns = "");

// Turns on IPv4 forwarding for the namespace (net.ipv4.ip_forward=1).
Status EnableIpForwarding(const std::string& netns = "");

// Makes an existing link a workload interface: MAC ee:ee:ee:ee:ee:ee, up, proxy_arp=1,
// proxy_delay=0, forwarding=1 on it, and ip_forward=1. Used for taps and, in tests, for a veth
// standing in for one. Idempotent.
Status ConfigureWorkloadInterface(const std::string& dev, const std::string& netns = "");

// Creates a persistent tap `tap` (QEMU attaches with ifname=tap) and configures it as above.
// Idempotent: an existing tap of that name is reconfigured.
Status CreateTap(const std::string& tap, const std::string& netns = "");

// `ip route replace VMIP/32 dev DEV`. The device must be up. Idempotent.
Status AddWorkloadRoute(const std::string& vm_ip, const std::string& dev,
                        const std::string& netns = "");
// Removes the /32 to VMIP through DEV; OK when it is not there.
Status DeleteWorkloadRoute(const std::string& vm_ip, const std::string& dev,
                           const std::string& netns = "");

// CreateTap + AddWorkloadRoute: everything the node needs before QEMU starts.
Status SetUpWorkload(const std::string& tap, const std::string& vm_ip,
                     const std::string& netns = "");
// Deletes the route (when vm_ip is not empty) and the tap. OK when either is already gone.
Status TearDownWorkload(const std::string& tap, const std::string& vm_ip,
                        const std::string& netns = "");

// `ip route replace unreachable CIDR`: packets for pool addresses without a VM /32 get an ICMP
// error from the node instead of following the default route. Idempotent.
Status EnsureUnreachableRoute(const std::string& cidr, const std::string& netns = "");
// Removes the unreachable route for CIDR; OK when it is not there.
Status DeleteUnreachableRoute(const std::string& cidr, const std::string& netns = "");

// True when the link exists in the namespace.
bool LinkExists(const std::string& dev, const std::string& netns = "");
// Deletes a link (tap, veth, dummy); OK when it does not exist.
Status DeleteLink(const std::string& dev, const std::string& netns = "");

// Network namespaces and veth pairs, for the lab and the tests.
// Creates /run/netns/<name> with loopback up. AlreadyExists when it is there.
Status CreateNetns(const std::string& name);
// Deletes the namespace (its links go with it); OK when it does not exist. Processes still
// running inside keep the namespace alive: stop them first.
Status DeleteNetns(const std::string& name);
bool NetnsExists(const std::string& name);
// Creates veth `a` in namespace a_netns and its peer `b` in b_netns (both "" = the caller's).
// Both ends are left down.
Status CreateVethPair(const std::string& a, const std::string& a_netns, const std::string& b,
                      const std::string& b_netns);

}  // namespace kumo::agent::net
