#include "controller/tenant_controller.h"

#include <gtest/gtest.h>

#include "api/object.h"
#include "controller_fixture.h"

namespace kumo::controller {
namespace {

const std::string kTenantKey = "/registry/kumo.io/tenants/acme";
const std::string kNsKey = "/registry/core/namespaces/acme";

class TenantControllerTest : public testing::ControllerFixture {
 protected:
  TenantControllerTest()
      : ControllerFixture([](const json::value& parsed, store::CachedObject& obj) {
          obj.fields.emplace_back("metadata.name", GetString(parsed, {"metadata", "name"}));
        }) {}
  void SetUp() override {
    ASSERT_NO_FATAL_FAILURE(ControllerFixture::SetUp());
    ctl_ =
        std::make_unique<TenantController>(*store_, *cache_, *events_, clock_,
                                           [this](const std::string& ns) -> StatusOr<json::object> {
                                             ++usage_calls_;
                                             return json::object{{"vms", vms_}, {"ns", ns}};
                                           });
    json::value t = json::object{{"apiVersion", "kumo.io/v1alpha1"},
                                 {"kind", "Tenant"},
                                 {"metadata", json::object{{"name", "acme"}, {"uid", "t-uid"}}},
                                 {"spec", json::object{}}};
    ASSERT_TRUE(store_->Create(kTenantKey, api::SerializeForStore(t)).ok());
  }
  StatusOr<Result> Reconcile() { return ctl_->Reconcile(kTenantKey); }

  std::unique_ptr<TenantController> ctl_;
  int vms_ = 0;
  int usage_calls_ = 0;
};

TEST_F(TenantControllerTest, CreatesItsLabelledNamespaceAndReportsUsage) {
  ASSERT_TRUE(Reconcile().ok());
  auto ns = Get(kNsKey);
  ASSERT_TRUE(ns);
  EXPECT_EQ(GetString(*ns, {"metadata", "labels", "kumo.io/tenant"}), "acme");
  EXPECT_EQ(GetString(Find(*ns, {"metadata", "ownerReferences"})->as_array()[0], {"uid"}), "t-uid");
  auto t = Get(kTenantKey);
  EXPECT_EQ(GetString(*t, {"status", "phase"}), "Active");
  EXPECT_EQ(Find(*t, {"status", "usage", "vms"})->as_int64(), 0);
  EXPECT_EQ(Find(*t, {"metadata", "finalizers"})->as_array()[0], kTenantFinalizer);

  // Usage is recounted at most once a second.
  vms_ = 3;
  auto r = Reconcile();
  ASSERT_TRUE(r.ok());
  EXPECT_GT(r->requeue_after.count(), 0);
  EXPECT_EQ(Find(*Get(kTenantKey), {"status", "usage", "vms"})->as_int64(), 0);
  // Usage changes are written then; an unchanged status is not rewritten.
  clock_.Advance(2);
  ASSERT_TRUE(Reconcile().ok());
  int64_t rev = store_->Get(kTenantKey)->mod_revision;
  EXPECT_EQ(Find(*Get(kTenantKey), {"status", "usage", "vms"})->as_int64(), 3);
  clock_.Advance(2);
  ASSERT_TRUE(Reconcile().ok());
  EXPECT_EQ(store_->Get(kTenantKey)->mod_revision, rev);
}

TEST_F(TenantControllerTest, AdoptsAnExistingNamespace) {
  json::value ns = json::object{
      {"apiVersion", "v1"}, {"kind", "Namespace"}, {"metadata", json::object{{"name", "acme"}}}};
  ASSERT_TRUE(store_->Create(kNsKey, api::SerializeForStore(ns)).ok());
  ASSERT_TRUE(Reconcile().ok());
  EXPECT_EQ(GetString(*Get(kNsKey), {"metadata", "labels", "kumo.io/tenant"}), "acme");
}

TEST_F(TenantControllerTest, DeletionTakesTheNamespaceAndTokensFirst) {
  ASSERT_TRUE(Reconcile().ok());
  json::value token = json::object{
      {"apiVersion", "v1"},
      {"kind", "Secret"},
      {"type", "kumo.io/token"},
      {"metadata", json::object{{"name", "token-x"},
                                {"namespace", "kumo-system"},
                                {"labels", json::object{{"kumo.io/tenant", "acme"}}}}}};
  const std::string token_key = "/registry/core/secrets/kumo-system/token-x";
  ASSERT_TRUE(store_->Create(token_key, api::SerializeForStore(token)).ok());
  Sync();
  // What the API server does on DELETE of an object with finalizers.
  auto t = *Get(kTenantKey);
  t.as_object()["metadata"].as_object()["deletionTimestamp"] = "2024-01-01T00:00:00Z";
  ASSERT_TRUE(store_->Update(kTenantKey, api::SerializeForStore(t), 0).ok());

  auto r = Reconcile();
  ASSERT_TRUE(r.ok());
  EXPECT_GT(r->requeue_after.count(), 0);  // waits for the namespace to go
  auto ns = Get(kNsKey);
  ASSERT_TRUE(ns);
  EXPECT_FALSE(GetString(*ns, {"metadata", "deletionTimestamp"}).empty());
  EXPECT_EQ(GetString(*Get(kTenantKey), {"status", "phase"}), "Terminating");
  EXPECT_TRUE(store_->Get(token_key).ok());

  // The server's namespace sweeper removes the namespace; then the tenant and its tokens go.
  ASSERT_TRUE(store_->Delete(kNsKey, 0).ok());
  ASSERT_TRUE(Reconcile().ok());
  EXPECT_FALSE(Get(kTenantKey));
  EXPECT_FALSE(store_->Get(token_key).ok());
}

}  // namespace
}  // namespace kumo::controller
