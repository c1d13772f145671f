#include "agent/volumes.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>

#include "agent/runtime/subprocess.h"

namespace kumo::agent {
namespace {

namespace fs = std::filesystem;

class VolumeFilesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("kumo-volumes-" + std::to_string(getpid()) + "-" +
                                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_ / "shared");
    fs::create_directories(dir_ / "local");
  }
  void TearDown() override { fs::remove_all(dir_); }

  api::VolumeDisk Disk(const std::string& pv, int64_t mib) {
    api::VolumeDisk d;
    d.volume = "root";
    d.claim = "claim-" + pv;
    d.pv = pv;
    d.driver = api::kLocalDriver;
    d.size_bytes = mib << 20;
    return d;
  }
  std::string Local() const { return (dir_ / "local").string(); }

  fs::path dir_;
};

TEST_F(VolumeFilesTest, ABlankVolumeIsMadeOnceAndGrowsButNeverShrinks) {
  api::VolumeDisk d = Disk("pvc-a", 16);
  auto files = PrepareVolumes({d}, Local());
  ASSERT_TRUE(files.ok()) << files.status().ToString();
  ASSERT_EQ(files->size(), 1u);
  EXPECT_EQ((*files)[0].path, Local() + "/pvc-a.qcow2");
  EXPECT_FALSE((*files)[0].shared);
  EXPECT_EQ(*VirtualSize((*files)[0].path), 16 << 20);
  // Data written to it stays when it is prepared again.
  ASSERT_TRUE(RunChecked({"qemu-io", "-f", "qcow2", "-c", "write -P 0x5a 0 64k", (*files)[0].path}).ok());
  d.size_bytes = 32 << 20;
  ASSERT_TRUE(PrepareVolumes({d}, Local()).ok());
  EXPECT_EQ(*VirtualSize((*files)[0].path), 32 << 20);
  EXPECT_TRUE(RunChecked({"qemu-io", "-f", "qcow2", "-c", "read -P 0x5a 0 64k", (*files)[0].path}).ok());
  d.size_bytes = 8 << 20;  // a smaller claim never shrinks the disk
  ASSERT_TRUE(PrepareVolumes({d}, Local()).ok());
  EXPECT_EQ(*VirtualSize((*files)[0].path), 32 << 20);
  EXPECT_EQ(fs::directory_iterator(Local()) == fs::directory_iterator(), false);
  for (const auto& e : fs::directory_iterator(Local())) {
    EXPECT_EQ(e.path().filename(), "pvc-a.qcow2") << "a temporary file was left behind";
  }
}

TEST_F(VolumeFilesTest, APopulatedVolumeWhoseFileIsGoneIsNeverMadeAgain) {
  api::VolumeDisk d = Disk("pvc-b", 16);
  d.populated = true;
  auto files = PrepareVolumes({d}, Local());
  EXPECT_EQ(files.status().code(), Code::kUnavailable);
  EXPECT_NE(files.status().message().find("is missing on this node"), std::string::npos);
  EXPECT_FALSE(fs::exists(Local() + "/pvc-b.qcow2"));
}

TEST_F(VolumeFilesTest, VolumesFromAnImageAndFromAnotherVolume) {
  const std::string image = (dir_ / "img.qcow2").string();
  ASSERT_TRUE(RunChecked({"qemu-img", "create", "-q", "-f", "qcow2", image, "4M"}).ok());
  ASSERT_TRUE(RunChecked({"qemu-io", "-f", "qcow2", "-c", "write -P 0x11 1M 4k", image}).ok());
  api::VolumeDisk d = Disk("pvc-img", 8);
  d.source = "image";
  d.image_path = image;
  d.image_format = "qcow2";
  auto files = PrepareVolumes({d}, Local());
  ASSERT_TRUE(files.ok()) << files.status().ToString();
  EXPECT_EQ(*VirtualSize((*files)[0].path), 8 << 20);
  EXPECT_TRUE(RunChecked({"qemu-io", "-f", "qcow2", "-c", "read -P 0x11 1M 4k", (*files)[0].path}).ok());

  // A copy onto shared storage.
  api::VolumeDisk c = Disk("pvc-copy", 8);
  c.driver = api::kSharedDirDriver;
  c.location = (dir_ / "shared").string();
  c.source = "clone";
  c.clone_pv = "pvc-img";
  c.clone_driver = api::kLocalDriver;
  auto copies = PrepareVolumes({c}, Local());
  ASSERT_TRUE(copies.ok()) << copies.status().ToString();
  EXPECT_TRUE((*copies)[0].shared);
  EXPECT_EQ((*copies)[0].path, (dir_ / "shared" / "pvc-copy.qcow2").string());
  EXPECT_TRUE(RunChecked({"qemu-io", "-f", "qcow2", "-c", "read -P 0x11 1M 4k", (*copies)[0].path}).ok());

  // An image bigger than the volume is refused, and nothing is left.
  api::VolumeDisk small = Disk("pvc-small", 2);
  small.source = "image";
  small.image_path = image;
  small.image_format = "qcow2";
  EXPECT_EQ(PrepareVolumes({small}, Local()).status().code(), Code::kInvalid);
  EXPECT_FALSE(fs::exists(Local() + "/pvc-small.qcow2"));

  ASSERT_TRUE(RemoveVolume(c, Local()).ok());
  EXPECT_FALSE(fs::exists((*copies)[0].path));
  EXPECT_TRUE(RemoveVolume(c, Local()).ok());  // already gone
}

TEST_F(VolumeFilesTest, PathsComeOnlyFromNamesAndDirectoriesKumoMakes) {
  api::VolumeDisk d = Disk("pvc-x", 1);
  EXPECT_EQ(*VolumePath(d, "/var/lib/kumo-agent/volumes"), "/var/lib/kumo-agent/volumes/pvc-x.qcow2");
  d.pv = "../../etc/shadow";
  EXPECT_EQ(VolumePath(d, Local()).status().code(), Code::kInvalid);
  d.pv = "pvc-x";
  d.driver = api::kSharedDirDriver;
  for (const char* where : {"", "relative", "/a/../../etc", "/a,b"}) {
    d.location = where;
    EXPECT_EQ(VolumePath(d, Local()).status().code(), Code::kInvalid) << where;
  }
  d.driver = "rbd.csi.ceph.com";
  d.location = "/mnt";
  EXPECT_EQ(VolumePath(d, Local()).status().code(), Code::kInvalid);
}

}  // namespace
}  // namespace kumo::agent
