// Helpers for the tests that run real QEMU (TCG) with the tiny image: state directories whose
// QEMUs are killed by pid at the end, process checks, and a shell conversation over a VM's
// serial console socket.
#pragma once

#include <signal.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include "agent/runtime/runtime.h"
#include "common/file_util.h"
#include "common/json.h"

namespace kumo::agent::testing {

// TCG on a loaded 2-core machine is slow: generous.
inline constexpr int kBootTimeoutS = 180;

inline std::string Cmdline(int pid) {
  auto text = ReadFileToString("/proc/" + std::to_string(pid) + "/cmdline");
  return text.ok() ? *text : "";
}

inline bool Alive(int pid) {
  std::string c = Cmdline(pid);
  return !c.empty() && c.find("qemu") != std::string::npos;
}

// A fresh runtime state directory; short, because UNIX socket paths are limited.
inline std::string MakeStateDir() {
  char tmpl[] = "/tmp/kumo-rt-XXXXXX";
  return mkdtemp(tmpl) ? tmpl : "";
}

// Kills every QEMU started under `state_dir` (by the pids in qemu.pid and spec.json, checked
// against the VM's -name), also when a test failed half-way, then removes the directory.
inline void KillQemusAndRemove(const std::string& state_dir) {
  namespace fs = std::filesystem;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(state_dir + "/vms", ec)) {
    std::vector<int> pids;
    if (auto p = ReadFileToString((e.path() / "qemu.pid").string()); p.ok()) {
      pids.push_back(atoi(p->c_str()));
    }
    if (auto s = ReadFileToString((e.path() / "spec.json").string()); s.ok()) {
      if (auto v = ParseJson(*s); v.ok()) {
        if (auto* pid = Find(*v, {"pid"}); pid && pid->is_int64()) {
          pids.push_back(static_cast<int>(pid->as_int64()));
        }
      }
    }
    const std::string name = std::string("-name") + '\0' + e.path().filename().string() + '\0';
    for (int pid : pids) {
      if (pid > 0 && Cmdline(pid).find(name) != std::string::npos) kill(pid, SIGKILL);
    }
  }
  if (!state_dir.empty()) fs::remove_all(state_dir, ec);
}

// A shell conversation over a VM's serial console socket (the tiny image runs a shell there).
// One connection for the object's lifetime; QEMU serves one console client at a time.
class Console {
 public:
  explicit Console(const std::string& socket_path) {
    fd_ = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_un a{};
    a.sun_family = AF_UNIX;
    snprintf(a.sun_path, sizeof a.sun_path, "%s", socket_path.c_str());
    if (connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
      close(fd_);
      fd_ = -1;
    }
  }
  ~Console() {
    if (fd_ >= 0) close(fd_);
  }
  Console(const Console&) = delete;
  Console& operator=(const Console&) = delete;
  bool connected() const { return fd_ >= 0; }

  // Runs `command` in the guest shell and returns its output (without the echoed command),
  // or "<timeout>"/"<closed>" when no answer came within `timeout_s`.
  std::string Run(const std::string& command, int timeout_s = 30) {
    if (fd_ < 0) return "<closed>";
    const std::string n = std::to_string(++count_);
    const std::string tag = "KM" + n + "END";
    // The echoed command line reads K""M<n>END; only the real output has KM<n>END.
    const std::string line = (command.empty() ? ":" : command) + "; echo K\"\"M" + n + "END\n";
    if (send(fd_, line.data(), line.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(line.size())) {
      return "<closed>";
    }
    std::string buf;
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(timeout_s);
    while (buf.find(tag) == std::string::npos) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                      deadline - std::chrono::steady_clock::now())
                      .count();
      if (left <= 0) return "<timeout>";
      timeval tv{static_cast<time_t>(left / 1000), static_cast<suseconds_t>((left % 1000) * 1000)};
      setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
      char chunk[4096];
      ssize_t got = recv(fd_, chunk, sizeof chunk, 0);
      if (got == 0) return "<closed>";
      if (got > 0) buf.append(chunk, static_cast<size_t>(got));
    }
    std::string text;
    for (char c : buf) {
      if (c != '\r') text.push_back(c);
    }
    const std::string echoed = "K\"\"M" + n + "END";
    auto pos = text.rfind(echoed);
    std::string out = pos == std::string::npos ? text : text.substr(pos + echoed.size());
    out = out.substr(0, out.find(tag));
    while (!out.empty() && out.front() == '\n') out.erase(0, 1);
    while (!out.empty() && (out.back() == '\n' || out.back() == ' ')) out.pop_back();
    return out;
  }

 private:
  int fd_ = -1;
  int count_ = 0;
};

}  // namespace kumo::agent::testing
