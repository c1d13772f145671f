#include "scheduler/placement.h"

#include <gtest/gtest.h>

#include "api/vm_size.h"

namespace kumo::scheduler {
namespace {

constexpr int64_t kGi = 1LL << 30;

NodeInfo Node(std::string name, int64_t cpus, int64_t mem_gi) {
  NodeInfo n;
  n.name = std::move(name);
  n.ready = true;
  n.cpu_millis = cpus * 1000;
  n.memory_bytes = mem_gi * kGi;
  return n;
}

Request Vm(int vcpus, int64_t guest_gi, const Config& c = {}) {
  Request r;
  r.cpu_millis = static_cast<int64_t>(vcpus * 1000 / c.cpu_allocation_ratio);
  r.memory_bytes = guest_gi * kGi + api::MemoryOverhead(guest_gi * kGi, vcpus);
  return r;
}

TEST(PlacementTest, CpuOvercommitFollowsTheAllocationRatio) {
  // 2 physical CPUs, ratio 10: twenty 1-vCPU VMs fit, the 21st does not.
  std::vector<NodeInfo> nodes = {Node("n1", 2, 1000)};
  std::map<std::string, Usage> usage;
  Config c;
  for (int i = 0; i < 20; ++i) {
    auto picked = PickNode(Vm(1, 1), nodes, usage, c);
    ASSERT_TRUE(picked.ok()) << i << ": " << picked.status().message();
    usage["n1"].cpu_millis += Vm(1, 1).cpu_millis;
    usage["n1"].memory_bytes += Vm(1, 1).memory_bytes;
    ++usage["n1"].vms;
  }
  auto full = PickNode(Vm(1, 1), nodes, usage, c);
  ASSERT_FALSE(full.ok());
  EXPECT_NE(full.status().message().find("Insufficient cpu"), std::string::npos);
  // With ratio 1 the same node takes only two.
  Config strict{.cpu_allocation_ratio = 1};
  usage.clear();
  usage["n1"].cpu_millis = 2000;
  EXPECT_FALSE(PickNode(Vm(1, 1, strict), nodes, usage, strict).ok());
}

TEST(PlacementTest, MemoryIncludesOverhead) {
  // 4 GiB guest does not fit a node with exactly 4 GiB allocatable: the overhead needs room.
  std::vector<NodeInfo> nodes = {Node("n1", 8, 4)};
  auto r = PickNode(Vm(1, 4), nodes, {}, {});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().message(), "0/1 nodes are available: 1 Insufficient memory.");
  EXPECT_EQ(api::MemoryOverhead(512LL << 20, 2), (1LL << 20) + (96LL << 20) + (16LL << 20));
}

TEST(PlacementTest, NodeSelectorAndReadiness) {
  std::vector<NodeInfo> nodes = {Node("a", 4, 8), Node("b", 4, 8), Node("c", 4, 8)};
  nodes[0].labels["disk"] = "ssd";
  nodes[1].labels["disk"] = "ssd";
  nodes[1].ready = false;
  Request r = Vm(1, 1);
  r.node_selector["disk"] = "ssd";
  EXPECT_EQ(*PickNode(r, nodes, {}, {}), "a");
  nodes[0].unschedulable = true;
  auto none = PickNode(r, nodes, {}, {});
  ASSERT_FALSE(none.ok());
  EXPECT_NE(none.status().message().find("0/3 nodes are available"), std::string::npos);
  EXPECT_NE(none.status().message().find("1 node(s) didn't match the VM's node selector"), std::string::npos);
  EXPECT_NE(none.status().message().find("1 node(s) were not ready"), std::string::npos);
  EXPECT_NE(none.status().message().find("1 node(s) were unschedulable"), std::string::npos);
}

TEST(PlacementTest, TaintsNeedTolerations) {
  std::vector<NodeInfo> nodes = {Node("gpu", 4, 8)};
  nodes[0].taints.push_back({"dedicated", "tenant-a", "NoSchedule"});
  Request r = Vm(1, 1);
  auto refused = PickNode(r, nodes, {}, {});
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.status().message().find("untolerated taint {dedicated: tenant-a}"), std::string::npos);
  r.tolerations.push_back({"dedicated", "Equal", "tenant-b", "NoSchedule"});
  EXPECT_FALSE(PickNode(r, nodes, {}, {}).ok());
  r.tolerations.push_back({"dedicated", "Equal", "tenant-a", "NoSchedule"});
  EXPECT_EQ(*PickNode(r, nodes, {}, {}), "gpu");
  Request any = Vm(1, 1);
  any.tolerations.push_back({"", "Exists", "", ""});
  EXPECT_EQ(*PickNode(any, nodes, {}, {}), "gpu");
  nodes[0].taints[0].effect = "PreferNoSchedule";  // soft taints do not filter
  EXPECT_EQ(*PickNode(Vm(1, 1), nodes, {}, {}), "gpu");
}

TEST(PlacementTest, SpreadsAcrossNodes) {
  std::vector<NodeInfo> nodes = {Node("a", 4, 16), Node("b", 4, 16), Node("c", 4, 16)};
  std::map<std::string, Usage> usage;
  std::map<std::string, int> placed;
  for (int i = 0; i < 9; ++i) {
    Request r = Vm(1, 1);
    std::string n = *PickNode(r, nodes, usage, {});
    usage[n].cpu_millis += r.cpu_millis;
    usage[n].memory_bytes += r.memory_bytes;
    ++usage[n].vms;
    ++placed[n];
  }
  EXPECT_EQ(placed["a"], 3);
  EXPECT_EQ(placed["b"], 3);
  EXPECT_EQ(placed["c"], 3);
}

TEST(PlacementTest, RequestFromVmi) {
  auto vmi = *ParseJson(R"({"spec":{"domain":{"cpu":{"sockets":2,"cores":2},"memory":{"guest":"1Gi"}},
      "nodeSelector":{"zone":"a"},"tolerations":[{"key":"k","operator":"Exists"}]}})");
  auto r = RequestForVmi(vmi, {});
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->cpu_millis, 400);  // 4 vCPUs / 10
  EXPECT_EQ(r->memory_bytes, kGi + api::MemoryOverhead(kGi, 4));
  EXPECT_EQ(r->node_selector.at("zone"), "a");
  ASSERT_EQ(r->tolerations.size(), 1u);
  EXPECT_EQ(r->tolerations[0].op, "Exists");
  EXPECT_FALSE(RequestForVmi(*ParseJson(R"({"spec":{"domain":{}}})"), {}).ok());
}

TEST(PlacementTest, NodeFromJson) {
  auto n = NodeFromJson(*ParseJson(R"({"metadata":{"name":"n1","labels":{"a":"b"}},
      "spec":{"unschedulable":true,"taints":[{"key":"k","value":"v","effect":"NoSchedule"}]},
      "status":{"allocatable":{"cpu":"2","memory":"4Gi"},"conditions":[{"type":"Ready","status":"True"}]}})"));
  EXPECT_EQ(n.name, "n1");
  EXPECT_TRUE(n.ready);
  EXPECT_TRUE(n.unschedulable);
  EXPECT_EQ(n.cpu_millis, 2000);
  EXPECT_EQ(n.memory_bytes, 4 * kGi);
  EXPECT_EQ(n.labels.at("a"), "b");
  ASSERT_EQ(n.taints.size(), 1u);
}

}  // namespace
}  // namespace kumo::scheduler
