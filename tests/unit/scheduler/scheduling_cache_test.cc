#include "scheduler/scheduling_cache.h"

#include <gtest/gtest.h>

#include <set>

#include "../controller/controller_fixture.h"
#include "api/resource.h"

namespace kumo::scheduler {
namespace {

const api::ResourceInfo& R(const char* group, const char* plural) {
  return *api::DefaultRegistry().Find(group, "v1", plural);
}

store::CachedPtr NodeObj(const std::string& name, int cpus, bool ready = true,
                         const std::string& extra_labels = "") {
  auto o = std::make_shared<store::CachedObject>();
  o->key = R("", "nodes").Key("", name);
  o->json = R"({"metadata":{"name":")" + name + R"(","labels":{)" + extra_labels +
            R"(}},"spec":{},"status":{"allocatable":{"cpu":")" + std::to_string(cpus) +
            R"(","memory":"64Gi"},"conditions":[{"type":"Ready","status":")" +
            (ready ? "True" : "False") + R"("}]}})";
  o->fields = {{"metadata.name", name}};
  return o;
}

// A VMI of 1 vCPU (100m at the default ratio of 10) and 1 GiB.
store::CachedPtr VmiObj(const std::string& name, const std::string& node,
                        const std::string& phase = "Running") {
  auto o = std::make_shared<store::CachedObject>();
  o->key = R("kubevirt.io", "virtualmachineinstances").Key("t", name);
  o->json = R"({"metadata":{"name":")" + name +
            R"(","namespace":"t"},"spec":{"domain":{"cpu":{"cores":1},"memory":{"guest":"1Gi"},"devices":{}}}})";
  o->fields = {{"metadata.name", name}, {"status.nodeName", node}, {"status.phase", phase}};
  return o;
}

store::CacheEvent Ev(store::EventType type, store::CachedPtr obj, store::CachedPtr prev = nullptr,
                     int64_t rev = 1) {
  return store::CacheEvent{type, std::move(obj), std::move(prev), rev};
}

Request OneCpu() {
  Request r;
  r.cpu_millis = 100;
  r.memory_bytes = 1LL << 30;
  return r;
}

class SchedulingCacheTest : public controller::testing::ControllerFixture {};

TEST_F(SchedulingCacheTest, CountsBoundVmisIncrementallyAndFreesThemOnFinishOrDelete) {
  SchedulingCache c(*cache_, Config{});
  c.Apply(Ev(store::EventType::kCreate, NodeObj("n1", 1)));  // 1 CPU: ten 100m VMs
  for (int i = 0; i < 10; ++i) {
    c.Apply(Ev(store::EventType::kCreate, VmiObj("v" + std::to_string(i), "n1")));
  }
  EXPECT_EQ(c.vmi_count(), 10u);
  auto full = c.Pick(OneCpu());
  ASSERT_FALSE(full.ok());
  EXPECT_EQ(full.status().message(), "0/1 nodes are available: 1 Insufficient cpu.");
  // Status changes of a bound VMI cost nothing and change nothing.
  c.Apply(Ev(store::EventType::kUpdate, VmiObj("v0", "n1", "Running"), VmiObj("v0", "n1", "Scheduled")));
  EXPECT_FALSE(c.Pick(OneCpu()).ok());
  // A finished VMI and a deleted one give their room back.
  c.Apply(Ev(store::EventType::kUpdate, VmiObj("v1", "n1", "Succeeded")));
  c.Apply(Ev(store::EventType::kDelete, VmiObj("v2", "n1")));
  EXPECT_EQ(c.vmi_count(), 8u);
  EXPECT_EQ(*c.Pick(OneCpu()), "n1");
}

TEST_F(SchedulingCacheTest, AssumedPlacementsCountAtOnceAndSurviveStaleEvents) {
  SchedulingCache c(*cache_, Config{});
  c.Apply(Ev(store::EventType::kCreate, NodeObj("n1", 1)));
  for (int i = 0; i < 10; ++i) ASSERT_TRUE(c.PickAndAssume("/k" + std::to_string(i), OneCpu()).ok());
  EXPECT_FALSE(c.PickAndAssume("/k10", OneCpu()).ok());
  // The watch still shows one of them pending (an event from before the binding): ignored.
  auto pending = VmiObj("x", "", "Pending");
  const_cast<store::CachedObject&>(*pending).key = "/k3";
  c.Apply(Ev(store::EventType::kUpdate, pending));
  EXPECT_TRUE(c.Counted("/k3"));
  // A failed write gives the room back.
  c.Forget("/k3");
  EXPECT_EQ(*c.Pick(OneCpu()), "n1");
}

TEST_F(SchedulingCacheTest, SpreadsAndSkipsNodesThatCannotRun) {
  SchedulingCache c(*cache_, Config{});
  c.Apply(Ev(store::EventType::kCreate, NodeObj("a", 4)));
  c.Apply(Ev(store::EventType::kCreate, NodeObj("b", 4)));
  c.Apply(Ev(store::EventType::kCreate, NodeObj("down", 64, /*ready=*/false)));
  std::map<std::string, int> per_node;
  for (int i = 0; i < 20; ++i) {
    auto n = c.PickAndAssume("/v" + std::to_string(i), OneCpu());
    ASSERT_TRUE(n.ok());
    ++per_node[*n];
  }
  EXPECT_EQ(per_node["a"], 10);
  EXPECT_EQ(per_node["b"], 10);
  EXPECT_EQ(per_node.count("down"), 0u);
  c.Apply(Ev(store::EventType::kDelete, NodeObj("a", 4)));
  EXPECT_EQ(c.node_count(), 2u);
  for (int i = 0; i < 5; ++i) EXPECT_EQ(*c.PickAndAssume("/w" + std::to_string(i), OneCpu()), "b");
}

TEST_F(SchedulingCacheTest, LargeClustersScoreASampleButFindRoomAnywhere) {
  EXPECT_EQ(FeasibleNodesToFind(50), 50u);
  EXPECT_EQ(FeasibleNodesToFind(2600), 759u);  // 29.2% of 2,600
  EXPECT_EQ(FeasibleNodesToFind(100000), 5000u);
  SchedulingCache c(*cache_, Config{});
  for (int i = 0; i < 1000; ++i) c.Apply(Ev(store::EventType::kCreate, NodeObj("n" + std::to_string(i), 0)));
  // Only the last node has room: a scan that samples still finds it.
  c.Apply(Ev(store::EventType::kUpdate, NodeObj("n999", 8)));
  EXPECT_EQ(*c.Pick(OneCpu()), "n999");
  // Successive placements start where the last scan stopped: they touch many nodes.
  for (int i = 0; i < 999; ++i) c.Apply(Ev(store::EventType::kUpdate, NodeObj("n" + std::to_string(i), 8)));
  std::set<std::string> used;
  for (int i = 0; i < 20; ++i) used.insert(*c.PickAndAssume("/s" + std::to_string(i), OneCpu()));
  EXPECT_GT(used.size(), 10u);
}

// The node as placement reads it.
NodeInfo Info(const store::CachedPtr& obj) {
  NodeInfo n = NodeFromJson(*ParseJson(obj->json));
  for (const auto& [k, v] : obj->labels) n.labels[k] = v;
  return n;
}

TEST_F(SchedulingCacheTest, OnlyNodeChangesThatMakeRoomRetryPendingVmis) {
  const NodeInfo before = Info(NodeObj("n", 4));
  const NodeInfo same = Info(NodeObj("n", 4)), grown = Info(NodeObj("n", 8));
  const NodeInfo not_ready = Info(NodeObj("n", 4, false));
  EXPECT_TRUE(SchedulingCache::NodeChangeMayUnblock(nullptr, &before));
  EXPECT_FALSE(SchedulingCache::NodeChangeMayUnblock(&before, nullptr));
  // A heartbeat: same node, same everything that placement reads.
  EXPECT_FALSE(SchedulingCache::NodeChangeMayUnblock(&before, &same));
  EXPECT_TRUE(SchedulingCache::NodeChangeMayUnblock(&before, &grown));
  EXPECT_TRUE(SchedulingCache::NodeChangeMayUnblock(&not_ready, &before));
  const NodeInfo labeled = Info(NodeObj("n", 4, true, R"("disk":"ssd")"));
  EXPECT_TRUE(SchedulingCache::NodeChangeMayUnblock(&before, &labeled));
}

TEST_F(SchedulingCacheTest, NodeChangesThatMakeRoomAreAnnounced) {
  SchedulingCache c(*cache_, Config{});
  int calls = 0;
  c.OnRoom([&] { ++calls; });
  c.Apply(Ev(store::EventType::kCreate, NodeObj("n", 4)));
  EXPECT_EQ(calls, 1);
  c.Apply(Ev(store::EventType::kUpdate, NodeObj("n", 4)));  // a status post that changes nothing
  EXPECT_EQ(calls, 1);
  c.Apply(Ev(store::EventType::kUpdate, NodeObj("n", 8)));
  EXPECT_EQ(calls, 2);
  c.Apply(Ev(store::EventType::kDelete, NodeObj("n", 8)));
  EXPECT_EQ(calls, 2);
}

}  // namespace
}  // namespace kumo::scheduler
