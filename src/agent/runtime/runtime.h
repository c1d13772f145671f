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

// Everything the runtime needs to start one VM.
struct VmSpec {
  std::string ns;    // namespace
  std::string name;  // VMI name
  std::string uid;   // VMI uid: a restarted VMI gets a new uid and fresh overlay
  int vcpus = 1;
  int64_t memory_bytes = 128 << 20;
  std::string image_path;    // base disk image on this node
  std::string image_format;  // "qcow2" or "raw"
  // cloud-init NoCloud seed; empty user_data means no seed disk.
  std::string user_data;
  std::string meta_data;     // defaults to instance-id/local-hostname from the VMI
  std::string network_config;
  // Guest networking. "user": QEMU user-mode NAT (like KubeVirt's masquerade binding) with
  // host port forwards; "tap": an existing tap device (routed networking).
  std::string network_mode = "user";
  std::string tap_device;
  std::string mac;  // "" = derived from the uid
  std::vector<std::pair<int, int>> host_forwards;  // (host port on 127.0.0.1, guest port)
};

enum class VmPhase {
  kRunning,    // QEMU process alive, guest running
  kSucceeded,  // the guest powered itself off
  kFailed,     // QEMU exited or was killed without a guest shutdown
  kAbsent,     // no trace of the VM on this node
};

struct VmStatus {
  VmPhase phase = VmPhase::kAbsent;
  int pid = 0;
  std::string detail;  // QEMU's own error output or exit reason, for Events
  std::string console_log;     // path of the serial console log
  std::string console_socket;  // path of the serial console UNIX socket
  int64_t started_at = 0;      // unix seconds
  bool kvm = false;            // accelerated with KVM (else TCG)
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
