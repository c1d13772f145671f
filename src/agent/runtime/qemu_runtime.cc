// The QEMU implementation of Runtime: start, stop, inspect and clean up VMs (the files and
// markers it keeps per VM are listed in qemu_runtime.h; live migration is in qemu_migration.cc).
#include "agent/runtime/qemu_runtime.h"

#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <thread>
#include <tuple>

#include "agent/runtime/cloud_init.h"
#include "agent/runtime/qmp.h"
#include "agent/runtime/subprocess.h"
#include "common/file_util.h"
#include "common/json.h"
#include "common/log.h"

namespace kumo::agent {
namespace {

namespace fs = std::filesystem;
using std::chrono::milliseconds;
using std::chrono::steady_clock;

constexpr int kKvmProbeTimeoutMs = 2500;
constexpr int kLaunchTimeoutMs = 60000;
constexpr int kQmpConnectTimeoutMs = 1500;
constexpr int kQmpCommandTimeoutMs = 1500;
constexpr size_t kMaxUnixPath = 107;  // sizeof(sockaddr_un::sun_path) - 1

// A stable locally administered MAC in QEMU's 52:54:00 range, derived from the VMI uid.
std::string DeriveMac(const std::string& seed) {
  uint64_t h = 1469598103934665603ULL;  // FNV-1a
  for (unsigned char c : seed) {
    h ^= c;
    h *= 1099511628211ULL;
  }
  char mac[18];
  snprintf(mac, sizeof mac, "52:54:00:%02x:%02x:%02x", static_cast<unsigned>((h >> 16) & 0xff),
           static_cast<unsigned>((h >> 8) & 0xff), static_cast<unsigned>(h & 0xff));
  return mac;
}

// QEMU option values separate with ','; a literal comma is written twice.
std::string EscapeOpt(const std::string& s) {
  std::string out;
  for (char c : s) {
    out.push_back(c);
    if (c == ',') out.push_back(',');
  }
  return out;
}

std::string Trimmed(const StatusOr<std::string>& text) {
  return text.ok() ? TrimOutput(*text) : "";
}

}  // namespace

// No '_' (it separates ns and name in the directory name) and nothing that could escape the
// state directory.
bool ValidVmName(const std::string& s) {
  if (s.empty() || s.size() > 253 || s == "." || s == "..") return false;
  for (char c : s) {
    if (!(isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '.')) return false;
  }
  return true;
}

int ReadPid(const std::string& path) {
  auto text = ReadFileToString(path);
  if (!text.ok()) return 0;
  try {
    int pid = std::stoi(*text);
    return pid > 0 ? pid : 0;
  } catch (...) {
    return 0;
  }
}

bool IsOurQemu(int pid, const std::string& vm_name) {
  if (pid <= 0) return false;
  if (kill(pid, 0) != 0 && errno != EPERM) return false;
  // A zombie (killed, not yet reaped by init) has an empty cmdline, so it does not match.
  auto cmdline = ReadFileToString("/proc/" + std::to_string(pid) + "/cmdline");
  if (!cmdline.ok()) return false;
  const std::string needle = std::string("-name") + '\0' + vm_name + '\0';
  return cmdline->find(needle) != std::string::npos;
}

bool WaitGone(int pid, const std::string& vm_name, int timeout_ms) {
  auto deadline = steady_clock::now() + milliseconds(timeout_ms);
  while (IsOurQemu(pid, vm_name)) {
    if (steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(milliseconds(50));
  }
  return true;
}

std::shared_ptr<std::mutex> QemuRuntime::LockFor(const std::string& key) {
  std::lock_guard<std::mutex> lock(mu_);
  auto& m = vm_locks_[key];
  if (!m) m = std::make_shared<std::mutex>();
  return m;
}

std::string QemuRuntime::Accel() {
  std::lock_guard<std::mutex> lock(mu_);
  if (accel_.empty()) {
    if (options_.accel == "auto") {
      accel_ = ProbeKvm(options_.qemu_binary, kKvmProbeTimeoutMs) ? "kvm" : "tcg";
    } else {
      accel_ = options_.accel;
    }
  }
  return accel_;
}

std::string QemuRuntime::Machine() {
  std::lock_guard<std::mutex> lock(mu_);
  if (machine_.empty()) {
    auto r = RunProcess({options_.qemu_binary, "-machine", "help"}, {.timeout_ms = 10000});
    machine_ = (r.ok() && r->out.find("q35") != std::string::npos) ? "q35" : "pc";
  }
  return machine_;
}

StatusOr<std::string> QemuRuntime::PrepareDisks(const VmSpec& spec, const VmPaths& p) {
  if (spec.image_path.empty() || fs::exists(p.overlay)) return std::string();
  std::string image = fs::absolute(spec.image_path).lexically_normal().string();
  std::string format = spec.image_format;
  if (format.empty()) {
    auto info = RunChecked({"qemu-img", "info", "--output=json", image}, {.timeout_ms = 30000});
    if (!info.ok()) return info.status();
    auto v = ParseJson(info->out);
    format = v.ok() ? GetString(*v, {"format"}, "raw") : "raw";
  }
  auto r =
      RunChecked({"qemu-img", "create", "-q", "-f", "qcow2", "-F", format, "-b", image, p.overlay},
                 {.timeout_ms = 60000});
  if (!r.ok()) {
    std::error_code ec;
    fs::remove(p.overlay, ec);
    return r.status();
  }
  return format;
}

std::vector<std::string> QemuRuntime::QemuArgv(const VmSpec& spec, const VmPaths& p,
                                               const std::string& accel, bool with_seed) {
  const int64_t mib = std::max<int64_t>(16, spec.memory_bytes >> 20);
  // clang-format off
  std::vector<std::string> a = {
      options_.qemu_binary,
      "-name", Key(spec.ns, spec.name),  // operators find the VM with ps
      "-daemonize", "-pidfile", p.pidfile,
      // A guest power-off leaves QEMU alive in status "shutdown": how Succeeded is told
      // from Failed, even after an agent restart.
      "-no-shutdown",
      "-nodefaults", "-no-user-config", "-display", "none",
      "-machine", Machine(),
      "-accel", accel,
      "-smp", std::to_string(std::max(1, spec.vcpus)),
      "-m", std::to_string(mib) + "M",
  };
  // clang-format on
  int boot = 1;
  if (!spec.image_path.empty()) {
    a.insert(a.end(), {"-drive", "file=" + EscapeOpt(p.overlay) +
                                     ",format=qcow2,if=none,id=disk0,cache=writeback",
                       "-device", "virtio-blk-pci,drive=disk0,bootindex=" + std::to_string(boot++)});
  }
  for (size_t i = 0; i < spec.volumes.size(); ++i) {
    const std::string id = "vol" + std::to_string(i);
    a.insert(a.end(), {"-drive", "file=" + EscapeOpt(spec.volumes[i].path) +
                                     ",format=qcow2,if=none,id=" + id + ",cache=writeback",
                       "-device", "virtio-blk-pci,drive=" + id + ",bootindex=" + std::to_string(boot++)});
  }
  if (with_seed) {
    a.insert(a.end(),
             {"-drive", "file=" + EscapeOpt(p.seed) + ",format=raw,if=none,id=seed0,readonly=on",
              "-device", "virtio-blk-pci,drive=seed0"});
  }
  a.insert(a.end(),
           {"-chardev",
            "socket,id=ser0,path=" + EscapeOpt(p.console_sock) +
                ",server=on,wait=off,logfile=" + EscapeOpt(p.console_log),
            "-serial", "chardev:ser0", "-qmp", "unix:" + EscapeOpt(p.qmp) + ",server=on,wait=off"});
  const std::string mac =
      spec.mac.empty() ? DeriveMac(spec.uid + "/" + Key(spec.ns, spec.name)) : spec.mac;
  if (spec.network_mode == "tap") {
    a.insert(a.end(), {"-netdev", "tap,id=net0,ifname=" + EscapeOpt(spec.tap_device) +
                                      ",script=no,downscript=no"});
  } else {
    std::string netdev = "user,id=net0";
    for (const auto& [host, guest] : spec.host_forwards) {
      netdev += ",hostfwd=tcp:127.0.0.1:" + std::to_string(host) + "-:" + std::to_string(guest);
    }
    a.insert(a.end(), {"-netdev", netdev});
  }
  // romfile= drops the iPXE option ROM: nothing network-boots, and boot is faster.
  a.insert(a.end(), {"-device", "virtio-net-pci,netdev=net0,mac=" + mac + ",romfile="});
  return a;
}

Status QemuRuntime::ValidateSpec(const VmSpec& spec) {
  if (!ValidVmName(spec.ns) || !ValidVmName(spec.name)) {
    return BadRequest("invalid VM namespace/name '" + spec.ns + "/" + spec.name +
                      "': use lowercase letters, digits, '-' and '.'");
  }
  if (spec.image_path.empty() && spec.volumes.empty()) {
    return BadRequest("VM " + spec.ns + "/" + spec.name + ": no image and no volume to boot from");
  }
  for (const auto& v : spec.volumes) {
    if (v.path.empty() || v.path[0] != '/' || v.path.find(',') != std::string::npos) {
      return BadRequest("VM " + spec.ns + "/" + spec.name + ": volume " + v.name +
                        " needs an absolute path without ','");
    }
  }
  if (spec.network_mode != "user" && spec.network_mode != "tap") {
    return BadRequest("unknown network mode '" + spec.network_mode + "' (use user or tap)");
  }
  if (spec.network_mode == "tap" && spec.tap_device.empty()) {
    return BadRequest("network mode tap needs a tap device");
  }
  for (const auto& [host, guest] : spec.host_forwards) {
    if (host <= 0 || host > 65535 || guest <= 0 || guest > 65535) {
      return BadRequest("invalid port forward " + std::to_string(host) + "->" +
                        std::to_string(guest));
    }
  }
  const VmPaths p(DirOf(Key(spec.ns, spec.name)));
  if (p.qmp.size() > kMaxUnixPath || p.console_sock.size() > kMaxUnixPath) {
    return BadRequest("socket path " + p.console_sock + " is longer than " +
                      std::to_string(kMaxUnixPath) + " bytes; use a shorter state dir or name");
  }
  return Status::Ok();
}

Status QemuRuntime::Start(const VmSpec& spec) {
  KUMO_RETURN_IF_ERROR(ValidateSpec(spec));
  auto vm_lock = LockFor(Key(spec.ns, spec.name));
  std::lock_guard<std::mutex> lock(*vm_lock);
  return StartLocked(spec, /*incoming=*/false);
}

Status QemuRuntime::StartLocked(const VmSpec& spec, bool incoming) {
  const std::string key = Key(spec.ns, spec.name);
  const VmPaths p(DirOf(key));
  VmStatus current = InspectDir(key);
  if (current.phase == VmPhase::kRunning || current.phase == VmPhase::kIncoming ||
      (current.phase == VmPhase::kSucceeded && current.pid > 0)) {
    return AlreadyExists("VM " + spec.ns + "/" + spec.name + " already runs (pid " +
                         std::to_string(current.pid) + ")");
  }
  {
    std::lock_guard<std::mutex> l(mu_);
    starting_.insert(key);
  }
  struct Unmark {
    QemuRuntime* rt;
    std::string key;
    ~Unmark() {
      std::lock_guard<std::mutex> l(rt->mu_);
      rt->starting_.erase(key);
    }
  } unmark{this, key};

  std::error_code ec;
  const bool fresh = !fs::exists(p.dir);
  fs::create_directories(p.dir, ec);
  if (ec) return Internal("cannot create " + p.dir + ": " + ec.message());
  // A new uid is a new VMI: it starts from a fresh overlay. So does a migration target (the
  // source mirrors only its own overlay onto it, so older content would show through), and a
  // VM that migrated away (its overlay here is stale).
  bool fresh_overlay = incoming || fs::exists(p.migrated);
  if (auto old = ReadFileToString(p.spec); old.ok()) {
    auto v = ParseJson(*old);
    fresh_overlay = fresh_overlay || !v.ok() || GetString(*v, {"uid"}) != spec.uid;
  }
  if (fresh_overlay) fs::remove(p.overlay, ec);
  for (const auto& f :
       {p.pidfile, p.stopped, p.incoming, p.migrated, p.qmp, p.console_sock, p.err, p.seed}) {
    fs::remove(f, ec);
  }
  auto fail = [&](Status st) {
    if (fresh) fs::remove_all(p.dir, ec);
    spdlog::warn("VM {}/{}: start failed: {}", spec.ns, spec.name, st.message());
    return st;
  };

  auto disks = PrepareDisks(spec, p);
  if (!disks.ok()) {
    return fail(Internal("VM " + spec.ns + "/" + spec.name +
                         ": cannot create the disk overlay: " + disks.status().message()));
  }
  const bool with_seed = !spec.user_data.empty();
  if (with_seed) {
    NoCloudSeed seed{spec.meta_data.empty() ? DefaultMetaData(spec.uid, spec.name) : spec.meta_data,
                     spec.user_data, spec.network_config};
    Status st = WriteNoCloudSeed(p.seed, seed);
    if (!st.ok()) return fail(st);
  }

  const std::string accel = Accel();
  std::vector<std::string> argv = QemuArgv(spec, p, accel, with_seed);
  if (incoming) {
    // -S: the guest must not run before the agent resumes it in FinishIncoming, after the
    // NBD export (which the guest's disk still serves) is gone.
    argv.insert(argv.end(), {"-incoming", "defer", "-S"});
    // Written before QEMU starts, so that Inspect never mistakes the target for a running VM.
    Status st = WriteFileAtomic(p.incoming, "waiting for an incoming migration\n", 0644);
    if (!st.ok()) return fail(st);
  }
  const int64_t now = std::chrono::duration_cast<std::chrono::seconds>(
                          std::chrono::system_clock::now().time_since_epoch())
                          .count();
  json::array forwards;
  for (const auto& [h, g] : spec.host_forwards) forwards.push_back(json::array{h, g});
  json::array jargv;
  for (const auto& s : argv) jargv.push_back(json::string(s));
  json::array volumes;
  for (const auto& v : spec.volumes) {
    volumes.push_back(json::object{{"name", v.name}, {"path", v.path}, {"shared", v.shared}});
  }
  json::object record{{"ns", spec.ns},
                      {"name", spec.name},
                      {"uid", spec.uid},
                      {"vcpus", spec.vcpus},
                      {"memory_bytes", spec.memory_bytes},
                      {"image_path", spec.image_path},
                      {"image_format", spec.image_format},
                      {"network_mode", spec.network_mode},
                      {"tap_device", spec.tap_device},
                      {"host_forwards", forwards},
                      {"seed", with_seed},
                      {"volumes", std::move(volumes)},
                      {"accel", accel},
                      {"started_at", now},
                      {"argv", jargv}};
  Status st = WriteFileAtomic(p.spec, ToJson(record) + "\n", 0644);
  if (!st.ok()) return fail(st);

  spdlog::info("VM {}/{}: starting QEMU ({}, {} vCPU, {} MiB){}", spec.ns, spec.name, accel,
               spec.vcpus, spec.memory_bytes >> 20, incoming ? " for an incoming migration" : "");
  auto r = RunProcess(
      argv, {.timeout_ms = kLaunchTimeoutMs, .stdout_path = "/dev/null", .stderr_path = p.err});
  if (!r.ok()) return fail(r.status());
  const std::string qemu_err = Trimmed(ReadFileToString(p.err));
  if (!r->ok()) {
    std::string why = qemu_err.empty()
                          ? (r->timed_out ? "timed out" : "exit " + std::to_string(r->exit_code))
                          : qemu_err;
    return fail(Internal("QEMU failed to start VM " + spec.ns + "/" + spec.name + ": " + why));
  }
  const int pid = ReadPid(p.pidfile);
  if (!IsOurQemu(pid, key)) {
    return fail(Internal("QEMU for VM " + spec.ns + "/" + spec.name +
                         " exited right after starting" +
                         (qemu_err.empty() ? "" : ": " + qemu_err)));
  }
  record["pid"] = pid;
  st = WriteFileAtomic(p.spec, ToJson(record) + "\n", 0644);
  if (!st.ok()) return st;
  spdlog::info("VM {}/{}: QEMU runs as pid {}", spec.ns, spec.name, pid);
  return Status::Ok();
}

VmStatus QemuRuntime::InspectDir(const std::string& key) {
  const VmPaths p(DirOf(key));
  VmStatus st;
  if (!fs::is_directory(p.dir)) return st;  // kAbsent
  st.console_log = p.console_log;
  st.console_socket = p.console_sock;
  int recorded_pid = 0;
  if (auto text = ReadFileToString(p.spec); text.ok()) {
    if (auto v = ParseJson(*text); v.ok()) {
      st.kvm = GetString(*v, {"accel"}) == "kvm";
      if (auto* t = Find(*v, {"started_at"}); t && t->is_int64()) st.started_at = t->as_int64();
      if (auto* pid = Find(*v, {"pid"}); pid && pid->is_int64()) {
        recorded_pid = static_cast<int>(pid->as_int64());
      }
    }
  }
  int pid = ReadPid(p.pidfile);
  if (pid == 0) pid = recorded_pid;
  const bool incoming = fs::exists(p.incoming);
  if (IsOurQemu(pid, key)) {
    st.pid = pid;
    if (incoming) {
      // No QMP here: FinishIncoming may hold the one QMP connection for a while.
      st.phase = VmPhase::kIncoming;
      st.detail = "live-migration target: the guest has not resumed on this node yet";
      return st;
    }
    st.phase = VmPhase::kRunning;
    auto qmp = QmpClient::Connect(p.qmp, kQmpConnectTimeoutMs);
    if (!qmp.ok()) {
      st.detail = "QEMU runs but QMP did not answer: " + qmp.status().message();
      return st;
    }
    auto status = (*qmp)->Execute("query-status", {}, kQmpCommandTimeoutMs);
    if (!status.ok()) {
      st.detail = "QEMU runs but query-status failed: " + status.status().message();
      return st;
    }
    const std::string s = GetString(*status, {"status"});
    if (s == "shutdown") {
      st.phase = VmPhase::kSucceeded;
      st.detail = "the guest powered off";
      // Remember it, so the phase survives QEMU being stopped or dying later.
      if (!fs::exists(p.stopped)) (void)WriteFileAtomic(p.stopped, st.detail, 0644);
    } else if (s == "internal-error" || s == "guest-panicked") {
      st.phase = VmPhase::kFailed;
      st.detail = "guest stopped: " + s;
    } else if (s != "running") {
      st.detail = "QEMU status: " + s;
    }
    return st;
  }
  if (auto marker = ReadFileToString(p.migrated); marker.ok()) {
    st.phase = VmPhase::kAbsent;
    st.migrated_to = TrimOutput(*marker);
    st.detail = "migrated to " + st.migrated_to;
    return st;
  }
  if (auto marker = ReadFileToString(p.stopped); marker.ok()) {
    st.phase = VmPhase::kSucceeded;
    st.detail = TrimOutput(*marker);
    return st;
  }
  {
    std::lock_guard<std::mutex> l(mu_);
    if (starting_.count(key)) {
      st.phase = incoming ? VmPhase::kIncoming : VmPhase::kRunning;
      st.detail = "starting";
      return st;
    }
  }
  st.phase = VmPhase::kFailed;
  if (incoming) {
    st.detail = "the incoming migration did not finish: the target QEMU is gone" +
                (pid > 0 ? " (pid " + std::to_string(pid) + ")" : std::string());
  } else if (pid > 0) {
    st.detail = "QEMU exited unexpectedly (pid " + std::to_string(pid) + ")";
  } else {
    std::string err = Trimmed(ReadFileToString(p.err));
    st.detail = err.empty() ? "QEMU is not running" : "QEMU failed to start: " + err;
  }
  return st;
}

VmStatus QemuRuntime::Inspect(const std::string& ns, const std::string& name) {
  if (!ValidVmName(ns) || !ValidVmName(name)) return VmStatus{};
  return InspectDir(Key(ns, name));
}

Status QemuRuntime::Stop(const std::string& ns, const std::string& name, int grace_seconds) {
  if (!ValidVmName(ns) || !ValidVmName(name)) return Status::Ok();  // such a VM cannot exist
  const std::string key = Key(ns, name);
  auto vm_lock = LockFor(key);
  std::lock_guard<std::mutex> lock(*vm_lock);
  return StopLocked(key, grace_seconds);
}

Status QemuRuntime::StopLocked(const std::string& key, int grace_seconds) {
  const VmPaths p(DirOf(key));
  std::error_code ec;
  if (!fs::is_directory(p.dir)) return Status::Ok();
  int pid = ReadPid(p.pidfile);
  if (pid == 0) {
    if (auto text = ReadFileToString(p.spec); text.ok()) {
      if (auto v = ParseJson(*text); v.ok()) {
        if (auto* j = Find(*v, {"pid"}); j && j->is_int64()) pid = static_cast<int>(j->as_int64());
      }
    }
  }
  if (!IsOurQemu(pid, key)) {
    fs::remove(p.pidfile, ec);
    return Status::Ok();
  }

  std::string reason;
  // A migration target that never resumed has no guest to power down; it is not Succeeded
  // either: the incoming marker stays and Inspect reports the unfinished migration.
  const bool incoming = fs::exists(p.incoming);
  auto qmp = QmpClient::Connect(p.qmp, kQmpConnectTimeoutMs + 1000);
  if (qmp.ok()) {
    QmpClient& q = **qmp;
    auto status = q.Execute("query-status", {}, kQmpCommandTimeoutMs);
    bool down = status.ok() && GetString(*status, {"status"}) == "shutdown";
    if (down) reason = "the guest powered off";
    if (incoming) reason = "incoming migration abandoned";
    if (!down && !incoming && grace_seconds > 0) {
      spdlog::info("VM {}: ACPI power-down, up to {} s", key, grace_seconds);
      (void)q.Execute("system_powerdown", {}, kQmpCommandTimeoutMs);
      const auto deadline = steady_clock::now() + std::chrono::seconds(grace_seconds);
      while (!down && steady_clock::now() < deadline && !q.closed()) {
        auto left = std::chrono::duration_cast<milliseconds>(deadline - steady_clock::now());
        auto ev = q.NextEvent(static_cast<int>(std::min<int64_t>(1000, left.count() + 1)));
        if (ev.ok()) {
          down = GetString(*ev, {"event"}) == "SHUTDOWN";
          continue;
        }
        if (!IsOurQemu(pid, key)) break;
        auto s = q.Execute("query-status", {}, kQmpCommandTimeoutMs);
        down = s.ok() && GetString(*s, {"status"}) == "shutdown";
      }
      if (down) reason = "the guest powered off (ACPI power-down)";
    }
    if (reason.empty()) {
      reason = "stopped by the agent (forced after " + std::to_string(grace_seconds) + " s)";
    }
    if (!incoming) (void)WriteFileAtomic(p.stopped, reason, 0644);
    (void)q.Execute("quit", {}, kQmpCommandTimeoutMs);
  } else {
    reason = "stopped by the agent (SIGTERM; QMP unavailable)";
    if (!incoming) (void)WriteFileAtomic(p.stopped, reason, 0644);
    kill(pid, SIGTERM);
  }
  qmp = Status(Code::kInternal, "closed");  // release the QMP connection
  if (!WaitGone(pid, key, 5000)) {
    spdlog::warn("VM {}: QEMU pid {} did not quit; SIGKILL", key, pid);
    kill(pid, SIGKILL);
    if (!WaitGone(pid, key, 5000)) {
      return Internal("QEMU pid " + std::to_string(pid) + " of VM " + key + " survives SIGKILL");
    }
  }
  fs::remove(p.pidfile, ec);
  fs::remove(p.qmp, ec);
  fs::remove(p.console_sock, ec);
  spdlog::info("VM {}: stopped ({})", key, reason);
  return Status::Ok();
}

std::vector<VmRef> QemuRuntime::List() {
  std::vector<VmRef> out;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(options_.state_dir + "/vms", ec)) {
    if (!e.is_directory()) continue;
    const std::string dir_name = e.path().filename().string();
    VmRef ref;
    if (auto text = ReadFileToString((e.path() / "spec.json").string()); text.ok()) {
      if (auto v = ParseJson(*text); v.ok()) {
        ref = {GetString(*v, {"ns"}), GetString(*v, {"name"}), GetString(*v, {"uid"})};
      }
    }
    if (ref.ns.empty() || ref.name.empty()) {
      auto sep = dir_name.find('_');
      if (sep == std::string::npos) continue;
      ref.ns = dir_name.substr(0, sep);
      ref.name = dir_name.substr(sep + 1);
    }
    out.push_back(std::move(ref));
  }
  std::sort(out.begin(), out.end(), [](const VmRef& a, const VmRef& b) {
    return std::tie(a.ns, a.name) < std::tie(b.ns, b.name);
  });
  return out;
}

Status QemuRuntime::Cleanup(const std::string& ns, const std::string& name) {
  if (!ValidVmName(ns) || !ValidVmName(name)) return Status::Ok();
  const std::string key = Key(ns, name);
  auto vm_lock = LockFor(key);
  std::lock_guard<std::mutex> lock(*vm_lock);
  const VmPaths p(DirOf(key));
  if (!fs::is_directory(p.dir)) return Status::Ok();
  int pid = ReadPid(p.pidfile);
  if (IsOurQemu(pid, key)) {
    return Conflict("VM " + ns + "/" + name + " is still running (pid " + std::to_string(pid) +
                    "); stop it before cleaning up");
  }
  std::error_code ec;
  fs::remove_all(p.dir, ec);
  if (ec) return Internal("cannot remove " + p.dir + ": " + ec.message());
  return Status::Ok();
}

StatusOr<std::unique_ptr<Runtime>> NewQemuRuntime(const RuntimeOptions& options) {
  if (options.state_dir.empty()) return BadRequest("runtime: state_dir is required");
  if (options.accel != "auto" && options.accel != "kvm" && options.accel != "tcg") {
    return BadRequest("runtime: accel must be auto, kvm or tcg, not '" + options.accel + "'");
  }
  if (FindProgram(options.qemu_binary).empty()) {
    return Status(Code::kUnavailable,
                  "runtime: " + options.qemu_binary + " not found; run scripts/install-deps");
  }
  if (FindProgram("qemu-img").empty()) {
    return Status(Code::kUnavailable, "runtime: qemu-img not found; run scripts/install-deps");
  }
  RuntimeOptions opts = options;
  opts.state_dir = fs::absolute(options.state_dir).lexically_normal().string();
  while (opts.state_dir.size() > 1 && opts.state_dir.back() == '/') opts.state_dir.pop_back();
  std::error_code ec;
  fs::create_directories(opts.state_dir + "/vms", ec);
  if (ec) return Internal("runtime: cannot create " + opts.state_dir + "/vms: " + ec.message());
  return std::unique_ptr<Runtime>(new QemuRuntime(std::move(opts)));
}

}  // namespace kumo::agent
