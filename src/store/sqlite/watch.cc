#include "store/sqlite/watch.h"

#include <iterator>
#include <utility>

#include "store/sqlite/kv_table.h"

namespace kumo::store::sqlite {
namespace {

// History rows read per Next(): bounds the memory of a watch from far back.
constexpr int64_t kHistoryChunk = 1000;

// Owned by the caller of Watch; Next() from one thread at a time. Holds the shared state so it
// stays valid (and fails with Unavailable) after the store is gone.
class SqliteWatchStream final : public WatchStream {
 public:
  SqliteWatchStream(std::shared_ptr<SharedState> state, std::shared_ptr<WatcherQueue> queue,
                    int64_t history_end)
      : state_(std::move(state)),
        queue_(std::move(queue)),
        range_(RangeFor(queue_->prefix)),
        cursor_(queue_->after),
        history_end_(history_end) {}

  ~SqliteWatchStream() override { state_->hub.Unregister(queue_); }

  StatusOr<std::vector<Event>> Next(std::chrono::milliseconds timeout) override {
    {
      std::lock_guard<std::mutex> lock(queue_->mu);
      if (!queue_->error.ok()) return queue_->error;
    }
    if (cursor_ < history_end_) {
      KUMO_ASSIGN_OR_RETURN(std::vector<Event> events, ReadHistory());
      if (!events.empty()) return events;
    }
    std::unique_lock<std::mutex> lock(queue_->mu);
    queue_->cv.wait_for(lock, timeout,
                        [&] { return !queue_->events.empty() || !queue_->error.ok(); });
    if (!queue_->error.ok()) return queue_->error;
    std::vector<Event> events(std::make_move_iterator(queue_->events.begin()),
                              std::make_move_iterator(queue_->events.end()));
    queue_->events.clear();
    return events;
  }

 private:
  // The next chunk of history in (cursor_, history_end_]; live events wait in the queue.
  StatusOr<std::vector<Event>> ReadHistory() {
    std::vector<Row> rows;
    {
      KUMO_ASSIGN_OR_RETURN(ReadPool::Lease lease, state_->readers.Acquire());
      KUMO_ASSIGN_OR_RETURN(rows, History(*lease, range_, cursor_, history_end_, kHistoryChunk));
    }
    // Compaction raises `compacted` before it deletes anything: if it is past the cursor now,
    // the snapshot just read may be missing rows.
    int64_t compacted = state_->compacted.load();
    if (compacted > cursor_) {
      Status gone = CompactedError(cursor_, compacted);
      queue_->Fail(gone);
      return gone;
    }
    cursor_ = static_cast<int64_t>(rows.size()) < kHistoryChunk ? history_end_ : rows.back().rev;
    std::vector<Event> events;
    events.reserve(rows.size());
    for (Row& row : rows) events.push_back(EventOf(std::move(row)));
    return events;
  }

  const std::shared_ptr<SharedState> state_;
  const std::shared_ptr<WatcherQueue> queue_;
  const KeyRange range_;
  int64_t cursor_;             // history delivered up to this revision
  const int64_t history_end_;  // the revision published when the watcher registered
};

}  // namespace

void WatcherQueue::Push(std::vector<Event> batch) {
  std::lock_guard<std::mutex> lock(mu);
  if (!error.ok()) return;
  if (events.size() + batch.size() > limit) {
    events.clear();
    error = Gone("the watch on \"" + prefix + "\" fell more than " + std::to_string(limit) +
                 " events behind; re-list and watch again from the list's revision");
  } else {
    for (Event& e : batch) events.push_back(std::move(e));
  }
  cv.notify_all();
}

void WatcherQueue::Fail(Status status) {
  std::lock_guard<std::mutex> lock(mu);
  if (error.ok()) error = std::move(status);
  events.clear();
  cv.notify_all();
}

int64_t WatchHub::Register(std::shared_ptr<WatcherQueue> q) {
  std::lock_guard<std::mutex> lock(mu_);
  if (!closed_.ok()) {
    q->Fail(closed_);
  } else {
    watchers_.insert(std::move(q));
  }
  return published_.load(std::memory_order_relaxed);
}

void WatchHub::Unregister(const std::shared_ptr<WatcherQueue>& q) {
  std::lock_guard<std::mutex> lock(mu_);
  watchers_.erase(q);
}

void WatchHub::Publish(const std::vector<Event>& events, int64_t revision) {
  std::lock_guard<std::mutex> lock(mu_);
  for (const std::shared_ptr<WatcherQueue>& q : watchers_) {
    std::vector<Event> matching;
    for (const Event& e : events) {
      if (e.kv.mod_revision > q->after && e.kv.key.starts_with(q->prefix)) matching.push_back(e);
    }
    if (!matching.empty()) q->Push(std::move(matching));
  }
  published_.store(revision, std::memory_order_release);
}

void WatchHub::CloseAll(const Status& status) {
  std::lock_guard<std::mutex> lock(mu_);
  closed_ = status;
  for (const std::shared_ptr<WatcherQueue>& q : watchers_) q->Fail(status);
  watchers_.clear();
}

Status CompactedError(int64_t revision, int64_t compacted) {
  return Gone("revision " + std::to_string(revision) + " has been compacted (history before " +
              std::to_string(compacted) +
              " is gone); re-list to get the current state and watch from its revision");
}

StatusOr<std::unique_ptr<WatchStream>> OpenWatch(std::shared_ptr<SharedState> state,
                                                 std::string_view prefix, int64_t after_revision,
                                                 size_t queue_limit) {
  int64_t compacted = state->compacted.load();
  if (after_revision < compacted) return CompactedError(after_revision, compacted);
  auto queue = std::make_shared<WatcherQueue>(std::string(prefix), after_revision, queue_limit);
  int64_t history_end = state->hub.Register(queue);
  return std::unique_ptr<WatchStream>(
      new SqliteWatchStream(std::move(state), std::move(queue), history_end));
}

}  // namespace kumo::store::sqlite
