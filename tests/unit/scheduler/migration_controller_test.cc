// The migration controller on a real store and watch cache: it refuses migrations of VMIs that
// do not run or have nowhere to go, plans one on the other node (recording it in the VMI's
// migrationState), mirrors the agents' progress into the migration's phase, and fails a
// migration that takes too long.
#include "scheduler/migration_controller.h"

#include <gtest/gtest.h>

#include "../controller/controller_fixture.h"
#include "api/resource.h"

namespace kumo::scheduler {
namespace {

const api::ResourceInfo& R(const char* group, const char* plural) {
  return *api::DefaultRegistry().Find(group, "v1", plural);
}
const std::string kVmiKey = R("kubevirt.io", "virtualmachineinstances").Key("demo", "web");
const std::string kMigKey = R("kubevirt.io", "virtualmachineinstancemigrations").Key("demo", "m1");

class MigrationControllerTest : public controller::testing::ControllerFixture {
 protected:
  MigrationControllerTest()
      : ControllerFixture([](const json::value& parsed, store::CachedObject& obj) {
          for (const char* f : {"metadata.name", "metadata.namespace", "status.nodeName", "status.phase"}) {
            obj.fields.emplace_back(f, api::FieldValue(parsed, f));
          }
        }) {}
  void SetUp() override {
    ASSERT_NO_FATAL_FAILURE(ControllerFixture::SetUp());
    MigrationOptions o;
    o.timeout = std::chrono::seconds(60);
    nodes_ = std::make_unique<SchedulingCache>(*cache_, Config{});
    nodes_->Start();
    ctl_ = std::make_unique<MigrationController>(*store_, *cache_, *nodes_, *events_, clock_, o);
    for (const char* node : {"n1", "n2"}) AddNode(node);
    Create(kVmiKey, R"({"apiVersion":"kubevirt.io/v1","kind":"VirtualMachineInstance",
      "metadata":{"name":"web","namespace":"demo","uid":"vmi-uid"},
      "spec":{"domain":{"cpu":{"sockets":1},"memory":{"guest":"128Mi"},"devices":{}}},
      "status":{"phase":"Running","nodeName":"n1"}})");
    Create(kMigKey, R"({"apiVersion":"kubevirt.io/v1","kind":"VirtualMachineInstanceMigration",
      "metadata":{"name":"m1","namespace":"demo","uid":"mig-uid"},"spec":{"vmiName":"web"}})");
  }
  void AddNode(const std::string& name) {
    Create(R("", "nodes").Key("", name), R"({"apiVersion":"v1","kind":"Node","metadata":{"name":")" + name +
        R"("},"spec":{},"status":{"allocatable":{"cpu":"4","memory":"8Gi"},
        "conditions":[{"type":"Ready","status":"True"}]}})");
  }
  void Create(const std::string& key, const std::string& text) {
    ASSERT_TRUE(store_->Create(key, api::SerializeForStore(*ParseJson(text))).ok());
  }
  void Reconcile() {
    ASSERT_NO_FATAL_FAILURE(Sync());
    auto r = ctl_->Reconcile(kMigKey);
    ASSERT_TRUE(r.ok()) << r.status().ToString();
  }
  std::string Phase() { return GetString(*Get(kMigKey), {"status", "phase"}); }
  std::string Message() {
    json::value mig = *Get(kMigKey);
    const json::value* c = Find(mig, {"status", "conditions"});
    return c && c->is_array() && !c->get_array().empty() ? GetString(c->get_array()[0], {"message"}) : "";
  }
  void SetState(const std::string& field, json::value v) {
    Mutate(kVmiKey, [&](json::value& vmi) {
      vmi.at("status").at("migrationState").as_object()[field] = v;
    });
  }

  std::unique_ptr<SchedulingCache> nodes_;
  std::unique_ptr<MigrationController> ctl_;
};

TEST_F(MigrationControllerTest, PlansTheMoveToAnotherNodeAndFollowsItToSuccess) {
  Reconcile();
  EXPECT_EQ(Phase(), "Scheduled");
  json::value vmi = *Get(kVmiKey);
  EXPECT_EQ(GetString(vmi, {"status", "migrationState", "migrationUid"}), "mig-uid");
  EXPECT_EQ(GetString(vmi, {"status", "migrationState", "sourceNode"}), "n1");
  EXPECT_EQ(GetString(vmi, {"status", "migrationState", "targetNode"}), "n2");
  SetState("targetNodeAddress", "10.0.0.2");
  Reconcile();
  EXPECT_EQ(Phase(), "TargetReady");
  SetState("completed", true);
  Reconcile();
  EXPECT_EQ(Phase(), "Succeeded");
  EXPECT_EQ(GetString(*Get(kMigKey), {"status", "migrationState", "targetNode"}), "n2");
}

TEST_F(MigrationControllerTest, AgentFailuresAndTimeoutsFailTheMigration) {
  Reconcile();
  SetState("failed", true);
  SetState("failureReason", "cannot connect to 10.0.0.2:49153");
  Reconcile();
  EXPECT_EQ(Phase(), "Failed");
  EXPECT_EQ(Message(), "cannot connect to 10.0.0.2:49153");
}

TEST_F(MigrationControllerTest, AMigrationThatTakesTooLongFails) {
  Reconcile();
  clock_.Advance(61);
  Reconcile();  // marks the VMI's migration failed, so that both agents roll back
  json::value vmi = *Get(kVmiKey);
  EXPECT_TRUE(Find(vmi, {"status", "migrationState", "failed"})->as_bool());
  EXPECT_EQ(GetString(vmi, {"status", "migrationState", "failureReason"}), "timed out after 60s");
  Reconcile();
  EXPECT_EQ(Phase(), "Failed");
}

TEST_F(MigrationControllerTest, RefusesWhatCannotMigrate) {
  Mutate(kVmiKey, [](json::value& v) { v.at("status").as_object()["phase"] = "Scheduled"; });
  Reconcile();
  EXPECT_EQ(Phase(), "Failed");
  EXPECT_NE(Message().find("is not running"), std::string::npos) << Message();
}

TEST_F(MigrationControllerTest, NeedsAnotherNodeWithRoom) {
  ASSERT_TRUE(store_->Delete(R("", "nodes").Key("", "n2"), 0).ok());
  Reconcile();
  EXPECT_EQ(Phase(), "Failed");
  EXPECT_NE(Message().find("no other node can run the VMI"), std::string::npos) << Message();
  json::value vmi = *Get(kVmiKey);
  EXPECT_EQ(Find(vmi, {"status", "migrationState"}), nullptr);
}

}  // namespace
}  // namespace kumo::scheduler
