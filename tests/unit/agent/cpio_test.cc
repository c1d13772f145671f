#include "agent/image/cpio.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>

#include "agent/runtime/subprocess.h"
#include "common/file_util.h"

namespace kumo::agent {
namespace {

TEST(CpioWriterTest, GnuCpioReadsWhatWeWrite) {
  CpioWriter w;
  w.AddDirectory("bin");
  w.AddFile("bin/hello", "hello world\n", 0755);
  w.AddSymlink("bin/hi", "hello");
  w.AddCharDevice("console", 5, 1);
  w.AddFile("odd", "abc", 0600);  // sizes that need padding
  std::string archive = w.Finish();
  EXPECT_EQ(archive.size() % 4, 0u);

  char tmpl[] = "/tmp/kumo-cpio-XXXXXX";
  ASSERT_NE(mkdtemp(tmpl), nullptr);
  const std::string dir = tmpl;
  ASSERT_TRUE(WriteFileAtomic(dir + "/a.cpio", archive, 0644).ok());
  auto list = RunChecked({"sh", "-c", "cpio -itv --quiet < " + dir + "/a.cpio"});
  ASSERT_TRUE(list.ok()) << list.status().message();
  const std::string& out = list->out;
  EXPECT_NE(out.find("drwxr-xr-x"), std::string::npos) << out;
  EXPECT_NE(out.find("-rwxr-xr-x"), std::string::npos) << out;
  EXPECT_NE(out.find("bin/hi -> hello"), std::string::npos) << out;
  EXPECT_NE(out.find("crw-------"), std::string::npos) << out;
  auto cat = RunChecked({"sh", "-c", "cpio -i --quiet --to-stdout bin/hello < " + dir + "/a.cpio"});
  ASSERT_TRUE(cat.ok());
  EXPECT_EQ(cat->out, "hello world\n");
  // Same entries, same bytes.
  CpioWriter w2;
  w2.AddFile("odd", "abc", 0600);
  CpioWriter w3;
  w3.AddFile("odd", "abc", 0600);
  EXPECT_EQ(w2.Finish(), w3.Finish());
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace kumo::agent
