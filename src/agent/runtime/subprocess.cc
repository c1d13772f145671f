#include "agent/runtime/subprocess.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <map>
#include <thread>

extern char** environ;

namespace kumo::agent {
namespace {

using Clock = std::chrono::steady_clock;

bool IsExecutable(const std::string& path) { return access(path.c_str(), X_OK) == 0; }

// Closes an fd on scope exit.
struct Fd {
  int fd = -1;
  ~Fd() { Reset(); }
  void Reset() {
    if (fd >= 0) close(fd);
    fd = -1;
  }
};

std::vector<std::string> BuildEnv(const std::vector<std::pair<std::string, std::string>>& extra) {
  std::map<std::string, std::string> env;
  for (char** e = environ; e && *e; ++e) {
    std::string kv = *e;
    auto eq = kv.find('=');
    if (eq == std::string::npos) continue;
    env[kv.substr(0, eq)] = kv.substr(eq + 1);
  }
  for (const auto& [k, v] : extra) env[k] = v;
  std::vector<std::string> out;
  out.reserve(env.size());
  for (const auto& [k, v] : env) out.push_back(k + "=" + v);
  return out;
}

int PidfdOpen(pid_t pid) {
#ifdef SYS_pidfd_open
  return static_cast<int>(syscall(SYS_pidfd_open, pid, 0));
#else
  errno = ENOSYS;
  return -1;
#endif
}

// Reads what is available on `fd` into `out`; returns false on EOF or error.
bool Drain(int fd, std::string* out) {
  char buf[8192];
  ssize_t n = read(fd, buf, sizeof buf);
  if (n > 0) {
    out->append(buf, static_cast<size_t>(n));
    return true;
  }
  if (n < 0 && (errno == EINTR || errno == EAGAIN)) return true;
  return false;
}

void DecodeWaitStatus(int wstatus, ProcessResult* r) {
  if (WIFEXITED(wstatus)) {
    r->exit_code = WEXITSTATUS(wstatus);
  } else if (WIFSIGNALED(wstatus)) {
    r->exit_code = -1;
    r->term_signal = WTERMSIG(wstatus);
  }
}

}  // namespace

std::string FindProgram(const std::string& name) {
  if (name.find('/') != std::string::npos) return IsExecutable(name) ? name : "";
  std::string path = getenv("PATH") ? getenv("PATH") : "";
  path += ":/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
  size_t start = 0;
  while (start <= path.size()) {
    size_t end = path.find(':', start);
    if (end == std::string::npos) end = path.size();
    std::string dir = path.substr(start, end - start);
    if (!dir.empty()) {
      std::string candidate = dir + "/" + name;
      if (IsExecutable(candidate)) return candidate;
    }
    start = end + 1;
  }
  return "";
}

std::string TrimOutput(const std::string& text, size_t max_bytes) {
  std::string s = text;
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r' || s.back() == ' ')) s.pop_back();
  if (s.size() > max_bytes) s = "..." + s.substr(s.size() - max_bytes);
  return s;
}

StatusOr<ProcessResult> RunProcess(const std::vector<std::string>& argv,
                                   const RunOptions& options) {
  if (argv.empty()) return BadRequest("RunProcess: empty argv");
  std::string program = FindProgram(argv[0]);
  if (program.empty()) {
    return Status(Code::kUnavailable,
                  "program '" + argv[0] + "' not found; run scripts/install-deps");
  }

  Fd out_r, out_w, err_r, err_w;
  auto make_pipe = [](Fd* r, Fd* w) -> bool {
    int p[2];
    if (pipe2(p, O_CLOEXEC) != 0) return false;
    r->fd = p[0];
    w->fd = p[1];
    return true;
  };
  if ((options.stdout_path.empty() && !make_pipe(&out_r, &out_w)) ||
      (options.stderr_path.empty() && !make_pipe(&err_r, &err_w))) {
    return Internal(std::string("pipe: ") + strerror(errno));
  }

  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
  if (options.stdout_path.empty()) {
    posix_spawn_file_actions_adddup2(&fa, out_w.fd, 1);
  } else {
    posix_spawn_file_actions_addopen(&fa, 1, options.stdout_path.c_str(),
                                     O_WRONLY | O_CREAT | O_TRUNC, 0644);
  }
  if (options.stderr_path.empty()) {
    posix_spawn_file_actions_adddup2(&fa, err_w.fd, 2);
  } else {
    posix_spawn_file_actions_addopen(&fa, 2, options.stderr_path.c_str(),
                                     O_WRONLY | O_CREAT | O_TRUNC, 0644);
  }
  // Daemonized children (QEMU) must not keep our sockets and files open for their lifetime.
  posix_spawn_file_actions_addclosefrom_np(&fa, 3);
  if (!options.cwd.empty()) posix_spawn_file_actions_addchdir_np(&fa, options.cwd.c_str());

  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  sigset_t empty, defaults;
  sigemptyset(&empty);
  sigemptyset(&defaults);
  for (int sig : {SIGPIPE, SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGCHLD, SIGUSR1, SIGUSR2, SIGALRM}) {
    sigaddset(&defaults, sig);
  }
  posix_spawnattr_setsigmask(&attr, &empty);
  posix_spawnattr_setsigdefault(&attr, &defaults);
  posix_spawnattr_setpgroup(&attr, 0);
  posix_spawnattr_setflags(&attr,
                           POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETPGROUP);

  std::vector<std::string> env = BuildEnv(options.env);
  std::vector<char*> envp;
  for (auto& e : env) envp.push_back(e.data());
  envp.push_back(nullptr);
  std::vector<std::string> args = argv;
  std::vector<char*> argp;
  for (auto& a : args) argp.push_back(a.data());
  argp.push_back(nullptr);

  pid_t pid = 0;
  int rc = posix_spawn(&pid, program.c_str(), &fa, &attr, argp.data(), envp.data());
  posix_spawn_file_actions_destroy(&fa);
  posix_spawnattr_destroy(&attr);
  if (rc != 0) return Internal("cannot start " + program + ": " + strerror(rc));
  out_w.Reset();
  err_w.Reset();

  ProcessResult result;
  const auto deadline = Clock::now() + std::chrono::milliseconds(options.timeout_ms);
  Fd pidfd;
  pidfd.fd = PidfdOpen(pid);
  bool exited = false;
  int wstatus = 0;

  bool lost = false;  // someone else reaped it (SIGCHLD ignored): the status is unknown
  auto try_reap = [&]() {
    pid_t w = waitpid(pid, &wstatus, WNOHANG);
    if (w == pid) exited = true;
    if (w < 0 && errno == ECHILD) exited = lost = true;
  };

  while (!exited) {
    auto now = Clock::now();
    if (now >= deadline) {
      result.timed_out = true;
      kill(pid, SIGKILL);
      // A process stuck in the kernel may not die at once; do not wait for it forever.
      for (int i = 0; i < 500 && !exited; ++i) {
        try_reap();
        if (!exited) std::this_thread::sleep_for(std::chrono::milliseconds(10));
      }
      exited = true;
      break;
    }
    int remaining =
        static_cast<int>(
            std::chrono::duration_cast<std::chrono::milliseconds>(deadline - now).count()) +
        1;
    std::vector<pollfd> fds;
    if (out_r.fd >= 0) fds.push_back({out_r.fd, POLLIN, 0});
    if (err_r.fd >= 0) fds.push_back({err_r.fd, POLLIN, 0});
    if (pidfd.fd >= 0) fds.push_back({pidfd.fd, POLLIN, 0});
    // Without a pidfd we poll waitpid every 20 ms.
    int wait_ms = pidfd.fd >= 0 ? remaining : std::min(remaining, 20);
    int n = poll(fds.data(), fds.size(), wait_ms);
    if (n < 0 && errno != EINTR) std::this_thread::sleep_for(std::chrono::milliseconds(20));
    for (const auto& p : fds) {
      if (!(p.revents & (POLLIN | POLLHUP | POLLERR))) continue;
      if (p.fd == out_r.fd && !Drain(out_r.fd, &result.out)) out_r.Reset();
      if (p.fd == err_r.fd && !Drain(err_r.fd, &result.err)) err_r.Reset();
    }
    try_reap();
  }
  // The child is gone; collect what it wrote but do not wait for descendants that may still
  // hold the pipes (a daemonizing program).
  for (Fd* f : {&out_r, &err_r}) {
    std::string* sink = f == &out_r ? &result.out : &result.err;
    while (f->fd >= 0) {
      pollfd p{f->fd, POLLIN, 0};
      if (poll(&p, 1, 0) <= 0 || !Drain(f->fd, sink)) f->Reset();
    }
  }
  if (lost) return Internal("lost the exit status of " + program + " (is SIGCHLD ignored?)");
  DecodeWaitStatus(wstatus, &result);
  return result;
}

StatusOr<ProcessResult> RunChecked(const std::vector<std::string>& argv,
                                   const RunOptions& options) {
  KUMO_ASSIGN_OR_RETURN(ProcessResult r, RunProcess(argv, options));
  if (r.ok()) return r;
  std::string what = argv[0];
  std::string why;
  if (r.timed_out) {
    why = "timed out after " + std::to_string(options.timeout_ms) + " ms";
  } else if (r.exit_code < 0) {
    why = "killed by signal " + std::to_string(r.term_signal);
  } else {
    why = "exited with status " + std::to_string(r.exit_code);
  }
  std::string text = TrimOutput(r.err.empty() ? r.out : r.err);
  return Internal(what + " " + why + (text.empty() ? "" : ": " + text));
}

}  // namespace kumo::agent
