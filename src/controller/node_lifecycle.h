// The node lifecycle controller: notices nodes whose agent stopped renewing its Lease, marks
// them (Ready=Unknown, taints node.kubernetes.io/unreachable NoSchedule + NoExecute, as
// Kubernetes' node lifecycle controller does), and after an eviction timeout fails the VMIs
// that ran there (phase Failed, reason NodeUnresponsive) so that the VM controller starts them
// again on a healthy node, with the same IPs. A node that renews its Lease again loses the
// taints; its agent then stops whatever it still runs for VMIs that moved away.
//
// Without fencing, a node that is only cut off from the API server keeps its VMs running until
// it reconnects; a network partition can therefore briefly run a VM twice.
#pragma once

#include <atomic>
#include <chrono>
#include <string>
#include <thread>

#include "common/clock.h"
#include "common/status.h"
#include "controller/events.h"
#include "store/store.h"
#include "store/watch_cache.h"

namespace kumo::controller {

inline constexpr char kUnreachableTaint[] = "node.kubernetes.io/unreachable";

// True when the node carries the unreachable NoExecute taint: its agent will not act on VMIs.
bool NodeUnreachable(const json::value& node);

struct NodeLifecycleOptions {
  // A Lease older than this marks the node unreachable (kube-controller-manager's
  // --node-monitor-grace-period).
  std::chrono::seconds grace{40};
  // VMIs on an unreachable node are failed this long after it became unreachable.
  std::chrono::seconds eviction{20};
  std::chrono::milliseconds period{2000};
};

// Owns one thread; the store, cache, recorder and clock must outlive it.
class NodeLifecycleController {
 public:
  NodeLifecycleController(store::Store& store, store::WatchCache& cache, EventRecorder& events,
                          const Clock& clock, NodeLifecycleOptions options = {});
  ~NodeLifecycleController();
  void Start();
  void Stop();
  // One pass over all nodes (the thread calls it every period; tests call it directly).
  Status RunOnce();

 private:
  Status CheckNode(const json::value& node);
  Status MarkUnreachable(const std::string& name, int64_t since);
  Status MarkReachable(const std::string& name);
  Status EvictVmis(const std::string& node, int64_t unreachable_since);

  store::Store& store_;
  store::WatchCache& cache_;
  EventRecorder& events_;
  const Clock& clock_;
  const NodeLifecycleOptions options_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

}  // namespace kumo::controller
