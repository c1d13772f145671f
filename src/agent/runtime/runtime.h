// The VM runtime of a node: runs each VMI as a QEMU process (KVM when a probe shows it really
// runs guests, TCG emulation otherwise), drives it over QMP, and finds running VMs again after
// an agent restart. QEMU processes are daemonized so they outlive the agent.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/status.h"

namespace kumo::agent {

// A persistent volume the VM opens as a disk: a qcow2 file that outlives the VM (the agent
// makes it before Start). With no image, the first volume is the boot disk.
struct VolumeFile {
  std::string name;  // the VMI's volume name
  std::string path;
  // Opened by every node that runs the VM (shared storage): a live migration leaves it in
  // place instead of copying it.
  bool shared = false;
};

// Everything the runtime needs to start one VM.
struct VmSpec {
  std::string ns;    // namespace
  std::string name;  // VMI name
  std::string uid;   // VMI uid: a restarted VMI gets a new uid and fresh overlay
  int vcpus = 1;
  int64_t memory_bytes = 128 << 20;
  std::string image_path;    // base disk image on this node ("" when a volume boots)
  std::string image_format;  // "qcow2" or "raw"
  std::vector<VolumeFile> volumes;
  // cloud-init NoCloud seed; empty user_data means no seed disk.
  std::string user_data;
  std::string meta_data;  // defaults to instance-id/local-hostname from the VMI
  std::string network_config;
  // Guest networking. "user": QEMU user-mode NAT (like KubeVirt's masquerade binding) with
  // host port forwards; "tap": an existing tap device (routed networking).
  std::string network_mode = "user";
  std::string tap_device;
  std::string mac;                                 // "" = derived from the uid
  std::vector<std::pair<int, int>> host_forwards;  // (host port on 127.0.0.1, guest port)
};

enum class VmPhase {
  kRunning,    // QEMU process alive, guest running
  kSucceeded,  // the guest powered itself off
  kFailed,     // QEMU exited or was killed without a guest shutdown
  kAbsent,     // no trace of the VM on this node, or it migrated away (VmStatus::migrated_to)
  kIncoming,   // a live-migration target: QEMU alive, guest not resumed here yet
};

// Where a live-migration target listens: an NBD server that receives the disk while the guest
// runs, and a port that receives RAM and device state. Nothing is encrypted or authenticated:
// use addresses on a trusted node network only.
struct MigrationEndpoint {
  std::string host;        // an address of the target node that the source node can reach
  int nbd_port = 0;        // 0 in StartIncoming: pick a free port
  int migration_port = 0;  // 0 in StartIncoming: pick a free port
};

struct VmStatus {
  VmPhase phase = VmPhase::kAbsent;
  int pid = 0;
  std::string detail;          // QEMU's own error output or exit reason, for Events
  std::string console_log;     // path of the serial console log
  std::string console_socket;  // path of the serial console UNIX socket
  int64_t started_at = 0;      // unix seconds
  bool kvm = false;            // accelerated with KVM (else TCG)
  // Set (with phase kAbsent) once MigrateOut moved the VM away: "host:migration_port".
  std::string migrated_to;
};

struct VmRef {
  std::string ns, name, uid;
};

// Thread-safe.
class Runtime {
 public:
  virtual ~Runtime() = default;
  // Starts the VM: overlay on the image, seed disk, QEMU daemonized with a QMP socket and a
  // serial console (log file + socket). Returns when QEMU runs, or Failed with QEMU's message.
  // AlreadyExists when it is already running.
  virtual Status Start(const VmSpec& spec) = 0;
  // Graceful stop: ACPI powerdown, then a forced quit after `grace_seconds`. OK when absent.
  virtual Status Stop(const std::string& ns, const std::string& name, int grace_seconds) = 0;
  // The VM's current state (reads pid files and asks QMP; never blocks long).
  virtual VmStatus Inspect(const std::string& ns, const std::string& name) = 0;
  // VMs this node knows about (running or with leftover state), for adoption after restart.
  virtual std::vector<VmRef> List() = 0;
  // Removes the overlay, seed, sockets and logs of a stopped VM.
  virtual Status Cleanup(const std::string& ns, const std::string& name) = 0;

  // Live migration with non-shared storage: the disk is copied over NBD while the guest runs,
  // then RAM and device state follow. Three steps, driven by the caller across two nodes:
  //   target: StartIncoming(spec, {host, 0, 0}) -> endpoint
  //   source: MigrateOut(ns, name, endpoint, timeout)   (OK: the target has the VM)
  //   target: FinishIncoming(ns, name, timeout)         (the guest runs on the target)
  // When MigrateOut fails, the VM keeps running on the source; the caller then removes the
  // target with Stop + Cleanup there.

  // Target side: starts QEMU for `spec` (the source's spec; same base image on this node) on a
  // fresh overlay, paused and waiting for the migration, its disk exported writable over NBD on
  // listen.host. Ports 0 are picked here. Returns the endpoint to pass to MigrateOut; Inspect
  // reports kIncoming until FinishIncoming. AlreadyExists when the VM runs here.
  virtual StatusOr<MigrationEndpoint> StartIncoming(const VmSpec& spec,
                                                    const MigrationEndpoint& listen) = 0;
  // Source side: mirrors the disk to `target`, migrates RAM and device state, switches over
  // and quits the source QEMU, all within `timeout_seconds`. OK once the target holds the VM:
  // Inspect here then reports kAbsent with migrated_to set, and Cleanup removes the leftovers.
  // On any failure it rolls back (cancels the migration and the disk copy, resumes the guest)
  // and returns an error saying what went wrong; the VM keeps running here. Blocks Stop of the
  // same VM while it runs; Inspect still answers (kRunning).
  virtual Status MigrateOut(const std::string& ns, const std::string& name,
                            const MigrationEndpoint& target, int timeout_seconds) = 0;
  // Target side, after MigrateOut returned OK on the source: waits (within `timeout_seconds`)
  // until the migrated state is loaded, removes the NBD export and resumes the guest; from then
  // on Inspect reports kRunning. Safe to call again after a partial failure.
  virtual Status FinishIncoming(const std::string& ns, const std::string& name,
                                int timeout_seconds) = 0;
};

struct RuntimeOptions {
  std::string state_dir;  // per-VM directories live under state_dir/vms/<ns>_<name>
  std::string qemu_binary = "qemu-system-x86_64";
  // "auto": probe KVM with a short timeout and fall back to TCG; "kvm"; "tcg".
  std::string accel = "auto";
};

StatusOr<std::unique_ptr<Runtime>> NewQemuRuntime(const RuntimeOptions& options);

// True when KVM really runs a guest here: boots a trivial guest with -enable-kvm under a short
// timeout (on this machine /dev/kvm exists but guests hang, so the probe must time out).
bool ProbeKvm(const std::string& qemu_binary, int timeout_ms);

}  // namespace kumo::agent
