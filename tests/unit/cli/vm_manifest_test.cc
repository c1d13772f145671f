#include "cli/vm_manifest.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "cli/session.h"
#include "cli/templates.h"
#include "cli/vm_wait.h"

namespace kumo::cli {
namespace {

TEST(BuildVirtualMachine, IsAPlainKubeVirtVm) {
  VmOptions o;
  o.name = "web1";
  o.image = "tiny";
  o.flavor = DefaultFlavorFor("tiny");
  json::value vm = BuildVirtualMachine(o);
  json::value want = ParseJson(R"({
    "apiVersion": "kubevirt.io/v1", "kind": "VirtualMachine",
    "metadata": {"name": "web1"},
    "spec": {
      "runStrategy": "Always",
      "instancetype": {"kind": "VirtualMachineClusterInstancetype", "name": "k1.tiny"},
      "template": {
        "metadata": {"labels": {"kubevirt.io/vm": "web1"}},
        "spec": {
          "domain": {"devices": {"disks": [{"name": "rootdisk", "disk": {"bus": "virtio"}}],
                                 "interfaces": [{"name": "default", "bridge": {}}]}},
          "networks": [{"name": "default", "pod": {}}],
          "volumes": [{"name": "rootdisk", "containerDisk": {"image": "tiny"}}]}}}})")
                         .value();
  EXPECT_EQ(vm, want) << ToJson(vm);
}

TEST(BuildVirtualMachine, FixedIpsUserDataAndPlacement) {
  VmOptions o;
  o.name = "db";
  o.ns = "team-a";
  o.image = "debian-12";
  o.flavor = DefaultFlavorFor("debian-12");
  o.ip = "10.10.0.5";
  o.user_data = "#cloud-config\n";
  o.node_selector = {{"zone", "a"}};
  o.run_strategy = "Manual";
  json::value vm = BuildVirtualMachine(o);
  EXPECT_EQ(GetString(vm, {"metadata", "namespace"}), "team-a");
  EXPECT_EQ(GetString(vm, {"spec", "instancetype", "name"}), "u1.small");
  EXPECT_EQ(GetString(vm, {"spec", "runStrategy"}), "Manual");
  EXPECT_EQ(
      GetString(vm, {"spec", "template", "metadata", "annotations", kCalicoIpAddrsAnnotation}),
      "[\"10.10.0.5\"]");
  EXPECT_EQ(GetString(vm, {"spec", "template", "spec", "nodeSelector", "zone"}), "a");
  const auto& vols = Find(vm, {"spec", "template", "spec", "volumes"})->get_array();
  ASSERT_EQ(vols.size(), 2u);
  EXPECT_EQ(GetString(vols[1], {"cloudInitNoCloud", "userData"}), "#cloud-config\n");

  o.ip = "web-ips";
  vm = BuildVirtualMachine(o);
  EXPECT_EQ(
      GetString(vm, {"spec", "template", "metadata", "annotations", kIpReservationAnnotation}),
      "web-ips");
  EXPECT_EQ(Find(vm, {"spec", "template", "metadata", "annotations", kCalicoIpAddrsAnnotation}),
            nullptr);
}

TEST(IsIPv4, AcceptsOnlyDottedQuads) {
  EXPECT_TRUE(IsIPv4("10.0.0.5"));
  EXPECT_FALSE(IsIPv4("10.0.0"));
  EXPECT_FALSE(IsIPv4("10.0.0.256"));
  EXPECT_FALSE(IsIPv4("web-ips"));
  EXPECT_FALSE(IsIPv4("1.2.3.4.5"));
}

TEST(UserDataWithKeys, MergesKeysIntoCloudConfig) {
  EXPECT_EQ(UserDataWithKeys("", {"ssh-ed25519 AAA me@host"}).value(),
            "#cloud-config\nssh_authorized_keys:\n  - \"ssh-ed25519 AAA me@host\"\n");
  EXPECT_EQ(UserDataWithKeys("#cloud-config\npackages: [nginx]", {"k"}).value(),
            "#cloud-config\npackages: [nginx]\nssh_authorized_keys:\n  - \"k\"\n");
  EXPECT_EQ(UserDataWithKeys("#!/bin/sh\n", {}).value(), "#!/bin/sh\n");
  auto script = UserDataWithKeys("#!/bin/sh\necho\n", {"k"});
  ASSERT_FALSE(script.ok());
  EXPECT_TRUE(IsUsageError(script.status()));
  EXPECT_NE(script.status().message().find("script"), std::string::npos);
  EXPECT_FALSE(UserDataWithKeys("#cloud-config\nssh_authorized_keys:\n  - x\n", {"k"}).ok());
}

TEST(Templates, BuiltinsAndUserFiles) {
  auto dir = std::filesystem::temp_directory_path() / ("kumo-tmpl-" + std::to_string(getpid()));
  std::filesystem::create_directories(dir / ".kumo/templates");
  std::ofstream(dir / ".kumo/templates/web.yaml")
      << "description: mine\nimage: tiny\nflavor: u1.nano\n"
         "nodeSelector: {zone: a}\nuserData: |\n  #!/bin/sh\n";
  std::ofstream(dir / ".kumo/templates/broken.yaml") << "image: [1, 2]\n";
  std::ofstream(dir / ".kumo/templates/tiny.yaml") << "image: tiny\nflavor: u1.micro\n";
  setenv("HOME", dir.c_str(), 1);
  std::vector<std::string> problems;
  auto all = AllTemplates(&problems);
  ASSERT_EQ(problems.size(), 1u);
  EXPECT_NE(problems[0].find("broken.yaml"), std::string::npos);
  auto web = FindTemplate("web");
  ASSERT_TRUE(web.ok()) << web.status().message();
  EXPECT_EQ(web->flavor, "u1.nano");
  EXPECT_EQ(web->node_selector.at("zone"), "a");
  EXPECT_EQ(web->user_data, "#!/bin/sh\n");
  EXPECT_EQ(FindTemplate("tiny")->flavor, "u1.micro");  // a user template shadows a built-in
  EXPECT_EQ(FindTemplate("tiny-web")->source, "built-in");
  auto missing = FindTemplate("nope");
  EXPECT_EQ(missing.status().code(), Code::kNotFound);
  EXPECT_NE(missing.status().message().find("tiny-web"), std::string::npos);
  auto bad = ParseTemplate("image: tiny\nflavour: x\n", "t", "t.yaml");
  EXPECT_NE(bad.status().message().find("flavour"), std::string::npos);
  std::filesystem::remove_all(dir);
}

TEST(RoutableAddress, SkipsAddressesOnlyTheGuestSees) {
  std::string why;
  EXPECT_FALSE(RoutableAddress("", &why));
  EXPECT_FALSE(RoutableAddress("10.0.2.15", &why));
  EXPECT_NE(why.find("user-mode"), std::string::npos);
  EXPECT_FALSE(RoutableAddress("169.254.1.1", &why));
  EXPECT_TRUE(RoutableAddress("10.10.0.5", &why));
}

TEST(ProbeAddress, AnswersWhenSomethingListensAndTimesOutOtherwise) {
  // 127.0.0.1 refuses or accepts on 22/80: either proves the address answers.
  auto how = ProbeAddress("127.0.0.1", 2);
  ASSERT_TRUE(how.ok()) << how.status().message();
  EXPECT_NE(how->find("TCP port"), std::string::npos);
}

}  // namespace
}  // namespace kumo::cli
