#include "controller/vm_controller.h"

#include <gtest/gtest.h>

#include <filesystem>

#include "api/flavors.h"
#include "api/object.h"
#include "api/resource.h"
#include "store/sqlite/sqlite_store.h"

namespace kumo::controller {
namespace {

namespace fs = std::filesystem;

const api::ResourceInfo& R(const char* group, const char* version, const char* plural) {
  return *api::DefaultRegistry().Find(group, version, plural);
}
const std::string kVmKey = "/registry/kubevirt.io/virtualmachines/demo/vm1";
const std::string kVmiKey = "/registry/kubevirt.io/virtualmachineinstances/demo/vm1";

class VmControllerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("kumo-vmc-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    store::SqliteOptions o;
    o.path = (dir_ / "db").string();
    o.durable = false;
    store_ = std::move(store::OpenSqliteStore(o)).value();
    cache_ = std::make_unique<store::WatchCache>(*store_, "/registry/", nullptr, 1000);
    ASSERT_TRUE(cache_->Start().ok());
    events_ = std::make_unique<EventRecorder>(*store_, clock_, "test");
    VmControllerOptions opts;
    opts.backoff_base = std::chrono::seconds(5);
    ctl_ = std::make_unique<VmController>(*store_, *cache_, *events_, clock_, opts);
    for (auto& f : api::DefaultClusterInstancetypes()) {
      auto& it = R("instancetype.kubevirt.io", "v1beta1", "virtualmachineclusterinstancetypes");
      ASSERT_TRUE(store_->Create(it.Key("", GetString(f, {"metadata", "name"})), api::SerializeForStore(f)).ok());
    }
  }
  void TearDown() override {
    ctl_.reset();
    cache_.reset();
    store_.reset();
    fs::remove_all(dir_);
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
  std::optional<json::value> Get(const std::string& key) {
    auto kv = store_->Get(key);
    if (!kv.ok()) return std::nullopt;
    return *api::ParseStored(kv->value, kv->mod_revision);
  }
  void Mutate(const std::string& key, const std::function<void(json::value&)>& fn) {
    auto res = store::GuaranteedUpdate(*store_, key, [&](const store::KeyValue& cur) -> StatusOr<std::string> {
      json::value v = *ParseJson(cur.value);
      fn(v);
      return api::SerializeForStore(v);
    });
    ASSERT_TRUE(res.ok()) << res.status().ToString();
  }
  void SetVmiPhase(const std::string& phase) {
    Mutate(kVmiKey, [&](json::value& v) { EnsureObject(v, {"status"})["phase"] = phase; });
  }
  void Reconcile() {
    auto r = ctl_->Reconcile(kVmKey);
    ASSERT_TRUE(r.ok()) << r.status().ToString();
  }
  std::string Printable() { return GetString(*Get(kVmKey), {"status", "printableStatus"}); }

  fs::path dir_;
  FakeClock clock_;
  std::unique_ptr<store::Store> store_;
  std::unique_ptr<store::WatchCache> cache_;
  std::unique_ptr<EventRecorder> events_;
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
