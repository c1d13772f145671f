// Live migration with non-shared storage between two QEMU runtimes on this host (two state
// directories stand for two nodes; all traffic on 127.0.0.1): a booted guest keeps its memory
// and its disk writes on the target; failures (nothing listening, a dead RAM port, a network
// too slow, a target that freezes mid-way) leave it running on the source.
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <thread>

#include "agent/image/tiny_image_scripts.h"
#include "agent/runtime/runtime.h"
#include "agent_test_util.h"
#include "qemu_test_util.h"

namespace kumo::agent {
namespace {

namespace fs = std::filesystem;
using namespace kumo::agent::testing;
using Clock = std::chrono::steady_clock;

constexpr char kNs[] = "tenant-a";
// A sector in the free tail of the tiny image's 16 MiB disk: written raw by the guest, it
// proves that disk writes made since boot (held in the source's overlay) reach the target.
constexpr int kFreeSector = 32640;

double SecondsSince(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

std::string PhaseName(VmPhase p) {
  switch (p) {
    case VmPhase::kRunning:
      return "Running";
    case VmPhase::kSucceeded:
      return "Succeeded";
    case VmPhase::kFailed:
      return "Failed";
    case VmPhase::kAbsent:
      return "Absent";
    case VmPhase::kIncoming:
      return "Incoming";
  }
  return "?";
}

// A migration "target" on 127.0.0.1 that accepts the RAM stream but reads it at a trickle,
// so the migration stays active (the guest keeps running), until Release() lets it read at
// full speed. It never answers: the source believes it sent the VM.
class SlowSink {
 public:
  SlowSink() {
    listen_fd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    if (bind(listen_fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0 &&
        listen(listen_fd_, 1) == 0 &&
        getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&a), &len) == 0) {
      port_ = ntohs(a.sin_port);
    }
    thread_ = std::thread([this] {
      pollfd p{listen_fd_, POLLIN, 0};
      while (!stop_ && poll(&p, 1, 100) == 0) {
      }
      if (stop_) return;
      int fd = accept(listen_fd_, nullptr, nullptr);
      if (fd < 0) return;
      char buf[16384];
      ssize_t n;
      while (!stop_ && (n = recv(fd, buf, sizeof buf, MSG_DONTWAIT)) != 0) {
        if (n > 0) received_ += n;
        if (!released_) std::this_thread::sleep_for(std::chrono::milliseconds(20));  // ~0.8 MB/s
        if (released_ && n < 0) std::this_thread::sleep_for(std::chrono::milliseconds(1));
      }
      close(fd);
    });
  }
  ~SlowSink() {
    stop_ = true;
    thread_.join();
    close(listen_fd_);
  }
  int port() const { return port_; }
  int64_t received() const { return received_; }
  void Release() { released_ = true; }

 private:
  int listen_fd_ = -1;
  int port_ = 0;
  std::atomic<bool> stop_{false}, released_{false};
  std::atomic<int64_t> received_{0};
  std::thread thread_;
};

class QemuMigrationTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto& image = TestImage();
    ASSERT_TRUE(image.ok()) << image.status().message();
    image_ = *image;
    src_dir_ = MakeStateDir();
    dst_dir_ = MakeStateDir();
    ASSERT_FALSE(src_dir_.empty());
    ASSERT_FALSE(dst_dir_.empty());
    src_ = NewRuntime(src_dir_);
    dst_ = NewRuntime(dst_dir_);
    ASSERT_NE(src_, nullptr);
    ASSERT_NE(dst_, nullptr);
  }

  void TearDown() override {
    KillQemusAndRemove(src_dir_);
    KillQemusAndRemove(dst_dir_);
  }

  static std::unique_ptr<Runtime> NewRuntime(const std::string& dir) {
    auto rt = NewQemuRuntime({.state_dir = dir, .accel = "tcg"});
    EXPECT_TRUE(rt.ok()) << rt.status().message();
    return rt.ok() ? std::move(rt).value() : nullptr;
  }

  // The same spec goes to both nodes, as the agent would build it from the VMI. With a
  // cloud-init seed, so the target must rebuild an identical seed disk.
  VmSpec Spec(const std::string& name) {
    VmSpec s;
    s.ns = kNs;
    s.name = name;
    s.uid = "uid-" + name;
    s.memory_bytes = 128 << 20;
    s.image_path = image_.disk_path;
    s.image_format = image_.format;
    s.user_data = "#!/bin/sh\necho SEED-RAN > /dev/ttyS0\n";
    return s;
  }

  // Starts `name` on the source and waits for the guest's shell; returns its status.
  VmStatus BootOnSource(const std::string& name) {
    auto t = Clock::now();
    Status st = src_->Start(Spec(name));
    EXPECT_TRUE(st.ok()) << st.message();
    VmStatus vm = src_->Inspect(kNs, name);
    EXPECT_EQ(vm.phase, VmPhase::kRunning) << vm.detail;
    bool booted =
        WaitFor([&] { return FileContains(vm.console_log, kTinyBootMarker); }, kBootTimeoutS);
    auto log = ReadFileToString(vm.console_log);
    EXPECT_TRUE(booted) << "no " << kTinyBootMarker << " in the console log:\n"
                        << (log.ok() ? *log : log.status().message());
    printf("[ timing ] source boot to %s: %.1f s\n", kTinyBootMarker, SecondsSince(t));
    return vm;
  }

  // Writes a marker into the guest's RAM (tmpfs) and one raw onto its disk.
  static void WriteMarkers(Console& con, const std::string& ram, const std::string& disk) {
    con.Run("");  // the first line may meet a half-drawn prompt
    EXPECT_EQ(con.Run("echo " + ram + " > /tmp/m; cat /tmp/m"), ram);
    con.Run("echo " + disk + " | dd of=/dev/vda bs=512 seek=" + std::to_string(kFreeSector) +
            " conv=sync,notrunc oflag=direct 2>/dev/null");
    EXPECT_EQ(ReadDiskMarker(con), disk);
  }

  // The marker sector as the guest reads it from its disk (bypassing its page cache).
  static std::string ReadDiskMarker(Console& con) {
    return con.Run("dd if=/dev/vda bs=512 skip=" + std::to_string(kFreeSector) +
                   " count=1 iflag=direct 2>/dev/null | head -1");
  }

  TinyImage image_;
  std::string src_dir_, dst_dir_;
  std::unique_ptr<Runtime> src_, dst_;
};

TEST_F(QemuMigrationTest, RunningGuestMovesWithMemoryAndDiskToAnotherNode) {
  VmStatus before = BootOnSource("mover");
  ASSERT_GT(before.pid, 0);
  {
    Console con(before.console_socket);
    ASSERT_TRUE(con.connected());
    WriteMarkers(con, "hello-42", "KUMO-DISK-42");
  }

  auto t = Clock::now();
  auto ep = dst_->StartIncoming(Spec("mover"), {.host = "127.0.0.1"});
  ASSERT_TRUE(ep.ok()) << ep.status().message();
  printf("[ timing ] StartIncoming: %.2f s (NBD port %d, migration port %d)\n", SecondsSince(t),
         ep->nbd_port, ep->migration_port);
  EXPECT_EQ(ep->host, "127.0.0.1");
  EXPECT_GT(ep->nbd_port, 0);
  EXPECT_GT(ep->migration_port, 0);
  EXPECT_NE(ep->nbd_port, ep->migration_port);
  VmStatus waiting = dst_->Inspect(kNs, "mover");
  EXPECT_EQ(waiting.phase, VmPhase::kIncoming) << waiting.detail;
  EXPECT_GT(waiting.pid, 0);
  // A target that has not resumed cannot be the source of another migration.
  EXPECT_EQ(dst_->MigrateOut(kNs, "mover", *ep, 5).code(), Code::kConflict);
  EXPECT_EQ(dst_->Start(Spec("mover")).code(), Code::kAlreadyExists);

  t = Clock::now();
  Status out = src_->MigrateOut(kNs, "mover", *ep, 120);
  ASSERT_TRUE(out.ok()) << out.message();
  printf("[ timing ] MigrateOut (disk mirror + RAM + switchover + source quit): %.2f s\n",
         SecondsSince(t));

  // The source QEMU is gone, and the source says the VM moved away: not Failed.
  EXPECT_FALSE(Alive(before.pid));
  VmStatus gone = src_->Inspect(kNs, "mover");
  EXPECT_EQ(PhaseName(gone.phase), "Absent") << gone.detail;
  EXPECT_EQ(gone.migrated_to, "127.0.0.1:" + std::to_string(ep->migration_port));
  EXPECT_EQ(NewRuntime(src_dir_)->Inspect(kNs, "mover").phase, VmPhase::kAbsent);
  EXPECT_TRUE(src_->Stop(kNs, "mover", 5).ok());
  EXPECT_EQ(src_->MigrateOut(kNs, "mover", *ep, 5).code(), Code::kNotFound);
  // Until FinishIncoming the target still says Incoming: nobody reports it Running too early.
  EXPECT_EQ(PhaseName(dst_->Inspect(kNs, "mover").phase), "Incoming");

  t = Clock::now();
  Status fin = dst_->FinishIncoming(kNs, "mover", 60);
  ASSERT_TRUE(fin.ok()) << fin.message();
  printf("[ timing ] FinishIncoming: %.2f s\n", SecondsSince(t));
  VmStatus after = dst_->Inspect(kNs, "mover");
  EXPECT_EQ(PhaseName(after.phase), "Running") << after.detail;
  EXPECT_TRUE(after.detail.empty()) << after.detail;  // QEMU says "running"
  EXPECT_GT(after.pid, 0);
  EXPECT_NE(after.pid, before.pid);
  EXPECT_TRUE(dst_->FinishIncoming(kNs, "mover", 5).ok());  // idempotent

  {
    // The same guest, on the target: its RAM and its disk writes came along.
    Console con(after.console_socket);
    ASSERT_TRUE(con.connected());
    con.Run("");
    EXPECT_EQ(con.Run("cat /tmp/m"), "hello-42");
    EXPECT_EQ(ReadDiskMarker(con), "KUMO-DISK-42");
    // And it keeps working there: a fresh write reads back.
    con.Run("echo KUMO-AFTER | dd of=/dev/vda bs=512 seek=" + std::to_string(kFreeSector + 2) +
            " conv=sync,notrunc oflag=direct 2>/dev/null");
    EXPECT_EQ(con.Run("dd if=/dev/vda bs=512 skip=" + std::to_string(kFreeSector + 2) +
                      " count=1 iflag=direct 2>/dev/null | head -1"),
              "KUMO-AFTER");
  }
  // The target's console log goes on from the migration; the boot happened elsewhere.
  EXPECT_FALSE(FileContains(after.console_log, kTinyBootMarker));

  // The source's leftovers go with Cleanup; the target is an ordinary VM now.
  ASSERT_TRUE(src_->Cleanup(kNs, "mover").ok());
  EXPECT_FALSE(fs::exists(src_dir_ + "/vms/tenant-a_mover"));
  EXPECT_TRUE(src_->Inspect(kNs, "mover").migrated_to.empty());
  ASSERT_TRUE(dst_->Stop(kNs, "mover", 0).ok());
  EXPECT_FALSE(Alive(after.pid));
  EXPECT_EQ(dst_->Inspect(kNs, "mover").phase, VmPhase::kSucceeded);
}

TEST_F(QemuMigrationTest, FailedMigrationsLeaveTheGuestRunningOnTheSource) {
  VmStatus before = BootOnSource("stayer");
  ASSERT_GT(before.pid, 0);
  {
    Console con(before.console_socket);
    ASSERT_TRUE(con.connected());
    WriteMarkers(con, "hello-7", "KUMO-DISK-7");
  }
  auto guest_answers = [&](const std::string& ram, const std::string& disk) {
    Console con(before.console_socket);
    con.Run("");
    EXPECT_EQ(con.Run("cat /tmp/m"), ram);
    EXPECT_EQ(ReadDiskMarker(con), disk);
  };

  // 1. Nothing listens at the target: the disk copy cannot start.
  MigrationEndpoint nowhere{"127.0.0.1", FreeLoopbackPort(), FreeLoopbackPort()};
  auto t = Clock::now();
  Status st = src_->MigrateOut(kNs, "stayer", nowhere, 30);
  ASSERT_FALSE(st.ok());
  printf("[ timing ] MigrateOut to nowhere failed after %.2f s: %s\n", SecondsSince(t),
         st.message().c_str());
  EXPECT_NE(st.message().find("cannot start copying the disk"), std::string::npos) << st.message();
  EXPECT_NE(st.message().find("refused"), std::string::npos) << st.message();
  EXPECT_NE(st.message().find("the VM keeps running on this node"), std::string::npos)
      << st.message();
  VmStatus now = src_->Inspect(kNs, "stayer");
  EXPECT_EQ(PhaseName(now.phase), "Running") << now.detail;
  EXPECT_TRUE(now.detail.empty()) << now.detail;
  EXPECT_EQ(now.pid, before.pid);
  guest_answers("hello-7", "KUMO-DISK-7");

  // 2. A real target, but the RAM stream goes nowhere: fails after the disk copy was ready,
  //    so the rollback cancels the migration and the mirror.
  auto ep = dst_->StartIncoming(Spec("stayer"), {.host = "127.0.0.1"});
  ASSERT_TRUE(ep.ok()) << ep.status().message();
  MigrationEndpoint bad_ram = *ep;
  bad_ram.migration_port = FreeLoopbackPort();
  t = Clock::now();
  st = src_->MigrateOut(kNs, "stayer", bad_ram, 30);
  ASSERT_FALSE(st.ok());
  printf("[ timing ] MigrateOut with a dead RAM port failed after %.2f s: %s\n", SecondsSince(t),
         st.message().c_str());
  EXPECT_NE(st.message().find("migration"), std::string::npos) << st.message();
  EXPECT_NE(st.message().find("failed"), std::string::npos) << st.message();
  EXPECT_NE(st.message().find("the VM keeps running on this node"), std::string::npos)
      << st.message();
  now = src_->Inspect(kNs, "stayer");
  EXPECT_EQ(PhaseName(now.phase), "Running") << now.detail;
  EXPECT_TRUE(now.detail.empty()) << now.detail;
  EXPECT_EQ(now.pid, before.pid);
  guest_answers("hello-7", "KUMO-DISK-7");
  EXPECT_EQ(dst_->Inspect(kNs, "stayer").phase, VmPhase::kIncoming);

  // 3. The RAM stream starts but crawls: the timeout cancels the migration mid-stream.
  {
    SlowSink sink;
    ASSERT_GT(sink.port(), 0);
    MigrationEndpoint slow = *ep;
    slow.migration_port = sink.port();
    t = Clock::now();
    st = src_->MigrateOut(kNs, "stayer", slow, 4);
    ASSERT_FALSE(st.ok());
    printf("[ timing ] MigrateOut into a trickle failed after %.2f s: %s\n", SecondsSince(t),
           st.message().c_str());
    EXPECT_EQ(st.code(), Code::kTimeout) << st.message();
    EXPECT_NE(st.message().find("did not complete within 4 s"), std::string::npos) << st.message();
    EXPECT_NE(st.message().find("the VM keeps running on this node"), std::string::npos)
        << st.message();
    EXPECT_LT(SecondsSince(t), 30);
  }
  now = src_->Inspect(kNs, "stayer");
  EXPECT_EQ(PhaseName(now.phase), "Running") << now.detail;
  EXPECT_TRUE(now.detail.empty()) << now.detail;
  EXPECT_EQ(now.pid, before.pid);
  guest_answers("hello-7", "KUMO-DISK-7");

  // 4. The guest changed meanwhile; a retry to the same, still waiting target then succeeds
  //    and carries the newest state.
  {
    Console con(before.console_socket);
    WriteMarkers(con, "hello-8", "KUMO-DISK-8");
  }
  st = src_->MigrateOut(kNs, "stayer", *ep, 120);
  ASSERT_TRUE(st.ok()) << st.message();
  ASSERT_TRUE(dst_->FinishIncoming(kNs, "stayer", 60).ok());
  VmStatus moved = dst_->Inspect(kNs, "stayer");
  EXPECT_EQ(PhaseName(moved.phase), "Running") << moved.detail;
  {
    Console con(moved.console_socket);
    con.Run("");
    EXPECT_EQ(con.Run("cat /tmp/m"), "hello-8");
    EXPECT_EQ(ReadDiskMarker(con), "KUMO-DISK-8");
  }
  EXPECT_FALSE(Alive(before.pid));
  EXPECT_EQ(src_->Inspect(kNs, "stayer").phase, VmPhase::kAbsent);
}

TEST_F(QemuMigrationTest, AbandonedTargetIsNeverRunningAndCleansUp) {
  // No source needed: the target QEMU waits without running a guest.
  auto ep = dst_->StartIncoming(Spec("orphan"), {.host = "127.0.0.1"});
  ASSERT_TRUE(ep.ok()) << ep.status().message();
  VmStatus waiting = dst_->Inspect(kNs, "orphan");
  EXPECT_EQ(PhaseName(waiting.phase), "Incoming") << waiting.detail;
  EXPECT_EQ(NewRuntime(dst_dir_)->Inspect(kNs, "orphan").phase, VmPhase::kIncoming);
  // Fixed ports that are taken make a second target fail with QEMU's reason.
  auto clash = NewRuntime(src_dir_)->StartIncoming(Spec("orphan"), *ep);
  ASSERT_FALSE(clash.ok());
  EXPECT_NE(clash.status().message().find("NBD server"), std::string::npos)
      << clash.status().message();
  EXPECT_EQ(src_->Inspect(kNs, "orphan").phase, VmPhase::kAbsent);

  // Finishing without a migration times out and says what is missing.
  auto t = Clock::now();
  Status fin = dst_->FinishIncoming(kNs, "orphan", 1);
  EXPECT_EQ(fin.code(), Code::kTimeout) << fin.message();
  EXPECT_NE(fin.message().find("did MigrateOut succeed"), std::string::npos) << fin.message();
  EXPECT_LT(SecondsSince(t), 10);
  EXPECT_EQ(dst_->Inspect(kNs, "orphan").phase, VmPhase::kIncoming);

  // The agent gives up: Stop ends it at once, and it reads as an unfinished migration.
  t = Clock::now();
  ASSERT_TRUE(dst_->Stop(kNs, "orphan", 30).ok());
  EXPECT_LT(SecondsSince(t), 10);  // no ACPI grace period: there is no guest to ask
  EXPECT_FALSE(Alive(waiting.pid));
  VmStatus stopped = dst_->Inspect(kNs, "orphan");
  EXPECT_EQ(PhaseName(stopped.phase), "Failed");
  EXPECT_NE(stopped.detail.find("incoming migration did not finish"), std::string::npos)
      << stopped.detail;
  EXPECT_EQ(dst_->FinishIncoming(kNs, "orphan", 1).code(), Code::kInternal);
  ASSERT_TRUE(dst_->Cleanup(kNs, "orphan").ok());
  EXPECT_EQ(dst_->Inspect(kNs, "orphan").phase, VmPhase::kAbsent);

  EXPECT_EQ(dst_->StartIncoming(Spec("x"), {.host = ""}).status().code(), Code::kBadRequest);
  EXPECT_EQ(
      dst_->StartIncoming(Spec("x"), {.host = "127.0.0.1", .nbd_port = 70000}).status().code(),
      Code::kBadRequest);
  EXPECT_EQ(src_->MigrateOut(kNs, "ghost", {"127.0.0.1", 1, 2}, 5).code(), Code::kNotFound);
  EXPECT_EQ(src_->MigrateOut(kNs, "ghost", {"127.0.0.1", 1, 0}, 5).code(), Code::kBadRequest);
  // NBD port 0: a VM that boots from a shared volume has no overlay to copy.
  EXPECT_EQ(src_->MigrateOut(kNs, "ghost", {"127.0.0.1", 0, 2}, 5).code(), Code::kNotFound);
}

TEST_F(QemuMigrationTest, TargetThatFreezesDuringTheMigrationIsAbandoned) {
  VmStatus before = BootOnSource("frozen");
  ASSERT_GT(before.pid, 0);
  {
    Console con(before.console_socket);
    WriteMarkers(con, "hello-9", "KUMO-DISK-9");
  }
  auto ep = dst_->StartIncoming(Spec("frozen"), {.host = "127.0.0.1"});
  ASSERT_TRUE(ep.ok()) << ep.status().message();
  const int target_pid = dst_->Inspect(kNs, "frozen").pid;
  ASSERT_GT(target_pid, 0);

  // The disk goes to the real target's NBD export, RAM into a sink that reads slowly at first.
  SlowSink sink;
  MigrationEndpoint via_sink = *ep;
  via_sink.migration_port = sink.port();
  Status st;
  auto t = Clock::now();
  std::thread migration([&] { st = src_->MigrateOut(kNs, "frozen", via_sink, 15); });
  // RAM flows only after the mirror is ready. Then the target freezes (as in a network
  // partition: no errors, just silence), and RAM runs at full speed towards the switchover.
  bool flowing = WaitFor([&] { return sink.received() > 0; }, 30);
  if (flowing) kill(target_pid, SIGSTOP);
  sink.Release();
  migration.join();
  kill(target_pid, SIGCONT);
  ASSERT_TRUE(flowing);
  printf("[ timing ] MigrateOut with a frozen target failed after %.2f s: %s\n", SecondsSince(t),
         st.message().c_str());
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.message().find("The target stopped answering"), std::string::npos) << st.message();
  EXPECT_NE(st.message().find("the VM keeps running on this node"), std::string::npos)
      << st.message();
  EXPECT_LT(SecondsSince(t), 60);
  VmStatus now = src_->Inspect(kNs, "frozen");
  EXPECT_EQ(PhaseName(now.phase), "Running") << now.detail;
  EXPECT_TRUE(now.detail.empty()) << now.detail;
  EXPECT_EQ(now.pid, before.pid);
  Console con(before.console_socket);
  con.Run("");
  EXPECT_EQ(con.Run("cat /tmp/m"), "hello-9");
  EXPECT_EQ(ReadDiskMarker(con), "KUMO-DISK-9");  // the disk is not stuck behind the mirror
}

}  // namespace
}  // namespace kumo::agent
