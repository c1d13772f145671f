// The node lifecycle controller with a fake clock: a node whose Lease goes stale is marked
// unreachable (Ready=Unknown, taints), its VMIs fail after the eviction timeout (a terminating
// one is released), nothing happens before, and a renewed Lease clears the taints.
#include "controller/node_lifecycle.h"

#include <gtest/gtest.h>

#include "api/resource.h"
#include "controller_fixture.h"

namespace kumo::controller {
namespace {

const api::ResourceInfo& R(const char* group, const char* plural) {
  return *api::DefaultRegistry().Find(group, "v1", plural);
}

class NodeLifecycleTest : public testing::ControllerFixture {
 protected:
  NodeLifecycleTest()
      : ControllerFixture([](const json::value& parsed, store::CachedObject& obj) {
          obj.fields.emplace_back("status.nodeName", GetString(parsed, {"status", "nodeName"}));
        }) {}
  void SetUp() override {
    ASSERT_NO_FATAL_FAILURE(ControllerFixture::SetUp());
    NodeLifecycleOptions o;
    o.grace = std::chrono::seconds(40);
    o.eviction = std::chrono::seconds(20);
    ctl_ = std::make_unique<NodeLifecycleController>(*store_, *cache_, *events_, clock_, o);
    Put(R("", "nodes").Key("", "n1"), R"({"apiVersion":"v1","kind":"Node",
      "metadata":{"name":"n1","uid":"node-uid"},"spec":{},
      "status":{"conditions":[{"type":"Ready","status":"True","reason":"AgentReady"}]}})");
    Renew();
    for (const char* name : {"web", "db", "old"}) {
      Put(VmiKey(name), std::string(R"({"apiVersion":"kubevirt.io/v1","kind":"VirtualMachineInstance",
        "metadata":{"name":")") + name + R"(","namespace":"demo","uid":")" + name +
                             R"(-uid","finalizers":["kumo.io/vmi-cleanup"]},"spec":{},
        "status":{"phase":"Running","nodeName":"n1"}})");
    }
    // "old" ran to completion; it is left alone.
    Mutate(VmiKey("old"), [](json::value& v) { v.at("status").as_object()["phase"] = "Succeeded"; });
  }
  static std::string VmiKey(const std::string& name) {
    return R("kubevirt.io", "virtualmachineinstances").Key("demo", name);
  }
  void Put(const std::string& key, const std::string& text) {
    auto kv = store_->Get(key);
    auto value = api::SerializeForStore(*ParseJson(text));
    ASSERT_TRUE((kv.ok() ? store_->Update(key, value, kv->mod_revision) : store_->Create(key, value)).ok());
  }
  void Renew() {
    Put(R("coordination.k8s.io", "leases").Key("kube-node-lease", "n1"),
        R"({"apiVersion":"coordination.k8s.io/v1","kind":"Lease","metadata":{"name":"n1","namespace":"kube-node-lease"},
            "spec":{"holderIdentity":"n1","leaseDurationSeconds":40,"renewTime":")" +
            FormatTime(clock_.NowUnixSeconds()) + R"("}})");
  }
  void Pass() {
    ASSERT_NO_FATAL_FAILURE(Sync());
    ASSERT_TRUE(ctl_->RunOnce().ok());
    ASSERT_NO_FATAL_FAILURE(Sync());
  }
  json::value Node() { return *Get(R("", "nodes").Key("", "n1")); }
  std::string Ready() {
    json::value node = Node();
    for (const auto& c : Find(node, {"status", "conditions"})->as_array()) {
      if (GetString(c, {"type"}) == "Ready") return GetString(c, {"status"});
    }
    return "";
  }
  std::string Phase(const std::string& vmi) { return GetString(*Get(VmiKey(vmi)), {"status", "phase"}); }

  std::unique_ptr<NodeLifecycleController> ctl_;
};

TEST_F(NodeLifecycleTest, AFreshLeaseChangesNothing) {
  clock_.Advance(39);
  ASSERT_NO_FATAL_FAILURE(Pass());
  EXPECT_EQ(Ready(), "True");
  EXPECT_FALSE(NodeUnreachable(Node()));
  EXPECT_EQ(Phase("web"), "Running");
}

TEST_F(NodeLifecycleTest, AStaleLeaseTaintsTheNodeThenFailsItsVmisAfterTheEvictionTimeout) {
  clock_.Advance(41);
  ASSERT_NO_FATAL_FAILURE(Pass());
  EXPECT_EQ(Ready(), "Unknown");
  EXPECT_TRUE(NodeUnreachable(Node()));
  json::value node = Node();
  const auto& taints = Find(node, {"spec", "taints"})->as_array();
  ASSERT_EQ(taints.size(), 2u);
  EXPECT_EQ(GetString(taints[0], {"effect"}), "NoSchedule");
  EXPECT_EQ(GetString(taints[1], {"effect"}), "NoExecute");
  EXPECT_EQ(Phase("web"), "Running");  // not yet: the eviction timeout runs from now

  // A VMI being deleted on the dead node can never be released by its agent.
  Mutate(VmiKey("db"), [&](json::value& v) {
    v.at("metadata").as_object()["deletionTimestamp"] = FormatTime(clock_.NowUnixSeconds());
  });
  clock_.Advance(19);
  ASSERT_NO_FATAL_FAILURE(Pass());
  EXPECT_EQ(Phase("web"), "Running");
  clock_.Advance(1);
  ASSERT_NO_FATAL_FAILURE(Pass());
  json::value web = *Get(VmiKey("web"));
  EXPECT_EQ(GetString(web, {"status", "phase"}), "Failed");
  EXPECT_EQ(GetString(web, {"status", "reason"}), "NodeUnresponsive");
  EXPECT_FALSE(Get(VmiKey("db")).has_value());  // finalizer dropped, deleted
  EXPECT_EQ(Phase("old"), "Succeeded");
}

TEST_F(NodeLifecycleTest, ARenewedLeaseClearsTheTaints) {
  clock_.Advance(60);
  ASSERT_NO_FATAL_FAILURE(Pass());
  ASSERT_TRUE(NodeUnreachable(Node()));
  // The agent is back: it renews its Lease and reports Ready itself.
  Renew();
  Mutate(R("", "nodes").Key("", "n1"), [](json::value& v) {
    v.at("status").as_object()["conditions"] =
        json::array{json::object{{"type", "Ready"}, {"status", "True"}}};
  });
  ASSERT_NO_FATAL_FAILURE(Pass());
  EXPECT_FALSE(NodeUnreachable(Node()));
  EXPECT_EQ(Ready(), "True");
}

}  // namespace
}  // namespace kumo::controller
