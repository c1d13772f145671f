#include "agent/network/bird_process.h"

#include <signal.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <sstream>
#include <thread>

#include "agent/runtime/subprocess.h"
#include "common/file_util.h"

namespace kumo::agent::net {
namespace {

using Clock = std::chrono::steady_clock;
constexpr int kBirdcTimeoutMs = 10000;
constexpr size_t kMaxSocketPath = 107;

// The process's argv, or empty when it is gone. A zombie counts as gone.
std::vector<std::string> ProcessArgv(int pid) {
  auto stat = ReadFileToString("/proc/" + std::to_string(pid) + "/stat");
  if (!stat.ok()) return {};
  auto paren = stat->rfind(')');
  if (paren == std::string::npos || paren + 2 >= stat->size() || (*stat)[paren + 2] == 'Z') {
    return {};
  }
  auto cmdline = ReadFileToString("/proc/" + std::to_string(pid) + "/cmdline");
  if (!cmdline.ok()) return {};
  std::vector<std::string> argv;
  std::string cur;
  for (char c : *cmdline) {
    if (c == '\0') {
      argv.push_back(cur);
      cur.clear();
    } else {
      cur += c;
    }
  }
  if (!cur.empty()) argv.push_back(cur);
  return argv;
}

std::string StripBanner(const std::string& out) {
  if (out.rfind("BIRD ", 0) == 0) {
    auto nl = out.find('\n');
    if (nl != std::string::npos && nl >= 6 && out.compare(nl - 6, 6, "ready.") == 0) {
      return out.substr(nl + 1);
    }
  }
  return out;
}

}  // namespace

std::vector<BirdProtocol> ParseBirdProtocols(const std::string& text) {
  std::vector<BirdProtocol> out;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream fields(line);
    std::vector<std::string> f;
    std::string w;
    while (fields >> w) f.push_back(w);
    // Name Proto Table State Since [Info...]; "Since" is one token with BIRD's default format.
    if (f.size() < 5 || f[0] == "Name" || f[0] == "BIRD") continue;
    BirdProtocol p{f[0], f[1], f[3], ""};
    for (size_t i = 5; i < f.size(); ++i) p.info += (i > 5 ? " " : "") + f[i];
    out.push_back(std::move(p));
  }
  return out;
}

BirdProcess::BirdProcess(BirdProcessOptions options) : options_(std::move(options)) {}

BirdProcess::~BirdProcess() {
  if (!options_.stop_on_destroy) return;
  Status st = Stop();
  if (!st.ok()) spdlog::warn("BIRD in {}: stop failed: {}", options_.state_dir, st.message());
}

std::string BirdProcess::config_path() const { return options_.state_dir + "/bird.conf"; }
std::string BirdProcess::socket_path() const { return options_.state_dir + "/bird.ctl"; }
std::string BirdProcess::pid_path() const { return options_.state_dir + "/bird.pid"; }
std::string BirdProcess::log_path() const { return options_.state_dir + "/bird.log"; }

int BirdProcess::LivePidLocked() const {
  auto text = ReadFileToString(pid_path());
  if (!text.ok()) return 0;
  int pid = atoi(text->c_str());
  if (pid <= 1) return 0;
  // The pid file may be stale and the number reused: only a `bird` with our config counts.
  auto argv = ProcessArgv(pid);
  if (argv.empty() || std::filesystem::path(argv[0]).filename() !=
                          std::filesystem::path(options_.bird).filename()) {
    return 0;
  }
  for (const auto& a : argv) {
    if (a == config_path()) return pid;
  }
  return 0;
}

bool BirdProcess::running() const {
  std::lock_guard<std::mutex> lock(mu_);
  return LivePidLocked() != 0;
}

int BirdProcess::pid() const {
  std::lock_guard<std::mutex> lock(mu_);
  return LivePidLocked();
}

Status BirdProcess::CheckConfig(const std::string& text) const {
  const std::string candidate = config_path() + ".new";
  KUMO_RETURN_IF_ERROR(WriteFileAtomic(candidate, text, 0644));
  auto r = RunProcess({options_.bird, "-p", "-c", candidate}, {.timeout_ms = kBirdcTimeoutMs});
  std::error_code ec;
  std::filesystem::remove(candidate, ec);
  if (!r.ok()) return r.status();
  if (!r->ok()) {
    return BadRequest("BIRD rejects the generated configuration: " +
                      TrimOutput(r->err.empty() ? r->out : r->err));
  }
  return Status::Ok();
}

Status BirdProcess::Apply(const BirdConfig& config) {
  BirdConfig c = config;
  if (c.log_file.empty()) c.log_file = log_path();
  KUMO_ASSIGN_OR_RETURN(std::string text, RenderBirdConfig(c));
  std::lock_guard<std::mutex> lock(mu_);
  if (options_.state_dir.empty()) return BadRequest("BIRD needs a state directory");
  if (socket_path().size() > kMaxSocketPath) {
    return BadRequest("BIRD state directory path too long for a control socket: " +
                      options_.state_dir);
  }
  if (FindProgram(options_.bird).empty() || FindProgram(options_.birdc).empty()) {
    return Status(Code::kUnavailable, "bird/birdc not found; install the bird2 package");
  }
  std::error_code ec;
  std::filesystem::create_directories(options_.state_dir, ec);
  if (ec) return Internal("create " + options_.state_dir + ": " + ec.message());
  if (LivePidLocked() == 0) return StartLocked(text);
  auto current = ReadFileToString(config_path());
  if (current.ok() && *current == text) return Status::Ok();
  return ReloadLocked(text);
}

Status BirdProcess::StartLocked(const std::string& text) {
  KUMO_RETURN_IF_ERROR(CheckConfig(text));
  KUMO_RETURN_IF_ERROR(WriteFileAtomic(config_path(), text, 0644));
  std::error_code ec;
  std::filesystem::remove(pid_path(), ec);
  std::filesystem::remove(socket_path(), ec);
  std::vector<std::string> argv;
  if (!options_.netns.empty()) argv = {"ip", "netns", "exec", options_.netns};
  argv.insert(argv.end(),
              {options_.bird, "-c", config_path(), "-s", socket_path(), "-P", pid_path()});
  // BIRD forks into the background once its config is loaded; the parent's exit status
  // reports config and socket errors.
  auto r = RunChecked(argv, {.timeout_ms = options_.start_timeout_ms});
  if (!r.ok()) return r.status();
  auto deadline = Clock::now() + std::chrono::milliseconds(options_.start_timeout_ms);
  for (;;) {
    int pid = LivePidLocked();
    if (pid != 0 && std::filesystem::exists(socket_path())) {
      spdlog::info("BIRD runs as pid {}{} with {}", pid,
                   options_.netns.empty() ? "" : " in netns " + options_.netns, config_path());
      return Status::Ok();
    }
    if (Clock::now() > deadline) {
      return Status(Code::kTimeout, "BIRD did not come up within " +
                                        std::to_string(options_.start_timeout_ms) + " ms; see " +
                                        log_path());
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
}

Status BirdProcess::ReloadLocked(const std::string& text) {
  KUMO_RETURN_IF_ERROR(CheckConfig(text));
  auto old = ReadFileToString(config_path());
  KUMO_RETURN_IF_ERROR(WriteFileAtomic(config_path(), text, 0644));
  auto r = RunProcess({options_.birdc, "-s", socket_path(), "configure"},
                      {.timeout_ms = kBirdcTimeoutMs});
  if (r.ok() && r->ok() && r->out.find("Reconfigur") != std::string::npos) {
    spdlog::info("BIRD reloaded {}", config_path());
    return Status::Ok();
  }
  // Keep the file in step with what BIRD runs, so the next Apply retries the reload.
  if (old.ok()) (void)WriteFileAtomic(config_path(), *old, 0644);
  if (!r.ok()) return r.status();
  return Internal("birdc configure failed: " + TrimOutput(StripBanner(r->out + r->err)));
}

StatusOr<std::string> BirdProcess::Birdc(const std::vector<std::string>& command) const {
  std::vector<std::string> argv = {options_.birdc, "-s", socket_path()};
  argv.insert(argv.end(), command.begin(), command.end());
  KUMO_ASSIGN_OR_RETURN(ProcessResult r, RunProcess(argv, {.timeout_ms = kBirdcTimeoutMs}));
  if (!r.ok()) {
    std::string cmd;
    for (const auto& c : command) cmd += (cmd.empty() ? "" : " ") + c;
    return Status(Code::kUnavailable,
                  "birdc " + cmd + ": " + TrimOutput(StripBanner(r.out) + r.err));
  }
  return StripBanner(r.out);
}

StatusOr<std::string> BirdProcess::ShowRoute() const { return Birdc({"show", "route"}); }

StatusOr<std::string> BirdProcess::ShowProtocols() const { return Birdc({"show", "protocols"}); }

StatusOr<std::vector<BirdProtocol>> BirdProcess::Protocols() const {
  KUMO_ASSIGN_OR_RETURN(std::string text, ShowProtocols());
  return ParseBirdProtocols(text);
}

Status BirdProcess::Stop() {
  std::lock_guard<std::mutex> lock(mu_);
  return StopLocked();
}

Status BirdProcess::StopLocked() {
  int pid = LivePidLocked();
  std::error_code ec;
  if (pid != 0) {
    kill(pid, SIGTERM);
    auto deadline = Clock::now() + std::chrono::seconds(5);
    while (!ProcessArgv(pid).empty() && Clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    if (!ProcessArgv(pid).empty()) {
      spdlog::warn("BIRD pid {} ignored SIGTERM; killing it", pid);
      kill(pid, SIGKILL);
      deadline = Clock::now() + std::chrono::seconds(5);
      while (!ProcessArgv(pid).empty() && Clock::now() < deadline) {
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
      }
      if (!ProcessArgv(pid).empty())
        return Internal("BIRD pid " + std::to_string(pid) + " survives SIGKILL");
    }
    spdlog::info("BIRD pid {} stopped", pid);
  }
  std::filesystem::remove(pid_path(), ec);
  std::filesystem::remove(socket_path(), ec);
  return Status::Ok();
}

}  // namespace kumo::agent::net
