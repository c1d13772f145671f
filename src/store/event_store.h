// The events store: core/v1 Events kept apart from all other state, as Kubernetes does with
// --etcd-servers-overrides=/events#...: a second SQLite database (DATA_DIR/events.db) with its
// own writer, its own watch cache and a time to live. A flood of events then queues behind its
// own writer and fsyncs, never behind object writes. Events are best effort and short-lived, so
// the database commits without fsync and history is compacted hard; events whose last
// timestamp is older than the TTL (default one hour) are deleted periodically.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "common/clock.h"
#include "common/status.h"
#include "store/store.h"
#include "store/watch_cache.h"

namespace kumo::store {

struct EventStoreOptions {
  std::string path;  // the database file
  std::chrono::seconds ttl{3600};
  std::chrono::seconds sweep_interval{60};
  size_t watch_history = 20000;
  int64_t retain_revisions = 20000;
};

// Owns the database, its watch cache and the TTL sweeper. Thread-safe; Stop() (or destruction)
// from the owner's thread.
class EventStore {
 public:
  // Opens the database, fills the cache (with `indexer`, as the main cache indexes objects)
  // and starts the sweeper.
  static StatusOr<std::unique_ptr<EventStore>> Open(const EventStoreOptions& options,
                                                    WatchCache::Indexer indexer,
                                                    const Clock& clock);
  ~EventStore();

  Store& store() { return *store_; }
  WatchCache& cache() { return *cache_; }

  // Deletes every event last seen before now - ttl. Returns how many were deleted.
  size_t SweepExpired();
  void Stop();

  // The store prefix of events.
  static constexpr const char* kPrefix = "/registry/core/events/";

 private:
  EventStore(EventStoreOptions options, const Clock& clock)
      : options_(std::move(options)), clock_(clock) {}
  void SweepLoop();

  const EventStoreOptions options_;
  const Clock& clock_;
  std::unique_ptr<Store> store_;
  std::unique_ptr<WatchCache> cache_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
  std::thread sweeper_;
};

}  // namespace kumo::store
