// The routed data path end to end, with namespaces standing in for machines:
//
//   guest ns                 node ns                                   peer ns
//   eth0 198.51.100.7/32 ── <wl> (like a tap: ee:ee.., proxy ARP) ·· <up> 192.0.2.1 ── 192.0.2.2
//   default via 169.254.1.1  198.51.100.7/32 dev <wl>                    198.51.100.0/24 via
//                            unreachable 198.51.100.0/24                   192.0.2.1
//                            default via 192.0.2.2
//
// All traffic stays inside the three namespaces the test creates; they are deleted at the end.
#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <thread>

#include "agent/image/tiny_image_scripts.h"
#include "agent/network/dhcp_server.h"
#include "agent/network/ip_tool.h"
#include "agent/runtime/subprocess.h"
#include "common/file_util.h"

namespace kumo::agent::net {
namespace {

constexpr char kVmIp[] = "198.51.100.7";
constexpr char kPool[] = "198.51.100.0/24";
constexpr char kUnusedPoolIp[] = "198.51.100.99";
constexpr char kNodeUplinkIp[] = "192.0.2.1";
constexpr char kPeerIp[] = "192.0.2.2";

class NetworkDatapathTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const int pid = static_cast<int>(getpid());
    char buf[64];
    const std::string prefix = "kumo-t" + std::to_string(pid) + "-";
    node_ = prefix + "node";
    guest_ = prefix + "guest";
    peer_ = prefix + "peer";
    snprintf(buf, sizeof buf, "kp%04xw", pid & 0xffff);
    node_wl_ = buf;
    snprintf(buf, sizeof buf, "kp%04xu", pid & 0xffff);
    node_up_ = buf;
    snprintf(buf, sizeof buf, "kp%04xp", pid & 0xffff);
    peer_if_ = buf;
    snprintf(buf, sizeof buf, "/tmp/kumo-t%d-datapath", pid);
    dir_ = buf;
    std::filesystem::create_directories(dir_);
    for (const auto& ns : {node_, guest_, peer_}) {
      (void)DeleteNetns(ns);
      ASSERT_TRUE(CreateNetns(ns).ok()) << ns;
    }

    // Node <-> peer: the node's uplink and default route (which proxy ARP needs to answer
    // for 169.254.1.1), and the peer's route to the pool through the node.
    ASSERT_TRUE(CreateVethPair(node_up_, node_, peer_if_, peer_).ok());
    Ip({"addr", "add", std::string(kNodeUplinkIp) + "/30", "dev", node_up_}, node_);
    Ip({"link", "set", "dev", node_up_, "up"}, node_);
    Ip({"route", "add", "default", "via", kPeerIp}, node_);
    Ip({"addr", "add", std::string(kPeerIp) + "/30", "dev", peer_if_}, peer_);
    Ip({"link", "set", "dev", peer_if_, "up"}, peer_);
    Ip({"route", "add", kPool, "via", kNodeUplinkIp}, peer_);

    // Node <-> guest: a veth whose node end is configured exactly like a VM's tap.
    ASSERT_TRUE(CreateVethPair(node_wl_, node_, "eth0", guest_).ok());
    ASSERT_TRUE(ConfigureWorkloadInterface(node_wl_, node_).ok());
    ASSERT_TRUE(AddWorkloadRoute(kVmIp, node_wl_, node_).ok());
    Ip({"link", "set", "dev", "eth0", "up"}, guest_);
  }

  void TearDown() override {
    for (const auto& ns : {guest_, peer_, node_}) EXPECT_TRUE(DeleteNetns(ns).ok()) << ns;
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }

  void Ip(const std::vector<std::string>& args, const std::string& ns) {
    auto r = RunIp(args, ns);
    ASSERT_TRUE(r.ok()) << r.status().message();
  }

  // What the tiny image's udhcpc script does with the lease.
  void ConfigureGuestByHand() {
    Ip({"addr", "add", std::string(kVmIp) + "/32", "dev", "eth0"}, guest_);
    Ip({"route", "add", "169.254.1.1", "dev", "eth0"}, guest_);
    Ip({"route", "add", "default", "via", "169.254.1.1", "dev", "eth0"}, guest_);
  }

  // One ping from inside `ns`; true when answered within 2 s.
  bool PingOnce(const std::string& ns, const std::string& target) {
    auto r =
        RunProcess({"ip", "netns", "exec", ns, "busybox", "ping", "-c", "1", "-W", "2", target},
                   {.timeout_ms = 10000});
    return r.ok() && r->ok();
  }
  // Pings until answered (the first packets wait for ARP), at most `tries` times.
  bool Reachable(const std::string& ns, const std::string& target, int tries = 5) {
    for (int i = 0; i < tries; ++i) {
      if (PingOnce(ns, target)) return true;
    }
    return false;
  }

  std::string node_, guest_, peer_, node_wl_, node_up_, peer_if_, dir_;
};

TEST_F(NetworkDatapathTest, PeerAndGuestReachEachOtherThroughTheNode) {
  ConfigureGuestByHand();
  EXPECT_TRUE(Reachable(peer_, kVmIp));
  EXPECT_TRUE(Reachable(guest_, kPeerIp));
  // The guest resolved its gateway to the node's fixed MAC by proxy ARP.
  auto neigh = RunIp({"neigh", "show", "169.254.1.1"}, guest_);
  ASSERT_TRUE(neigh.ok());
  EXPECT_NE(neigh->find("lladdr ee:ee:ee:ee:ee:ee"), std::string::npos) << *neigh;
}

TEST_F(NetworkDatapathTest, UnreachablePoolRouteDropsUnusedAddressesOnTheNode) {
  ConfigureGuestByHand();
  // Without the pool route, the node sends an unused pool address out of its default route:
  // the peer, which holds that address, answers. That is the leak the route must stop.
  Ip({"addr", "add", std::string(kUnusedPoolIp) + "/32", "dev", "lo"}, peer_);
  ASSERT_TRUE(Reachable(guest_, kUnusedPoolIp));

  ASSERT_TRUE(EnsureUnreachableRoute(kPool, node_).ok());
  EXPECT_FALSE(PingOnce(guest_, kUnusedPoolIp));
  auto get = RunIp({"route", "get", kUnusedPoolIp}, node_);
  EXPECT_FALSE(get.ok());  // "No route to host": decided on the node
  // The VM's /32 is more specific than the pool route and still works.
  EXPECT_TRUE(Reachable(peer_, kVmIp));

  // A VM that is gone: its /32 is removed and its address falls into the unreachable route
  // instead of bouncing back out to the peer.
  ASSERT_TRUE(DeleteWorkloadRoute(kVmIp, node_wl_, node_).ok());
  EXPECT_FALSE(PingOnce(peer_, kVmIp));
  EXPECT_FALSE(RunIp({"route", "get", kVmIp}, node_).ok());
}

TEST_F(NetworkDatapathTest, GuestConfiguredByDhcpReachesThePeer) {
  // The guest configures itself as the tiny VM does: udhcpc with the image's script, answered
  // by the node's responder on the workload interface.
  std::string script_text = kTinyUdhcpcScript;
  const std::string resolv = dir_ + "/resolv.conf";
  for (size_t at; (at = script_text.find("/etc/resolv.conf")) != std::string::npos;) {
    script_text.replace(at, 16, resolv);
  }
  const std::string script = dir_ + "/udhcpc.script";
  ASSERT_TRUE(WriteFileAtomic(script, script_text, 0755).ok());
  DhcpServer dhcp(node_wl_, node_, {.ip = kVmIp, .hostname = "vm-a"});
  ASSERT_TRUE(dhcp.Start().ok());
  auto r = RunProcess({"ip", "netns", "exec", guest_, "busybox", "udhcpc", "-i", "eth0", "-n", "-q",
                       "-f", "-s", script, "-O", "staticroutes", "-t", "4", "-T", "1"},
                      {.timeout_ms = 30000});
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(r->exit_code, 0) << r->err;
  EXPECT_TRUE(Reachable(guest_, kPeerIp));
  EXPECT_TRUE(Reachable(peer_, kVmIp));
}

}  // namespace
}  // namespace kumo::agent::net
