// The sqlite backend's schema and every query it runs. History is log-structured like k3s'
// kine: one kv row per revision (create, update or delete tombstone), so any retained
// revision can be listed or watched from. A key's state at revision R is its latest row with
// rev <= R, unless that row is a tombstone. Tombstones keep the last value so that DELETE
// watch events carry it. The meta table holds the compaction marks.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "store/sqlite/db.h"
#include "store/store.h"

namespace kumo::store::sqlite {

struct Row {
  int64_t rev = 0;
  std::string key;
  int64_t created = 0;  // create_revision of the key
  bool deleted = false;
  std::string value;
  int64_t prev_rev = 0;  // the key's previous row (0 for a first create)
};

// Keys in [lower, upper) (or (lower, upper) when !lower_inclusive); no upper bound when
// absent. Built from a prefix and a start_after so that every query is one index range.
struct KeyRange {
  std::string lower;
  bool lower_inclusive = true;
  std::optional<std::string> upper;
};
KeyRange RangeFor(std::string_view prefix, std::string_view start_after = {});

// meta names.
inline constexpr const char* kMetaCompactRev = "compact_rev";    // what readers see as compacted
inline constexpr const char* kMetaCompactDone = "compact_done";  // rows removed up to here

// Creates the tables on a new file; fails on a file written by a newer schema.
Status InitSchema(Db& db);

// The key's latest row, tombstone included; nullopt when the key never existed (or its
// history was compacted away after deletion).
StatusOr<std::optional<Row>> LatestRow(Db& db, std::string_view key);
Status InsertRow(Db& db, int64_t rev, std::string_view key, int64_t created, bool deleted,
                 std::string_view value, int64_t prev_rev);

// The revision of the last change as of the connection's snapshot. Compaction may have removed
// the row holding it, but never past compact_rev, so it is max(max(rev), compact_rev).
StatusOr<int64_t> SnapshotRevision(Db& db);
StatusOr<int64_t> ReadMeta(Db& db, const char* name);  // 0 when unset
Status WriteMeta(Db& db, const char* name, int64_t value);

// Live keys in `range` as of revision `at`, in key order, at most `limit` rows (< 0: all).
StatusOr<std::vector<Row>> ListAt(Db& db, const KeyRange& range, int64_t at, int64_t limit);
// Rows with after < rev <= upto whose key is in `range`, in revision order, at most `limit`.
StatusOr<std::vector<Row>> History(Db& db, const KeyRange& range, int64_t after, int64_t upto,
                                   int64_t limit);

// In one write transaction, removes the history that compaction to `compact_rev` no longer
// needs among rows with lo < rev <= hi (hi <= compact_rev): tombstones, and every row a later
// row in the range supersedes (found through prev_rev, so cost follows the number of changes,
// not the table size); then records hi as compact_done. Rows at or below lo were handled by
// earlier calls.
Status CompactRange(Db& db, int64_t lo, int64_t hi);

// The watch event a row represents.
Event EventOf(Row row);

}  // namespace kumo::store::sqlite
