// QmpClient against a scripted QMP server on a UNIX socket.
#include "agent/runtime/qmp.h"

#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <functional>
#include <thread>

namespace kumo::agent {
namespace {

// Accepts one client and runs `script` with its fd.
class FakeQmpServer {
 public:
  explicit FakeQmpServer(std::function<void(int)> script) {
    char tmpl[] = "/tmp/kumo-qmp-XXXXXX";
    dir_ = mkdtemp(tmpl);
    path_ = dir_ + "/qmp.sock";
    listen_fd_ = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_un a{};
    a.sun_family = AF_UNIX;
    snprintf(a.sun_path, sizeof a.sun_path, "%s", path_.c_str());
    bind(listen_fd_, reinterpret_cast<sockaddr*>(&a), sizeof a);
    listen(listen_fd_, 4);
    thread_ = std::thread([this, script] {
      int fd = accept(listen_fd_, nullptr, nullptr);
      if (fd < 0) return;
      script(fd);
      close(fd);
    });
  }
  ~FakeQmpServer() {
    shutdown(listen_fd_, SHUT_RDWR);
    thread_.join();
    close(listen_fd_);
    std::filesystem::remove_all(dir_);
  }
  const std::string& path() const { return path_; }

 private:
  std::string dir_, path_;
  int listen_fd_;
  std::thread thread_;
};

void Send(int fd, const std::string& s) { (void)!write(fd, s.data(), s.size()); }

// Reads one request line.
std::string ReadLine(int fd) {
  std::string line;
  char c;
  while (read(fd, &c, 1) == 1 && c != '\n') line.push_back(c);
  return line;
}

const char kGreeting[] =
    R"({"QMP": {"version": {"qemu": {"micro": 0, "minor": 2, "major": 7}}, "capabilities": []}})"
    "\r\n";

TEST(QmpClientTest, NegotiatesExecutesAndQueuesEvents) {
  std::string seen_caps, seen_status;
  FakeQmpServer server([&](int fd) {
    Send(fd, kGreeting);
    seen_caps = ReadLine(fd);
    Send(fd, "{\"return\": {}, \"id\": 1}\r\n");
    seen_status = ReadLine(fd);
    // An event and a stray reply arrive before the answer; the answer is split in two writes.
    Send(fd, "{\"event\": \"POWERDOWN\", \"timestamp\": {\"seconds\": 1}}\r\n");
    Send(fd, "{\"return\": {}, \"id\": 99}\r\n{\"return\": {\"status\": \"run");
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    Send(fd, "ning\", \"running\": true}, \"id\": 2}\r\n");
    ReadLine(fd);  // bogus command
    Send(fd,
         "{\"error\": {\"class\": \"CommandNotFound\", \"desc\": \"The command nope has not "
         "been found\"}, \"id\": 3}\r\n");
    ReadLine(fd);
  });
  auto client = QmpClient::Connect(server.path(), 2000);
  ASSERT_TRUE(client.ok()) << client.status().message();
  EXPECT_NE(seen_caps.find("\"qmp_capabilities\""), std::string::npos) << seen_caps;
  auto status = (*client)->Execute("query-status");
  ASSERT_TRUE(status.ok()) << status.status().message();
  EXPECT_EQ(GetString(*status, {"status"}), "running");
  EXPECT_NE(seen_status.find("\"query-status\""), std::string::npos);
  auto ev = (*client)->NextEvent(100);
  ASSERT_TRUE(ev.ok());
  EXPECT_EQ(GetString(*ev, {"event"}), "POWERDOWN");
  auto bad = (*client)->Execute("nope");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("CommandNotFound"), std::string::npos);
  EXPECT_EQ((*client)->NextEvent(50).status().code(), Code::kTimeout);
  (*client)->Execute("bye", {}, 200);
}

TEST(QmpClientTest, WaitForEventSkipsOtherEventsAndTimesOut) {
  FakeQmpServer server([&](int fd) {
    Send(fd, kGreeting);
    ReadLine(fd);
    // An event queued while a command runs, then more events on the wire.
    Send(fd, "{\"return\": {}, \"id\": 1}\r\n");
    ReadLine(fd);
    Send(fd, "{\"event\": \"JOB_STATUS_CHANGE\", \"data\": {\"id\": \"j\"}}\r\n");
    Send(fd, "{\"return\": [], \"id\": 2}\r\n");
    Send(fd, "{\"event\": \"BLOCK_JOB_READY\", \"data\": {\"device\": \"other\"}}\r\n");
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    Send(fd, "{\"event\": \"BLOCK_JOB_READY\", \"data\": {\"device\": \"j\"}}\r\n");
    Send(fd, "{\"event\": \"STOP\"}\r\n");
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
  });
  auto client = QmpClient::Connect(server.path(), 2000);
  ASSERT_TRUE(client.ok()) << client.status().message();
  ASSERT_TRUE((*client)->Execute("query-block-jobs").ok());
  auto ready = (*client)->WaitForEvent(
      [](const json::value& e) {
        return GetString(e, {"event"}) == "BLOCK_JOB_READY" &&
               GetString(e, {"data", "device"}) == "j";
      },
      1000);
  ASSERT_TRUE(ready.ok()) << ready.status().message();
  EXPECT_EQ(GetString(*ready, {"data", "device"}), "j");
  // The events before it were dropped, the one after it is still queued.
  auto next = (*client)->NextEvent(100);
  ASSERT_TRUE(next.ok());
  EXPECT_EQ(GetString(*next, {"event"}), "STOP");
  auto start = std::chrono::steady_clock::now();
  auto none = (*client)->WaitForEvent([](const json::value&) { return true; }, 100);
  EXPECT_EQ(none.status().code(), Code::kTimeout);
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::milliseconds(400));
}

TEST(QmpClientTest, OutOfBandIsNegotiatedOnlyWhenAskedAndOffered) {
  const char kOobGreeting[] =
      R"({"QMP": {"version": {"qemu": {"micro": 0, "minor": 2, "major": 7}},)"
      R"( "capabilities": ["oob"]}})"
      "\r\n";
  std::string caps, yank;
  FakeQmpServer server([&](int fd) {
    Send(fd, kOobGreeting);
    caps = ReadLine(fd);
    Send(fd, "{\"return\": {}, \"id\": 1}\r\n");
    yank = ReadLine(fd);
    Send(fd, "{\"return\": {}, \"id\": 2}\r\n");
  });
  auto client = QmpClient::Connect(server.path(), 2000, /*enable_oob=*/true);
  ASSERT_TRUE(client.ok()) << client.status().message();
  EXPECT_TRUE((*client)->oob());
  EXPECT_NE(caps.find(R"("enable":["oob"])"), std::string::npos) << caps;
  auto r = (*client)->ExecuteOob("yank", {{"instances", json::array{}}}, 1000);
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_NE(yank.find(R"("exec-oob":"yank")"), std::string::npos) << yank;

  // Not asked for: plain capabilities, and no out-of-band commands.
  std::string plain_caps;
  FakeQmpServer plain([&](int fd) {
    Send(fd, kOobGreeting);
    plain_caps = ReadLine(fd);
    Send(fd, "{\"return\": {}, \"id\": 1}\r\n");
  });
  auto c2 = QmpClient::Connect(plain.path(), 2000);
  ASSERT_TRUE(c2.ok()) << c2.status().message();
  EXPECT_FALSE((*c2)->oob());
  EXPECT_EQ(plain_caps.find("enable"), std::string::npos) << plain_caps;
  EXPECT_EQ((*c2)->ExecuteOob("yank", {}, 100).status().code(), Code::kUnavailable);
}

TEST(QmpClientTest, SilentServerTimesOutQuickly) {
  FakeQmpServer server([](int fd) { std::this_thread::sleep_for(std::chrono::seconds(1)); });
  auto start = std::chrono::steady_clock::now();
  auto client = QmpClient::Connect(server.path(), 300);
  EXPECT_FALSE(client.ok());
  EXPECT_EQ(client.status().code(), Code::kTimeout);
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::milliseconds(900));
}

TEST(QmpClientTest, MissingSocketIsUnavailable) {
  auto client = QmpClient::Connect("/tmp/kumo-no-such-dir/qmp.sock", 300);
  ASSERT_FALSE(client.ok());
  EXPECT_EQ(client.status().code(), Code::kUnavailable);
}

TEST(QmpClientTest, ClosedConnectionIsReported) {
  FakeQmpServer server([](int fd) {
    Send(fd, kGreeting);
    ReadLine(fd);
    Send(fd, "{\"return\": {}, \"id\": 1}\r\n");
    ReadLine(fd);  // "quit": QEMU closes without answering
  });
  auto client = QmpClient::Connect(server.path(), 2000);
  ASSERT_TRUE(client.ok()) << client.status().message();
  auto r = (*client)->Execute("quit", {}, 2000);
  EXPECT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Code::kUnavailable);
  EXPECT_TRUE((*client)->closed());
}

}  // namespace
}  // namespace kumo::agent
