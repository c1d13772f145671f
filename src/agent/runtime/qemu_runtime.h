// Internal to the runtime module: the QEMU implementation of Runtime, shared by
// qemu_runtime.cc (start, stop, inspect) and qemu_migration.cc (live migration). Everyone else
// creates it with NewQemuRuntime() and sees only runtime.h.
//
// Each VM is a daemonized QEMU whose state lives in state_dir/vms/<ns>_<name>/ (overlay.qcow2,
// seed.img, qmp.sock, console.sock, console.log, qemu.pid, spec.json, qemu.err and the markers
// stopped, incoming, migrated); the files alone are enough to find the VM again after an agent
// restart.
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "agent/runtime/runtime.h"

namespace kumo::agent {

struct VmPaths {
  explicit VmPaths(const std::string& vm_dir)
      : dir(vm_dir),
        overlay(dir + "/overlay.qcow2"),
        seed(dir + "/seed.img"),
        qmp(dir + "/qmp.sock"),
        console_sock(dir + "/console.sock"),
        console_log(dir + "/console.log"),
        pidfile(dir + "/qemu.pid"),
        spec(dir + "/spec.json"),
        err(dir + "/qemu.err"),
        stopped(dir + "/stopped"),
        incoming(dir + "/incoming"),
        migrated(dir + "/migrated") {}
  std::string dir, overlay, seed, qmp, console_sock, console_log, pidfile, spec, err;
  std::string stopped;   // why the VM stopped (a guest power-off or the agent): Succeeded
  std::string incoming;  // a migration target that has not resumed the guest yet: Incoming
  std::string migrated;  // the VM moved to another node ("host:port"): Absent
};

// Kubernetes names: lowercase alphanumerics, '-' and '.'.
bool ValidVmName(const std::string& s);
// The pid in a pid file; 0 when missing or malformed.
int ReadPid(const std::string& path);
// True when `pid` is alive and is the QEMU started with `-name <vm_name>` (not a zombie, not a
// recycled pid).
bool IsOurQemu(int pid, const std::string& vm_name);
// Waits until the process is gone; false on timeout.
bool WaitGone(int pid, const std::string& vm_name, int timeout_ms);

// Owned by whoever called NewQemuRuntime(). Thread-safe: calls for one VM are serialized by a
// per-VM lock (Inspect takes none), calls for different VMs run in parallel.
class QemuRuntime : public Runtime {
 public:
  explicit QemuRuntime(RuntimeOptions options) : options_(std::move(options)) {}

  Status Start(const VmSpec& spec) override;
  Status Stop(const std::string& ns, const std::string& name, int grace_seconds) override;
  VmStatus Inspect(const std::string& ns, const std::string& name) override;
  std::vector<VmRef> List() override;
  Status Cleanup(const std::string& ns, const std::string& name) override;

  // Live migration: qemu_migration.cc.
  StatusOr<MigrationEndpoint> StartIncoming(const VmSpec& spec,
                                            const MigrationEndpoint& listen) override;
  Status MigrateOut(const std::string& ns, const std::string& name, const MigrationEndpoint& target,
                    int timeout_seconds) override;
  Status FinishIncoming(const std::string& ns, const std::string& name,
                        int timeout_seconds) override;

 private:
  static std::string Key(const std::string& ns, const std::string& name) { return ns + "_" + name; }
  std::string DirOf(const std::string& key) const { return options_.state_dir + "/vms/" + key; }
  std::shared_ptr<std::mutex> LockFor(const std::string& key);
  std::string Accel();
  std::string Machine();
  VmStatus InspectDir(const std::string& key);
  StatusOr<std::string> PrepareDisks(const VmSpec& spec, const VmPaths& p);
  std::vector<std::string> QemuArgv(const VmSpec& spec, const VmPaths& p, const std::string& accel,
                                    bool with_seed);
  // Checks what Start needs before touching the disk: names, image, network, socket paths.
  Status ValidateSpec(const VmSpec& spec);
  // Start's work under the VM lock. `incoming`: a fresh overlay, QEMU started paused with
  // "-incoming defer" and the incoming marker written first (Inspect says kIncoming).
  Status StartLocked(const VmSpec& spec, bool incoming);
  Status StopLocked(const std::string& key, int grace_seconds);
  // Migration steps on an open QMP connection (qemu_migration.cc).
  StatusOr<MigrationEndpoint> ExportForIncoming(const std::string& key, const VmPaths& p,
                                                const MigrationEndpoint& listen,
                                                const std::vector<std::string>& drives);
  // The -drive ids whose data a live migration copies: the overlay and the local volumes.
  static std::vector<std::string> DrivesThatMove(const VmSpec& spec);

  const RuntimeOptions options_;
  std::mutex mu_;  // guards the members below
  std::map<std::string, std::shared_ptr<std::mutex>> vm_locks_;
  std::set<std::string> starting_;
  std::string accel_, machine_;
};

}  // namespace kumo::agent
