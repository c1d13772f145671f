#include "store/sqlite/kv_table.h"

#include <utility>

namespace kumo::store::sqlite {
namespace {

constexpr int64_t kSchemaVersion = 1;

// rev is the rowid, so revision-range scans and the row lookups after an index hit are cheap.
constexpr const char* kCreateKv =
    "CREATE TABLE IF NOT EXISTS kv ("
    " rev INTEGER PRIMARY KEY,"
    " key TEXT NOT NULL,"
    " created INTEGER NOT NULL,"
    " deleted INTEGER NOT NULL,"
    " value BLOB NOT NULL,"
    " prev_rev INTEGER NOT NULL)";
constexpr const char* kCreateKvIndex = "CREATE INDEX IF NOT EXISTS kv_key_rev ON kv (key, rev)";
constexpr const char* kCreateMeta =
    "CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value INTEGER NOT NULL)"
    " WITHOUT ROWID";

constexpr const char* kLatest =
    "SELECT rev, created, deleted, value, prev_rev FROM kv WHERE key = ?1"
    " ORDER BY rev DESC LIMIT 1";
constexpr const char* kInsert =
    "INSERT INTO kv (rev, key, created, deleted, value, prev_rev)"
    " VALUES (?1, ?2, ?3, ?4, ?5, ?6)";
constexpr const char* kSnapshotRevision =
    "SELECT MAX(COALESCE((SELECT MAX(rev) FROM kv), 0),"
    " COALESCE((SELECT value FROM meta WHERE name = 'compact_rev'), 0))";
constexpr const char* kReadMeta = "SELECT value FROM meta WHERE name = ?1";
constexpr const char* kWriteMeta =
    "INSERT INTO meta (name, value) VALUES (?1, ?2)"
    " ON CONFLICT (name) DO UPDATE SET value = excluded.value";

// Latest row per key at or below ?3. SQLite documents that with a lone MAX() aggregate the bare
// columns come from the row holding the maximum, also in HAVING. The scan walks kv_key_rev in
// key order, so ORDER BY needs no sort and LIMIT stops it early (pagination stays cheap).
#define KUMO_LIST_SELECT "SELECT key, MAX(rev), created, value FROM kv WHERE "
#define KUMO_LIST_TAIL " AND rev <= ?3 GROUP BY key HAVING deleted = 0 ORDER BY key LIMIT ?4"
constexpr const char* kListGe = KUMO_LIST_SELECT "key >= ?1" KUMO_LIST_TAIL;
constexpr const char* kListGt = KUMO_LIST_SELECT "key > ?1" KUMO_LIST_TAIL;
constexpr const char* kListGeLt = KUMO_LIST_SELECT "key >= ?1 AND key < ?2" KUMO_LIST_TAIL;
constexpr const char* kListGtLt = KUMO_LIST_SELECT "key > ?1 AND key < ?2" KUMO_LIST_TAIL;
#undef KUMO_LIST_SELECT
#undef KUMO_LIST_TAIL

// History walks the rowid range; "+key" keeps the planner off kv_key_rev, which would need a
// sort by revision afterwards.
#define KUMO_HISTORY_SELECT \
  "SELECT rev, key, created, deleted, value, prev_rev FROM kv WHERE rev > ?3 AND rev <= ?4 AND "
#define KUMO_HISTORY_TAIL " ORDER BY rev LIMIT ?5"
constexpr const char* kHistoryGe = KUMO_HISTORY_SELECT "+key >= ?1" KUMO_HISTORY_TAIL;
constexpr const char* kHistoryGt = KUMO_HISTORY_SELECT "+key > ?1" KUMO_HISTORY_TAIL;
constexpr const char* kHistoryGeLt =
    KUMO_HISTORY_SELECT "+key >= ?1 AND +key < ?2" KUMO_HISTORY_TAIL;
constexpr const char* kHistoryGtLt =
    KUMO_HISTORY_SELECT "+key > ?1 AND +key < ?2" KUMO_HISTORY_TAIL;
#undef KUMO_HISTORY_SELECT
#undef KUMO_HISTORY_TAIL

constexpr const char* kSupersededIn =
    "SELECT prev_rev FROM kv WHERE rev > ?1 AND rev <= ?2 AND prev_rev > 0";
constexpr const char* kTombstonesIn =
    "SELECT rev FROM kv WHERE rev > ?1 AND rev <= ?2 AND deleted = 1";
constexpr const char* kDeleteRev = "DELETE FROM kv WHERE rev = ?1";

const char* Pick(const KeyRange& range, const char* ge, const char* gt, const char* ge_lt,
                 const char* gt_lt) {
  if (range.upper) return range.lower_inclusive ? ge_lt : gt_lt;
  return range.lower_inclusive ? ge : gt;
}

void BindRange(Query& q, const KeyRange& range) {
  q.BindText(1, range.lower);
  if (range.upper) q.BindText(2, *range.upper);
}

StatusOr<std::vector<int64_t>> Revisions(Db& db, const char* sql, int64_t lo, int64_t hi) {
  Query q(db, sql);
  q.Bind(1, lo).Bind(2, hi);
  std::vector<int64_t> out;
  for (;;) {
    KUMO_ASSIGN_OR_RETURN(bool row, q.Step());
    if (!row) return out;
    out.push_back(q.Int(0));
  }
}

}  // namespace

KeyRange RangeFor(std::string_view prefix, std::string_view start_after) {
  KeyRange range;
  if (!start_after.empty() && start_after >= prefix) {
    range.lower = std::string(start_after);
    range.lower_inclusive = false;
  } else {
    range.lower = std::string(prefix);
  }
  // The smallest string greater than every key with the prefix: drop trailing 0xff bytes and
  // increment the last remaining one. None when nothing remains (empty or all-0xff prefix).
  std::string upper(prefix);
  while (!upper.empty() && static_cast<unsigned char>(upper.back()) == 0xff) upper.pop_back();
  if (!upper.empty()) {
    upper.back() = static_cast<char>(static_cast<unsigned char>(upper.back()) + 1);
    range.upper = std::move(upper);
  }
  return range;
}

Status InitSchema(Db& db) {
  Txn txn(db);
  KUMO_RETURN_IF_ERROR(txn.Begin(/*immediate=*/true));
  int64_t version = 0;
  {
    Query q(db, "PRAGMA user_version");
    KUMO_ASSIGN_OR_RETURN(bool row, q.Step());
    if (row) version = q.Int(0);
  }
  if (version > kSchemaVersion) {
    return Status(Code::kInternal, "the database was written by a newer Kumo (schema version " +
                                       std::to_string(version) + "); upgrade Kumo to open it");
  }
  KUMO_RETURN_IF_ERROR(Query(db, kCreateKv).Run());
  KUMO_RETURN_IF_ERROR(Query(db, kCreateKvIndex).Run());
  KUMO_RETURN_IF_ERROR(Query(db, kCreateMeta).Run());
  // PRAGMA takes no bound parameters; the version is a compile-time constant.
  static_assert(kSchemaVersion == 1, "update the user_version statement below");
  if (version < kSchemaVersion) KUMO_RETURN_IF_ERROR(Query(db, "PRAGMA user_version = 1").Run());
  return txn.Commit();
}

StatusOr<std::optional<Row>> LatestRow(Db& db, std::string_view key) {
  Query q(db, kLatest);
  q.BindText(1, key);
  KUMO_ASSIGN_OR_RETURN(bool found, q.Step());
  if (!found) return std::optional<Row>();
  Row row;
  row.rev = q.Int(0);
  row.key = std::string(key);
  row.created = q.Int(1);
  row.deleted = q.Int(2) != 0;
  row.value = q.Bytes(3);
  row.prev_rev = q.Int(4);
  return std::optional<Row>(std::move(row));
}

Status InsertRow(Db& db, int64_t rev, std::string_view key, int64_t created, bool deleted,
                 std::string_view value, int64_t prev_rev) {
  Query q(db, kInsert);
  q.Bind(1, rev).BindText(2, key).Bind(3, created).Bind(4, deleted ? 1 : 0);
  q.BindBlob(5, value).Bind(6, prev_rev);
  return q.Run();
}

StatusOr<int64_t> SnapshotRevision(Db& db) {
  Query q(db, kSnapshotRevision);
  KUMO_ASSIGN_OR_RETURN(bool row, q.Step());
  return row ? q.Int(0) : 0;
}

StatusOr<int64_t> ReadMeta(Db& db, const char* name) {
  Query q(db, kReadMeta);
  q.BindText(1, name);
  KUMO_ASSIGN_OR_RETURN(bool row, q.Step());
  return row ? q.Int(0) : 0;
}

Status WriteMeta(Db& db, const char* name, int64_t value) {
  Query q(db, kWriteMeta);
  q.BindText(1, name).Bind(2, value);
  return q.Run();
}

StatusOr<std::vector<Row>> ListAt(Db& db, const KeyRange& range, int64_t at, int64_t limit) {
  Query q(db, Pick(range, kListGe, kListGt, kListGeLt, kListGtLt));
  BindRange(q, range);
  q.Bind(3, at).Bind(4, limit < 0 ? -1 : limit);
  std::vector<Row> rows;
  for (;;) {
    KUMO_ASSIGN_OR_RETURN(bool more, q.Step());
    if (!more) return rows;
    Row& row = rows.emplace_back();
    row.key = q.Bytes(0);
    row.rev = q.Int(1);
    row.created = q.Int(2);
    row.value = q.Bytes(3);
  }
}

StatusOr<std::vector<Row>> History(Db& db, const KeyRange& range, int64_t after, int64_t upto,
                                   int64_t limit) {
  Query q(db, Pick(range, kHistoryGe, kHistoryGt, kHistoryGeLt, kHistoryGtLt));
  BindRange(q, range);
  q.Bind(3, after).Bind(4, upto).Bind(5, limit);
  std::vector<Row> rows;
  for (;;) {
    KUMO_ASSIGN_OR_RETURN(bool more, q.Step());
    if (!more) return rows;
    Row& row = rows.emplace_back();
    row.rev = q.Int(0);
    row.key = q.Bytes(1);
    row.created = q.Int(2);
    row.deleted = q.Int(3) != 0;
    row.value = q.Bytes(4);
    row.prev_rev = q.Int(5);
  }
}

Status CompactRange(Db& db, int64_t lo, int64_t hi) {
  Txn txn(db);
  KUMO_RETURN_IF_ERROR(txn.Begin(/*immediate=*/true));
  // Collect before deleting: a tombstone's prev_rev must be read before the tombstone goes.
  KUMO_ASSIGN_OR_RETURN(std::vector<int64_t> superseded, Revisions(db, kSupersededIn, lo, hi));
  KUMO_ASSIGN_OR_RETURN(std::vector<int64_t> tombstones, Revisions(db, kTombstonesIn, lo, hi));
  for (const std::vector<int64_t>* revs : {&superseded, &tombstones}) {
    for (int64_t rev : *revs) {
      Query q(db, kDeleteRev);
      q.Bind(1, rev);
      KUMO_RETURN_IF_ERROR(q.Run());
    }
  }
  KUMO_RETURN_IF_ERROR(WriteMeta(db, kMetaCompactDone, hi));
  return txn.Commit();
}

Event EventOf(Row row) {
  EventType type = row.deleted              ? EventType::kDelete
                   : row.created == row.rev ? EventType::kCreate
                                            : EventType::kUpdate;
  return Event{type, KeyValue{std::move(row.key), std::move(row.value), row.created, row.rev}};
}

}  // namespace kumo::store::sqlite
