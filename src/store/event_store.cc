#include "store/event_store.h"

#include <vector>

#include "common/json.h"
#include "common/log.h"
#include "store/sqlite/sqlite_store.h"

namespace kumo::store {

namespace {

// Hidden cache field holding an event's last timestamp (unix seconds), for the sweeper. Field
// selectors only accept the resource's selectable fields, so clients never see it.
constexpr char kLastSeenField[] = "kumo.lastSeen";

int64_t LastSeen(const json::value& ev) {
  for (auto path : {"lastTimestamp", "eventTime"}) {
    int64_t t = ParseTime(GetString(ev, {path}));
    if (t > 0) return t;
  }
  int64_t t = ParseTime(GetString(ev, {"series", "lastObservedTime"}));
  if (t > 0) return t;
  return ParseTime(GetString(ev, {"metadata", "creationTimestamp"}));
}

}  // namespace

StatusOr<std::unique_ptr<EventStore>> EventStore::Open(const EventStoreOptions& options,
                                                       WatchCache::Indexer indexer,
                                                       const Clock& clock) {
  std::unique_ptr<EventStore> es(new EventStore(options, clock));
  SqliteOptions so;
  so.path = options.path;
  so.durable = false;  // events are best effort: survive a crash of the server, not of the machine
  so.retain_revisions = options.retain_revisions;
  so.compact_interval = std::chrono::seconds(30);
  KUMO_ASSIGN_OR_RETURN(es->store_, OpenSqliteStore(so));
  es->cache_ = std::make_unique<WatchCache>(
      *es->store_, kPrefix,
      [indexer = std::move(indexer)](const json::value& parsed, CachedObject& obj) {
        if (indexer) indexer(parsed, obj);
        obj.fields.emplace_back(kLastSeenField, std::to_string(LastSeen(parsed)));
      },
      options.watch_history);
  KUMO_RETURN_IF_ERROR(es->cache_->Start());
  es->SweepExpired();
  es->sweeper_ = std::thread([p = es.get()] { p->SweepLoop(); });
  return es;
}

EventStore::~EventStore() { Stop(); }

void EventStore::Stop() {
  {
    std::lock_guard lock(mu_);
    if (stop_) return;
    stop_ = true;
  }
  cv_.notify_all();
  if (sweeper_.joinable()) sweeper_.join();
  if (cache_) cache_->Stop();
}

size_t EventStore::SweepExpired() {
  int64_t cutoff = clock_.NowUnixSeconds() - options_.ttl.count();
  WatchCache::Page page = cache_->List(kPrefix, "", 0, [cutoff](const CachedObject& o) {
    int64_t seen = std::strtoll(o.Field(kLastSeenField).c_str(), nullptr, 10);
    return seen < cutoff;
  });
  size_t deleted = 0;
  for (const auto& o : page.items) {
    // Guarded by the revision seen: an event bumped since is no longer expired.
    if (store_->Delete(o->key, o->mod_revision).ok()) ++deleted;
  }
  if (deleted > 0) spdlog::info("deleted {} events older than {}s", deleted, options_.ttl.count());
  return deleted;
}

void EventStore::SweepLoop() {
  std::unique_lock lock(mu_);
  while (!stop_) {
    if (cv_.wait_for(lock, options_.sweep_interval, [this] { return stop_; })) break;
    lock.unlock();
    SweepExpired();
    lock.lock();
  }
}

}  // namespace kumo::store
