// The QEMU runtime against real QEMU (TCG) and the tiny image: boot, console, HTTP through a
// host forward, cloud-init, adoption after an agent restart, stop, guest power-off, crashes.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/socket.h>

#include <chrono>
#include <filesystem>

#include "agent/image/tiny_image_scripts.h"
#include "agent/runtime/runtime.h"
#include "agent_test_util.h"
#include "common/json.h"
#include "qemu_test_util.h"

namespace kumo::agent {
namespace {

namespace fs = std::filesystem;
using namespace kumo::agent::testing;

class QemuRuntimeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto& image = TestImage();
    ASSERT_TRUE(image.ok()) << image.status().message();
    image_ = *image;
    state_dir_ = MakeStateDir();
    ASSERT_FALSE(state_dir_.empty());
    rt_ = NewRuntime();
    ASSERT_NE(rt_, nullptr);
  }

  // Kills every QEMU this test started (by pid), also when the test failed half-way.
  void TearDown() override { KillQemusAndRemove(state_dir_); }

  std::unique_ptr<Runtime> NewRuntime() {
    auto rt = NewQemuRuntime({.state_dir = state_dir_, .accel = "tcg"});
    EXPECT_TRUE(rt.ok()) << rt.status().message();
    return rt.ok() ? std::move(rt).value() : nullptr;
  }

  VmSpec Spec(const std::string& name) {
    VmSpec s;
    s.ns = "tenant-a";
    s.name = name;
    s.uid = "uid-" + name;
    s.memory_bytes = 128 << 20;
    s.image_path = image_.disk_path;
    s.image_format = image_.format;
    return s;
  }

  // Waits for the boot marker; returns the seconds it took (or -1).
  double WaitBooted(const VmStatus& st) {
    auto start = std::chrono::steady_clock::now();
    bool ok = WaitFor([&] { return FileContains(st.console_log, kTinyBootMarker); }, kBootTimeoutS);
    auto log = ReadFileToString(st.console_log);
    EXPECT_TRUE(ok) << "no " << kTinyBootMarker << " in the console log:\n"
                    << (log.ok() ? *log : log.status().message());
    return ok ? std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count()
              : -1;
  }

  TinyImage image_;
  std::string state_dir_;
  std::unique_ptr<Runtime> rt_;
};

TEST_F(QemuRuntimeTest, BootsRunsCloudInitServesHttpSurvivesAgentRestartAndStops) {
  VmSpec spec = Spec("web");
  spec.user_data = "#!/bin/sh\necho CLOUD-INIT-RAN > /dev/ttyS0\n";
  spec.meta_data = "instance-id: uid-web\nlocal-hostname: web-host\n";
  const int port = FreeLoopbackPort();
  spec.host_forwards = {{port, 80}};
  ASSERT_TRUE(rt_->Start(spec).ok());

  VmStatus st = rt_->Inspect("tenant-a", "web");
  ASSERT_EQ(st.phase, VmPhase::kRunning) << st.detail;
  ASSERT_GT(st.pid, 0);
  EXPECT_FALSE(st.kvm);
  EXPECT_GT(st.started_at, 0);
  // Operators find the VM with ps: QEMU runs with -name <ns>_<name>.
  EXPECT_NE(Cmdline(st.pid).find(std::string("-name") + '\0' + "tenant-a_web" + '\0'),
            std::string::npos);
  EXPECT_EQ(rt_->Start(spec).code(), Code::kAlreadyExists);

  double boot_s = WaitBooted(st);
  ASSERT_GT(boot_s, 0);
  printf("[ boot ] tiny VM printed %s %.1f s after Start returned (TCG)\n", kTinyBootMarker,
         boot_s);
  EXPECT_TRUE(FileContains(st.console_log, "KUMO-BOOT-OK ip=10.0.2.15"));
  // cloud-init: the #! user-data ran, meta-data's hostname is the guest's.
  EXPECT_TRUE(WaitFor([&] { return FileContains(st.console_log, "CLOUD-INIT-RAN"); }, 30));
  std::string page;
  WaitFor(
      [&] {
        page = HttpGetLoopback(port);
        return page.find("kumo tiny vm") != std::string::npos;
      },
      30);
  EXPECT_NE(page.find("kumo tiny vm web-host 10.0.2.15"), std::string::npos) << page;

  // Agent restart: a new runtime on the same state dir adopts the running VM.
  auto rt2 = NewRuntime();
  ASSERT_NE(rt2, nullptr);
  auto refs = rt2->List();
  ASSERT_EQ(refs.size(), 1u);
  EXPECT_EQ(refs[0].ns, "tenant-a");
  EXPECT_EQ(refs[0].name, "web");
  EXPECT_EQ(refs[0].uid, "uid-web");
  VmStatus adopted = rt2->Inspect("tenant-a", "web");
  EXPECT_EQ(adopted.phase, VmPhase::kRunning) << adopted.detail;
  EXPECT_EQ(adopted.pid, st.pid);
  EXPECT_EQ(rt2->Cleanup("tenant-a", "web").code(), Code::kConflict);

  // Graceful stop: the guest handles the ACPI power button and powers off.
  ASSERT_TRUE(rt2->Stop("tenant-a", "web", 60).ok());
  EXPECT_FALSE(Alive(st.pid));
  VmStatus stopped = rt2->Inspect("tenant-a", "web");
  EXPECT_EQ(stopped.phase, VmPhase::kSucceeded);
  EXPECT_NE(stopped.detail.find("ACPI"), std::string::npos) << stopped.detail;
  EXPECT_TRUE(rt2->Stop("tenant-a", "web", 5).ok());  // idempotent

  ASSERT_TRUE(rt2->Cleanup("tenant-a", "web").ok());
  EXPECT_FALSE(fs::exists(state_dir_ + "/vms/tenant-a_web"));
  EXPECT_EQ(rt2->Inspect("tenant-a", "web").phase, VmPhase::kAbsent);
  EXPECT_TRUE(rt2->List().empty());
}

TEST_F(QemuRuntimeTest, GuestPowerOffIsSucceededAlsoAfterAgentRestart) {
  ASSERT_TRUE(rt_->Start(Spec("job")).ok());
  VmStatus st = rt_->Inspect("tenant-a", "job");
  ASSERT_EQ(st.phase, VmPhase::kRunning) << st.detail;
  ASSERT_GT(WaitBooted(st), 0);

  // The console is an interactive shell. Feed the DHCP script a lease as the node's DHCP
  // server gives it in routed (Calico-style) networking: a /32 and a gateway outside it.
  const std::string lease =
      "interface=eth0 ip=10.99.0.5 mask=32 router=169.254.1.1 dns=10.99.0.1 "
      "/etc/udhcpc/default.script bound; ip -4 route; ip -4 addr show dev eth0; "
      "cat /etc/resolv.conf\n";
  bool routed = WaitFor(
      [&] {
        SendToUnixSocket(st.console_socket, lease, 1500);
        return FileContains(st.console_log, "default via 169.254.1.1 dev eth0") &&
               FileContains(st.console_log, "inet 10.99.0.5/32") &&
               FileContains(st.console_log, "nameserver 10.99.0.1");
      },
      60);
  auto log = ReadFileToString(st.console_log);
  ASSERT_TRUE(routed) << (log.ok() ? *log : "");
  EXPECT_NE(log->find("169.254.1.1 dev eth0 scope link"), std::string::npos) << *log;

  // A user at the console powers the guest off.
  VmStatus after;
  bool done = WaitFor(
      [&] {
        SendToUnixSocket(st.console_socket, "\npoweroff -f\n");
        after = rt_->Inspect("tenant-a", "job");
        return after.phase == VmPhase::kSucceeded;
      },
      60);
  ASSERT_TRUE(done) << "phase " << static_cast<int>(after.phase) << ": " << after.detail;
  EXPECT_EQ(after.pid, st.pid);  // -no-shutdown: QEMU stays, in status "shutdown"
  EXPECT_TRUE(Alive(st.pid));
  EXPECT_EQ(NewRuntime()->Inspect("tenant-a", "job").phase, VmPhase::kSucceeded);

  ASSERT_TRUE(rt_->Stop("tenant-a", "job", 30).ok());
  EXPECT_FALSE(Alive(st.pid));
  EXPECT_EQ(rt_->Inspect("tenant-a", "job").phase, VmPhase::kSucceeded);
}

TEST_F(QemuRuntimeTest, KilledQemuIsFailed) {
  ASSERT_TRUE(rt_->Start(Spec("crash")).ok());
  VmStatus st = rt_->Inspect("tenant-a", "crash");
  ASSERT_EQ(st.phase, VmPhase::kRunning) << st.detail;
  ASSERT_EQ(kill(st.pid, SIGKILL), 0);
  ASSERT_TRUE(WaitFor([&] { return !Alive(st.pid); }, 10));

  VmStatus failed = rt_->Inspect("tenant-a", "crash");
  EXPECT_EQ(failed.phase, VmPhase::kFailed);
  EXPECT_NE(failed.detail.find("exited unexpectedly"), std::string::npos) << failed.detail;
  EXPECT_EQ(NewRuntime()->Inspect("tenant-a", "crash").phase, VmPhase::kFailed);
  EXPECT_TRUE(rt_->Stop("tenant-a", "crash", 5).ok());
  EXPECT_EQ(rt_->Inspect("tenant-a", "crash").phase, VmPhase::kFailed);
  ASSERT_TRUE(rt_->Cleanup("tenant-a", "crash").ok());
  EXPECT_EQ(rt_->Inspect("tenant-a", "crash").phase, VmPhase::kAbsent);
}

TEST_F(QemuRuntimeTest, MissingImageFailsWithTheToolsMessage) {
  VmSpec spec = Spec("noimage");
  spec.image_path = "/nonexistent-kumo/disk.qcow2";
  Status st = rt_->Start(spec);
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.message().find("/nonexistent-kumo/disk.qcow2"), std::string::npos) << st.message();
  EXPECT_NE(st.message().find("No such file or directory"), std::string::npos) << st.message();
  EXPECT_EQ(rt_->Inspect("tenant-a", "noimage").phase, VmPhase::kAbsent);
}

TEST_F(QemuRuntimeTest, QemuStartupErrorIsReported) {
  // A host port that is already taken makes QEMU itself refuse to start.
  int busy = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(bind(busy, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
  ASSERT_EQ(listen(busy, 1), 0);
  socklen_t len = sizeof a;
  getsockname(busy, reinterpret_cast<sockaddr*>(&a), &len);
  VmSpec spec = Spec("portclash");
  spec.host_forwards = {{ntohs(a.sin_port), 80}};
  Status st = rt_->Start(spec);
  close(busy);
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.message().find("Could not set up host forwarding rule"), std::string::npos)
      << st.message();
  EXPECT_EQ(rt_->Inspect("tenant-a", "portclash").phase, VmPhase::kAbsent);
  EXPECT_TRUE(rt_->List().empty());
}

TEST_F(QemuRuntimeTest, AbsentVmsAndBadNames) {
  EXPECT_EQ(rt_->Inspect("tenant-a", "ghost").phase, VmPhase::kAbsent);
  EXPECT_TRUE(rt_->Stop("tenant-a", "ghost", 1).ok());
  EXPECT_TRUE(rt_->Cleanup("tenant-a", "ghost").ok());
  EXPECT_TRUE(rt_->List().empty());
  VmSpec spec = Spec("x");
  spec.name = "../escape";
  EXPECT_EQ(rt_->Start(spec).code(), Code::kBadRequest);
  spec = Spec("x");
  spec.network_mode = "bridge";
  EXPECT_EQ(rt_->Start(spec).code(), Code::kBadRequest);
}

}  // namespace
}  // namespace kumo::agent
