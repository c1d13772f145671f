// BIRD configuration rendering (text checks plus BIRD's own parser), and real BIRD daemons in
// two namespaces joined by a veth: a "node" that learns a VM /32 from its kernel and a "tor"
// that must receive it over eBGP and lose it when the route goes. Every BIRD runs inside a
// namespace the test created, and is stopped by pid at the end.
#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <functional>
#include <thread>

#include "agent/network/bird_config.h"
#include "agent/network/bird_process.h"
#include "agent/network/ip_tool.h"
#include "agent/runtime/subprocess.h"
#include "common/file_util.h"

namespace kumo::agent::net {
namespace {

bool Has(const std::string& text, const std::string& needle) {
  return text.find(needle) != std::string::npos;
}

std::string Text(const StatusOr<std::string>& s) { return s.ok() ? *s : s.status().message(); }

BirdConfig NodeConfig() {
  BirdConfig c;
  c.router_id = "192.0.2.1";
  c.pools = {"198.51.100.0/24", "203.0.113.0/25"};
  c.peers = {{.address = "192.0.2.2", .as_number = 64513, .password = "s3cret"}};
  return c;
}

TEST(NetworkBirdConfigTest, RendersCalicoStyleNodeConfig) {
  auto text = RenderBirdConfig(NodeConfig());
  ASSERT_TRUE(text.ok()) << text.status().message();
  const std::string& t = *text;
  EXPECT_TRUE(Has(t, "router id 192.0.2.1;\n"));
  EXPECT_TRUE(Has(t, "protocol device {"));
  EXPECT_TRUE(Has(t, "protocol kernel kumo_kernel {\n  learn;\n  scan time 1;\n"));
  EXPECT_TRUE(Has(t, "import filter kumo_kernel_import;"));
  EXPECT_TRUE(Has(t, "export filter kumo_kernel_export;"));
  // Only /32s inside the pools, from the kernel and to and from peers.
  const std::string vm_routes = "[ 198.51.100.0/24{32,32}, 203.0.113.0/25{32,32} ]";
  EXPECT_TRUE(Has(t, "if net.type = NET_IP4 && net ~ " + vm_routes + " then accept;"));
  EXPECT_TRUE(Has(t, "if source = RTS_BGP && net ~ " + vm_routes + " then accept;"));
  EXPECT_TRUE(Has(t, "if source != RTS_BGP && net ~ " + vm_routes + " then accept;"));
  EXPECT_TRUE(Has(t, "local as 64512;"));
  EXPECT_TRUE(Has(t, "export filter kumo_bgp_export;"));
  EXPECT_TRUE(Has(t,
                  "protocol bgp peer_192_0_2_2 from kumo_bgp {\n"
                  "  neighbor 192.0.2.2 as 64513;\n"
                  "  direct;\n"
                  "  password \"s3cret\";\n}"));
  EXPECT_FALSE(Has(t, "multihop"));
  EXPECT_FALSE(Has(t, "mesh_"));
  EXPECT_EQ(*text, *RenderBirdConfig(NodeConfig()));  // deterministic
}

TEST(NetworkBirdConfigTest, NodeToNodeMeshIsSortedAndSkipsSelfAndPeers) {
  BirdConfig c = NodeConfig();
  c.node_to_node_mesh = true;
  c.mesh_nodes = {"192.0.2.10", "192.0.2.1", "192.0.2.9", "192.0.2.10", "192.0.2.2"};
  auto text = RenderBirdConfig(c);
  ASSERT_TRUE(text.ok()) << text.status().message();
  const auto nine = text->find(
      "protocol bgp mesh_192_0_2_9 from kumo_bgp {\n"
      "  neighbor 192.0.2.9 as 64512;\n  direct;\n}");
  const auto ten = text->find(
      "protocol bgp mesh_192_0_2_10 from kumo_bgp {\n"
      "  neighbor 192.0.2.10 as 64512;\n  direct;\n}");
  ASSERT_NE(nine, std::string::npos) << *text;
  ASSERT_NE(ten, std::string::npos) << *text;
  EXPECT_LT(nine, ten);                         // numeric, not string, order
  EXPECT_FALSE(Has(*text, "mesh_192_0_2_1 "));  // itself
  EXPECT_FALSE(Has(*text, "mesh_192_0_2_2 "));  // already an explicit peer
  EXPECT_EQ(text->find("mesh_192_0_2_10 "), text->rfind("mesh_192_0_2_10 "));  // once

  c.node_to_node_mesh = false;
  EXPECT_FALSE(Has(*RenderBirdConfig(c), "mesh_"));
  c.node_to_node_mesh = true;
  c.mesh_multihop = true;
  EXPECT_TRUE(Has(*RenderBirdConfig(c), "neighbor 192.0.2.9 as 64512;\n  multihop;\n"));
}

TEST(NetworkBirdConfigTest, OptionalParts) {
  BirdConfig c = NodeConfig();
  c.as_number = 65010;
  c.source_address = "192.0.2.1";
  c.kernel_scan_seconds = 3;
  c.log_file = "/var/lib/kumo/bird/bird.log";
  c.program_kernel = false;
  c.pools.clear();
  c.peers[0].password.clear();
  c.peers[0].multihop = true;
  c.peers[0].name = "tor";
  auto text = RenderBirdConfig(c);
  ASSERT_TRUE(text.ok()) << text.status().message();
  EXPECT_TRUE(Has(*text, "local 192.0.2.1 as 65010;"));
  EXPECT_TRUE(Has(*text, "scan time 3;"));
  EXPECT_TRUE(Has(*text, "log \"/var/lib/kumo/bird/bird.log\""));
  EXPECT_TRUE(Has(*text,
                  "protocol bgp tor from kumo_bgp {\n  neighbor 192.0.2.2 as 64513;\n"
                  "  multihop;\n}"));
  EXPECT_FALSE(Has(*text, "password"));
  EXPECT_FALSE(Has(*text, "then accept"));  // no pools: nothing is learned or announced
}

TEST(NetworkBirdConfigTest, RejectsWhatBirdWouldMisread) {
  auto bad = [](std::function<void(BirdConfig&)> edit) {
    BirdConfig c = NodeConfig();
    edit(c);
    return RenderBirdConfig(c).status().code();
  };
  EXPECT_EQ(bad([](BirdConfig& c) { c.router_id = ""; }), Code::kBadRequest);
  EXPECT_EQ(bad([](BirdConfig& c) { c.as_number = 0; }), Code::kBadRequest);
  EXPECT_EQ(bad([](BirdConfig& c) { c.pools = {"198.51.100.1/24"}; }), Code::kBadRequest);
  EXPECT_EQ(bad([](BirdConfig& c) { c.peers[0].password = "a\"; }"; }), Code::kBadRequest);
  EXPECT_EQ(bad([](BirdConfig& c) { c.peers[0].address = "192.0.2"; }), Code::kBadRequest);
  EXPECT_EQ(bad([](BirdConfig& c) { c.peers[0].name = "1tor"; }), Code::kBadRequest);
  EXPECT_EQ(bad([](BirdConfig& c) { c.peers.push_back(c.peers[0]); }), Code::kBadRequest);
  EXPECT_EQ(bad([](BirdConfig& c) { c.kernel_scan_seconds = 0; }), Code::kBadRequest);
  auto status = RenderBirdConfig([] {
    BirdConfig c = NodeConfig();
    c.pools = {"198.51.100.0/24", "10.1.2.3/8"};
    return c;
  }());
  EXPECT_NE(status.status().message().find("pools[1]"), std::string::npos);
}

TEST(NetworkBirdConfigTest, BirdAcceptsTheRenderedConfig) {
  if (FindProgram("bird").empty()) GTEST_SKIP() << "bird not installed (bird2 package)";
  const std::string dir = "/tmp/kumo-t" + std::to_string(getpid()) + "-birdparse";
  std::filesystem::create_directories(dir);
  BirdConfig full = NodeConfig();
  full.node_to_node_mesh = true;
  full.mesh_nodes = {"192.0.2.9", "192.0.2.10"};
  full.source_address = "192.0.2.1";
  full.peers.push_back({.address = "192.0.2.77", .as_number = 64512, .multihop = true});
  BirdConfig empty = NodeConfig();
  empty.pools.clear();
  empty.peers.clear();
  empty.program_kernel = false;
  for (const BirdConfig& c : {NodeConfig(), full, empty}) {
    auto text = RenderBirdConfig(c);
    ASSERT_TRUE(text.ok());
    ASSERT_TRUE(WriteFileAtomic(dir + "/bird.conf", *text, 0644).ok());
    auto r = RunProcess({"bird", "-p", "-c", dir + "/bird.conf"});
    ASSERT_TRUE(r.ok());
    EXPECT_EQ(r->exit_code, 0) << r->err << "\n" << *text;
  }
  std::filesystem::remove_all(dir);
}

TEST(NetworkBirdConfigTest, ParsesShowProtocols) {
  auto rows = ParseBirdProtocols(
      "Name       Proto      Table      State  Since         Info\n"
      "device1    Device     ---        up     17:03:07.288  \n"
      "kumo_kernel Kernel     master4    up     17:03:07.288  \n"
      "peer_192_0_2_2 BGP        ---        up     17:03:09.001  Established   \n"
      "mesh_192_0_2_3 BGP        ---        start  17:03:07.288  Active        Socket: x\n");
  ASSERT_EQ(rows.size(), 4u);
  EXPECT_EQ(rows[0].name, "device1");
  EXPECT_EQ(rows[1].proto, "Kernel");
  EXPECT_EQ(rows[2].state, "up");
  EXPECT_EQ(rows[2].info, "Established");
  EXPECT_EQ(rows[3].info, "Active Socket: x");
}

// A "node" and a "tor", each a namespace with its own BIRD, joined by a veth.
class NetworkBirdTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (FindProgram("bird").empty() || FindProgram("birdc").empty()) {
      GTEST_SKIP() << "bird not installed (bird2 package)";
    }
    const int pid = static_cast<int>(getpid());
    node_ = "kumo-t" + std::to_string(pid) + "-bnode";
    tor_ = "kumo-t" + std::to_string(pid) + "-btor";
    char buf[32];
    snprintf(buf, sizeof buf, "kb%04xn", pid & 0xffff);
    node_if_ = buf;
    snprintf(buf, sizeof buf, "kb%04xt", pid & 0xffff);
    tor_if_ = buf;
    snprintf(buf, sizeof buf, "kb%04xv", pid & 0xffff);
    tap_ = buf;
    dir_ = "/tmp/kumo-t" + std::to_string(pid) + "-bird";
    std::filesystem::remove_all(dir_);
    for (const auto& ns : {node_, tor_}) {
      (void)DeleteNetns(ns);
      ASSERT_TRUE(CreateNetns(ns).ok());
    }
    ASSERT_TRUE(CreateVethPair(node_if_, node_, tor_if_, tor_).ok());
    ASSERT_TRUE(RunIp({"addr", "add", "192.0.2.1/30", "dev", node_if_}, node_).ok());
    ASSERT_TRUE(RunIp({"link", "set", "dev", node_if_, "up"}, node_).ok());
    ASSERT_TRUE(RunIp({"addr", "add", "192.0.2.2/30", "dev", tor_if_}, tor_).ok());
    ASSERT_TRUE(RunIp({"link", "set", "dev", tor_if_, "up"}, tor_).ok());

    node_bird_ = std::make_unique<BirdProcess>(
        BirdProcessOptions{.state_dir = dir_ + "/node", .netns = node_});
    tor_bird_ = std::make_unique<BirdProcess>(
        BirdProcessOptions{.state_dir = dir_ + "/tor", .netns = tor_});
  }

  void TearDown() override {
    // BIRD first: a process inside a namespace keeps it alive after `ip netns del`.
    for (auto* bird : {node_bird_.get(), tor_bird_.get()}) {
      if (bird) {
        EXPECT_TRUE(bird->Stop().ok());
      }
    }
    for (const auto& ns : {node_, tor_}) {
      if (!ns.empty()) {
        EXPECT_TRUE(DeleteNetns(ns).ok());
      }
    }
    std::error_code ec;
    if (!dir_.empty()) std::filesystem::remove_all(dir_, ec);
  }

  static BirdConfig TorConfig() {
    BirdConfig c;
    c.router_id = "192.0.2.2";
    c.as_number = 64513;
    c.pools = {"198.51.100.0/24"};
    c.peers = {{.address = "192.0.2.1", .as_number = 64512}};
    return c;
  }

  // Polls every 200 ms; the timeout is generous because the machine is shared.
  static bool WaitFor(const std::function<bool()>& pred, int seconds = 30) {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(seconds);
    while (std::chrono::steady_clock::now() < deadline) {
      if (pred()) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
    }
    return pred();
  }

  bool TorHasRoute(const std::string& prefix) {
    auto routes = tor_bird_->ShowRoute();
    return routes.ok() && Has(*routes, prefix);
  }

  bool Established(BirdProcess& bird, const std::string& protocol) {
    auto rows = bird.Protocols();
    if (!rows.ok()) return false;
    for (const auto& p : *rows) {
      if (p.name == protocol) return p.info == "Established";
    }
    return false;
  }

  std::string node_, tor_, node_if_, tor_if_, tap_, dir_;
  std::unique_ptr<BirdProcess> node_bird_, tor_bird_;
};

TEST_F(NetworkBirdTest, TorLearnsAndForgetsTheVmRoute) {
  BirdConfig node = NodeConfig();
  node.peers[0].password.clear();
  ASSERT_TRUE(node_bird_->Apply(node).ok());
  ASSERT_TRUE(tor_bird_->Apply(TorConfig()).ok());
  ASSERT_TRUE(WaitFor([&] { return Established(*tor_bird_, "peer_192_0_2_1"); }))
      << Text(tor_bird_->ShowProtocols());

  // What the agent does for a VM, plus routes BIRD must keep to itself.
  ASSERT_TRUE(SetUpWorkload(tap_, "198.51.100.7", node_).ok());
  ASSERT_TRUE(EnsureUnreachableRoute("198.51.100.0/24", node_).ok());
  ASSERT_TRUE(RunIp({"route", "add", "192.0.2.200/32", "dev", tap_}, node_).ok());

  EXPECT_TRUE(WaitFor([&] { return TorHasRoute("198.51.100.7/32"); }))
      << Text(tor_bird_->ShowRoute());
  // The tor's BIRD installs it in the tor's kernel, via the node.
  EXPECT_TRUE(WaitFor([&] {
    auto r = RunIp({"route", "show", "198.51.100.7/32"}, tor_);
    return r.ok() && Has(*r, "via 192.0.2.1") && Has(*r, "proto bird");
  }));
  auto routes = tor_bird_->ShowRoute();
  ASSERT_TRUE(routes.ok());
  EXPECT_FALSE(Has(*routes, "198.51.100.0/24")) << *routes;  // the pool route stays local
  EXPECT_FALSE(Has(*routes, "192.0.2.200")) << *routes;      // outside the pools

  ASSERT_TRUE(DeleteWorkloadRoute("198.51.100.7", tap_, node_).ok());
  EXPECT_TRUE(WaitFor([&] { return !TorHasRoute("198.51.100.7/32"); }))
      << Text(tor_bird_->ShowRoute());
  EXPECT_TRUE(WaitFor([&] {
    auto r = RunIp({"route", "show", "198.51.100.7/32"}, tor_);
    return r.ok() && r->empty();
  }));
}

TEST_F(NetworkBirdTest, MeshNodesInstallEachOthersVmRoutes) {
  // Both namespaces act as nodes in one AS with the node-to-node mesh and no other peers.
  auto mesh_node = [](const std::string& self) {
    BirdConfig c;
    c.router_id = self;
    c.pools = {"198.51.100.0/24"};
    c.node_to_node_mesh = true;
    c.mesh_nodes = {"192.0.2.1", "192.0.2.2"};
    return c;
  };
  ASSERT_TRUE(node_bird_->Apply(mesh_node("192.0.2.1")).ok());
  ASSERT_TRUE(tor_bird_->Apply(mesh_node("192.0.2.2")).ok());
  ASSERT_TRUE(WaitFor([&] { return Established(*tor_bird_, "mesh_192_0_2_1"); }))
      << Text(tor_bird_->ShowProtocols());
  ASSERT_TRUE(SetUpWorkload(tap_, "198.51.100.7", node_).ok());
  EXPECT_TRUE(WaitFor([&] {
    auto r = RunIp({"route", "show", "198.51.100.7/32"}, tor_);
    return r.ok() && Has(*r, "via 192.0.2.1") && Has(*r, "proto bird");
  })) << Text(tor_bird_->ShowRoute());
  // The owning node keeps its own route to the tap; BIRD does not replace it.
  auto own = RunIp({"route", "show", "198.51.100.7/32"}, node_);
  ASSERT_TRUE(own.ok());
  EXPECT_TRUE(Has(*own, "dev " + tap_)) << *own;
  EXPECT_FALSE(Has(*own, "proto bird")) << *own;
}

TEST_F(NetworkBirdTest, ApplyReloadsInPlaceAndAdoptsARunningBird) {
  ASSERT_TRUE(node_bird_->Apply(NodeConfig()).ok());
  const int pid = node_bird_->pid();
  ASSERT_GT(pid, 0);
  ASSERT_TRUE(node_bird_->Apply(NodeConfig()).ok());  // unchanged: nothing to do
  EXPECT_EQ(node_bird_->pid(), pid);

  BirdConfig more = NodeConfig();
  more.peers.push_back({.address = "192.0.2.3", .as_number = 64514, .name = "second_tor"});
  ASSERT_TRUE(node_bird_->Apply(more).ok());
  EXPECT_EQ(node_bird_->pid(), pid);  // reconfigured, not restarted
  auto rows = node_bird_->Protocols();
  ASSERT_TRUE(rows.ok());
  bool found = false;
  for (const auto& p : *rows) found = found || p.name == "second_tor";
  EXPECT_TRUE(found) << Text(node_bird_->ShowProtocols());

  // A config BIRD rejects leaves the running one in place.
  BirdConfig broken = more;
  broken.peers[1].name = "kumo_kernel";  // clashes with the kernel protocol's name
  EXPECT_EQ(node_bird_->Apply(broken).code(), Code::kBadRequest);
  EXPECT_EQ(node_bird_->pid(), pid);
  auto conf = ReadFileToString(node_bird_->config_path());
  ASSERT_TRUE(conf.ok());
  EXPECT_TRUE(Has(*conf, "second_tor"));
  EXPECT_FALSE(Has(*conf, "protocol bgp kumo_kernel"));

  // An agent restart finds the daemon by its pid file and keeps it.
  {
    BirdProcess again({.state_dir = dir_ + "/node", .netns = node_, .stop_on_destroy = false});
    EXPECT_TRUE(again.running());
    EXPECT_EQ(again.pid(), pid);
    ASSERT_TRUE(again.Apply(more).ok());
    EXPECT_EQ(again.pid(), pid);
  }
  EXPECT_TRUE(node_bird_->running());

  ASSERT_TRUE(node_bird_->Stop().ok());
  EXPECT_FALSE(node_bird_->running());
  // Gone, or a zombie waiting for init to reap it (BIRD daemonised, so it is not our child).
  auto stat = ReadFileToString("/proc/" + std::to_string(pid) + "/stat");
  EXPECT_TRUE(!stat.ok() || Has(*stat, ") Z ")) << *stat;
  EXPECT_FALSE(std::filesystem::exists(node_bird_->socket_path()));
}

}  // namespace
}  // namespace kumo::agent::net
