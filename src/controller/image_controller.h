// Shows where uploaded Images are cached: each node reports the images in its cache in its
// status.images (names "kumo.io/images/<image>@sha256:<digest>", as a kubelet reports container
// images); this controller writes the sorted node names into each Image's status.nodes, which
// `kubectl get images` prints.
#pragma once

#include <memory>

#include "controller/controller.h"
#include "store/store.h"
#include "store/watch_cache.h"

namespace kumo::controller {

// Owns its controller thread; the store and cache must outlive it.
class ImageController {
 public:
  ImageController(store::Store& store, store::WatchCache& cache);
  ~ImageController();
  void Start();
  void Stop();

  StatusOr<Result> Reconcile(const std::string& image_key);

 private:
  store::Store& store_;
  store::WatchCache& cache_;
  std::unique_ptr<Controller> controller_;
};

}  // namespace kumo::controller
