// Live migration with non-shared storage for the QEMU runtime. The source mirrors its overlay
// (drive-mirror, sync=top: the base image exists on both nodes) and its local volumes (sync=full,
// into empty files of their size) into NBD exports on the target; shared volumes are opened by
// both and not copied. Once the copies have caught up, RAM and device state follow over a TCP
// migration stream. The source stops in "pre-switchover" and the mirror is ended there, while
// the source's disks are still active: ending it after the migration completed can make the
// source QEMU abort on its inactivated disk. The target starts with -S and only resumes the
// guest in FinishIncoming, after its NBD export is gone.
#include <netdb.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <set>
#include <functional>
#include <vector>

#include "agent/runtime/qemu_runtime.h"
#include "agent/runtime/qmp.h"
#include "common/file_util.h"
#include "common/json.h"
#include "common/log.h"

namespace kumo::agent {
namespace {

namespace fs = std::filesystem;
using std::chrono::milliseconds;
using std::chrono::steady_clock;

// Each disk that moves with the VM (the overlay "disk0", local volumes "volN") has a drive-mirror
// job "migr-<drive>" on the source and an NBD export of the same id, named "<drive>", on the
// target.
constexpr char kJobPrefix[] = "migr-";
constexpr char kDisk[] = "disk0";  // the -drive id of the VM's overlay
// Generous: an Inspect may hold QEMU's one QMP connection for up to 1.5 s.
constexpr int kQmpConnectMs = 5000;
constexpr int kCommandMs = 5000;
constexpr int kPollMs = 50;
// Cleaning up after a failure gets its own budget: the caller's deadline may be spent.
constexpr int kRollbackMs = 20000;
// How long a cancel may take before the connections to the target are yanked.
constexpr int kGentleCancelMs = 3000;
// Out-of-band commands (yank) and the probe whether the monitor answers at all.
constexpr int kOobMs = 2000;
// The guest is paused while the mirror does its final pass in pre-switchover: bound that pause
// by less than the whole migration's timeout.
constexpr int kSwitchoverMirrorMs = 30000;
constexpr int kPortAttempts = 8;
constexpr int64_t kMaxBandwidth = int64_t{1} << 30;  // bytes/s: the node network is the limit
constexpr int kDowntimeLimitMs = 300;

class Deadline {
 public:
  explicit Deadline(int64_t ms) : end_(steady_clock::now() + milliseconds(ms)) {}
  int LeftMs() const {
    auto left = std::chrono::duration_cast<milliseconds>(end_ - steady_clock::now()).count();
    return left < 1 ? 1 : static_cast<int>(std::min<int64_t>(left, 1 << 30));
  }
  bool Expired() const { return steady_clock::now() >= end_; }
  // A command timeout: kCommandMs, or less when the deadline is closer, but never so short
  // that the command which reports the timeout cannot run.
  int CommandMs() const { return std::max(1000, std::min(kCommandMs, LeftMs())); }

 private:
  steady_clock::time_point end_;
};

// Carries the code of `st` with `prefix` in front of its message.
Status Wrap(const std::string& prefix, const Status& st) {
  return Status(st.code(), prefix + ": " + st.message());
}

// IPv6 literals go in brackets inside QEMU's URIs.
std::string UriHost(const std::string& host) {
  return host.find(':') != std::string::npos ? "[" + host + "]" : host;
}

std::string MigrationUri(const std::string& host, int port) {
  return "tcp:" + UriHost(host) + ":" + std::to_string(port);
}

Status ValidateEndpoint(const MigrationEndpoint& ep, bool zero_ports_ok) {
  if (ep.host.empty() || ep.host.find_first_of(",/ \t\n") != std::string::npos) {
    return BadRequest("invalid migration host '" + ep.host + "': use an IP address of the node");
  }
  // An NBD port of 0 is always allowed: at the source it means the VM has no overlay to copy
  // (it boots from a shared volume that both nodes open).
  if (ep.nbd_port < 0 || ep.nbd_port > 65535 || ep.migration_port < (zero_ports_ok ? 0 : 1) ||
      ep.migration_port > 65535) {
    return BadRequest("invalid migration ports " + std::to_string(ep.nbd_port) + "/" +
                      std::to_string(ep.migration_port) +
                      (zero_ports_ok ? " (use 1-65535, or 0 to pick one)" : " (use 1-65535)"));
  }
  return Status::Ok();
}



// A TCP port on `host` that was free a moment ago (QEMU binds it right after).
StatusOr<int> PickFreePort(const std::string& host) {
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
  addrinfo* res = nullptr;
  if (int rc = getaddrinfo(host.c_str(), "0", &hints, &res); rc != 0) {
    return BadRequest("cannot resolve migration host " + host + ": " + gai_strerror(rc));
  }
  int port = 0;
  int fd = socket(res->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd >= 0 && bind(fd, res->ai_addr, res->ai_addrlen) == 0) {
    sockaddr_storage a{};
    socklen_t len = sizeof a;
    if (getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) == 0) {
      port = a.ss_family == AF_INET6 ? ntohs(reinterpret_cast<sockaddr_in6*>(&a)->sin6_port)
                                     : ntohs(reinterpret_cast<sockaddr_in*>(&a)->sin_port);
    }
  }
  const int err = errno;
  if (fd >= 0) close(fd);
  freeaddrinfo(res);
  if (port == 0) {
    return Status(Code::kUnavailable, "cannot bind a port on " + host + ": " + strerror(err) +
                                          " (is it an address of this node?)");
  }
  return port;
}

// True for the events that end the block job `job`.
bool IsJobEnd(const json::value& ev, const std::string& job) {
  const std::string name = GetString(ev, {"event"});
  return (name == "BLOCK_JOB_COMPLETED" || name == "BLOCK_JOB_CANCELLED" ||
          name == "BLOCK_JOB_ERROR") &&
         GetString(ev, {"data", "device"}) == job;
}

// What a job-ending event says went wrong.
std::string JobEndReason(const json::value& ev) {
  const std::string name = GetString(ev, {"event"});
  if (name == "BLOCK_JOB_ERROR") {
    return "I/O error while " + GetString(ev, {"data", "operation"}) + " (action " +
           GetString(ev, {"data", "action"}) + ")";
  }
  if (name == "BLOCK_JOB_CANCELLED") return "the copy was cancelled";
  const std::string error = GetString(ev, {"data", "error"});
  return error.empty() ? "the copy ended early" : error;
}

// The block job `job` as query-block-jobs reports it; null when there is none.
StatusOr<json::value> FindJob(QmpClient& q, const std::string& job, int timeout_ms) {
  KUMO_ASSIGN_OR_RETURN(json::value jobs, q.Execute("query-block-jobs", {}, timeout_ms));
  if (jobs.is_array()) {
    for (const auto& j : jobs.as_array()) {
      if (GetString(j, {"device"}) == job) return j;
    }
  }
  return json::value(nullptr);
}

StatusOr<std::string> VmRunState(QmpClient& q, int timeout_ms) {
  KUMO_ASSIGN_OR_RETURN(json::value st, q.Execute("query-status", {}, timeout_ms));
  return GetString(st, {"status"});
}

// Polls query-status until it is no longer `state`; returns the new state.
StatusOr<std::string> WaitStateLeaves(QmpClient& q, const std::string& state,
                                      const Deadline& deadline) {
  while (true) {
    KUMO_ASSIGN_OR_RETURN(std::string s, VmRunState(q, deadline.CommandMs()));
    if (s != state) return s;
    if (deadline.Expired()) return Status(Code::kTimeout, "still " + state);
    q.DiscardEvents(kPollMs);
  }
}

// The source side of one migration, on an open QMP connection. Not thread-safe; lives for
// one MigrateOut call under the VM lock.
class OutgoingMigration {
 public:
  // One disk to copy: its -drive id and drive-mirror's sync mode ("top" for the overlay, whose
  // base image the target has; "full" for a local volume).
  struct Copy {
    std::string drive;
    std::string sync;
    std::string Job() const { return kJobPrefix + drive; }
  };

  OutgoingMigration(QmpClient& q, const MigrationEndpoint& target, int timeout_seconds,
                    std::vector<Copy> copies)
      : q_(q), target_(target), timeout_s_(timeout_seconds), deadline_(timeout_seconds * 1000LL),
        copies_(std::move(copies)) {}

  // Mirror, migrate, switch over. OK when QEMU reports the migration completed.
  Status Run() {
    KUMO_RETURN_IF_ERROR(CheckIdle());
    if (copies_.empty()) {
      mirror_done_ = true;  // nothing to copy: the disks are shared volumes
    } else {
      if (target_.nbd_port == 0) return BadRequest("the target exports no disk to copy into");
      KUMO_RETURN_IF_ERROR(MirrorDisks());
    }
    return MigrateState();
  }

  // Undoes a failed Run: cancels the migration and the mirror and resumes the guest. Sets
  // `completed` when the migration completed after all (the cancel came too late): the target
  // then has the VM and nothing may be resumed here. Returns what it could not undo.
  Status RollBack(bool& completed) {
    completed = false;
    const Deadline d(kRollbackMs);
    // A monitor that does not answer means QEMU's main loop waits on the target.
    if (!q_.Execute("query-status", {}, kOobMs).ok()) Yank(/*migration=*/true);
    if (migration_started_) {
      (void)q_.Execute("migrate_cancel", {}, d.CommandMs());
      const Deadline gentle(kGentleCancelMs);
      bool yanked = false;
      while (true) {
        auto info = q_.Execute("query-migrate", {}, d.CommandMs());
        if (!info.ok()) return Wrap("cannot query the migration", info.status());
        const std::string s = GetString(*info, {"status"});
        if (s == "completed") {
          completed = true;
          return Status::Ok();
        }
        if (s == "cancelled" || s == "failed" || s.empty() || s == "none") break;
        if (d.Expired()) return Status(Code::kTimeout, "the migration did not cancel (" + s + ")");
        if (!yanked && gentle.Expired()) yanked = Yank(/*migration=*/true);
        q_.DiscardEvents(kPollMs);
      }
    }
    for (const auto& c : copies_) {
      auto job = FindJob(q_, c.Job(), d.CommandMs());
      if (!job.ok()) return Wrap("cannot query the disk copy", job.status());
      if (job->is_null()) continue;
      // force: abandon a ready mirror at once instead of syncing a target we give up on.
      (void)q_.Execute("block-job-cancel", {{"device", c.Job()}, {"force", true}}, d.CommandMs());
      const Deadline gentle(kGentleCancelMs);
      bool yanked = false;
      while (!job->is_null()) {
        if (d.Expired()) return Status(Code::kTimeout, "the disk copy job did not go away");
        if (!yanked && gentle.Expired()) yanked = Yank(/*migration=*/false);
        q_.DiscardEvents(kPollMs);
        job = FindJob(q_, c.Job(), d.CommandMs());
        if (!job.ok()) return Wrap("cannot query the disk copy", job.status());
      }
    }
    // QEMU resumes a guest that ran before a failed migration by itself; make sure.
    auto s = VmRunState(q_, d.CommandMs());
    if (!s.ok()) return Wrap("cannot query the VM", s.status());
    if (*s != "running") {
      auto cont = q_.Execute("cont", {}, d.CommandMs());
      if (!cont.ok()) return Wrap("cannot resume the VM (" + *s + ")", cont.status());
      s = WaitStateLeaves(q_, *s, d);
      if (!s.ok() || *s != "running") {
        return Internal("the VM did not resume: " + (s.ok() ? *s : s.status().message()));
      }
    }
    return Status::Ok();
  }

  // True once Run changed anything (a disk copy, a migration) that RollBack must undo.
  bool touched() const { return touched_; }
  // True when the rollback had to cut the connections to the target.
  bool yanked() const { return yanked_; }

 private:
  // The last resort against a target that hangs (a network partition: TCP gives up only after
  // many minutes): fails the NBD requests in flight, which otherwise keep the mirror job, and
  // with it the guest's disk, waiting; with `migration`, also the migration stream. Chardevs
  // (console, QMP) are left alone; the VM's own disks are files, so every NBD client node
  // belongs to the mirror. Out of band when possible: while QEMU's main loop waits on the
  // target (vm_stop flushes the mirror's target too), in-band commands get no answer. A yank
  // naming an instance that does not exist fails as a whole, so combinations are tried in turn.
  // True when something was yanked.
  bool Yank(bool migration) {
    json::array migration_only{json::object{{"type", "migration"}}};
    json::array both = nbd_nodes_;
    both.push_back(migration_only[0]);
    std::vector<json::array> attempts;
    if (migration && !nbd_nodes_.empty()) attempts.push_back(both);
    if (migration) attempts.push_back(migration_only);
    if (!nbd_nodes_.empty()) attempts.push_back(nbd_nodes_);
    for (const auto& instances : attempts) {
      auto r = q_.oob() ? q_.ExecuteOob("yank", {{"instances", instances}}, kOobMs)
                        : q_.Execute("yank", {{"instances", instances}}, kOobMs);
      if (r.ok()) {
        spdlog::warn("the migration target does not answer: yanked {}", ToJson(instances));
        yanked_ = true;
        return true;
      }
    }
    return false;
  }

  // Remembers the NBD client nodes (the mirror's target) while the monitor answers, for Yank.
  void RememberNbdNodes() {
    auto list = q_.Execute("query-yank", {}, deadline_.CommandMs());
    if (!list.ok() || !list->is_array()) return;
    for (const auto& i : list->as_array()) {
      if (GetString(i, {"type"}) == "block-node") nbd_nodes_.push_back(i);
    }
  }

  // Refuses to start over a migration that is still going; removes a mirror left behind by an
  // earlier attempt that the agent did not see through (it crashed or restarted).
  Status CheckIdle() {
    auto state = VmRunState(q_, deadline_.CommandMs());
    if (!state.ok()) return Wrap("cannot query the VM", state.status());
    if (*state != "running") {
      return Conflict("the VM is " + *state + "; only a running VM can migrate");
    }
    auto info = q_.Execute("query-migrate", {}, deadline_.CommandMs());
    if (!info.ok()) return Wrap("cannot query migrations", info.status());
    const std::string s = GetString(*info, {"status"});
    if (!(s.empty() || s == "none" || s == "completed" || s == "failed" || s == "cancelled")) {
      return Conflict("another migration is in progress (" + s + ")");
    }
    for (const auto& c : copies_) {
      auto job = FindJob(q_, c.Job(), deadline_.CommandMs());
      if (!job.ok()) return Wrap("cannot query block jobs", job.status());
      if (!job->is_null()) {
        spdlog::warn("removing a disk copy left from an earlier migration attempt");
        touched_ = true;
        bool completed = false;
        KUMO_RETURN_IF_ERROR(RollBack(completed));
        break;
      }
    }
    return Status::Ok();
  }

  // True for an event that ends one of the copies.
  bool AnyJobEnd(const json::value& e) const {
    for (const auto& c : copies_) {
      if (IsJobEnd(e, c.Job())) return true;
    }
    return false;
  }

  Status MirrorDisks() {
    touched_ = true;
    // mode=existing, format=raw: write into the target's exports (its qcow2 files).
    for (const auto& c : copies_) {
      const std::string nbd = "nbd:" + UriHost(target_.host) + ":" +
                              std::to_string(target_.nbd_port) + ":exportname=" + c.drive;
      auto r = q_.Execute("drive-mirror",
                          {{"device", c.drive},
                           {"job-id", c.Job()},
                           {"target", nbd},
                           {"format", "raw"},
                           {"mode", "existing"},
                           {"sync", c.sync}},
                          deadline_.CommandMs());
      if (!r.ok()) {
        return Wrap("cannot start copying the disk " + c.drive + " to " + target_.host + ":" +
                        std::to_string(target_.nbd_port) + " (NBD)",
                    r.status());
      }
    }
    std::set<std::string> ready;
    while (ready.size() < copies_.size()) {
      auto ev = q_.WaitForEvent(
          [this](const json::value& e) {
            return AnyJobEnd(e) || GetString(e, {"event"}) == "BLOCK_JOB_READY";
          },
          std::min(1000, deadline_.LeftMs()));
      if (ev.ok()) {
        if (GetString(*ev, {"event"}) == "BLOCK_JOB_READY") {
          ready.insert(GetString(*ev, {"data", "device"}));
          continue;
        }
        return Internal("copying disk " + GetString(*ev, {"data", "device"}) +
                        " failed: " + JobEndReason(*ev));
      }
      if (ev.status().code() != Code::kTimeout) return Wrap("copying the disks", ev.status());
      // No event for a second: make sure the jobs are still there and look at their progress.
      for (const auto& c : copies_) {
        if (ready.count(c.Job())) continue;
        auto job = FindJob(q_, c.Job(), deadline_.CommandMs());
        if (!job.ok()) return Wrap("cannot query the disk copy", job.status());
        if (job->is_null()) return Internal("the copy of disk " + c.drive + " ended without reaching ready");
        if (auto* r = Find(*job, {"ready"}); r && r->is_bool() && r->as_bool()) {
          ready.insert(c.Job());
          continue;
        }
        if (deadline_.Expired()) {
          return Status(Code::kTimeout, "the copy of disk " + c.drive + " did not catch up within " +
                                            std::to_string(timeout_s_) + " s (" +
                                            std::to_string(GetInt(*job, {"offset"})) + " of " +
                                            std::to_string(GetInt(*job, {"len"})) + " bytes)");
        }
      }
    }
    RememberNbdNodes();
    return Status::Ok();
  }

  Status MigrateState() {
    json::array caps{json::object{{"capability", "events"}, {"state", true}},
                     json::object{{"capability", "pause-before-switchover"}, {"state", true}}};
    auto r =
        q_.Execute("migrate-set-capabilities", {{"capabilities", caps}}, deadline_.CommandMs());
    if (!r.ok()) return Wrap("cannot set migration capabilities", r.status());
    r = q_.Execute("migrate-set-parameters",
                   {{"max-bandwidth", kMaxBandwidth}, {"downtime-limit", kDowntimeLimitMs}},
                   deadline_.CommandMs());
    if (!r.ok()) return Wrap("cannot set migration parameters", r.status());
    const std::string uri = MigrationUri(target_.host, target_.migration_port);
    migration_started_ = true;
    r = q_.Execute("migrate", {{"uri", uri}}, deadline_.CommandMs());
    if (!r.ok()) return Wrap("cannot start the migration to " + uri, r.status());
    while (true) {
      auto info = q_.Execute("query-migrate", {}, deadline_.CommandMs());
      if (!info.ok() && info.status().code() == Code::kTimeout) {
        return Status(Code::kTimeout,
                      "QEMU stopped answering during the migration (it waits on the target)");
      }
      if (!info.ok()) return Wrap("cannot query the migration", info.status());
      const std::string s = GetString(*info, {"status"});
      if (s == "completed") return Status::Ok();
      if (s == "failed" || s == "cancelled") {
        const std::string why = GetString(*info, {"error-desc"});
        return Internal("the migration to " + uri + " " + s + (why.empty() ? "" : ": " + why));
      }
      if (s == "pre-switchover") {
        KUMO_RETURN_IF_ERROR(FinishMirror());
        r = q_.Execute("migrate-continue", {{"state", "pre-switchover"}}, deadline_.CommandMs());
        if (!r.ok()) return Wrap("cannot continue the migration", r.status());
        continue;
      }
      if (deadline_.Expired()) {
        return Status(Code::kTimeout,
                      "the migration did not complete within " + std::to_string(timeout_s_) +
                          " s (status " + s + ", " +
                          std::to_string(GetInt(*info, {"ram", "remaining"})) +
                          " bytes of RAM left: the network is too slow, or the guest writes "
                          "memory faster than the network carries it)");
      }
      // The pause between polls also watches the mirror: it may fail while RAM moves.
      if (!mirror_done_) {
        auto ev = q_.WaitForEvent([this](const json::value& e) { return AnyJobEnd(e); }, kPollMs);
        if (ev.ok()) return Internal("copying the disk failed: " + JobEndReason(*ev));
      } else {
        q_.DiscardEvents(kPollMs);
      }
    }
  }

  // In pre-switchover the guest is stopped and the disks are still active: a cancel of the
  // ready mirror copies what is left and ends it without switching the source to the copy.
  Status FinishMirror() {
    if (mirror_done_) return Status::Ok();
    for (const auto& c : copies_) {
      auto r = q_.Execute("block-job-cancel", {{"device", c.Job()}}, deadline_.CommandMs());
      if (!r.ok()) return Wrap("cannot finish the copy of disk " + c.drive, r.status());
    }
    for (size_t ended = 0; ended < copies_.size(); ++ended) {
      auto ev = q_.WaitForEvent([this](const json::value& e) { return AnyJobEnd(e); },
                                std::min(kSwitchoverMirrorMs, deadline_.LeftMs()));
      if (!ev.ok()) return Wrap("finishing the disk copies", ev.status());
      if (GetString(*ev, {"event"}) != "BLOCK_JOB_COMPLETED" ||
          !GetString(*ev, {"data", "error"}).empty()) {
        return Internal("the final copy of disk " + GetString(*ev, {"data", "device"}) +
                        " failed: " + JobEndReason(*ev));
      }
    }
    mirror_done_ = true;
    return Status::Ok();
  }

  QmpClient& q_;
  const MigrationEndpoint target_;
  const int timeout_s_;
  const Deadline deadline_;
  bool touched_ = false;
  bool migration_started_ = false;
  bool mirror_done_ = false;
  bool yanked_ = false;
  json::array nbd_nodes_;  // yank instances of the mirror's NBD client
  const std::vector<Copy> copies_;
};

}  // namespace

namespace {

// Starts the NBD server and exports each of `drives` (writable) under its own name.
Status ExportDrives(QmpClient& q, MigrationEndpoint& ep, const MigrationEndpoint& listen,
                    const std::vector<std::string>& drives) {
  // QEMU cannot tell which port an NBD server on port 0 got: pick one, retry if it was taken.
  for (int attempt = 1;; ++attempt) {
    if (listen.nbd_port == 0) {
      KUMO_ASSIGN_OR_RETURN(ep.nbd_port, PickFreePort(listen.host));
    }
    json::object addr{
        {"type", "inet"},
        {"data", json::object{{"host", ep.host}, {"port", std::to_string(ep.nbd_port)}}}};
    auto r = q.Execute("nbd-server-start", {{"addr", addr}}, kCommandMs);
    if (r.ok()) break;
    if (listen.nbd_port != 0 || attempt >= kPortAttempts ||
        r.status().message().find("in use") == std::string::npos) {
      return Wrap("cannot start the NBD server on " + ep.host + ":" + std::to_string(ep.nbd_port),
                  r.status());
    }
  }
  // block-export-add takes a node name; -drive generates it and it differs per process.
  KUMO_ASSIGN_OR_RETURN(json::value blocks, q.Execute("query-block", {}, kCommandMs));
  for (const auto& drive : drives) {
    std::string node;
    if (blocks.is_array()) {
      for (const auto& b : blocks.as_array()) {
        if (GetString(b, {"device"}) == drive) node = GetString(b, {"inserted", "node-name"});
      }
    }
    if (node.empty()) return Internal("QEMU shows no disk '" + drive + "'");
    auto r = q.Execute("block-export-add",
                       {{"type", "nbd"},
                        {"id", kJobPrefix + drive},
                        {"node-name", node},
                        {"name", drive},
                        {"writable", true}},
                       kCommandMs);
    if (!r.ok()) return Wrap("cannot export disk " + drive + " over NBD", r.status());
  }
  return Status::Ok();
}

StatusOr<MigrationEndpoint> ListenForState(QmpClient& q, MigrationEndpoint ep) {
  json::array caps{json::object{{"capability", "events"}, {"state", true}}};
  auto r = q.Execute("migrate-set-capabilities", {{"capabilities", caps}}, kCommandMs);
  if (!r.ok()) return Wrap("cannot set migration capabilities", r.status());
  // Port 0 lets QEMU bind; query-migrate then shows the port it got.
  r = q.Execute("migrate-incoming", {{"uri", MigrationUri(ep.host, ep.migration_port)}},
                kCommandMs);
  if (!r.ok()) {
    return Wrap(
        "cannot listen for the migration on " + ep.host + ":" + std::to_string(ep.migration_port),
        r.status());
  }
  if (ep.migration_port == 0) {
    KUMO_ASSIGN_OR_RETURN(json::value info, q.Execute("query-migrate", {}, kCommandMs));
    const json::value* addrs = Find(info, {"socket-address"});
    if (addrs && addrs->is_array() && !addrs->as_array().empty()) {
      try {
        ep.migration_port = std::stoi(GetString(addrs->as_array()[0], {"port"}));
      } catch (...) {
      }
    }
    if (ep.migration_port <= 0) {
      return Internal("QEMU did not say which migration port it listens on: " + ToJson(info));
    }
  }
  return ep;
}

}  // namespace

StatusOr<MigrationEndpoint> QemuRuntime::ExportForIncoming(const std::string& key, const VmPaths& p,
                                                           const MigrationEndpoint& listen,
                                                           const std::vector<std::string>& drives) {
  auto qmp = QmpClient::Connect(p.qmp, kQmpConnectMs);
  if (!qmp.ok()) return Wrap("cannot reach QEMU's monitor", qmp.status());
  QmpClient& q = **qmp;
  MigrationEndpoint ep = listen;
  if (!drives.empty()) KUMO_RETURN_IF_ERROR(ExportDrives(q, ep, listen, drives));
  else ep.nbd_port = 0;  // only shared volumes: nothing to copy
  return ListenForState(q, ep);
}

std::vector<std::string> QemuRuntime::DrivesThatMove(const VmSpec& spec) {
  std::vector<std::string> drives;
  if (!spec.image_path.empty()) drives.push_back(kDisk);
  for (size_t i = 0; i < spec.volumes.size(); ++i) {
    if (!spec.volumes[i].shared) drives.push_back("vol" + std::to_string(i));
  }
  return drives;
}


StatusOr<MigrationEndpoint> QemuRuntime::StartIncoming(const VmSpec& spec,
                                                       const MigrationEndpoint& listen) {
  KUMO_RETURN_IF_ERROR(ValidateSpec(spec));
  KUMO_RETURN_IF_ERROR(ValidateEndpoint(listen, /*zero_ports_ok=*/true));
  const std::string key = Key(spec.ns, spec.name);
  const std::string vm = spec.ns + "/" + spec.name;
  const VmPaths p(DirOf(key));
  auto vm_lock = LockFor(key);
  std::lock_guard<std::mutex> lock(*vm_lock);
  const bool existed = fs::exists(p.dir);
  KUMO_RETURN_IF_ERROR(StartLocked(spec, /*incoming=*/true));
  auto ep = ExportForIncoming(key, p, listen, DrivesThatMove(spec));
  if (!ep.ok()) {
    spdlog::warn("VM {}: incoming migration setup failed: {}", vm, ep.status().message());
    (void)StopLocked(key, 0);
    std::error_code ec;
    if (!existed) fs::remove_all(p.dir, ec);
    return Wrap("VM " + vm + ": cannot prepare the incoming migration", ep.status());
  }
  (void)WriteFileAtomic(p.incoming,
                        "waiting for an incoming migration on " + ep->host + " (NBD port " +
                            std::to_string(ep->nbd_port) + ", migration port " +
                            std::to_string(ep->migration_port) + ")\n",
                        0644);
  spdlog::info("VM {}: waiting for an incoming migration on {} (NBD {}, migration {})", vm,
               ep->host, ep->nbd_port, ep->migration_port);
  return ep;
}

Status QemuRuntime::MigrateOut(const std::string& ns, const std::string& name,
                               const MigrationEndpoint& target, int timeout_seconds) {
  const std::string vm = ns + "/" + name;
  if (!ValidVmName(ns) || !ValidVmName(name)) return NotFound("VM " + vm + " does not exist");
  KUMO_RETURN_IF_ERROR(ValidateEndpoint(target, /*zero_ports_ok=*/false));
  if (timeout_seconds <= 0) return BadRequest("migration timeout must be positive");
  const std::string key = Key(ns, name);
  const VmPaths p(DirOf(key));
  auto vm_lock = LockFor(key);
  std::lock_guard<std::mutex> lock(*vm_lock);
  const int pid = ReadPid(p.pidfile);
  if (!IsOurQemu(pid, key)) return NotFound("VM " + vm + " does not run on this node");
  if (fs::exists(p.incoming)) {
    return Conflict("VM " + vm + " is itself a migration target that has not resumed yet");
  }
  // Out-of-band execution: the rollback's yank must work while QEMU's main loop is stuck.
  auto qmp = QmpClient::Connect(p.qmp, kQmpConnectMs, /*enable_oob=*/true);
  if (!qmp.ok()) return Wrap("VM " + vm + ": cannot reach QEMU's monitor", qmp.status());

  const std::string where = target.host + " (NBD port " + std::to_string(target.nbd_port) +
                            ", migration port " + std::to_string(target.migration_port) + ")";
  spdlog::info("VM {}: live migration to {} starts (timeout {} s)", vm, where, timeout_seconds);
  const auto started = steady_clock::now();
  // What moves: the overlay (its base image is on the target too) and the local volumes.
  std::vector<OutgoingMigration::Copy> copies;
  {
    auto record = ReadFileToString(p.spec);
    auto parsed = record.ok() ? ParseJson(*record) : StatusOr<json::value>(record.status());
    if (!parsed.ok()) return Internal("VM " + vm + ": cannot read its spec: " + parsed.status().message());
    VmSpec recorded;
    recorded.image_path = GetString(*parsed, {"image_path"});
    if (const json::value* vols = Find(*parsed, {"volumes"}); vols && vols->is_array()) {
      for (const auto& v : vols->get_array()) {
        recorded.volumes.push_back(
            VolumeFile{GetString(v, {"name"}), GetString(v, {"path"}), GetBool(v, {"shared"})});
      }
    }
    for (const auto& drive : DrivesThatMove(recorded)) {
      copies.push_back({drive, drive == kDisk ? "top" : "full"});
    }
  }
  OutgoingMigration m(**qmp, target, timeout_seconds, std::move(copies));
  Status st = m.Run();
  if (!st.ok() && !m.touched()) {
    return Status(st.code(), "VM " + vm + " cannot migrate: " + st.message());
  }
  if (!st.ok()) {
    bool completed = false;
    Status rb = m.RollBack(completed);
    if (!completed) {
      std::string msg =
          "live migration of VM " + vm + " to " + where + " failed: " + st.message() + ". ";
      if (m.yanked()) msg += "The target stopped answering; the connections to it were cut. ";
      msg += rb.ok() ? "Rolled back: the VM keeps running on this node."
                     : "Rollback incomplete, check the VM on this node: " + rb.message();
      spdlog::warn("{}", msg);
      return Status(st.code(), msg);
    }
    spdlog::info("VM {}: the migration completed while it was being cancelled ({})", vm,
                 st.message());
  }

  // The target has the VM: this QEMU (paused, disks inactive) must never run the guest again.
  // The marker comes first so that Inspect never sees a dead QEMU without an explanation.
  const std::string to = target.host + ":" + std::to_string(target.migration_port);
  if (Status w = WriteFileAtomic(p.migrated, to + "\n", 0644); !w.ok()) {
    spdlog::warn("VM {}: cannot record the migration: {}", vm, w.message());
  }
  (void)(*qmp)->Execute("quit", {}, kCommandMs);
  qmp = Status(Code::kInternal, "closed");  // release the QMP connection
  if (!WaitGone(pid, key, 10000)) {
    spdlog::warn("VM {}: source QEMU pid {} did not quit after the migration; SIGKILL", vm, pid);
    kill(pid, SIGKILL);
    WaitGone(pid, key, 5000);
  }
  std::error_code ec;
  for (const auto& f : {p.pidfile, p.qmp, p.console_sock}) fs::remove(f, ec);
  spdlog::info("VM {}: migrated to {} in {:.1f} s", vm, where,
               std::chrono::duration<double>(steady_clock::now() - started).count());
  return Status::Ok();
}

Status QemuRuntime::FinishIncoming(const std::string& ns, const std::string& name,
                                   int timeout_seconds) {
  const std::string vm = ns + "/" + name;
  if (!ValidVmName(ns) || !ValidVmName(name)) return NotFound("VM " + vm + " does not exist");
  if (timeout_seconds <= 0) return BadRequest("migration timeout must be positive");
  const std::string key = Key(ns, name);
  const VmPaths p(DirOf(key));
  auto vm_lock = LockFor(key);
  std::lock_guard<std::mutex> lock(*vm_lock);
  const bool incoming = fs::exists(p.incoming);
  const int pid = ReadPid(p.pidfile);
  if (!IsOurQemu(pid, key)) {
    if (incoming) {
      return Internal("VM " + vm + ": the migration target's QEMU is gone; the incoming " +
                      "migration failed (stop and clean up this target)");
    }
    return NotFound("VM " + vm + " does not run on this node");
  }
  if (!incoming) return Status::Ok();  // finished before

  auto qmp = QmpClient::Connect(p.qmp, kQmpConnectMs);
  if (!qmp.ok()) return Wrap("VM " + vm + ": cannot reach QEMU's monitor", qmp.status());
  QmpClient& q = **qmp;
  const Deadline deadline(timeout_seconds * 1000LL);
  auto fail = [&](const std::string& what, const Status& st) {
    return Wrap("VM " + vm + ": cannot finish the incoming migration: " + what, st);
  };
  // The target loads the last device state a moment after the source says "completed".
  auto state = WaitStateLeaves(q, "inmigrate", deadline);
  if (!state.ok()) {
    return fail("no complete migration arrived within " + std::to_string(timeout_seconds) +
                    " s (did MigrateOut succeed on the source?)",
                state.status());
  }
  if (*state != "paused" && *state != "running") {
    return Internal("VM " + vm + ": cannot finish the incoming migration: QEMU is " + *state +
                    " after the migration");
  }
  auto exports = q.Execute("query-block-exports", {}, deadline.CommandMs());
  if (!exports.ok()) return fail("query-block-exports", exports.status());
  if (exports->is_array()) {
    for (const auto& e : exports->as_array()) {
      const std::string id = GetString(e, {"id"});
      if (!id.starts_with(kJobPrefix)) continue;
      // hard: drop a connection the source may not have closed yet; it is done with the disk.
      auto r = q.Execute("block-export-del", {{"id", id}, {"mode", "hard"}}, deadline.CommandMs());
      if (!r.ok()) return fail("cannot remove the NBD export " + id, r.status());
    }
  }
  auto r = q.Execute("nbd-server-stop", {}, deadline.CommandMs());
  if (!r.ok() && r.status().message().find("not running") == std::string::npos) {
    return fail("cannot stop the NBD server", r.status());
  }
  if (*state != "running") {
    r = q.Execute("cont", {}, deadline.CommandMs());
    if (!r.ok()) return fail("cannot resume the guest", r.status());
    state = WaitStateLeaves(q, *state, deadline);
    if (!state.ok() || *state != "running") {
      return fail("the guest did not resume",
                  state.ok() ? Internal("QEMU is " + *state) : state.status());
    }
  }
  std::error_code ec;
  fs::remove(p.incoming, ec);
  if (ec) return fail("cannot remove " + p.incoming, Internal(ec.message()));
  spdlog::info("VM {}: incoming migration finished; the guest runs on this node", vm);
  return Status::Ok();
}

}  // namespace kumo::agent
