// The embedded SQLite backend of Store (Kumo's default datastore): a log-structured MVCC
// table in the style of k3s' kine, WAL mode, group commit through one writer thread, watch
// from any retained revision, and background compaction of old history.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "common/status.h"
#include "store/store.h"

namespace kumo::store {

struct SqliteOptions {
  // Database file. Created when absent; its directory must exist. One Store per file: a
  // second open (in this or another process) fails with Unavailable while the first is open.
  std::string path;
  // synchronous=FULL in WAL mode: an acknowledged write survives kill -9 and power loss.
  // false: synchronous=NORMAL (survives kill -9; the last commits may be lost on power loss).
  bool durable = true;
  // Background compaction keeps this many latest revisions of history; 0 disables it.
  int64_t retain_revisions = 10000;
  std::chrono::seconds compact_interval{60};  // 0 disables background compaction
  size_t max_batch = 256;  // writes committed together in one transaction (one fsync)
  // A watch stream whose consumer has more than this many undelivered events is ended with
  // Gone (the client re-lists) instead of buffering without bound.
  size_t watch_queue_limit = 100000;
};

// Opens (creating if needed) the database at options.path and resumes any compaction that
// was interrupted by a crash. The returned Store is thread-safe; destroying it finishes the
// writes already queued, then ends open watch streams with Unavailable.
StatusOr<std::unique_ptr<Store>> OpenSqliteStore(const SqliteOptions& options);

}  // namespace kumo::store
