// The scheduler: binds pending VirtualMachineInstances to nodes (status.nodeName, phase
// Scheduled) using placement.h, and reports why a VMI cannot be placed (condition
// PodScheduled=False/Unschedulable and a FailedScheduling event).
#pragma once

#include <memory>
#include <mutex>
#include <set>
#include <string>

#include "common/clock.h"
#include "controller/controller.h"
#include "controller/events.h"
#include "controller/volumes.h"
#include "scheduler/placement.h"
#include "scheduler/scheduling_cache.h"
#include "store/store.h"
#include "store/watch_cache.h"

namespace kumo::scheduler {

// Owns its controller threads; the store, caches and recorder must outlive it.
class Scheduler {
 public:
  Scheduler(store::Store& store, store::WatchCache& cache, SchedulingCache& nodes,
            controller::EventRecorder& events, const Clock& clock, Config config = {});
  ~Scheduler();
  void Start();
  void Stop();

 private:
  StatusOr<controller::Result> Reconcile(const std::string& key);
  // One placement attempt; `result` says how it ended for the metrics.
  StatusOr<controller::Result> Attempt(const std::string& key, std::string& result);

  store::Store& store_;
  store::WatchCache& cache_;
  SchedulingCache& nodes_;
  controller::EventRecorder& events_;
  const Clock& clock_;
  const Config config_;
  controller::Volumes volumes_;
  std::unique_ptr<controller::Controller> controller_;
  std::mutex mu_;
  std::set<std::string> unschedulable_;  // pending keys the last attempt could not place
};

}  // namespace kumo::scheduler
