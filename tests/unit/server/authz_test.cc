#include "server/authz.h"

#include <gtest/gtest.h>

#include "tenancy_test_util.h"

namespace kumo::server {
namespace {

class AuthzTest : public testing::CacheFixture {
 protected:
  void SetUp() override {
    CacheFixture::SetUp();
    json::array members{json::object{{"user", "vic"}, {"role", "viewer"}},
                        json::object{{"user", "mel"}, {"role", "member"}},
                        json::object{{"user", "ada"}, {"role", "admin"}}};
    Put(Kind("kumo.io", "tenants"), Tenant("a", json::object{{"members", members}}));
    Put(Kind("kumo.io", "tenants"),
        Tenant("b", json::object{{"members",
                                  json::array{json::object{{"user", "bob"}, {"role", "admin"}}}}}));
    tenants_ = std::make_unique<TenantDirectory>(*cache_);
    authz_ = std::make_unique<Authorizer>(*tenants_);
  }

  static Attributes A(std::string user, std::string verb, std::string group, std::string resource,
                      std::string ns = "", std::string name = "", std::string subresource = "") {
    Attributes a;
    a.user = std::move(user);
    a.groups = {"kumo:tenant-users", "system:authenticated"};
    a.verb = std::move(verb);
    a.group = std::move(group);
    a.resource = std::move(resource);
    a.ns = std::move(ns);
    a.name = std::move(name);
    a.subresource = std::move(subresource);
    return a;
  }
  bool Allowed(const Attributes& a) { return authz_->Authorize(a).allowed; }

  std::unique_ptr<TenantDirectory> tenants_;
  std::unique_ptr<Authorizer> authz_;
};

TEST_F(AuthzTest, ClusterAdminMayDoAnything) {
  Attributes a = A("kumo-admin", "delete", "", "nodes", "", "n1");
  a.groups = {"system:masters"};
  EXPECT_TRUE(Allowed(a));
  a = A("kumo-admin", "list", "kubevirt.io", "virtualmachines");
  a.groups = {"system:masters"};
  EXPECT_TRUE(Allowed(a));
}

TEST_F(AuthzTest, RolesInOwnNamespace) {
  // viewer: reads, never writes, no Secrets.
  EXPECT_TRUE(Allowed(A("vic", "list", "kubevirt.io", "virtualmachines", "a")));
  EXPECT_TRUE(Allowed(A("vic", "watch", "kubevirt.io", "virtualmachines", "a")));
  EXPECT_TRUE(Allowed(A("vic", "get", "", "events", "a", "x")));
  EXPECT_FALSE(Allowed(A("vic", "create", "kubevirt.io", "virtualmachines", "a")));
  EXPECT_FALSE(Allowed(A("vic", "get", "", "secrets", "a", "s")));
  EXPECT_FALSE(Allowed(
      A("vic", "update", "subresources.kubevirt.io", "virtualmachines", "a", "vm", "start")));
  // member: changes VMs, VMIs, Secrets, reservations, starts and stops VMs; reads Events only.
  for (auto verb : {"create", "update", "patch", "delete", "deletecollection"}) {
    EXPECT_TRUE(Allowed(A("mel", verb, "kubevirt.io", "virtualmachines", "a"))) << verb;
    EXPECT_TRUE(Allowed(A("mel", verb, "", "secrets", "a"))) << verb;
    EXPECT_TRUE(Allowed(A("mel", verb, "kumo.io", "ipreservations", "a"))) << verb;
  }
  EXPECT_TRUE(Allowed(
      A("mel", "update", "subresources.kubevirt.io", "virtualmachines", "a", "vm", "stop")));
  EXPECT_TRUE(Allowed(A("mel", "list", "", "events", "a")));
  EXPECT_FALSE(Allowed(A("mel", "create", "", "events", "a")));
  // admin: also Events and Leases.
  EXPECT_TRUE(Allowed(A("ada", "create", "", "events", "a")));
  EXPECT_TRUE(Allowed(A("ada", "update", "coordination.k8s.io", "leases", "a", "l")));
}

TEST_F(AuthzTest, StatusIsWrittenByKumoOnly) {
  Decision d =
      authz_->Authorize(A("ada", "patch", "kubevirt.io", "virtualmachines", "a", "vm", "status"));
  EXPECT_FALSE(d.allowed);
  EXPECT_NE(d.reason.find("controllers"), std::string::npos);
  EXPECT_TRUE(Allowed(A("vic", "get", "kubevirt.io", "virtualmachines", "a", "vm", "status")));
}

TEST_F(AuthzTest, OtherTenantsAndClusterScopeAreOffLimits) {
  for (auto verb : {"get", "list", "watch", "create", "update", "delete"}) {
    EXPECT_FALSE(Allowed(A("ada", verb, "kubevirt.io", "virtualmachines", "b"))) << verb;
    EXPECT_FALSE(Allowed(A("ada", verb, "", "secrets", "b"))) << verb;
    EXPECT_FALSE(Allowed(A("ada", verb, "kumo.io", "ipreservations", "b"))) << verb;
  }
  // Across all namespaces, system namespaces, unknown namespaces.
  EXPECT_FALSE(Allowed(A("ada", "list", "kubevirt.io", "virtualmachines")));
  EXPECT_FALSE(Allowed(A("ada", "watch", "", "secrets")));
  EXPECT_FALSE(Allowed(A("ada", "list", "", "secrets", "kumo-system")));
  EXPECT_FALSE(Allowed(A("ada", "get", "kubevirt.io", "virtualmachines", "default", "x")));
  EXPECT_FALSE(Allowed(A("nobody", "get", "kubevirt.io", "virtualmachines", "a", "x")));
  // Cluster objects: nodes, pools, allocations, namespaces.
  EXPECT_FALSE(Allowed(A("ada", "list", "", "nodes")));
  EXPECT_FALSE(Allowed(A("ada", "get", "", "nodes", "", "n1")));
  EXPECT_FALSE(Allowed(A("ada", "list", "kumo.io", "ippools")));
  EXPECT_FALSE(Allowed(A("ada", "list", "kumo.io", "ipallocations")));
  EXPECT_FALSE(Allowed(A("ada", "list", "", "namespaces")));
  EXPECT_FALSE(Allowed(A("ada", "get", "", "namespaces", "", "b")));
  EXPECT_TRUE(Allowed(A("ada", "get", "", "namespaces", "", "a")));
}

TEST_F(AuthzTest, FlavorsAndImagesAreReadOnly) {
  EXPECT_TRUE(
      Allowed(A("vic", "list", "instancetype.kubevirt.io", "virtualmachineclusterinstancetypes")));
  EXPECT_TRUE(Allowed(A("vic", "get", "kumo.io", "images", "", "tiny")));
  EXPECT_FALSE(Allowed(A("ada", "create", "kumo.io", "images")));
  EXPECT_FALSE(Allowed(A("ada", "delete", "instancetype.kubevirt.io",
                         "virtualmachineclusterinstancetypes", "", "u1.small")));
}

TEST_F(AuthzTest, OwnTenantIsReadOnly) {
  EXPECT_TRUE(Allowed(A("vic", "get", "kumo.io", "tenants", "", "a")));
  EXPECT_FALSE(Allowed(A("vic", "get", "kumo.io", "tenants", "", "b")));
  EXPECT_FALSE(Allowed(A("ada", "list", "kumo.io", "tenants")));
  for (auto verb : {"update", "patch", "delete"}) {
    Decision d = authz_->Authorize(A("ada", verb, "kumo.io", "tenants", "", "a"));
    EXPECT_FALSE(d.allowed) << verb;
    EXPECT_NE(d.reason.find("read-only"), std::string::npos);
  }
  EXPECT_FALSE(Allowed(A("ada", "patch", "kumo.io", "tenants", "", "a", "status")));
  EXPECT_FALSE(Allowed(A("ada", "create", "kumo.io", "tenants")));
}

TEST_F(AuthzTest, MembershipChangesApplyAtOnce) {
  EXPECT_FALSE(Allowed(A("carol", "list", "kubevirt.io", "virtualmachines", "b")));
  Put(Kind("kumo.io", "tenants"),
      Tenant("b", json::object{{"members", json::array{json::object{{"user", "carol"},
                                                                    {"role", "viewer"}}}}}));
  EXPECT_TRUE(Allowed(A("carol", "list", "kubevirt.io", "virtualmachines", "b")));
  EXPECT_FALSE(Allowed(A("bob", "list", "kubevirt.io", "virtualmachines", "b")));  // removed
}

TEST_F(AuthzTest, NodesChangeOnlyTheirOwnObjects) {
  auto node = [](std::string verb, std::string group, std::string resource, std::string ns,
                 std::string name, std::string sub = "") {
    Attributes a = A("system:node:n1", std::move(verb), std::move(group), std::move(resource),
                     std::move(ns), std::move(name), std::move(sub));
    a.groups = {"system:nodes", "system:authenticated"};
    return a;
  };
  EXPECT_TRUE(Allowed(node("patch", "", "nodes", "", "n1", "status")));
  EXPECT_FALSE(Allowed(node("patch", "", "nodes", "", "n2", "status")));
  EXPECT_FALSE(Allowed(node("delete", "", "nodes", "", "n1")));
  EXPECT_TRUE(Allowed(node("update", "coordination.k8s.io", "leases", "kube-node-lease", "n1")));
  EXPECT_FALSE(Allowed(node("update", "coordination.k8s.io", "leases", "kube-node-lease", "n2")));
  // Issue 10: a node lists and watches only the VMIs bound to it, never every tenant's, and
  // reads no VMs (cloud-init user data), reservations or namespaces.
  EXPECT_FALSE(Allowed(node("list", "kubevirt.io", "virtualmachineinstances", "", "")));
  Attributes mine = node("watch", "kubevirt.io", "virtualmachineinstances", "", "");
  mine.field_selector = "status.nodeName=n1";
  EXPECT_TRUE(Allowed(mine));
  mine.field_selector = "status.migrationState.targetNode=n1";
  EXPECT_TRUE(Allowed(mine));
  for (const char* other : {"status.nodeName=n2", "status.nodeName=n1,metadata.name=x",
                            "status.nodeName!=n1", "status.nodeName=n11"}) {
    mine.field_selector = other;
    EXPECT_FALSE(Allowed(mine)) << other;
  }
  EXPECT_TRUE(Allowed(node("get", "kubevirt.io", "virtualmachineinstances", "a", "vm")));
  EXPECT_FALSE(Allowed(node("get", "kubevirt.io", "virtualmachines", "a", "vm")));
  EXPECT_FALSE(Allowed(node("list", "kubevirt.io", "virtualmachines", "", "")));
  EXPECT_FALSE(Allowed(node("list", "kumo.io", "ipreservations", "", "")));
  EXPECT_FALSE(Allowed(node("list", "kumo.io", "ipallocations", "", "")));
  EXPECT_TRUE(Allowed(node("get", "kumo.io", "ipallocations", "", "10.0.0.5")));
  EXPECT_FALSE(Allowed(node("list", "", "namespaces", "", "")));
  EXPECT_TRUE(
      Allowed(node("patch", "kubevirt.io", "virtualmachineinstances", "a", "vm", "status")));
  EXPECT_FALSE(Allowed(node("get", "", "secrets", "a", "s")));
  EXPECT_FALSE(Allowed(node("create", "kubevirt.io", "virtualmachines", "a", "")));
  EXPECT_TRUE(Allowed(node("create", "", "events", "a", "")));
}

TEST_F(AuthzTest, NonResourcePaths) {
  Attributes a;
  a.user = "vic";
  a.resource_request = false;
  a.verb = "get";
  a.path = "/apis";
  EXPECT_TRUE(Allowed(a));
  a.path = "/openapi/v3";
  EXPECT_TRUE(Allowed(a));
  a.path = "/metrics";
  EXPECT_FALSE(Allowed(a));
  EXPECT_EQ(ForbiddenStatus(a, "").message(),
            "forbidden: User \"vic\" cannot get path \"/metrics\"");
}

TEST_F(AuthzTest, ForbiddenMessageHasKubernetesShape) {
  Status st = ForbiddenStatus(A("alice", "list", "kubevirt.io", "virtualmachines", "b"), "");
  EXPECT_EQ(st.code(), Code::kForbidden);
  EXPECT_EQ(st.message(),
            "virtualmachines.kubevirt.io is forbidden: User \"alice\" cannot list resource "
            "\"virtualmachines\" in API group \"kubevirt.io\" in the namespace \"b\"");
  st = ForbiddenStatus(A("alice", "get", "", "secrets", "b", "s1"), "");
  EXPECT_EQ(st.message(),
            "secrets \"s1\" is forbidden: User \"alice\" cannot get resource \"secrets\" in API "
            "group \"\" in the namespace \"b\"");
  st = ForbiddenStatus(A("alice", "list", "", "nodes"), "");
  EXPECT_EQ(st.message(),
            "nodes is forbidden: User \"alice\" cannot list resource \"nodes\" in API group \"\" "
            "at the cluster scope");
  st = ForbiddenStatus(
      A("alice", "update", "subresources.kubevirt.io", "virtualmachines", "b", "vm", "start"),
      "why");
  EXPECT_EQ(st.message(),
            "virtualmachines.subresources.kubevirt.io \"vm\" is forbidden: User \"alice\" cannot "
            "update resource \"virtualmachines/start\" in API group \"subresources.kubevirt.io\" "
            "in the namespace \"b\": why");
}

TEST_F(AuthzTest, ListByNameFieldSelectorIsAboutThatObject) {
  RequestInfo info;
  info.is_resource_request = true;
  info.verb = "watch";
  info.group = "kumo.io";
  info.resource = "tenants";
  Query q{{"fieldSelector", "metadata.name=a"}, {"watch", "true"}};
  Attributes a = AttributesOf(UserInfo{"vic", {}}, info, q);
  EXPECT_EQ(a.name, "a");
  EXPECT_TRUE(Allowed(a));
  q["fieldSelector"] = "metadata.name=a,status.phase=Active";
  EXPECT_EQ(AttributesOf(UserInfo{"vic", {}}, info, q).name, "");
}

TEST_F(AuthzTest, SelfSubjectAccessReviewAnswersFromTheSameRules) {
  http::Request req;
  req.body = R"({"apiVersion":"authorization.k8s.io/v1","kind":"SelfSubjectAccessReview",
                 "spec":{"resourceAttributes":{"namespace":"b","verb":"list","group":"kubevirt.io",
                 "resource":"virtualmachines"}}})";
  UserInfo ada{"ada", {"system:authenticated"}};
  http::Response r = authz_->ServeSelfSubjectAccessReview(ada, req);
  ASSERT_EQ(r.status, 201) << r.body;
  json::value v = ParseJson(r.body).value();
  EXPECT_EQ(v.at("status").at("allowed"), false);
  req.body =
      R"({"spec":{"resourceAttributes":{"namespace":"a","verb":"create","group":"kubevirt.io",
                 "resource":"virtualmachines"}}})";
  v = ParseJson(authz_->ServeSelfSubjectAccessReview(ada, req).body).value();
  EXPECT_EQ(v.at("status").at("allowed"), true);
  req.body = R"({"spec":{"resourceAttributes":{"verb":"*","resource":"*","group":"*"}}})";
  v = ParseJson(authz_->ServeSelfSubjectAccessReview(ada, req).body).value();
  EXPECT_EQ(v.at("status").at("allowed"), false);
  // kubectl sends its namespace along for cluster-scoped kinds too.
  req.body = R"({"spec":{"resourceAttributes":{"namespace":"a","verb":"get","group":"kumo.io",
                 "resource":"tenants","name":"a"}}})";
  v = ParseJson(authz_->ServeSelfSubjectAccessReview(ada, req).body).value();
  EXPECT_EQ(v.at("status").at("allowed"), true);
  req.body = R"({"spec":{}})";
  EXPECT_EQ(authz_->ServeSelfSubjectAccessReview(ada, req).status, 422);
}

}  // namespace
}  // namespace kumo::server

namespace kumo::server {
namespace {

// Issue 10: tenant users are per tenant. Two people called alice in tenants a and b hold
// tokens whose group names their tenant; neither gets the other's roles.
TEST_F(AuthzTest, TenantUsersArePerTenant) {
  Put(Kind("kumo.io", "tenants"),
      Tenant("a", json::object{{"members", json::array{json::object{{"user", "alice"},
                                                                    {"role", "admin"}}}}}));
  Put(Kind("kumo.io", "tenants"),
      Tenant("b", json::object{{"members", json::array{json::object{{"user", "alice"},
                                                                    {"role", "viewer"}}}}}));
  Attributes a_alice = A("alice", "delete", "kubevirt.io", "virtualmachines", "a", "vm");
  a_alice.groups = {"kumo:tenant-users", "kumo:tenant:a", "system:authenticated"};
  EXPECT_TRUE(Allowed(a_alice));
  Attributes in_b = a_alice;
  in_b.ns = "b";
  in_b.verb = "get";
  EXPECT_FALSE(Allowed(in_b));  // a's alice is not b's alice, not even as a viewer
  Attributes b_alice = in_b;
  b_alice.groups = {"kumo:tenant-users", "kumo:tenant:b", "system:authenticated"};
  EXPECT_TRUE(Allowed(b_alice));
  b_alice.verb = "delete";
  EXPECT_FALSE(Allowed(b_alice));  // b's alice is a viewer
  b_alice.ns = "a";
  EXPECT_FALSE(Allowed(b_alice));
}

}  // namespace
}  // namespace kumo::server
