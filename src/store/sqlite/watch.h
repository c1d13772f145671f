// Watch fan-out for the sqlite Store: the hub the writer publishes committed events to, each
// stream's bounded queue, and the stream itself, which replays history from the kv table
// before handing out live events.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_set>
#include <vector>

#include "common/status.h"
#include "store/sqlite/db.h"
#include "store/store.h"

namespace kumo::store::sqlite {

// One stream's queue of live events. Filled by the hub (writer thread), drained by the stream.
// Thread-safe.
struct WatcherQueue {
  WatcherQueue(std::string p, int64_t a, size_t l) : prefix(std::move(p)), after(a), limit(l) {}

  // Appends events already filtered for this watcher; past `limit` undelivered events the
  // queue is dropped and the watcher fails with Gone.
  void Push(std::vector<Event> events);
  // Ends the watch with `status` (first failure wins).
  void Fail(Status status);

  const std::string prefix;
  const int64_t after;  // only events with a later revision are delivered
  const size_t limit;
  std::mutex mu;
  std::condition_variable cv;
  std::deque<Event> events;
  Status error;
};

// Registry of live watchers. Thread-safe; Publish is called by the single writer thread in
// revision order.
class WatchHub {
 public:
  explicit WatchHub(int64_t revision) : published_(revision) {}

  // Adds `q` and returns the revision published so far. Under the publication lock, so `q`
  // receives exactly the events with later revisions: history up to the returned revision
  // plus the live events make a sequence with no gap and no duplicate.
  int64_t Register(std::shared_ptr<WatcherQueue> q);
  void Unregister(const std::shared_ptr<WatcherQueue>& q);
  // Delivers `events` (committed, in revision order, ending at `revision`) to the watchers.
  void Publish(const std::vector<Event>& events, int64_t revision);
  // Fails every watcher, now and later, with `status`.
  void CloseAll(const Status& status);
  // The revision of the last published change.
  int64_t published() const { return published_.load(std::memory_order_acquire); }

 private:
  std::mutex mu_;
  std::unordered_set<std::shared_ptr<WatcherQueue>> watchers_;
  std::atomic<int64_t> published_;
  Status closed_;
};

// What the store shares with its watch streams, which may outlive it.
struct SharedState {
  SharedState(std::string path, size_t readers, int64_t revision, int64_t compacted)
      : readers(std::move(path), readers), hub(revision), compacted(compacted) {}

  ReadPool readers;
  WatchHub hub;
  // Raised before compaction removes any row, so a reader that checks it after reading knows
  // whether its snapshot may have lost rows.
  std::atomic<int64_t> compacted;
};

// The Gone status for reading at or watching from a compacted revision.
Status CompactedError(int64_t revision, int64_t compacted);

// A stream of events for keys with `prefix` after `after_revision`. Gone when it is older than
// the compacted revision. Reads history lazily, so a watch from far back costs no memory up
// front.
StatusOr<std::unique_ptr<WatchStream>> OpenWatch(std::shared_ptr<SharedState> state,
                                                 std::string_view prefix, int64_t after_revision,
                                                 size_t queue_limit);

}  // namespace kumo::store::sqlite
