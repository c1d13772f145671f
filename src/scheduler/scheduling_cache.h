// The scheduler's view of the cluster, kept incrementally: every node's NodeInfo and the usage
// of the VMIs bound to it, updated from the watch cache's events (one parse per changed object)
// and from the scheduler's own placements ("assumed" until the watch confirms them, as
// kube-scheduler's cache does). A placement costs time in the nodes it examines, never in the
// VMIs of the cluster: it looks at nodes round-robin from where the last one stopped, and
// scores the first FeasibleNodesToFind of those that fit.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "scheduler/placement.h"
#include "store/watch_cache.h"

namespace kumo::scheduler {

// Thread-safe. Start() loads the state and follows the cache on its own thread.
class SchedulingCache {
 public:
  SchedulingCache(store::WatchCache& cache, Config config);
  ~SchedulingCache();
  void Start();
  void Stop();

  // Applies one change of a node or VMI object (the feed calls it; tests call it directly).
  void Apply(const store::CacheEvent& event);

  // The node for `request` (leaving out `exclude_node`); errors as PickNode.
  StatusOr<std::string> Pick(const Request& request, const std::string& exclude_node = "");
  // Pick, and count `request` on the node for VMI `key` at once ("assumed"), before the watch
  // shows the binding, so that concurrent placements see it. Until the watch confirms the
  // binding, events that show the VMI unbound are taken as older than the assumption.
  StatusOr<std::string> PickAndAssume(const std::string& key, const Request& request);
  // Whether VMI `key` is counted on a node (bound, or assumed).
  bool Counted(const std::string& key) const;
  // Undoes an assumption whose write failed.
  void Forget(const std::string& key);

  // Waits until every change the watch cache had at the call is applied (Timeout after
  // `timeout`): a caller that must see its own recent writes, such as a migration's plan.
  Status Sync(std::chrono::milliseconds timeout);

  // Nodes known, and VMIs counted on them.
  size_t node_count() const;
  size_t vmi_count() const;
  // Calls `fn` (on the feed's thread, without the cache's lock) after each node change that
  // may make room for a pending VMI (see NodeChangeMayUnblock).
  void OnRoom(std::function<void()> fn);

  // Whether a change from `before` to `after` (either may be null) of a node can make room
  // for a pending VMI: it appeared, became ready or schedulable, grew, or changed its labels
  // or taints. A heartbeat can't.
  static bool NodeChangeMayUnblock(const NodeInfo* before, const NodeInfo* after);

 private:
  struct NodeEntry {
    NodeInfo info;
    Usage usage;
    bool present = false;
  };
  struct Placed {
    std::string node;
    int64_t cpu_millis = 0;
    int64_t memory_bytes = 0;
    int64_t min_revision = 0;  // events older than this are stale (listed newer)
    bool assumed = false;      // counted by PickAndAssume, not yet seen bound by the watch
  };

  void Feed();
  void Reload();
  // Returns whether the change may make room (NodeChangeMayUnblock).
  bool ApplyNodeLocked(const store::CachedObject& obj, bool deleted);
  void ApplyVmiLocked(const store::CachedObject& obj, bool deleted, int64_t revision);
  StatusOr<std::string> PickLocked(const Request& request, const std::string& exclude_node);
  void CountLocked(const std::string& key, Placed placed);
  void UncountLocked(const std::string& key);
  NodeEntry& NodeLocked(const std::string& name);

  store::WatchCache& cache_;
  const Config config_;

  mutable std::mutex mu_;
  std::vector<NodeEntry> nodes_;  // slots are reused by name; `present` marks live ones
  std::unordered_map<std::string, size_t> node_index_;
  std::unordered_map<std::string, Placed> vmis_;  // VMI key -> what it holds where
  size_t present_nodes_ = 0;
  size_t next_start_ = 0;  // round-robin start of the next placement's scan

  std::function<void()> on_room_;
  int64_t applied_ = 0;  // every cache change at or below this revision is applied
  std::condition_variable applied_cv_;

  std::atomic<bool> stop_{false};
  std::thread thread_;
};

}  // namespace kumo::scheduler
