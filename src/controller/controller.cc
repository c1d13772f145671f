#include "controller/controller.h"

#include "common/log.h"
#include "common/metrics.h"

namespace kumo::controller {

namespace {
// Kubernetes' client-go work queue metrics, labelled by the controller's name.
void DescribeWorkqueueMetrics() {
  static const bool once = [] {
    metrics::Describe("workqueue_depth", "gauge", "Current depth of the work queue.");
    metrics::Describe("workqueue_adds_total", "counter", "Adds handled by the work queue.");
    metrics::Describe("workqueue_queue_duration_seconds", "histogram",
                      "How long a key stays in the work queue before it is processed.");
    metrics::Describe("workqueue_work_duration_seconds", "histogram",
                      "How long processing a key from the work queue takes.");
    return true;
  }();
  (void)once;
}
double Seconds(std::chrono::steady_clock::duration d) {
  return std::chrono::duration<double>(d).count();
}
}  // namespace

Controller::Controller(std::string name, store::WatchCache& cache, std::vector<Watch> watches,
                       Reconcile reconcile, int workers, std::chrono::seconds resync)
    : name_(std::move(name)),
      cache_(cache),
      watches_(std::move(watches)),
      reconcile_(std::move(reconcile)),
      workers_(workers),
      resync_(resync),
      labels_("name=\"" + name_ + "\"") {
  DescribeWorkqueueMetrics();
}

Controller::~Controller() { Stop(); }


void Controller::Start() {
  threads_.emplace_back([this] { WatchLoop(); });
  for (int i = 0; i < workers_; ++i) threads_.emplace_back([this] { WorkerLoop(); });
}

void Controller::Stop() {
  if (stop_.exchange(true)) return;
  cv_.notify_all();
  for (auto& t : threads_) {
    if (t.joinable()) t.join();
  }
}

void Controller::Enqueue(const std::string& key) {
  std::lock_guard lock(mu_);
  if (active_.count(key)) {
    dirty_.insert(key);
    return;
  }
  if (queued_.emplace(key, std::chrono::steady_clock::now()).second) {
    queue_.push_back(key);
    metrics::Add("workqueue_adds_total", labels_);
    metrics::Set("workqueue_depth", labels_, static_cast<double>(queue_.size()));
    cv_.notify_one();
  }
}

void Controller::EnqueueAfter(const std::string& key, std::chrono::milliseconds delay) {
  std::lock_guard lock(mu_);
  delayed_.emplace(std::chrono::steady_clock::now() + delay, key);
  cv_.notify_one();
}

void Controller::EnqueueAll() {
  for (const auto& w : watches_) {
    auto page = cache_.List(w.prefix, "", 0, nullptr);
    for (const auto& obj : page.items) {
      for (const auto& key : w.keys(*obj)) Enqueue(key);
    }
  }
}

void Controller::Resync() {
  resync_cursor_.resize(watches_.size());
  for (size_t i = 0; i < watches_.size(); ++i) {
    auto page = cache_.List(watches_[i].prefix, resync_cursor_[i], kResyncBudget, nullptr);
    for (const auto& obj : page.items) {
      for (const auto& key : watches_[i].keys(*obj)) Enqueue(key);
    }
    resync_cursor_[i] = page.more && !page.items.empty() ? page.items.back()->key : "";
  }
}

void Controller::WatchLoop() {
  // One cache watcher per prefix, all starting at the revision of the initial listing.
  std::vector<std::unique_ptr<store::CacheWatcher>> watchers;
  while (!stop_) {
    watchers.clear();
    int64_t rev = cache_.revision();
    bool ok = true;
    for (const auto& w : watches_) {
      auto watcher = cache_.Watch(w.prefix, rev);
      if (!watcher.ok()) {
        ok = false;
        break;
      }
      watchers.push_back(std::move(*watcher));
    }
    if (!ok) {
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
      continue;
    }
    EnqueueAll();
    auto next_resync = std::chrono::steady_clock::now() + resync_;
    bool restart = false;
    while (!stop_ && !restart) {
      for (size_t i = 0; i < watchers.size() && !restart; ++i) {
        auto events = watchers[i]->Next(std::chrono::milliseconds(watchers.size() > 1 ? 50 : 200));
        if (!events.ok()) {
          restart = true;  // fell behind: re-list everything
          break;
        }
        for (const auto& ev : *events) {
          for (const auto& key : watches_[i].keys(*ev.object)) Enqueue(key);
        }
      }
      if (std::chrono::steady_clock::now() >= next_resync) {
        Resync();
        next_resync = std::chrono::steady_clock::now() + resync_;
      }
    }
  }
}

void Controller::WorkerLoop() {
  while (!stop_) {
    std::string key;
    {
      std::unique_lock lock(mu_);
      while (!stop_) {
        auto now = std::chrono::steady_clock::now();
        while (!delayed_.empty() && delayed_.begin()->first <= now) {
          std::string k = delayed_.begin()->second;
          delayed_.erase(delayed_.begin());
          if (active_.count(k)) {
            dirty_.insert(k);
          } else if (queued_.emplace(k, now).second) {
            queue_.push_back(k);
            metrics::Add("workqueue_adds_total", labels_);
          }
        }
        if (!queue_.empty()) break;
        auto wake = delayed_.empty() ? now + std::chrono::milliseconds(500) : delayed_.begin()->first;
        cv_.wait_until(lock, std::min(wake, now + std::chrono::milliseconds(500)));
      }
      if (stop_) return;
      key = queue_.front();
      queue_.pop_front();
      if (auto it = queued_.find(key); it != queued_.end()) {
        metrics::Observe("workqueue_queue_duration_seconds", labels_,
                         Seconds(std::chrono::steady_clock::now() - it->second));
        queued_.erase(it);
      }
      active_.insert(key);
      metrics::Set("workqueue_depth", labels_, static_cast<double>(queue_.size()));
    }
    const auto started = std::chrono::steady_clock::now();
    StatusOr<Result> result = reconcile_(key);
    metrics::Observe("workqueue_work_duration_seconds", labels_,
                     Seconds(std::chrono::steady_clock::now() - started));
    std::chrono::milliseconds requeue{0};
    if (!result.ok()) {
      spdlog::warn("{}: reconcile {} failed: {}", name_, key, result.status().ToString());
      requeue = std::chrono::milliseconds(1000);
    } else {
      requeue = result->requeue_after;
    }
    std::lock_guard lock(mu_);
    active_.erase(key);
    if (dirty_.erase(key)) {
      if (queued_.emplace(key, std::chrono::steady_clock::now()).second) queue_.push_back(key);
      cv_.notify_one();
    }
    if (requeue.count() > 0) {
      delayed_.emplace(std::chrono::steady_clock::now() + requeue, key);
      cv_.notify_one();
    }
  }
}

}  // namespace kumo::controller
