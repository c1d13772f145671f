#include "agent/runtime/subprocess.h"

#include <gtest/gtest.h>

#include <chrono>

#include "agent/runtime/kvm_probe.h"
#include "agent/runtime/runtime.h"

namespace kumo::agent {
namespace {

TEST(SubprocessTest, CapturesOutputAndExitCode) {
  auto r = RunProcess({"sh", "-c", "echo out; echo err >&2; exit 3"});
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->exit_code, 3);
  EXPECT_EQ(r->out, "out\n");
  EXPECT_EQ(r->err, "err\n");
  auto checked = RunChecked({"sh", "-c", "echo boom >&2; exit 1"});
  ASSERT_FALSE(checked.ok());
  EXPECT_NE(checked.status().message().find("boom"), std::string::npos);
}

TEST(SubprocessTest, TimeoutKillsTheChild) {
  auto start = std::chrono::steady_clock::now();
  auto r = RunProcess({"sleep", "30"}, {.timeout_ms = 200});
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->timed_out);
  EXPECT_FALSE(r->ok());
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(5));
}

TEST(SubprocessTest, DoesNotWaitForDaemonizedGrandchildren) {
  // The child exits at once; a grandchild keeps the pipes open for 30 s.
  auto start = std::chrono::steady_clock::now();
  auto r = RunProcess({"sh", "-c", "echo parent; (sleep 30 &) ; exit 0"}, {.timeout_ms = 20000});
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->exit_code, 0);
  EXPECT_EQ(r->out, "parent\n");
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(10));
}

TEST(SubprocessTest, MissingProgramIsUnavailable) {
  auto r = RunProcess({"kumo-no-such-program"});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Code::kUnavailable);
}

TEST(AccelProbeTest, TcgRunsTheProbeGuest) {
  // The same probe that decides on KVM must see a guest that runs: TCG always does.
  EXPECT_TRUE(ProbeAccel("qemu-system-x86_64", "tcg", 20000));
}

TEST(AccelProbeTest, KvmProbeIsBoundedAndCached) {
  auto start = std::chrono::steady_clock::now();
  bool kvm = ProbeKvm("qemu-system-x86_64", 2500);
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(10));
  printf("[ probe ] KVM usable here: %s\n", kvm ? "yes" : "no");
  start = std::chrono::steady_clock::now();
  EXPECT_EQ(ProbeKvm("qemu-system-x86_64", 2500), kvm);
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::milliseconds(100));
}

}  // namespace
}  // namespace kumo::agent
