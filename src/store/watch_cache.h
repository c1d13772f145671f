// WatchCache: an in-memory mirror of the store, fed by one store watch, that serves lists and
// watches without touching the backend. Each object is kept as its JSON bytes (with
// resourceVersion already spliced in) plus the few attributes selectors need, never as a parsed
// tree: at 286,000 VMs memory decides the design.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "common/json.h"
#include "store/selector.h"
#include "store/store.h"

namespace kumo::store {

struct CachedObject {
  std::string key;
  std::string json;  // the object as served, resourceVersion included
  int64_t mod_revision = 0;
  Labels labels;
  // Values of the selectable fields (label -> value), metadata.name/namespace included.
  std::vector<std::pair<std::string, std::string>> fields;

  std::string Field(std::string_view name) const;
};
using CachedPtr = std::shared_ptr<const CachedObject>;

struct CacheEvent {
  EventType type;
  CachedPtr object;  // for deletes: the last state (resourceVersion = the delete's revision)
  CachedPtr prev;    // state before this event (nullptr for creates)
  int64_t revision = 0;
};

// Event stream for one watcher. Next() from one thread at a time.
class CacheWatcher {
 public:
  virtual ~CacheWatcher() = default;
  // Events in revision order; empty on timeout. Gone when this watcher fell too far behind.
  virtual StatusOr<std::vector<CacheEvent>> Next(std::chrono::milliseconds timeout) = 0;
};

// Thread-safe. Owns its feeding thread; Stop() (or destruction) ends it.
class WatchCache {
 public:
  // Fills `obj.fields` (and anything else derived) from the parsed object; called once per
  // change. Labels and resourceVersion handling are done by the cache.
  using Indexer = std::function<void(const json::value& parsed, CachedObject& obj)>;

  WatchCache(Store& store, std::string prefix, Indexer indexer, size_t history_capacity);
  ~WatchCache();

  // Loads the current state and starts following the store.
  Status Start();
  void Stop();

  // Blocks until the cache reflects `revision` (or `timeout` passes: Timeout).
  Status WaitForRevision(int64_t revision, std::chrono::milliseconds timeout);
  int64_t revision() const;

  struct Page {
    std::vector<CachedPtr> items;
    int64_t revision = 0;
    bool more = false;  // items remain after the last one returned
  };
  // Objects with keys under `prefix`, after `start_after`, accepted by `filter` (may be null),
  // at most `limit` (0: all), at the cache's current revision.
  Page List(std::string_view prefix, std::string_view start_after, int64_t limit,
            const std::function<bool(const CachedObject&)>& filter) const;
  // One object by key, or nullptr.
  CachedPtr Get(std::string_view key) const;

  // Narrows a watch to objects whose selectable field `field` equals `value` (before or after
  // the change, so that an object leaving the selection is seen too). Watchers are indexed by
  // it: an event reaches only the watchers of its own values, not every watcher of the kind.
  struct FieldIndex {
    std::string field;
    std::string value;
  };

  // Events for keys under `prefix` with revision > `after_revision` (only those matching
  // `index` when given). Gone (Expired) when `after_revision` is older than the retained
  // history.
  StatusOr<std::unique_ptr<CacheWatcher>> Watch(std::string prefix, int64_t after_revision,
                                                std::optional<FieldIndex> index = std::nullopt);

  // Open watchers (for metrics).
  size_t watcher_count() const;
  // Objects per kind: the first two segments of their keys under the cache's prefix
  // ("kubevirt.io/virtualmachines"), kept as objects come and go (for metrics).
  std::map<std::string, int64_t, std::less<>> ObjectCounts() const;

  struct WatcherState;  // internal

 private:
  void Run(int64_t from_revision);
  void Apply(const Event& ev);
  void Unregister(const std::shared_ptr<WatcherState>& state);
  // Queues `ev` for `w` (lock held).
  static void Deliver(WatcherState& w, const CacheEvent& ev);
  CachedPtr Build(const KeyValue& kv) const;

  Store& store_;
  const std::string prefix_;
  const Indexer indexer_;
  const size_t history_capacity_;

  mutable std::shared_mutex mu_;  // guards everything below
  std::map<std::string, CachedPtr, std::less<>> objects_;
  std::map<std::string, int64_t, std::less<>> counts_;  // see ObjectCounts
  std::deque<CacheEvent> history_;
  int64_t history_start_ = 0;  // history holds every event with revision > history_start_
  int64_t revision_ = 0;
  size_t watcher_count_ = 0;
  std::vector<std::shared_ptr<WatcherState>> unindexed_;  // those without a FieldIndex
  // Field -> value -> the watchers narrowed to it.
  std::map<std::string, std::unordered_map<std::string, std::vector<std::shared_ptr<WatcherState>>>,
           std::less<>>
      indexed_;
  std::condition_variable_any revision_cv_;

  std::atomic<bool> stop_{false};
  std::thread thread_;
};

}  // namespace kumo::store
