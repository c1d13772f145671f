// SqliteStore: reads on a pool of WAL reader connections, writes through one writer thread
// that group-commits batches, and a background thread that compacts old history.
#include "store/sqlite/sqlite_store.h"

#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <sys/file.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <functional>
#include <future>
#include <mutex>
#include <optional>
#include <thread>
#include <utility>
#include <variant>
#include <vector>

#include "store/sqlite/db.h"
#include "store/sqlite/kv_table.h"
#include "store/sqlite/watch.h"

namespace kumo::store {
namespace {

using sqlite::Db;
using sqlite::ReadPool;
using sqlite::Row;
using sqlite::SharedState;
using sqlite::Txn;

constexpr size_t kReadConnections = 8;
// Revisions of history removed per compaction transaction, so writes queued behind a large
// compaction wait for one chunk, not all of it.
constexpr int64_t kCompactChunk = 10000;
constexpr char kConflictMessage[] =
    "the object has been modified; please apply your changes to the latest version and try "
    "again";

Status Closing() {
  return Status(Code::kUnavailable, "the store is closing; retry against the restarted server");
}

std::string Quoted(std::string_view key) { return "\"" + std::string(key) + "\""; }

// An exclusive flock on "<db>.lock": two stores writing one file would hand out the same
// revisions. A separate file because closing any descriptor of the database itself would drop
// SQLite's POSIX locks. Owned by the store.
class FileLock {
 public:
  static StatusOr<std::unique_ptr<FileLock>> Acquire(const std::string& path) {
    int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0) return Internal("cannot open lock file " + path + ": " + std::strerror(errno));
    if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
      int err = errno;
      ::close(fd);
      if (err == EWOULDBLOCK) {
        return Status(Code::kUnavailable, "the database is in use by another store (" + path +
                                              " is locked); stop the other server or use "
                                              "another data directory");
      }
      return Internal("cannot lock " + path + ": " + std::strerror(err));
    }
    return std::unique_ptr<FileLock>(new FileLock(fd));
  }
  ~FileLock() { ::close(fd_); }
  FileLock(const FileLock&) = delete;
  FileLock& operator=(const FileLock&) = delete;

 private:
  explicit FileLock(int fd) : fd_(fd) {}
  int fd_;
};

// Owned by the caller of OpenSqliteStore. Thread-safe. Destruction must not race with calls.
class SqliteStore final : public Store {
 public:
  SqliteStore(const SqliteOptions& options, std::unique_ptr<FileLock> lock,
              std::unique_ptr<Db> writer, std::shared_ptr<SharedState> state, int64_t revision,
              int64_t compact_done)
      : options_(options),
        max_batch_(std::max<size_t>(options.max_batch, 1)),
        lock_(std::move(lock)),
        writer_(std::move(writer)),
        state_(std::move(state)),
        revision_(revision),
        compact_done_(compact_done) {
    writer_thread_ = std::thread([this] { WriterLoop(); });
    if (options_.retain_revisions > 0 && options_.compact_interval.count() > 0) {
      compactor_thread_ = std::thread([this] { CompactorLoop(); });
    }
  }

  ~SqliteStore() override {
    {
      std::lock_guard<std::mutex> lock(stop_mu_);
      closing_ = true;
    }
    stop_cv_.notify_all();
    if (compactor_thread_.joinable()) compactor_thread_.join();
    {
      std::lock_guard<std::mutex> lock(queue_mu_);
      writer_stopping_ = true;
    }
    queue_cv_.notify_all();
    writer_thread_.join();  // finishes what was queued
    state_->hub.CloseAll(Closing());
    state_->readers.Close();
    writer_.reset();  // the last connection to close checkpoints and removes the WAL
  }

  StatusOr<KeyValue> Get(std::string_view key) override {
    KUMO_ASSIGN_OR_RETURN(ReadPool::Lease lease, state_->readers.Acquire());
    KUMO_ASSIGN_OR_RETURN(std::optional<Row> row, sqlite::LatestRow(*lease, key));
    if (!row || row->deleted) return NotFound(Quoted(key) + " not found");
    return KeyValue{std::move(row->key), std::move(row->value), row->created, row->rev};
  }

  StatusOr<ListResult> List(std::string_view prefix, std::string_view start_after, int64_t limit,
                            int64_t revision) override {
    if (revision < 0) return BadRequest("revision must not be negative");
    if (revision > 0) {
      int64_t compacted = state_->compacted.load();
      if (revision <= compacted) return sqlite::CompactedError(revision, compacted);
    }
    ListResult result;
    std::vector<Row> rows;
    {
      KUMO_ASSIGN_OR_RETURN(ReadPool::Lease lease, state_->readers.Acquire());
      Txn snapshot(*lease);  // the revision and the rows come from one snapshot
      KUMO_RETURN_IF_ERROR(snapshot.Begin(/*immediate=*/false));
      KUMO_ASSIGN_OR_RETURN(int64_t current, sqlite::SnapshotRevision(*lease));
      if (revision > current) {
        // As Kubernetes answers "Too large resource version": the client may have seen a newer
        // server; it retries shortly.
        return Status(Code::kTimeout, "too large resource version: revision " +
                                          std::to_string(revision) + " is newer than the current " +
                                          std::to_string(current))
            .set_retry_after(1);
      }
      result.revision = revision > 0 ? revision : current;
      KUMO_ASSIGN_OR_RETURN(rows, sqlite::ListAt(*lease, sqlite::RangeFor(prefix, start_after),
                                                 result.revision, limit > 0 ? limit + 1 : -1));
      KUMO_RETURN_IF_ERROR(snapshot.Commit());
    }
    if (revision > 0) {
      // Compaction raises this before deleting rows: checked after reading, it tells whether
      // the snapshot could have lost part of the old state.
      int64_t compacted = state_->compacted.load();
      if (revision <= compacted) return sqlite::CompactedError(revision, compacted);
    }
    if (limit > 0 && static_cast<int64_t>(rows.size()) > limit) {
      result.more = true;
      rows.pop_back();
    }
    result.items.reserve(rows.size());
    for (Row& row : rows) {
      result.items.push_back(
          KeyValue{std::move(row.key), std::move(row.value), row.created, row.rev});
    }
    return result;
  }

  StatusOr<KeyValue> Create(std::string_view key, std::string value) override {
    return Submit(Write::Kind::kCreate, key, std::move(value), 0);
  }

  StatusOr<KeyValue> Update(std::string_view key, std::string value,
                            int64_t expected_mod_revision) override {
    return Submit(Write::Kind::kUpdate, key, std::move(value), expected_mod_revision);
  }

  StatusOr<KeyValue> Delete(std::string_view key, int64_t expected_mod_revision) override {
    return Submit(Write::Kind::kDelete, key, std::string(), expected_mod_revision);
  }

  StatusOr<std::unique_ptr<WatchStream>> Watch(std::string_view prefix,
                                               int64_t after_revision) override {
    return sqlite::OpenWatch(state_, prefix, after_revision, options_.watch_queue_limit);
  }

  int64_t CurrentRevision() override { return state_->hub.published(); }
  int64_t CompactedRevision() override { return state_->compacted.load(); }

  Status Compact(int64_t revision) override {
    std::lock_guard<std::mutex> lock(compact_mu_);
    if (revision <= state_->compacted.load()) return Status::Ok();
    int64_t current = CurrentRevision();
    if (revision > current) {
      return BadRequest("cannot compact to revision " + std::to_string(revision) +
                        ": the current revision is " + std::to_string(current));
    }
    // Record the mark first: from here readers of older revisions get Gone instead of a
    // snapshot with rows missing, and a crash mid-way resumes at the next open.
    KUMO_RETURN_IF_ERROR(RunOnWriter([revision](Db& db) {
      Txn txn(db);
      KUMO_RETURN_IF_ERROR(txn.Begin(/*immediate=*/true));
      KUMO_RETURN_IF_ERROR(sqlite::WriteMeta(db, sqlite::kMetaCompactRev, revision));
      return txn.Commit();
    }));
    state_->compacted.store(revision);
    while (compact_done_ < revision) {
      if (closing_.load()) return Closing();
      int64_t lo = compact_done_;
      int64_t hi = std::min(revision, lo + kCompactChunk);
      KUMO_RETURN_IF_ERROR(
          RunOnWriter([lo, hi](Db& db) { return sqlite::CompactRange(db, lo, hi); }));
      compact_done_ = hi;
    }
    return Status::Ok();
  }

 private:
  struct Write {
    enum class Kind { kCreate, kUpdate, kDelete };
    Kind kind;
    std::string key;
    std::string value;
    int64_t expected = 0;
    std::promise<StatusOr<KeyValue>> done;
  };
  // Work that needs the writer connection to itself (compaction), run between batches.
  struct Task {
    std::function<Status(Db&)> run;
    std::promise<Status> done;
  };
  // The outcome of one write inside a batch.
  struct Applied {
    Status db_error;  // SQLite failed: the whole batch rolls back
    StatusOr<KeyValue> result = Internal("write not applied");
    EventType type = EventType::kCreate;
  };

  StatusOr<KeyValue> Submit(Write::Kind kind, std::string_view key, std::string value,
                            int64_t expected) {
    if (key.empty()) return BadRequest("the key must not be empty");
    Write write{kind, std::string(key), std::move(value), expected, {}};
    std::future<StatusOr<KeyValue>> result = write.done.get_future();
    {
      std::lock_guard<std::mutex> lock(queue_mu_);
      if (writer_stopping_) return Closing();
      queue_.emplace_back(std::move(write));
    }
    queue_cv_.notify_one();
    return result.get();
  }

  Status RunOnWriter(std::function<Status(Db&)> run) {
    Task task{std::move(run), {}};
    std::future<Status> result = task.done.get_future();
    {
      std::lock_guard<std::mutex> lock(queue_mu_);
      if (writer_stopping_) return Closing();
      queue_.emplace_back(std::move(task));
    }
    queue_cv_.notify_one();
    return result.get();
  }

  void WriterLoop() {
    for (;;) {
      std::vector<Write> batch;
      std::optional<Task> task;
      {
        std::unique_lock<std::mutex> lock(queue_mu_);
        queue_cv_.wait(lock, [&] { return writer_stopping_ || !queue_.empty(); });
        if (queue_.empty()) return;  // stopping, and everything queued is done
        if (Task* front = std::get_if<Task>(&queue_.front())) {
          task.emplace(std::move(*front));
          queue_.pop_front();
        } else {
          while (!queue_.empty() && batch.size() < max_batch_ &&
                 std::holds_alternative<Write>(queue_.front())) {
            batch.push_back(std::move(std::get<Write>(queue_.front())));
            queue_.pop_front();
          }
        }
      }
      if (task) {
        task->done.set_value(task->run(*writer_));
      } else {
        CommitBatch(batch);
      }
    }
  }

  // One transaction, one fsync for the whole batch. A write whose precondition fails fails
  // alone; an SQLite error fails the batch (nothing of it is committed).
  void CommitBatch(std::vector<Write>& batch) {
    auto fail_all = [&](const Status& status) {
      for (Write& w : batch) w.done.set_value(status);
    };
    std::vector<StatusOr<KeyValue>> results;
    std::vector<Event> events;
    int64_t rev = revision_;
    {
      Txn txn(*writer_);
      if (Status s = txn.Begin(/*immediate=*/true); !s.ok()) return fail_all(s);
      results.reserve(batch.size());
      for (Write& w : batch) {
        Applied applied = Apply(w, rev + 1);
        if (!applied.db_error.ok()) return fail_all(applied.db_error);
        if (applied.result.ok()) {
          ++rev;
          events.push_back(Event{applied.type, *applied.result});
        }
        results.push_back(std::move(applied.result));
      }
      if (Status s = txn.Commit(); !s.ok()) return fail_all(s);
    }
    revision_ = rev;
    // Watchers see the batch before the writers hear back, so a writer that watches from its
    // own revision never misses it.
    if (!events.empty()) state_->hub.Publish(events, rev);
    for (size_t i = 0; i < batch.size(); ++i) batch[i].done.set_value(std::move(results[i]));
  }

  // Checks `w`'s precondition against the key's latest row (earlier writes of the same batch
  // included) and appends its row at revision `rev`.
  Applied Apply(Write& w, int64_t rev) {
    Applied out;
    StatusOr<std::optional<Row>> latest = sqlite::LatestRow(*writer_, w.key);
    if (!latest.ok()) {
      out.db_error = latest.status();
      return out;
    }
    std::optional<Row>& current = *latest;
    bool exists = current && !current->deleted;
    int64_t created = rev;
    int64_t prev_rev = current ? current->rev : 0;
    bool tombstone = false;
    std::string value;
    if (w.kind == Write::Kind::kCreate) {
      if (exists) {
        out.result = AlreadyExists(Quoted(w.key) + " already exists");
        return out;
      }
      out.type = EventType::kCreate;
      value = std::move(w.value);
    } else {
      if (!exists) {
        out.result = NotFound(Quoted(w.key) + " not found");
        return out;
      }
      if (w.expected != 0 && w.expected != current->rev) {
        out.result = Conflict(kConflictMessage);
        return out;
      }
      created = current->created;
      if (w.kind == Write::Kind::kUpdate) {
        out.type = EventType::kUpdate;
        value = std::move(w.value);
      } else {
        // The tombstone keeps the last value: delete events and Delete's result carry it.
        out.type = EventType::kDelete;
        tombstone = true;
        value = std::move(current->value);
      }
    }
    out.db_error = sqlite::InsertRow(*writer_, rev, w.key, created, tombstone, value, prev_rev);
    if (out.db_error.ok()) out.result = KeyValue{std::move(w.key), std::move(value), created, rev};
    return out;
  }

  void CompactorLoop() {
    std::unique_lock<std::mutex> lock(stop_mu_);
    for (;;) {
      if (stop_cv_.wait_for(lock, options_.compact_interval, [&] { return closing_.load(); })) {
        return;
      }
      lock.unlock();
      int64_t target = CurrentRevision() - options_.retain_revisions;
      if (target > CompactedRevision()) {
        Status status = Compact(target);
        if (!status.ok() && !closing_.load()) {
          spdlog::warn("sqlite store: compaction to revision {} failed: {}", target,
                       status.message());
        }
      }
      lock.lock();
    }
  }

  const SqliteOptions options_;
  const size_t max_batch_;
  const std::unique_ptr<FileLock> lock_;  // released last
  std::unique_ptr<Db> writer_;            // used only by the writer thread
  const std::shared_ptr<SharedState> state_;

  std::mutex queue_mu_;
  std::condition_variable queue_cv_;
  std::deque<std::variant<Write, Task>> queue_;
  bool writer_stopping_ = false;  // guarded by queue_mu_
  int64_t revision_;              // last committed revision; writer thread only

  std::mutex compact_mu_;  // one compaction at a time
  int64_t compact_done_;   // rows removed up to here; guarded by compact_mu_

  std::mutex stop_mu_;
  std::condition_variable stop_cv_;
  std::atomic<bool> closing_{false};

  std::thread writer_thread_;
  std::thread compactor_thread_;
};

}  // namespace

StatusOr<std::unique_ptr<Store>> OpenSqliteStore(const SqliteOptions& options) {
  if (options.path.empty()) return BadRequest("SqliteOptions.path is empty; set the database file");
  KUMO_ASSIGN_OR_RETURN(std::unique_ptr<FileLock> lock, FileLock::Acquire(options.path + ".lock"));
  KUMO_ASSIGN_OR_RETURN(std::unique_ptr<Db> writer,
                        Db::Open(options.path, Db::Mode::kWriter, options.durable));
  KUMO_RETURN_IF_ERROR(sqlite::InitSchema(*writer));
  KUMO_ASSIGN_OR_RETURN(int64_t compacted, sqlite::ReadMeta(*writer, sqlite::kMetaCompactRev));
  KUMO_ASSIGN_OR_RETURN(int64_t done, sqlite::ReadMeta(*writer, sqlite::kMetaCompactDone));
  // A crash during compaction left rows it meant to remove; finish before serving.
  while (done < compacted) {
    int64_t hi = std::min(compacted, done + kCompactChunk);
    KUMO_RETURN_IF_ERROR(sqlite::CompactRange(*writer, done, hi));
    done = hi;
  }
  KUMO_ASSIGN_OR_RETURN(int64_t revision, sqlite::SnapshotRevision(*writer));
  auto state = std::make_shared<SharedState>(options.path, kReadConnections, revision, compacted);
  {
    // Fail here, not on the first read, when reader connections cannot open.
    KUMO_ASSIGN_OR_RETURN(ReadPool::Lease probe, state->readers.Acquire());
  }
  return std::unique_ptr<Store>(new SqliteStore(options, std::move(lock), std::move(writer),
                                                std::move(state), revision, done));
}

}  // namespace kumo::store
