#include "kumo_process.h"

#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

namespace kumo::bench {
namespace {

namespace fs = std::filesystem;

// For the signal handler, which may only use async-signal-safe calls: fork/exec of rm is one.
volatile pid_t g_child = -1;
char g_dir[4096];

void OnSignal(int sig) {
  pid_t child = g_child;
  if (child > 0) {
    kill(child, SIGKILL);
    waitpid(child, nullptr, 0);
  }
  if (g_dir[0] != '\0') {
    pid_t rm = fork();
    if (rm == 0) {
      execl("/bin/rm", "rm", "-rf", g_dir, static_cast<char*>(nullptr));
      _exit(127);
    }
    if (rm > 0) waitpid(rm, nullptr, 0);
  }
  _exit(128 + sig);
}

}  // namespace

Status KumoProcess::Start(const std::string& binary, int wait_seconds) {
  if (access(binary.c_str(), X_OK) != 0) {
    return Status(Code::kNotFound, "kumo binary " + binary +
                                       " is not executable; build it (cmake --build BUILD "
                                       "--target kumo) or pass --kumo PATH");
  }
  char tmpl[] = "/tmp/kumo-bench-XXXXXX";
  if (mkdtemp(tmpl) == nullptr) {
    return Internal(std::string("cannot create a temp dir: ") + strerror(errno));
  }
  dir_ = tmpl;
  snprintf(g_dir, sizeof(g_dir), "%s", dir_.c_str());
  struct sigaction sa {};
  sa.sa_handler = OnSignal;
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);

  const std::string data_dir = dir_ + "/kumo";
  const std::string log = dir_ + "/kumo.log";
  pid_t pid = fork();
  if (pid < 0) return Internal(std::string("fork failed: ") + strerror(errno));
  if (pid == 0) {
    prctl(PR_SET_PDEATHSIG, SIGKILL);  // never outlive the benchmark
    int fd = open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd >= 0) {
      dup2(fd, STDOUT_FILENO);
      dup2(fd, STDERR_FILENO);
      close(fd);
    }
    execl(binary.c_str(), binary.c_str(), "server", "--data-dir", data_dir.c_str(), "--listen",
          "127.0.0.1:0", "--log-level", "warn", static_cast<char*>(nullptr));
    _exit(127);
  }
  pid_ = pid;
  g_child = pid;

  const std::string kubeconfig = data_dir + "/kubeconfig.yaml";
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(wait_seconds);
  while (std::chrono::steady_clock::now() < deadline) {
    int wstatus = 0;
    if (waitpid(pid_, &wstatus, WNOHANG) == pid_) {
      pid_ = -1;
      g_child = -1;
      return Status(Code::kUnavailable, "kumo server exited before it was ready:\n" + LogTail());
    }
    std::error_code ec;
    if (fs::exists(kubeconfig, ec)) {  // written atomically, so complete once it exists
      StatusOr<client::Kubeconfig> kc = client::LoadKubeconfig(kubeconfig, "");
      if (!kc.ok()) return kc.status();
      kubeconfig_ = std::move(kc).value();
      return Status::Ok();
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return Status(Code::kTimeout, "kumo server wrote no kubeconfig within " +
                                    std::to_string(wait_seconds) + " s:\n" + LogTail());
}

void KumoProcess::Stop() {
  if (pid_ > 0) {
    kill(pid_, SIGTERM);
    bool exited = false;
    for (int i = 0; i < 150 && !exited; ++i) {
      exited = waitpid(pid_, nullptr, WNOHANG) == pid_;
      if (!exited) std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    if (!exited) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
    }
    pid_ = -1;
    g_child = -1;
  }
  if (!dir_.empty()) {
    std::error_code ec;
    fs::remove_all(dir_, ec);
    dir_.clear();
    g_dir[0] = '\0';
  }
}

std::string KumoProcess::LogTail() const {
  std::ifstream in(dir_ + "/kumo.log");
  std::stringstream ss;
  ss << in.rdbuf();
  std::string text = ss.str();
  if (text.size() > 2000) text = text.substr(text.size() - 2000);
  return text;
}

}  // namespace kumo::bench
