// A small controller runtime: watches prefixes of the watch cache, maps each change to the keys
// of the objects to reconcile, de-duplicates them in a work queue and calls a reconcile function
// from worker threads (a key is never reconciled by two workers at once). Failed or delayed keys
// are retried later; every key is re-listed periodically (resync), at most kResyncBudget keys
// per watch and resync period, so that a resync's cost does not grow with the cluster: with more
// objects than that, each period resumes where the last one stopped.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "common/status.h"
#include "store/watch_cache.h"

namespace kumo::controller {

// What a reconcile asks for next.
struct Result {
  std::chrono::milliseconds requeue_after{0};  // 0: only when something changes
};

class Controller {
 public:
  static constexpr int64_t kResyncBudget = 3000;

  struct Watch {
    std::string prefix;
    // Keys to reconcile for a change of an object under `prefix`.
    std::function<std::vector<std::string>(const store::CachedObject& object)> keys;
  };
  using Reconcile = std::function<StatusOr<Result>(const std::string& key)>;

  Controller(std::string name, store::WatchCache& cache, std::vector<Watch> watches,
             Reconcile reconcile, int workers = 2,
             std::chrono::seconds resync = std::chrono::seconds(30));
  ~Controller();

  void Start();
  void Stop();
  void Enqueue(const std::string& key);
  void EnqueueAfter(const std::string& key, std::chrono::milliseconds delay);

 private:
  void WatchLoop();
  void WorkerLoop();
  void EnqueueAll();
  void Resync();

  const std::string name_;
  store::WatchCache& cache_;
  const std::vector<Watch> watches_;
  const Reconcile reconcile_;
  const int workers_;
  const std::chrono::seconds resync_;
  const std::string labels_;  // metric labels: name="..."

  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::string> queue_;
  // Keys in queue_, with the time each was added (for the queue-duration metric).
  std::map<std::string, std::chrono::steady_clock::time_point> queued_;
  std::set<std::string> active_;      // being reconciled
  std::set<std::string> dirty_;       // changed while active: requeue when done
  std::multimap<std::chrono::steady_clock::time_point, std::string> delayed_;
  std::vector<std::string> resync_cursor_;  // per watch: the last key resynced; "" = start
  std::atomic<bool> stop_{false};
  std::vector<std::thread> threads_;
};

}  // namespace kumo::controller
