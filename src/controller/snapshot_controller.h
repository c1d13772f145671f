// Keeps VolumeSnapshots moving (see api/storage.h): binds each to a VolumeSnapshotContent that
// says where the copy lives and which node makes it, holds the source volume while the node
// copies it (no VM may start on it meanwhile; a snapshot of a volume a VM is running on waits
// until that VM stops), reports readiness on the snapshot, and deletes the content (the node
// removes the copy) when its snapshot goes.
#pragma once

#include <memory>

#include "controller/controller.h"
#include "controller/events.h"
#include "controller/volumes.h"

namespace kumo::controller {

// Owns its controller thread; the store, cache and recorder must outlive it.
class SnapshotController {
 public:
  SnapshotController(store::Store& store, store::WatchCache& cache, EventRecorder& events);
  ~SnapshotController();
  void Start();
  void Stop();

  StatusOr<Result> Reconcile(const std::string& key);

 private:
  StatusOr<Result> ReconcileSnapshot(const std::string& key);
  StatusOr<Result> ReconcileContent(const std::string& key);
  // True while a claim of `ns` restores `snapshot` and no VM has filled it yet.
  bool RestoresPending(const std::string& ns, const std::string& snapshot);
  // Writes status fields of the VolumeSnapshot at `key` (no write when nothing changes).
  Status SetStatus(const std::string& key, json::object fields);

  store::Store& store_;
  store::WatchCache& cache_;
  EventRecorder& events_;
  Volumes volumes_;
  std::unique_ptr<Controller> controller_;
};

}  // namespace kumo::controller
