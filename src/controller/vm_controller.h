// The VirtualMachine controller: makes each VM's VirtualMachineInstance exist or not according
// to spec.runStrategy (Always, RerunOnFailure, Once, Manual, Halted) and the start/stop/restart
// requests in status.stateChangeRequests, restarts crashed VMs with back-off, and reports
// status.printableStatus, status.ready, status.created and the Ready condition, as KubeVirt does.
#pragma once

#include <map>
#include <set>
#include <memory>
#include <mutex>

#include "api/kubevirt.h"
#include "common/clock.h"
#include "controller/controller.h"
#include "controller/events.h"
#include "controller/ipam.h"
#include "controller/volumes.h"
#include "store/store.h"
#include "store/watch_cache.h"

namespace kumo::controller {

// The finalizer the node agent removes once a VMI's QEMU is stopped and cleaned up.
inline constexpr char kVmiCleanupFinalizer[] = "kumo.io/vmi-cleanup";

struct VmControllerOptions {
  // Back-off after repeated crashes: first restart immediately, then base, 2*base, ... up to max.
  std::chrono::seconds backoff_base{5};
  std::chrono::seconds backoff_max{300};
  // A VMI that ran this long before failing resets the crash count.
  std::chrono::seconds stable_after{60};
};

// Owns its controller threads; the store, cache and recorder must outlive it.
class VmController {
 public:
  VmController(store::Store& store, store::WatchCache& cache, EventRecorder& events,
               const Clock& clock, VmControllerOptions options = {});
  ~VmController();
  void Start();
  void Stop();

  // Exposed for tests: one reconcile of the VM at `key`.
  StatusOr<Result> Reconcile(const std::string& key);

 private:
  struct Backoff {
    int failures = 0;
    int64_t not_before_us = 0;  // monotonic micros
  };

  Status CreateVmi(const json::value& vm);
  Status DeleteVmi(const json::value& vmi);
  // Creates the VM's DataVolumes (dataVolumeTemplates) and their claims where missing.
  Status EnsureDataVolumes(const json::value& vm);
  Status UpdateStatus(const std::string& key, const json::value& vm, const json::value* vmi,
                      bool backing_off, const std::string& failure);
  Status PopStateChangeRequest(const std::string& key);

  store::Store& store_;
  store::WatchCache& cache_;
  EventRecorder& events_;
  const Clock& clock_;
  const VmControllerOptions options_;
  std::mutex mu_;
  std::map<std::string, Backoff> backoff_;  // by VM key
  Ipam ipam_;
  Volumes volumes_;
  std::unique_ptr<Controller> controller_;
};

// Annotations that choose a VM's address: Calico's fixed-IP annotation on the VM template
// (a JSON list with one address), and Kumo's reservation reference (on the VM or its template).
inline constexpr char kCalicoIpAddrs[] = "cni.projectcalico.org/ipAddrs";
inline constexpr const char* kIpReservationAnnotation = api::kIpReservationAnnotation;
// Set on a VMI: the address its node routes to it.
inline constexpr const char* kVmiIpAnnotation = api::kVmiIpAnnotation;

}  // namespace kumo::controller
