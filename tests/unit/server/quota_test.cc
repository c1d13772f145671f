#include "server/quota.h"

#include <gtest/gtest.h>

#include "api/vm_size.h"
#include "server/tenancy_admission.h"
#include "tenancy_test_util.h"

namespace kumo::server {
namespace {

constexpr int64_t kMi = 1LL << 20;
constexpr int64_t kGi = 1LL << 30;

json::value VmWith(json::object spec, json::object annotations = {}) {
  json::object meta{{"name", "vm1"}, {"namespace", "a"}};
  if (!annotations.empty()) meta["annotations"] = std::move(annotations);
  return json::object{{"apiVersion", "kubevirt.io/v1"},
                      {"kind", "VirtualMachine"},
                      {"metadata", std::move(meta)},
                      {"spec", std::move(spec)}};
}

json::object Domain(json::object cpu, json::value guest) {
  return json::object{
      {"template",
       json::object{
           {"spec",
            json::object{{"domain",
                          json::object{{"cpu", std::move(cpu)},
                                       {"memory", json::object{{"guest", std::move(guest)}}}}}}}}}};
}

TEST(QuotaMathTest, VmClaimsVcpusMemoryWithOverheadOneVmAndOneAddress) {
  auto claim =
      ClaimOfVm(VmWith(Domain(json::object{{"sockets", 2}, {"cores", 2}}, "1Gi")), nullptr);
  ASSERT_TRUE(claim.ok()) << claim.status().ToString();
  EXPECT_EQ(claim->vcpus, 4);
  EXPECT_EQ(claim->memory, kGi + api::MemoryOverhead(kGi, 4));
  // The documented overhead: guest/512 + 96 MiB + 8 MiB per vCPU.
  EXPECT_EQ(claim->memory, kGi + kGi / 512 + 96 * kMi + 4 * 8 * kMi);
  EXPECT_EQ(claim->vms, 1);
  EXPECT_EQ(claim->ips, 1);
  EXPECT_EQ(claim->reservations, 0);
}

TEST(QuotaMathTest, VmFromAReservationClaimsNoAddress) {
  auto claim = ClaimOfVm(VmWith(Domain(json::object{{"cores", 1}}, "128Mi"),
                                json::object{{"kumo.io/ip-reservation", "web-ips"}}),
                         nullptr);
  ASSERT_TRUE(claim.ok());
  EXPECT_EQ(claim->ips, 0);
}

TEST(QuotaMathTest, FlavorSizesAVm) {
  json::value vm = VmWith(json::object{{"instancetype", json::object{{"name", "u1.medium"}}}});
  auto claim = ClaimOfVm(vm, [](const std::string& name) -> StatusOr<json::value> {
    if (name == "u1.medium") return *ParseJson(R"({"spec":{"cpu":{"guest":2},"memory":{"guest":"4Gi"}}})");
    return NotFound(name);
  });
  ASSERT_TRUE(claim.ok());
  EXPECT_EQ(claim->vcpus, 2);
  EXPECT_EQ(claim->memory, 4 * kGi + api::MemoryOverhead(4 * kGi, 2));
  json::value unknown = VmWith(json::object{{"instancetype", json::object{{"name", "nope"}}}});
  EXPECT_EQ(ClaimOfVm(unknown, nullptr).status().code(), Code::kInvalid);
}

TEST(QuotaMathTest, MemoryFromResourceRequestsAndCpuDefaults) {
  json::value vm = VmWith(json::object{
      {"template",
       json::object{
           {"spec",
            json::object{
                {"domain",
                 json::object{{"resources",
                               json::object{{"requests", json::object{{"memory", "256Mi"},
                                                                      {"cpu", "1500m"}}}}}}}}}}}});
  auto claim = ClaimOfVm(vm, nullptr);
  ASSERT_TRUE(claim.ok()) << claim.status().ToString();
  EXPECT_EQ(claim->vcpus, 2);  // 1.5 cores rounded up
  EXPECT_EQ(claim->memory, 256 * kMi + api::MemoryOverhead(256 * kMi, 2));
}

TEST(QuotaMathTest, ReservationClaimsItsAddresses) {
  json::value r =
      json::object{{"spec", json::object{{"addresses", json::array{"10.0.0.1", "10.0.0.2"}}}}};
  EXPECT_EQ(ClaimOfReservation(r).ips, 2);
  EXPECT_EQ(ClaimOfReservation(r).reservations, 1);
  r = json::object{{"spec", json::object{{"count", 5}}}};
  EXPECT_EQ(ClaimOfReservation(r).ips, 5);
}

TEST(QuotaMathTest, ParseQuotaLeavesUnsetResourcesUnlimited) {
  json::value q = json::object{{"vcpus", 8}, {"memory", "16Gi"}};
  Quota quota = ParseQuota(&q);
  EXPECT_TRUE(quota.Any());
  EXPECT_EQ(quota.limits.vcpus, 8);
  EXPECT_EQ(quota.limits.memory, 16 * kGi);
  EXPECT_EQ(quota.limits.vms, kUnlimited);
  EXPECT_FALSE(ParseQuota(nullptr).Any());
}

TEST(QuotaMathTest, ExceedingGivesKubernetesMessage) {
  json::value q = json::object{{"vcpus", 4}, {"vms", 10}, {"memory", "4Gi"}};
  Quota quota = ParseQuota(&q);
  Amounts used{4, 2 * kGi, 2, 2, 0};
  Amounts add{2, 1200 * kMi, 1, 1, 0};
  Status st = CheckQuota("a", quota, used, Amounts{}, add);
  EXPECT_EQ(st.code(), Code::kForbidden);
  EXPECT_EQ(st.message(), "exceeded quota: a, requested: vcpus=2, used: vcpus=4, limited: vcpus=4");
  // Two resources over at once are both named.
  Amounts big{2, 3 * kGi, 1, 1, 0};
  EXPECT_EQ(CheckQuota("a", quota, used, Amounts{}, big).message(),
            "exceeded quota: a, requested: vcpus=2,memory=3Gi, used: vcpus=4,memory=2Gi, "
            "limited: vcpus=4,memory=4Gi");
  // Within quota.
  EXPECT_TRUE(CheckQuota("a", quota, Amounts{2, kGi, 1, 1, 0}, Amounts{}, add).ok());
}

TEST(QuotaMathTest, ShrinkingIsAlwaysAllowedAndUpdatesCountTheDifference) {
  json::value q = json::object{{"vcpus", 4}};
  Quota quota = ParseQuota(&q);
  Amounts used{6, 0, 3, 0, 0};  // over quota already (the quota was lowered)
  EXPECT_TRUE(CheckQuota("a", quota, used, Amounts{2, 0, 1, 0, 0}, Amounts{1, 0, 1, 0, 0}).ok());
  // An update of a VM from 2 to 3 vCPUs with 3 used of 4: 3 - 2 + 3 = 4 fits.
  EXPECT_TRUE(
      CheckQuota("a", quota, Amounts{3, 0, 2, 0, 0}, Amounts{2, 0, 1, 0, 0}, Amounts{3, 0, 1, 0, 0})
          .ok());
  EXPECT_FALSE(
      CheckQuota("a", quota, Amounts{3, 0, 2, 0, 0}, Amounts{2, 0, 1, 0, 0}, Amounts{4, 0, 1, 0, 0})
          .ok());
}

TEST(QuotaMathTest, FormatMemory) {
  EXPECT_EQ(FormatMemory(4 * kGi), "4Gi");
  EXPECT_EQ(FormatMemory(1200 * kMi), "1200Mi");
  EXPECT_EQ(FormatMemory(1000), "1000");
  EXPECT_EQ(FormatMemory(1536 * 1024), "1536Ki");
  EXPECT_EQ(FormatMemory(0), "0");
}

class TenantPolicyTest : public testing::CacheFixture {
 protected:
  void SetUp() override {
    CacheFixture::SetUp();
    tenants_ = std::make_unique<TenantDirectory>(*cache_);
    policy_ = std::make_unique<TenantPolicyAdmission>(*tenants_, *cache_);
  }
  Status Admit(const std::string& verb, json::value& obj, const json::value* old = nullptr) {
    const api::ResourceInfo& r = Kind("kubevirt.io", GetString(obj, {"kind"}) == "VirtualMachine"
                                                         ? "virtualmachines"
                                                         : "virtualmachineinstances");
    UserInfo user{"mel", {}};
    return policy_->Admit(AdmissionRequest{verb, r, GetString(obj, {"metadata", "namespace"}),
                                           GetString(obj, {"metadata", "name"}), "", &obj, old,
                                           &user, false});
  }
  std::unique_ptr<TenantDirectory> tenants_;
  std::unique_ptr<TenantPolicyAdmission> policy_;
};

TEST_F(TenantPolicyTest, QuotaCountsStoredAndJustAdmittedVms) {
  Put(Kind("kumo.io", "tenants"),
      Tenant("a", json::object{{"quota", json::object{{"vms", 2}, {"vcpus", 3}}}}));
  json::value vm1 = Vm("a", "vm1", 1, "128Mi");
  ASSERT_TRUE(Admit("create", vm1).ok());
  Put(Kind("kubevirt.io", "virtualmachines"), vm1);
  // vm2 is admitted but not stored yet (as under concurrent creates): it still counts.
  json::value vm2 = Vm("a", "vm2", 2, "128Mi");
  ASSERT_TRUE(Admit("create", vm2).ok());
  json::value vm3 = Vm("a", "vm3", 1, "128Mi");
  Status st = Admit("create", vm3);
  EXPECT_EQ(st.code(), Code::kForbidden);
  EXPECT_EQ(st.message(),
            "virtualmachines.kubevirt.io \"vm3\" is forbidden: exceeded quota: a, requested: "
            "vcpus=1,vms=1, used: vcpus=3,vms=2, limited: vcpus=3,vms=2");
  Put(Kind("kubevirt.io", "virtualmachines"), vm2);
  auto usage = policy_->Usage("a");
  ASSERT_TRUE(usage.ok());
  EXPECT_EQ(usage->vms, 2);
  EXPECT_EQ(usage->vcpus, 3);
  // A namespace without a tenant is not limited.
  json::value other = Vm("default", "x", 64, "1Ti");
  EXPECT_TRUE(Admit("create", other).ok());
}

TEST_F(TenantPolicyTest, VmiOfAVmIsCountedOnce) {
  Put(Kind("kumo.io", "tenants"), Tenant("a", json::object{{"quota", json::object{{"vcpus", 2}}}}));
  json::value vm = Vm("a", "vm1", 2, "128Mi");
  Put(Kind("kubevirt.io", "virtualmachines"), vm);
  json::value vmi = json::object{
      {"apiVersion", "kubevirt.io/v1"},
      {"kind", "VirtualMachineInstance"},
      {"metadata", json::object{{"name", "vm1"},
                                {"namespace", "a"},
                                {"ownerReferences",
                                 json::array{json::object{{"kind", "VirtualMachine"},
                                                          {"name", "vm1"},
                                                          {"uid", "u-vm1"}}}}}},
      {"spec", *Find(vm, {"spec", "template", "spec"})}};
  Put(Kind("kubevirt.io", "virtualmachineinstances"), vmi);
  EXPECT_EQ(policy_->Usage("a")->vcpus, 2);
  json::value standalone = vmi;
  standalone.get_object()["metadata"].get_object()["name"] = "solo";
  standalone.get_object()["metadata"].get_object().erase("ownerReferences");
  EXPECT_EQ(Admit("create", standalone).code(), Code::kForbidden);
}

// Issue 10: a VMI that shares its name with a VM but that the VM does not own is counted on its
// own (it used to count as zero).
TEST_F(TenantPolicyTest, VmiNamedLikeAVmButNotItsOwnCounts) {
  Put(Kind("kumo.io", "tenants"), Tenant("a", json::object{{"quota", json::object{{"vcpus", 3}}}}));
  json::value vm = Vm("a", "x", 1, "128Mi");
  Put(Kind("kubevirt.io", "virtualmachines"), vm);
  json::value vmi = json::object{{"apiVersion", "kubevirt.io/v1"},
                                 {"kind", "VirtualMachineInstance"},
                                 {"metadata", json::object{{"name", "x"}, {"namespace", "a"}}},
                                 {"spec", *Find(Vm("a", "x", 64, "1Gi"), {"spec", "template", "spec"})}};
  Status st = Admit("create", vmi);
  EXPECT_EQ(st.code(), Code::kForbidden) << st.ToString();
  EXPECT_NE(st.message().find("vcpus=64"), std::string::npos) << st.message();
}

TEST_F(TenantPolicyTest, NodeSelectorIsMergedAndConflictsRejected) {
  Put(Kind("kumo.io", "tenants"),
      Tenant("a", json::object{{"nodeSelector", json::object{{"node-restriction.kumo.io/pool", "a-dedicated"}}}}));
  json::value vm = Vm("a", "vm1", 1, "128Mi");
  ASSERT_TRUE(Admit("create", vm).ok());
  EXPECT_EQ(GetString(vm, {"spec", "template", "spec", "nodeSelector", "node-restriction.kumo.io/pool"}),
            "a-dedicated");
  const json::value* tols = Find(vm, {"spec", "template", "spec", "tolerations"});
  ASSERT_TRUE(tols && tols->is_array() && tols->get_array().size() == 1);
  EXPECT_EQ(GetString(tols->get_array()[0], {"key"}), "kumo.io/dedicated");
  EXPECT_EQ(GetString(tols->get_array()[0], {"value"}), "a");

  json::value escape = Vm("a", "vm2", 1, "128Mi");
  EnsureObject(escape, {"spec", "template", "spec", "nodeSelector"})["node-restriction.kumo.io/pool"] =
      "b-dedicated";
  Status st = Admit("create", escape);
  EXPECT_EQ(st.code(), Code::kForbidden);
  EXPECT_NE(st.message().find("conflicts with the node selector of tenant \"a\""),
            std::string::npos)
      << st.message();
  // Other keys are kept.
  json::value extra = Vm("a", "vm3", 1, "128Mi");
  EnsureObject(extra, {"spec", "template", "spec", "nodeSelector"})["disk"] = "ssd";
  ASSERT_TRUE(Admit("create", extra).ok());
  EXPECT_EQ(GetString(extra, {"spec", "template", "spec", "nodeSelector", "disk"}), "ssd");
  // Removing the selector on update puts it back.
  json::value updated = vm;
  EnsureObject(updated, {"spec", "template", "spec"}).erase("nodeSelector");
  ASSERT_TRUE(Admit("update", updated, &vm).ok());
  EXPECT_EQ(GetString(updated, {"spec", "template", "spec", "nodeSelector", "node-restriction.kumo.io/pool"}),
            "a-dedicated");
}

TEST_F(TenantPolicyTest, TolerationsCannotReachOtherTenantsNodes) {
  Put(Kind("kumo.io", "tenants"), Tenant("a", json::object{}));
  json::value vm = Vm("a", "vm1", 1, "128Mi");
  EnsureObject(vm, {"spec", "template", "spec"})["tolerations"] = json::array{
      json::object{{"key", "kumo.io/dedicated"}, {"operator", "Equal"}, {"value", "b"}}};
  EXPECT_EQ(Admit("create", vm).code(), Code::kForbidden);
  EnsureObject(vm, {"spec", "template", "spec"})["tolerations"] =
      json::array{json::object{{"operator", "Exists"}}};
  EXPECT_EQ(Admit("create", vm).code(), Code::kForbidden);
  EnsureObject(vm, {"spec", "template", "spec"})["tolerations"] =
      json::array{json::object{{"key", "gpu"}, {"operator", "Exists"}}};
  EXPECT_TRUE(Admit("create", vm).ok());
}

TEST_F(TenantPolicyTest, IpPoolsOutsideTheTenantsListAreRejected) {
  Put(Kind("kumo.io", "tenants"), Tenant("a", json::object{{"ipPools", json::array{"pool-a"}}}));
  const api::ResourceInfo& r = Kind("kumo.io", "ipreservations");
  json::value res = json::object{{"apiVersion", "kumo.io/v1alpha1"},
                                 {"kind", "IPReservation"},
                                 {"metadata", json::object{{"name", "r"}, {"namespace", "a"}}},
                                 {"spec", json::object{{"count", 1}, {"pool", "pool-b"}}}};
  AdmissionRequest req{"create", r, "a", "r", "", &res, nullptr, nullptr, false};
  EXPECT_EQ(policy_->Admit(req).code(), Code::kForbidden);
  res.get_object()["spec"].get_object()["pool"] = "pool-a";
  EXPECT_TRUE(policy_->Admit(req).ok());
}

TEST(NodeRestrictionTest, NodesChangeOnlyTheirOwnObjects) {
  NodeRestrictionAdmission nr;
  UserInfo n1{"system:node:n1", {"system:nodes"}};
  const api::Registry& reg = api::DefaultRegistry();
  json::value node = json::object{{"metadata", json::object{{"name", "n2"}}}};
  EXPECT_EQ(nr.Admit(AdmissionRequest{"create", *reg.Find("", "v1", "nodes"), "", "n2", "", &node,
                                      nullptr, &n1, false})
                .code(),
            Code::kForbidden);
  EXPECT_TRUE(nr.Admit(AdmissionRequest{"create", *reg.Find("", "v1", "nodes"), "", "n1", "", &node,
                                        nullptr, &n1, false})
                  .ok());
  json::value bound_elsewhere = json::object{{"status", json::object{{"nodeName", "n2"}}}};
  json::value next = bound_elsewhere;
  const api::ResourceInfo& vmis = *reg.Find("kubevirt.io", "v1", "virtualmachineinstances");
  EXPECT_EQ(nr.Admit(AdmissionRequest{"patch", vmis, "a", "vm", "status", &next, &bound_elsewhere,
                                      &n1, false})
                .code(),
            Code::kForbidden);
  json::value bound_here = json::object{{"status", json::object{{"nodeName", "n1"}}}};
  next = bound_here;
  EXPECT_TRUE(
      nr.Admit(AdmissionRequest{"patch", vmis, "a", "vm", "status", &next, &bound_here, &n1, false})
          .ok());
  // Admins are not restricted.
  UserInfo admin{"kumo-admin", {"system:masters"}};
  EXPECT_TRUE(nr.Admit(AdmissionRequest{"create", *reg.Find("", "v1", "nodes"), "", "n2", "", &node,
                                        nullptr, &admin, false})
                  .ok());
}

// Issue 10: a node may not pull a tenant's VMs onto itself with the labels dedicated-node
// selectors match, nor drop its taints, nor rewrite who migrates a VMI where.
TEST(NodeRestrictionTest, NodesCannotLabelThemselvesIntoATenantOrRedirectMigrations) {
  NodeRestrictionAdmission nr;
  UserInfo n1{"system:node:n1", {"system:nodes"}};
  const api::Registry& reg = api::DefaultRegistry();
  const api::ResourceInfo& nodes = *reg.Find("", "v1", "nodes");
  json::value stored = *ParseJson(R"({"metadata":{"name":"n1","labels":{"a":"b"}},
      "spec":{"taints":[{"key":"kumo.io/dedicated","value":"t","effect":"NoSchedule"}]}})");
  auto admit = [&](const std::string& verb, json::value next, const json::value* old) {
    return nr.Admit(AdmissionRequest{verb, nodes, "", "n1", "", &next, old, &n1, false});
  };
  json::value next = stored;
  next.at("metadata").at("labels").as_object()["seen"] = "yes";
  EXPECT_TRUE(admit("patch", next, &stored).ok());  // an ordinary label is the node's
  next.at("metadata").at("labels").as_object()["node-restriction.kumo.io/pool"] = "hpc";
  Status st = admit("patch", next, &stored);
  EXPECT_EQ(st.code(), Code::kForbidden);
  EXPECT_NE(st.message().find("node-restriction.kumo.io/"), std::string::npos);
  EXPECT_EQ(admit("create", next, nullptr).code(), Code::kForbidden);
  next = stored;
  next.at("spec").as_object()["taints"] = json::array{};
  EXPECT_EQ(admit("update", next, &stored).code(), Code::kForbidden);
  // An admin-set restricted label stays when the node patches something else.
  json::value labelled = stored;
  labelled.at("metadata").at("labels").as_object()["node-restriction.kumo.io/pool"] = "hpc";
  next = labelled;
  next.at("metadata").at("labels").as_object()["seen"] = "yes";
  EXPECT_TRUE(admit("patch", next, &labelled).ok());
  next.at("metadata").at("labels").as_object().erase("node-restriction.kumo.io/pool");
  EXPECT_EQ(admit("patch", next, &labelled).code(), Code::kForbidden);

  const api::ResourceInfo& vmis = *reg.Find("kubevirt.io", "v1", "virtualmachineinstances");
  json::value vmi = *ParseJson(R"({"metadata":{"name":"vm","labels":{"app":"web"}},
      "status":{"nodeName":"n1","migrationState":{"migrationUid":"m1","sourceNode":"n1",
      "targetNode":"n2","targetNodeAddress":"10.0.0.2"}}})");
  auto admit_vmi = [&](json::value next, const std::string& sub) {
    return nr.Admit(AdmissionRequest{"patch", vmis, "a", "vm", sub, &next, &vmi, &n1, false});
  };
  json::value v = vmi;
  v.at("status").as_object()["phase"] = "Running";
  EXPECT_TRUE(admit_vmi(v, "status").ok());
  v = vmi;
  v.at("status").at("migrationState").as_object()["targetNode"] = "evil";
  EXPECT_EQ(admit_vmi(v, "status").code(), Code::kForbidden);
  v = vmi;
  v.at("status").at("migrationState").as_object()["targetNodeAddress"] = "10.6.6.6";
  EXPECT_EQ(admit_vmi(v, "status").code(), Code::kForbidden);  // only n2 publishes it
  v = vmi;
  v.at("metadata").at("labels").as_object()["app"] = "db";
  EXPECT_EQ(admit_vmi(v, "").code(), Code::kForbidden);
}

TEST(QuotaTest, VolumesClaimTheirSizeOnceWhoeverOwnsThem) {
  auto pvc = *ParseJson(R"({"kind":"PersistentVolumeClaim","metadata":{"name":"d"},
      "spec":{"resources":{"requests":{"storage":"10Gi"}}}})");
  auto claim = ClaimOfVolume(pvc);
  ASSERT_TRUE(claim.ok());
  EXPECT_EQ(claim->volumes, 1);
  EXPECT_EQ(claim->storage, 10LL << 30);
  // A DataVolume's claim counts with the DataVolume, a VM's DataVolume with the VM.
  auto owned = pvc;
  owned.get_object()["metadata"].get_object()["ownerReferences"] =
      json::array{json::object{{"kind", "DataVolume"}, {"name", "d"}}};
  EXPECT_EQ(ClaimOfVolume(owned)->volumes, 0);
  auto dv = *ParseJson(R"({"kind":"DataVolume","metadata":{"name":"d",
      "ownerReferences":[{"kind":"VirtualMachine","name":"vm"}]},
      "spec":{"storage":{"resources":{"requests":{"storage":"2Gi"}}}}})");
  EXPECT_EQ(ClaimOfVolume(dv)->storage, 0);
  dv.get_object()["metadata"].get_object().erase("ownerReferences");
  EXPECT_EQ(ClaimOfVolume(dv)->storage, 2LL << 30);
  auto vm = *ParseJson(R"({"metadata":{"name":"vm"},"spec":{
      "dataVolumeTemplates":[{"metadata":{"name":"a"},"spec":{"storage":{"resources":{"requests":{"storage":"3Gi"}}}}},
                             {"metadata":{"name":"b"},"spec":{"pvc":{"resources":{"requests":{"storage":"1Gi"}}}}}],
      "template":{"spec":{"domain":{"cpu":{"cores":1},"memory":{"guest":"128Mi"}}}}}})");
  auto vm_claim = ClaimOfVm(vm, nullptr);
  ASSERT_TRUE(vm_claim.ok()) << vm_claim.status().ToString();
  EXPECT_EQ(vm_claim->volumes, 2);
  EXPECT_EQ(vm_claim->storage, 4LL << 30);
  // Over the limit: Kubernetes' message, in Gi.
  Quota q;
  q.limits.storage = 5LL << 30;
  Amounts used;
  used.storage = 4LL << 30;
  Status st = CheckQuota("acme", q, used, Amounts{}, *claim);
  EXPECT_EQ(st.code(), Code::kForbidden);
  EXPECT_NE(st.message().find("requested: storage=10Gi, used: storage=4Gi, limited: storage=5Gi"),
            std::string::npos) << st.message();
}

}  // namespace
}  // namespace kumo::server
