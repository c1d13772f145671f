// Tap, route and namespace helpers: pure checks plus real `ip` runs inside a namespace that
// the test creates and deletes (nothing is touched in the host namespace).
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>

#include "agent/network/ip_tool.h"
#include "common/ipv4.h"
#include "agent/runtime/subprocess.h"

namespace kumo::agent::net {
namespace {

TEST(NetworkIpv4Test, ParsesAddressesAndPrefixes) {
  auto ip = ParseIpv4("10.64.1.2");
  ASSERT_TRUE(ip.ok());
  EXPECT_EQ(*ip, 0x0a400102u);
  EXPECT_EQ(FormatIpv4(*ip), "10.64.1.2");
  EXPECT_FALSE(ParseIpv4("10.64.1").ok());
  EXPECT_FALSE(ParseIpv4("10.64.1.256").ok());
  EXPECT_FALSE(ParseIpv4("").ok());

  auto p = ParseIpv4Prefix("10.64.0.0/16");
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p->len, 16);
  EXPECT_TRUE(p->Contains(*ip));
  EXPECT_FALSE(p->Contains(*ParseIpv4("10.65.0.1")));
  EXPECT_EQ(ParseIpv4Prefix("10.64.0.7")->len, 32);
  EXPECT_EQ(ParseIpv4Prefix("0.0.0.0/0")->len, 0);
  auto bad = ParseIpv4Prefix("10.64.0.1/16");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("10.64.0.0/16"), std::string::npos);
  EXPECT_FALSE(ParseIpv4Prefix("10.64.0.0/33").ok());
  EXPECT_FALSE(ParseIpv4Prefix("10.64.0.0/").ok());
}

TEST(NetworkIpToolTest, TapNameIsShortStableAndDistinct) {
  const std::string a = TapName("default", "vm-a");
  EXPECT_EQ(a.size(), 14u);
  EXPECT_LE(a.size(), kMaxInterfaceName);
  EXPECT_EQ(a.rfind("kt", 0), 0u);
  EXPECT_TRUE(ValidateInterfaceName(a).ok());
  EXPECT_EQ(a, TapName("default", "vm-a"));
  // Fixed value: the name must not change between builds or agent versions, or a restarted
  // agent would not find the taps of running VMs.
  EXPECT_EQ(a, "kt6edc487cd530");  // FNV-1a 64 of "default/vm-a", low 48 bits
  EXPECT_NE(a, TapName("default", "vm-b"));
  EXPECT_NE(a, TapName("other", "vm-a"));
  // The separator keeps ("ab", "c") and ("a", "bc") apart.
  EXPECT_NE(TapName("ab", "c"), TapName("a", "bc"));
}

TEST(NetworkIpToolTest, RejectsBadNamesAndAddressesWithoutRunningAnything) {
  EXPECT_FALSE(ValidateInterfaceName("").ok());
  EXPECT_FALSE(ValidateInterfaceName("a-very-long-name0").ok());
  EXPECT_FALSE(ValidateInterfaceName("-x").ok());
  EXPECT_FALSE(ValidateInterfaceName("a b").ok());
  EXPECT_FALSE(ValidateInterfaceName("a/b").ok());
  EXPECT_EQ(AddWorkloadRoute("10.0.0.300", "kt0").code(), Code::kBadRequest);
  EXPECT_EQ(EnsureUnreachableRoute("10.0.0.1/8").code(), Code::kBadRequest);
  EXPECT_EQ(CreateTap("tap with space").code(), Code::kBadRequest);
  EXPECT_EQ(RunIp({"link"}, "bad/ns").status().code(), Code::kBadRequest);
}

// A namespace of our own, deleted (with everything in it) when the test ends, even on failure.
class NetworkIpToolNetnsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char buf[64];
    snprintf(buf, sizeof buf, "kumo-t%d-iptool", static_cast<int>(getpid()));
    ns_ = buf;
    (void)DeleteNetns(ns_);
    ASSERT_TRUE(CreateNetns(ns_).ok());
  }
  void TearDown() override {
    EXPECT_TRUE(DeleteNetns(ns_).ok());
    EXPECT_FALSE(NetnsExists(ns_));
  }
  std::string Sysctl(const std::string& key) {
    auto r = RunProcess({"ip", "netns", "exec", ns_, "cat", "/proc/sys/" + key});
    if (!r.ok() || !r->ok()) return "?";
    return TrimOutput(r->out);
  }
  std::string ns_;
};

TEST_F(NetworkIpToolNetnsTest, TapLifecycle) {
  const std::string tap = TapName("kumo-test-" + std::to_string(getpid()), "vm");
  const std::string vm_ip = "198.51.100.7";
  ASSERT_FALSE(LinkExists(tap, ns_));
  ASSERT_TRUE(SetUpWorkload(tap, vm_ip, ns_).ok());
  // Idempotent: a second call (agent restart) succeeds and changes nothing.
  ASSERT_TRUE(SetUpWorkload(tap, vm_ip, ns_).ok());
  EXPECT_TRUE(LinkExists(tap, ns_));
  EXPECT_FALSE(LinkExists(tap));  // not in the host namespace

  auto link = RunIp({"-d", "link", "show", "dev", tap}, ns_);
  ASSERT_TRUE(link.ok());
  EXPECT_NE(link->find("link/ether ee:ee:ee:ee:ee:ee"), std::string::npos) << *link;
  EXPECT_NE(link->find("tun type tap"), std::string::npos) << *link;
  EXPECT_NE(link->find("persist on"), std::string::npos) << *link;
  EXPECT_NE(link->find(",UP"), std::string::npos) << *link;
  EXPECT_EQ(Sysctl("net/ipv4/conf/" + tap + "/proxy_arp"), "1");
  EXPECT_EQ(Sysctl("net/ipv4/conf/" + tap + "/forwarding"), "1");
  EXPECT_EQ(Sysctl("net/ipv4/neigh/" + tap + "/proxy_delay"), "0");
  EXPECT_EQ(Sysctl("net/ipv4/ip_forward"), "1");

  auto route = RunIp({"-4", "route", "show", vm_ip + "/32"}, ns_);
  ASSERT_TRUE(route.ok());
  EXPECT_NE(route->find(vm_ip + " dev " + tap), std::string::npos) << *route;

  ASSERT_TRUE(EnsureUnreachableRoute("198.51.100.0/24", ns_).ok());
  ASSERT_TRUE(EnsureUnreachableRoute("198.51.100.0/24", ns_).ok());
  auto routes = RunIp({"-4", "route", "show"}, ns_);
  ASSERT_TRUE(routes.ok());
  EXPECT_NE(routes->find("unreachable 198.51.100.0/24"), std::string::npos) << *routes;

  ASSERT_TRUE(TearDownWorkload(tap, vm_ip, ns_).ok());
  EXPECT_FALSE(LinkExists(tap, ns_));
  EXPECT_TRUE(TearDownWorkload(tap, vm_ip, ns_).ok());  // idempotent
  routes = RunIp({"-4", "route", "show"}, ns_);
  ASSERT_TRUE(routes.ok());
  EXPECT_EQ(routes->find(vm_ip), std::string::npos) << *routes;

  ASSERT_TRUE(DeleteUnreachableRoute("198.51.100.0/24", ns_).ok());
  EXPECT_TRUE(DeleteUnreachableRoute("198.51.100.0/24", ns_).ok());
  routes = RunIp({"-4", "route", "show"}, ns_);
  ASSERT_TRUE(routes.ok());
  EXPECT_EQ(routes->find("unreachable"), std::string::npos) << *routes;
}

TEST_F(NetworkIpToolNetnsTest, MissingNamespaceIsAnError) {
  EXPECT_FALSE(CreateTap("ktnons0", ns_ + "-missing").ok());
  EXPECT_EQ(CreateNetns(ns_).code(), Code::kAlreadyExists);
  EXPECT_TRUE(DeleteNetns(ns_ + "-missing").ok());
}

}  // namespace
}  // namespace kumo::agent::net
