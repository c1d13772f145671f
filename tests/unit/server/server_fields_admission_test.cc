#include "server/server_fields_admission.h"

#include <gtest/gtest.h>

#include "api/resource.h"

namespace kumo::server {
namespace {

const api::ResourceInfo& Kind(const char* plural) {
  return *api::DefaultRegistry().Find("kubevirt.io", "v1", plural);
}

json::value Vmi() {
  return *ParseJson(R"({"apiVersion":"kubevirt.io/v1","kind":"VirtualMachineInstance",
      "metadata":{"name":"x","namespace":"a"},
      "spec":{"domain":{"cpu":{"cores":1},"memory":{"guest":"128Mi"}}}})");
}

Status Admit(const char* plural, const std::string& verb, json::value& obj,
             const json::value* old = nullptr, const std::string& subresource = "") {
  ServerFieldsAdmission admission;
  UserInfo user{"mallory", {}};
  return admission.Admit(
      AdmissionRequest{verb, Kind(plural), "a", "x", subresource, &obj, old, &user, false});
}

TEST(ServerFieldsAdmissionTest, NoCallerSetsAVmiAddress) {
  json::value vmi = Vmi();
  EXPECT_TRUE(Admit("virtualmachineinstances", "create", vmi).ok());
  EnsureObject(vmi, {"metadata", "annotations"})["kumo.io/ip"] = "10.0.0.7";
  Status st = Admit("virtualmachineinstances", "create", vmi);
  EXPECT_EQ(st.code(), Code::kInvalid);
  ASSERT_EQ(st.causes().size(), 1u);
  EXPECT_EQ(st.causes()[0].field, "metadata.annotations[kumo.io/ip]");
  // Kept as stored: fine (kubectl label, apply round trips); changed: refused.
  json::value stored = vmi;
  EXPECT_TRUE(Admit("virtualmachineinstances", "patch", vmi, &stored).ok());
  EnsureObject(vmi, {"metadata", "annotations"})["kumo.io/ip"] = "10.9.9.9";
  EXPECT_EQ(Admit("virtualmachineinstances", "patch", vmi, &stored).code(), Code::kInvalid);
  EnsureObject(vmi, {"metadata", "annotations"}).erase("kumo.io/ip");
  EXPECT_EQ(Admit("virtualmachineinstances", "update", vmi, &stored).code(), Code::kInvalid);
}

TEST(ServerFieldsAdmissionTest, NoCallerPutsAnAddressInAVmTemplate) {
  json::value vm = *ParseJson(R"({"apiVersion":"kubevirt.io/v1","kind":"VirtualMachine",
      "metadata":{"name":"x","namespace":"a"},
      "spec":{"template":{"metadata":{"annotations":{"kumo.io/ip":"10.0.0.7"}},"spec":{}}}})");
  Status st = Admit("virtualmachines", "create", vm);
  EXPECT_EQ(st.code(), Code::kInvalid);
  EXPECT_NE(st.message().find("assigned by IPAM"), std::string::npos);
  json::value plain = *ParseJson(R"({"metadata":{"name":"x"},"spec":{"template":{}}})");
  EXPECT_TRUE(Admit("virtualmachines", "create", plain).ok());
  EXPECT_EQ(Admit("virtualmachines", "patch", vm, &plain).code(), Code::kInvalid);
}

TEST(ServerFieldsAdmissionTest, OwnerReferencesToVmsAreTheControllers) {
  json::value vmi = Vmi();
  vmi.get_object()["metadata"].get_object()["ownerReferences"] =
      json::array{json::object{{"kind", "VirtualMachine"}, {"name", "x"}, {"uid", "u1"}}};
  EXPECT_EQ(Admit("virtualmachineinstances", "create", vmi).code(), Code::kInvalid);
  json::value stored = vmi;
  EXPECT_TRUE(Admit("virtualmachineinstances", "update", vmi, &stored).ok());
  vmi.get_object()["metadata"].get_object().erase("ownerReferences");
  EXPECT_EQ(Admit("virtualmachineinstances", "update", vmi, &stored).code(), Code::kInvalid);
}

TEST(ServerFieldsAdmissionTest, VmiSpecIsImmutable) {
  json::value stored = Vmi();
  json::value next = stored;
  EnsureObject(next, {"metadata", "labels"})["role"] = "db";
  EXPECT_TRUE(Admit("virtualmachineinstances", "update", next, &stored).ok());
  EnsureObject(next, {"spec", "domain", "cpu"})["cores"] = 64;
  Status st = Admit("virtualmachineinstances", "patch", next, &stored);
  EXPECT_EQ(st.code(), Code::kInvalid);
  EXPECT_EQ(st.causes()[0].field, "spec");
}

}  // namespace
}  // namespace kumo::server
