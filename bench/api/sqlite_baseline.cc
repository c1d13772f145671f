#include "sqlite_baseline.h"

#include <sqlite3.h>

#include <memory>
#include <mutex>

namespace kumo::bench {
namespace {

// One connection and its prepared statements; used by one thread.
class Conn {
 public:
  ~Conn() {
    for (sqlite3_stmt* s : {begin_, insert_, commit_, rollback_}) sqlite3_finalize(s);
    if (db_ != nullptr) sqlite3_close(db_);
  }

  Status Open(const std::string& path) {
    if (sqlite3_open_v2(path.c_str(), &db_, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, nullptr) !=
        SQLITE_OK) {
      return Error("open " + path);
    }
    sqlite3_busy_timeout(db_, 10000);
    KUMO_RETURN_IF_ERROR(Exec("PRAGMA journal_mode=WAL"));
    KUMO_RETURN_IF_ERROR(Exec("PRAGMA synchronous=FULL"));
    return Status::Ok();
  }

  Status Prepare() {
    KUMO_RETURN_IF_ERROR(PrepareOne("BEGIN IMMEDIATE", &begin_));
    KUMO_RETURN_IF_ERROR(PrepareOne(
        "INSERT INTO kv (key, created, deleted, value, prev_rev) VALUES (?1, 0, 0, ?2, 0)",
        &insert_));
    KUMO_RETURN_IF_ERROR(PrepareOne("COMMIT", &commit_));
    return PrepareOne("ROLLBACK", &rollback_);
  }

  Status Exec(const char* sql) {
    char* err = nullptr;
    if (sqlite3_exec(db_, sql, nullptr, nullptr, &err) != SQLITE_OK) {
      std::string msg = std::string(sql) + ": " + (err ? err : "?");
      sqlite3_free(err);
      return Internal(msg);
    }
    return Status::Ok();
  }

  // One durable transaction holding one row.
  Status Insert(const Row& row) {
    KUMO_RETURN_IF_ERROR(Step(begin_, "BEGIN"));
    sqlite3_bind_text(insert_, 1, row.key.data(), static_cast<int>(row.key.size()), SQLITE_STATIC);
    sqlite3_bind_blob(insert_, 2, row.value.data(), static_cast<int>(row.value.size()),
                      SQLITE_STATIC);
    Status st = Step(insert_, "INSERT");
    if (st.ok()) st = Step(commit_, "COMMIT");
    if (!st.ok()) Step(rollback_, "ROLLBACK");
    return st;
  }

 private:
  Status PrepareOne(const char* sql, sqlite3_stmt** stmt) {
    if (sqlite3_prepare_v2(db_, sql, -1, stmt, nullptr) != SQLITE_OK) return Error(sql);
    return Status::Ok();
  }
  Status Step(sqlite3_stmt* stmt, const char* what) {
    int rc = sqlite3_step(stmt);
    sqlite3_reset(stmt);
    if (rc != SQLITE_DONE && rc != SQLITE_ROW) return Error(what);
    return Status::Ok();
  }
  Status Error(const std::string& what) {
    return Internal("sqlite " + what + ": " + (db_ ? sqlite3_errmsg(db_) : "out of memory"));
  }

  sqlite3* db_ = nullptr;
  sqlite3_stmt* begin_ = nullptr;
  sqlite3_stmt* insert_ = nullptr;
  sqlite3_stmt* commit_ = nullptr;
  sqlite3_stmt* rollback_ = nullptr;
};

}  // namespace

Status InitBaseline(const std::string& path) {
  Conn conn;
  KUMO_RETURN_IF_ERROR(conn.Open(path));
  KUMO_RETURN_IF_ERROR(
      conn.Exec("CREATE TABLE IF NOT EXISTS kv (rev INTEGER PRIMARY KEY, key TEXT NOT NULL,"
                " created INTEGER NOT NULL, deleted INTEGER NOT NULL, value BLOB NOT NULL,"
                " prev_rev INTEGER NOT NULL)"));
  return conn.Exec("CREATE INDEX IF NOT EXISTS kv_key_rev ON kv (key, rev)");
}

RunResult RunBaseline(const std::string& path, const std::vector<Row>& rows, int threads,
                      bool queue) {
  std::vector<std::unique_ptr<Conn>> conns(threads);
  std::mutex turn;
  return RunParallel(
      threads, rows.size(),
      [&](int t) {
        conns[t] = std::make_unique<Conn>();
        KUMO_RETURN_IF_ERROR(conns[t]->Open(path));
        return conns[t]->Prepare();
      },
      [&](int t, size_t i) {
        if (!queue) return conns[t]->Insert(rows[i]);
        std::lock_guard lock(turn);
        return conns[t]->Insert(rows[i]);
      });
}

}  // namespace kumo::bench
