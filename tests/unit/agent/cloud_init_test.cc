#include "agent/runtime/cloud_init.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <thread>

#include "agent/runtime/subprocess.h"
#include "common/file_util.h"

namespace kumo::agent {
namespace {

class CloudInitTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/kumo-seed-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  StatusOr<ProcessResult> Mtools(std::vector<std::string> argv) {
    return RunChecked(argv, {.env = {{"MTOOLS_SKIP_CHECK", "1"}}});
  }
  std::string dir_;
};

TEST_F(CloudInitTest, SeedIsAVfatDiskLabelledCidataWithTheFiles) {
  const std::string img = dir_ + "/seed.img";
  NoCloudSeed seed{DefaultMetaData("uid-1", "vm-1"), "#!/bin/sh\necho hi\n",
                   "version: 2\nethernets: {}\n"};
  ASSERT_TRUE(WriteNoCloudSeed(img, seed).ok());

  auto label = Mtools({"mlabel", "-s", "-i", img, "::"});
  ASSERT_TRUE(label.ok()) << label.status().message();
  EXPECT_NE(label->out.find("CIDATA"), std::string::npos) << label->out;
  auto md = Mtools({"mtype", "-i", img, "::meta-data"});
  ASSERT_TRUE(md.ok());
  EXPECT_EQ(md->out, "instance-id: uid-1\nlocal-hostname: vm-1\n");
  auto ud = Mtools({"mtype", "-i", img, "::user-data"});
  ASSERT_TRUE(ud.ok());
  EXPECT_EQ(ud->out, seed.user_data);
  auto nc = Mtools({"mtype", "-i", img, "::network-config"});
  ASSERT_TRUE(nc.ok());
  EXPECT_EQ(nc->out, seed.network_config);
  // No staging leftovers next to the image.
  EXPECT_FALSE(std::filesystem::exists(img + ".d"));
  EXPECT_FALSE(std::filesystem::exists(img + ".tmp"));
}

TEST_F(CloudInitTest, EmptyNetworkConfigIsLeftOutAndRewritesReplace) {
  const std::string img = dir_ + "/seed.img";
  ASSERT_TRUE(WriteNoCloudSeed(img, {"instance-id: a\n", "#cloud-config\n", ""}).ok());
  ASSERT_TRUE(WriteNoCloudSeed(img, {"instance-id: b\n", "#cloud-config\n", ""}).ok());
  auto listing = Mtools({"mdir", "-b", "-i", img, "::"});
  ASSERT_TRUE(listing.ok());
  EXPECT_EQ(listing->out.find("network-config"), std::string::npos) << listing->out;
  auto md = Mtools({"mtype", "-i", img, "::meta-data"});
  ASSERT_TRUE(md.ok());
  EXPECT_EQ(md->out, "instance-id: b\n");
}

TEST_F(CloudInitTest, SameSeedGivesTheSameBytesOnEveryNode) {
  // A live-migration target rebuilds the seed the guest booted from: it must be identical.
  NoCloudSeed seed{DefaultMetaData("uid-1", "vm-1"), "#!/bin/sh\necho hi\n", ""};
  ASSERT_TRUE(WriteNoCloudSeed(dir_ + "/a.img", seed).ok());
  std::this_thread::sleep_for(std::chrono::milliseconds(2100));  // FAT times have 2 s steps
  ASSERT_TRUE(WriteNoCloudSeed(dir_ + "/b.img", seed).ok());
  auto a = ReadFileToString(dir_ + "/a.img");
  auto b = ReadFileToString(dir_ + "/b.img");
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_TRUE(*a == *b) << "seed images differ";
  seed.user_data += "#\n";
  ASSERT_TRUE(WriteNoCloudSeed(dir_ + "/c.img", seed).ok());
  auto c = ReadFileToString(dir_ + "/c.img");
  ASSERT_TRUE(c.ok());
  EXPECT_FALSE(*a == *c);
}

TEST_F(CloudInitTest, LargeUserDataFits) {
  const std::string img = dir_ + "/seed.img";
  std::string big = "#!/bin/sh\n" + std::string(3 << 20, '#') + "\n";
  ASSERT_TRUE(WriteNoCloudSeed(img, {"instance-id: a\n", big, ""}).ok());
  auto ud = Mtools({"mtype", "-i", img, "::user-data"});
  ASSERT_TRUE(ud.ok());
  EXPECT_EQ(ud->out.size(), big.size());
}

}  // namespace
}  // namespace kumo::agent
