#include "controller/vm_controller.h"

#include <gtest/gtest.h>

#include "api/flavors.h"
#include "api/object.h"
#include "api/resource.h"
#include "controller_fixture.h"

namespace kumo::controller {
namespace {

const api::ResourceInfo& R(const char* group, const char* version, const char* plural) {
  return *api::DefaultRegistry().Find(group, version, plural);
}
const std::string kVmKey = "/registry/kubevirt.io/virtualmachines/demo/vm1";
const std::string kVmiKey = "/registry/kubevirt.io/virtualmachineinstances/demo/vm1";

class VmControllerTest : public testing::ControllerFixture {
 protected:
  void SetUp() override {
    ASSERT_NO_FATAL_FAILURE(ControllerFixture::SetUp());
    VmControllerOptions opts;
    opts.backoff_base = std::chrono::seconds(5);
    ctl_ = std::make_unique<VmController>(*store_, *cache_, *events_, clock_, opts);
    for (auto& f : api::DefaultClusterInstancetypes()) {
      auto& it = R("instancetype.kubevirt.io", "v1beta1", "virtualmachineclusterinstancetypes");
      ASSERT_TRUE(store_->Create(it.Key("", GetString(f, {"metadata", "name"})), api::SerializeForStore(f)).ok());
    }
  }
  void CreateVm(const std::string& strategy, const std::string& instancetype = "k1.tiny") {
    json::value vm = *ParseJson(R"({"apiVersion":"kubevirt.io/v1","kind":"VirtualMachine",
      "metadata":{"name":"vm1","namespace":"demo","uid":"vm-uid-1","generation":1},
      "spec":{"template":{"metadata":{"labels":{"app":"web"}},"spec":{"domain":{"devices":{}},
        "volumes":[{"name":"root","containerDisk":{"image":"tiny"}}]}}}})");
    vm.at("spec").as_object()["runStrategy"] = strategy;
    vm.at("spec").as_object()["instancetype"] = json::object{{"name", instancetype}};
    ASSERT_TRUE(store_->Create(kVmKey, api::SerializeForStore(vm)).ok());
  }
  void SetVmiPhase(const std::string& phase) {
    Mutate(kVmiKey, [&](json::value& v) { EnsureObject(v, {"status"})["phase"] = phase; });
  }
  void Reconcile() {
    auto r = ctl_->Reconcile(kVmKey);
    ASSERT_TRUE(r.ok()) << r.status().ToString();
  }
  std::string Printable() { return GetString(*Get(kVmKey), {"status", "printableStatus"}); }

  std::unique_ptr<VmController> ctl_;
};

TEST_F(VmControllerTest, AlwaysCreatesAnInstanceFromTheTemplateAndFlavor) {
  CreateVm("Always");
  Reconcile();
  auto vmi = Get(kVmiKey);
  ASSERT_TRUE(vmi);
  EXPECT_EQ(GetString(*vmi, {"metadata", "labels", "app"}), "web");
  EXPECT_EQ(vmi->at_pointer("/metadata/ownerReferences/0/uid"), "vm-uid-1");
  EXPECT_EQ(vmi->at_pointer("/metadata/finalizers/0"), kVmiCleanupFinalizer);
  EXPECT_EQ(vmi->at_pointer("/spec/domain/memory/guest"), "128Mi");  // from k1.tiny
  EXPECT_EQ(vmi->at_pointer("/spec/domain/cpu/sockets"), 1);
  EXPECT_EQ(Printable(), "Starting");
  SetVmiPhase("Running");
  Mutate(kVmiKey, [](json::value& v) {
    EnsureObject(v, {"status"})["conditions"] = json::array{json::object{{"type", "Ready"}, {"status", "True"}}};
  });
  Reconcile();
  EXPECT_EQ(Printable(), "Running");
  EXPECT_TRUE(Get(kVmKey)->at_pointer("/status/ready").as_bool());
}

TEST_F(VmControllerTest, HaltedRemovesTheInstance) {
  CreateVm("Always");
  Reconcile();
  Mutate(kVmKey, [](json::value& v) { v.at("spec").as_object()["runStrategy"] = "Halted"; });
  Reconcile();
  EXPECT_FALSE(Get(kVmiKey));  // never scheduled: removed at once
  EXPECT_EQ(Printable(), "Stopped");
}

TEST_F(VmControllerTest, AlwaysRestartsAfterAnyStopWithBackOffForCrashes) {
  CreateVm("Always");
  Reconcile();
  SetVmiPhase("Failed");
  Reconcile();  // first crash: deleted, restarted at once
  EXPECT_FALSE(Get(kVmiKey));
  Reconcile();
  ASSERT_TRUE(Get(kVmiKey));
  SetVmiPhase("Failed");
  Reconcile();  // second crash: back-off
  Reconcile();
  EXPECT_FALSE(Get(kVmiKey));
  EXPECT_EQ(Printable(), "CrashLoopBackOff");
  clock_.Advance(6);
  Reconcile();
  EXPECT_TRUE(Get(kVmiKey));
  SetVmiPhase("Succeeded");  // a guest shutdown also restarts under Always
  Reconcile();
  Reconcile();
  EXPECT_TRUE(Get(kVmiKey));
  EXPECT_EQ(GetString(*Get(kVmiKey), {"status", "phase"}), "Pending");
}

TEST_F(VmControllerTest, AnInstanceOnAReachableNodeWaitsForItsAgentOneOnAnUnreachableNodeDoesNot) {
  CreateVm("Always");
  Reconcile();
  const std::string node_key = R("", "v1", "nodes").Key("", "n1");
  ASSERT_TRUE(store_->Create(node_key, api::SerializeForStore(*ParseJson(
      R"({"apiVersion":"v1","kind":"Node","metadata":{"name":"n1"},"spec":{}})"))).ok());
  Mutate(kVmiKey, [](json::value& v) {
    v.at("metadata").as_object()["finalizers"] = json::array{"kumo.io/vmi-cleanup"};
    EnsureObject(v, {"status"})["nodeName"] = "n1";
    v.at("status").as_object()["phase"] = "Failed";
  });
  Reconcile();
  // The node's agent is alive: the instance is terminating until the agent releases it.
  ASSERT_TRUE(Get(kVmiKey));
  EXPECT_FALSE(GetString(*Get(kVmiKey), {"metadata", "deletionTimestamp"}).empty());
  ASSERT_TRUE(store_->Delete(kVmiKey, 0).ok());
  Reconcile();
  ASSERT_TRUE(Get(kVmiKey));  // the replacement
  // Now the node stops responding and the new instance fails there too.
  Mutate(node_key, [](json::value& v) {
    v.at("spec").as_object()["taints"] = json::array{
        json::object{{"key", "node.kubernetes.io/unreachable"}, {"effect", "NoExecute"}}};
  });
  Mutate(kVmiKey, [](json::value& v) {
    v.at("metadata").as_object()["finalizers"] = json::array{"kumo.io/vmi-cleanup"};
    EnsureObject(v, {"status"})["nodeName"] = "n1";
    v.at("status").as_object()["phase"] = "Failed";
    v.at("status").as_object()["reason"] = "NodeUnresponsive";
  });
  Reconcile();  // no agent will release it: gone at once, and a new one follows
  EXPECT_FALSE(Get(kVmiKey));
  clock_.Advance(10);
  Reconcile();
  ASSERT_TRUE(Get(kVmiKey));
  EXPECT_EQ(GetString(*Get(kVmiKey), {"status", "phase"}), "Pending");
}

TEST_F(VmControllerTest, RerunOnFailureKeepsAGuestShutdown) {
  CreateVm("RerunOnFailure");
  Reconcile();
  SetVmiPhase("Succeeded");
  Reconcile();
  Reconcile();
  ASSERT_TRUE(Get(kVmiKey));
  EXPECT_EQ(GetString(*Get(kVmiKey), {"status", "phase"}), "Succeeded");
  EXPECT_EQ(Printable(), "Stopped");
}

TEST_F(VmControllerTest, ManualOnlyFollowsRequests) {
  CreateVm("Manual");
  Reconcile();
  EXPECT_FALSE(Get(kVmiKey));
  Mutate(kVmKey, [](json::value& v) {
    EnsureObject(v, {"status"})["stateChangeRequests"] = json::array{json::object{{"action", "Start"}}};
  });
  Reconcile();
  ASSERT_TRUE(Get(kVmiKey));
  EXPECT_EQ(Get(kVmKey)->at("status").as_object().count("stateChangeRequests"), 0u);
  SetVmiPhase("Failed");  // Manual never restarts by itself
  Reconcile();
  EXPECT_EQ(GetString(*Get(kVmiKey), {"status", "phase"}), "Failed");
  std::string uid = GetString(*Get(kVmiKey), {"metadata", "uid"});
  Mutate(kVmKey, [&](json::value& v) {
    EnsureObject(v, {"status"})["stateChangeRequests"] = json::array{json::object{{"action", "Stop"}, {"uid", uid}}};
  });
  Reconcile();
  Reconcile();
  EXPECT_FALSE(Get(kVmiKey));
}

TEST_F(VmControllerTest, MissingFlavorIsReported) {
  CreateVm("Always", "no-such-flavor");
  Reconcile();
  EXPECT_FALSE(Get(kVmiKey));
  auto vm = Get(kVmKey);
  const json::value& conds = vm->at_pointer("/status/conditions");
  bool found = false;
  for (const auto& c : conds.as_array()) {
    if (GetString(c, {"type"}) == "Failure") {
      found = true;
      EXPECT_NE(GetString(c, {"message"}).find("no-such-flavor"), std::string::npos);
    }
  }
  EXPECT_TRUE(found);
}

TEST_F(VmControllerTest, DeletingTheVmDeletesItsInstance) {
  CreateVm("Always");
  Reconcile();
  ASSERT_TRUE(store_->Delete(kVmKey, 0).ok());
  Reconcile();
  EXPECT_FALSE(Get(kVmiKey));
}

}  // namespace
}  // namespace kumo::controller
