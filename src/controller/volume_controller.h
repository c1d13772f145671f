// Keeps claims, volumes and DataVolumes moving (see api/storage.h): binds each claim to a
// PersistentVolume, grows the volume when its claim grows, makes the claim a DataVolume stands
// for, marks a volume populated once a node reports its data made, holds a claim that a VMI
// still uses (pvc-protection), and releases a volume whose claim is gone: a node then removes
// its data (reclaimPolicy Delete) or it stays Released (Retain).
#pragma once

#include <memory>

#include "controller/controller.h"
#include "controller/events.h"
#include "controller/volumes.h"

namespace kumo::controller {

// Owns its controller threads; the store, cache and recorder must outlive it.
class VolumeController {
 public:
  VolumeController(store::Store& store, store::WatchCache& cache, EventRecorder& events);
  ~VolumeController();
  void Start();
  void Stop();

  StatusOr<Result> Reconcile(const std::string& key);

 private:
  StatusOr<Result> ReconcileClaim(const std::string& key);
  StatusOr<Result> ReconcileVolume(const std::string& key);
  StatusOr<Result> ReconcileDataVolume(const std::string& key);

  store::Store& store_;
  store::WatchCache& cache_;
  EventRecorder& events_;
  Volumes volumes_;
  std::unique_ptr<Controller> controller_;
};

}  // namespace kumo::controller
