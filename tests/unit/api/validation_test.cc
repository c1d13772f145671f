#include "api/validation.h"

#include <gtest/gtest.h>

#include "api/quantity.h"

namespace kumo::api {
namespace {

json::value Vm() {
  return *ParseJson(R"({
    "apiVersion":"kubevirt.io/v1","kind":"VirtualMachine",
    "metadata":{"name":"vm1","namespace":"demo"},
    "spec":{"runStrategy":"Always","template":{"spec":{
      "domain":{"cpu":{"cores":2},"memory":{"guest":"1Gi"},
        "devices":{"disks":[{"name":"root","disk":{}}],"interfaces":[{"name":"default","masquerade":{}}]}},
      "networks":[{"name":"default","pod":{}}],
      "volumes":[{"name":"root","containerDisk":{"image":"tiny"}}]}}}})");
}

std::vector<std::string> Fields(const Status& st) {
  std::vector<std::string> out;
  for (const auto& c : st.causes()) out.push_back(c.field);
  return out;
}

TEST(ValidationTest, AcceptsAGoodVm) {
  Status st = ValidateVirtualMachine(Vm());
  EXPECT_TRUE(st.ok()) << st.ToString();
}

TEST(ValidationTest, RunStrategy) {
  json::value vm = Vm();
  vm.at("spec").as_object()["runStrategy"] = "Sometimes";
  Status st = ValidateVirtualMachine(vm);
  EXPECT_EQ(st.code(), Code::kInvalid);
  EXPECT_EQ(Fields(st), std::vector<std::string>{"spec.runStrategy"});
  EXPECT_NE(st.message().find("Unsupported value: \"Sometimes\""), std::string::npos);
  vm = Vm();
  vm.at("spec").as_object()["running"] = true;
  EXPECT_EQ(Fields(ValidateVirtualMachine(vm)), std::vector<std::string>{"spec.running"});
}

TEST(ValidationTest, DisksNeedVolumesAndInterfacesNeedNetworks) {
  json::value vm = Vm();
  vm.at_pointer("/spec/template/spec/volumes/0").as_object()["name"] = "other";
  vm.at_pointer("/spec/template/spec/networks/0").as_object()["name"] = "other";
  Status st = ValidateVirtualMachine(vm);
  EXPECT_EQ(Fields(st), (std::vector<std::string>{"spec.template.spec.domain.devices.disks[0].name",
                                                  "spec.template.spec.domain.devices.interfaces[0].name"}));
}

TEST(ValidationTest, CpuMemoryAndNames) {
  json::value vm = Vm();
  vm.at_pointer("/spec/template/spec/domain/cpu").as_object()["cores"] = 0;
  vm.at_pointer("/spec/template/spec/domain/memory").as_object()["guest"] = "lots";
  vm.at("metadata").as_object()["name"] = "Not_A_Label";
  Status st = ValidateVirtualMachine(vm);
  EXPECT_EQ(Fields(st), (std::vector<std::string>{"metadata.name",
                                                  "spec.template.spec.domain.cpu.cores",
                                                  "spec.template.spec.domain.memory.guest"}));
  vm = Vm();
  vm.at_pointer("/spec/template/spec/domain").as_object().erase("memory");
  EXPECT_EQ(Fields(ValidateVirtualMachine(vm)),
            std::vector<std::string>{"spec.template.spec.domain.memory.guest"});
}

TEST(ValidationTest, DnsNames) {
  EXPECT_EQ(CheckDnsLabel("vm-1"), "");
  EXPECT_NE(CheckDnsLabel("-vm"), "");
  EXPECT_NE(CheckDnsLabel(std::string(64, 'a')), "");
  EXPECT_EQ(CheckDnsSubdomain("u1.small"), "");
  EXPECT_NE(CheckDnsSubdomain("a..b"), "");
}

TEST(QuantityTest, Parses) {
  EXPECT_DOUBLE_EQ(*ParseQuantity("128Mi"), 128.0 * 1024 * 1024);
  EXPECT_DOUBLE_EQ(*ParseQuantity("1G"), 1e9);
  EXPECT_DOUBLE_EQ(*ParseQuantity("500m"), 0.5);
  EXPECT_DOUBLE_EQ(*ParseQuantity("2"), 2);
  EXPECT_DOUBLE_EQ(*ParseQuantity("1e3"), 1000);
  EXPECT_FALSE(ParseQuantity("lots").ok());
  EXPECT_FALSE(ParseQuantity("1Qi").ok());
  EXPECT_FALSE(ParseQuantity("").ok());
}

}  // namespace
}  // namespace kumo::api
