// Live migration, server side: runs VirtualMachineInstanceMigrations (KubeVirt's
// spec.vmiName). For a new one it checks that the VMI runs, picks a target node with the
// scheduler's placement (never the source), and records the plan in the VMI's
// status.migrationState {migrationUid, sourceNode, targetNode, startTimestamp}. The agents do
// the rest: the target's agent starts an incoming QEMU and publishes targetNodeAddress and
// its ports; the source's agent mirrors the disk and moves the memory, then binds the VMI to
// the target (status.nodeName) with completed=true, or reports failed=true and keeps running.
// This controller mirrors that progress into the migration's status.phase (Pending,
// Scheduled, TargetReady, Succeeded, Failed) and fails migrations that take too long.
#pragma once

#include <chrono>
#include <memory>

#include "common/clock.h"
#include "controller/controller.h"
#include "controller/events.h"
#include "controller/volumes.h"
#include "scheduler/placement.h"
#include "scheduler/scheduling_cache.h"
#include "store/store.h"
#include "store/watch_cache.h"

namespace kumo::scheduler {

struct MigrationOptions {
  std::chrono::seconds timeout{300};  // from scheduling to completion
  Config placement;
};

// Owns its controller threads; the store, cache, recorder and clock must outlive it.
class MigrationController {
 public:
  MigrationController(store::Store& store, store::WatchCache& cache, SchedulingCache& nodes,
                      controller::EventRecorder& events, const Clock& clock,
                      MigrationOptions options = {});
  ~MigrationController();
  void Start();
  void Stop();
  // One pass for the migration at `key` (the runtime calls it; tests call it directly).
  StatusOr<controller::Result> Reconcile(const std::string& key);

 private:
  Status SetPhase(const std::string& key, const std::string& phase, const std::string& message,
                  const json::value* migration_state);

  store::Store& store_;
  store::WatchCache& cache_;
  SchedulingCache& nodes_;
  controller::EventRecorder& events_;
  const Clock& clock_;
  const MigrationOptions options_;
  controller::Volumes volumes_;
  std::unique_ptr<controller::Controller> controller_;
};

}  // namespace kumo::scheduler
