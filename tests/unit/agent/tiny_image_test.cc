// The tiny image builder: a bootable qcow2 with the expected files, rebuilt only when needed.
#include "agent/image/tiny_image.h"

#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>

#include "agent/runtime/subprocess.h"
#include "agent_test_util.h"
#include "common/json.h"

namespace kumo::agent {
namespace {

namespace fs = std::filesystem;
using namespace kumo::agent::testing;

TEST(TinyImageTest, BuildsAQcow2BootDiskWithKernelInitrdAndSyslinux) {
  const auto& image = TestImage();
  ASSERT_TRUE(image.ok()) << image.status().message();
  EXPECT_EQ(image->format, "qcow2");
  EXPECT_EQ(image->size_bytes, static_cast<int64_t>(fs::file_size(image->disk_path)));

  auto info = RunChecked({"qemu-img", "info", "--output=json", image->disk_path});
  ASSERT_TRUE(info.ok()) << info.status().message();
  auto v = ParseJson(info->out);
  ASSERT_TRUE(v.ok());
  EXPECT_EQ(GetString(*v, {"format"}), "qcow2");

  auto sum = RunChecked({"sha256sum", image->disk_path});
  ASSERT_TRUE(sum.ok());
  EXPECT_EQ(sum->out.substr(0, 64), image->sha256);

  // Look inside: a FAT filesystem with SYSLINUX, the kernel, the initramfs and its config.
  char tmpl[] = "/tmp/kumo-img-XXXXXX";
  ASSERT_NE(mkdtemp(tmpl), nullptr);
  const std::string dir = tmpl;
  const std::string raw = dir + "/disk.raw";
  ASSERT_TRUE(RunChecked({"qemu-img", "convert", "-O", "raw", image->disk_path, raw}).ok());
  RunOptions mt{.env = {{"MTOOLS_SKIP_CHECK", "1"}}};
  auto dir_list = RunChecked({"mdir", "-a", "-b", "-i", raw, "::"}, mt);
  ASSERT_TRUE(dir_list.ok()) << dir_list.status().message();
  for (const char* f : {"vmlinuz", "initrd.gz", "syslinux.cfg", "ldlinux.sys", "ldlinux.c32"}) {
    EXPECT_NE(dir_list->out.find(f), std::string::npos) << f << " missing:\n" << dir_list->out;
  }
  auto cfg = RunChecked({"mtype", "-i", raw, "::syslinux.cfg"}, mt);
  ASSERT_TRUE(cfg.ok());
  EXPECT_NE(cfg->out.find("console=ttyS0 quiet"), std::string::npos) << cfg->out;

  // The initramfs: /init, busybox, the udhcpc script and the virtio modules.
  ASSERT_TRUE(RunChecked({"mcopy", "-i", raw, "::initrd.gz", dir + "/initrd.gz"}, mt).ok());
  ASSERT_TRUE(
      RunChecked({"gzip", "-d", "-c", dir + "/initrd.gz"}, {.stdout_path = dir + "/initrd.cpio"})
          .ok());
  auto files = RunChecked({"sh", "-c", "cpio -it --quiet < " + dir + "/initrd.cpio"});
  ASSERT_TRUE(files.ok()) << files.status().message();
  for (const char* f : {"\ninit\n", "bin/busybox", "bin/udhcpc", "bin/httpd", "bin/cttyhack",
                        "etc/udhcpc/default.script", "lib/modules/virtio_net.ko",
                        "lib/modules/virtio_blk.ko", "lib/modules/virtio_pci.ko", "dev/console"}) {
    EXPECT_NE(("\n" + files->out).find(f), std::string::npos) << f;
  }
  fs::remove_all(dir);
}

TEST(TinyImageTest, SecondBuildIsFastAndIdentical) {
  const auto& first = TestImage();
  ASSERT_TRUE(first.ok()) << first.status().message();
  auto start = std::chrono::steady_clock::now();
  std::vector<std::string> messages;
  auto again = BuildTinyImage(std::string(kTestCache) + "/image", kTestCache,
                              [&](const std::string& m) { messages.push_back(m); });
  ASSERT_TRUE(again.ok()) << again.status().message();
  EXPECT_EQ(again->sha256, first->sha256);
  EXPECT_EQ(again->disk_path, first->disk_path);
  ASSERT_FALSE(messages.empty());
  EXPECT_NE(messages.back().find("up to date"), std::string::npos) << messages.back();
  // Not a speed target, only a sanity bound: nothing was downloaded or rebuilt.
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(60));
}

TEST(TinyImageTest, RebuildInAnotherDirectoryIsReproducible) {
  const auto& first = TestImage();
  ASSERT_TRUE(first.ok()) << first.status().message();
  char tmpl[] = "/tmp/kumo-img-XXXXXX";
  ASSERT_NE(mkdtemp(tmpl), nullptr);
  // Same kernel cache, fresh output directory: the image is rebuilt from the cached kernel.
  auto other = BuildTinyImage(tmpl, kTestCache, nullptr);
  ASSERT_TRUE(other.ok()) << other.status().message();
  EXPECT_EQ(other->sha256, first->sha256);
  EXPECT_NE(other->disk_path, first->disk_path);
  fs::remove_all(tmpl);
}

}  // namespace
}  // namespace kumo::agent
