// Shows where uploaded Images are cached: each node reports the images in its cache in its
// status.images (names "kumo.io/images/<image>@sha256:<digest>", as a kubelet reports container
// images); this controller writes the sorted node names into each Image's status.nodes, which
// `kubectl get images` prints.
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>

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
  // The image keys whose node set changed with this node event (a heartbeat that leaves the
  // node's images as they were changes none: no work per heartbeat).
  std::vector<std::string> Changed(const store::CachedObject& node);

  store::Store& store_;
  store::WatchCache& cache_;
  std::mutex mu_;  // guards the maps below
  std::map<std::string, std::set<std::string>> by_node_;   // node -> images it caches
  std::map<std::string, std::set<std::string>> by_image_;  // image -> nodes caching it
  std::unique_ptr<Controller> controller_;
};

}  // namespace kumo::controller
