#include "store/sqlite/db.h"

#include <climits>

namespace kumo::store::sqlite {
namespace {

// Long enough to ride out a WAL checkpoint or recovery; writes never contend with each other
// because only the writer thread writes.
constexpr int kBusyTimeoutMs = 10000;

}  // namespace

StatusOr<std::unique_ptr<Db>> Db::Open(const std::string& path, Mode mode, bool durable) {
  sqlite3* handle = nullptr;
  int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX;
  if (mode == Mode::kWriter) flags |= SQLITE_OPEN_CREATE;
  int rc = sqlite3_open_v2(path.c_str(), &handle, flags, nullptr);
  if (rc != SQLITE_OK) {
    std::string msg = handle ? sqlite3_errmsg(handle) : sqlite3_errstr(rc);
    sqlite3_close(handle);
    return Internal("cannot open SQLite database " + path + ": " + msg);
  }
  std::unique_ptr<Db> db(new Db(handle));
  sqlite3_extended_result_codes(handle, 1);
  sqlite3_busy_timeout(handle, kBusyTimeoutMs);
  if (mode == Mode::kWriter) {
    // journal_mode answers with the mode in force; anything but "wal" means the file system
    // cannot do WAL (e.g. some network file systems) and readers would block the writer.
    KUMO_ASSIGN_OR_RETURN(std::string journal, db->Pragma("PRAGMA journal_mode=WAL"));
    if (journal != "wal") {
      return Internal("SQLite refused WAL mode for " + path + " (journal_mode=" + journal +
                      "); put the data directory on a local file system");
    }
    KUMO_RETURN_IF_ERROR(
        db->Pragma(durable ? "PRAGMA synchronous=FULL" : "PRAGMA synchronous=NORMAL").status());
  } else {
    KUMO_RETURN_IF_ERROR(db->Pragma("PRAGMA query_only=1").status());
  }
  return db;
}

Db::~Db() {
  for (auto& [sql, stmt] : cache_) sqlite3_finalize(stmt);
  sqlite3_close(db_);
}

StatusOr<std::string> Db::Pragma(const char* sql) {
  sqlite3_stmt* stmt = nullptr;
  if (sqlite3_prepare_v2(db_, sql, -1, &stmt, nullptr) != SQLITE_OK) return Error(sql);
  int rc;
  std::string result;
  while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
    const unsigned char* text = sqlite3_column_text(stmt, 0);
    if (text) result = reinterpret_cast<const char*>(text);
  }
  sqlite3_finalize(stmt);
  if (rc != SQLITE_DONE) return Error(sql);
  return result;
}

StatusOr<sqlite3_stmt*> Db::Prepare(const char* sql) {
  auto it = cache_.find(sql);
  if (it != cache_.end()) return it->second;
  sqlite3_stmt* stmt = nullptr;
  if (sqlite3_prepare_v3(db_, sql, -1, SQLITE_PREPARE_PERSISTENT, &stmt, nullptr) != SQLITE_OK) {
    return Error("prepare");
  }
  cache_.emplace(sql, stmt);
  return stmt;
}

Status Db::Error(std::string_view what) const {
  return Internal("SQLite error (" + std::string(what) + "): " + sqlite3_errmsg(db_));
}

Query::Query(Db& db, const char* sql) : db_(db), sql_(sql) {
  StatusOr<sqlite3_stmt*> stmt = db.Prepare(sql);
  if (stmt.ok()) {
    stmt_ = *stmt;
  } else {
    status_ = stmt.status();
  }
}

Query::~Query() {
  if (stmt_ == nullptr) return;
  sqlite3_reset(stmt_);
  sqlite3_clear_bindings(stmt_);
}

void Query::Check(int rc, const char* what) {
  if (rc != SQLITE_OK && status_.ok()) status_ = db_.Error(what);
}

Query& Query::Bind(int index, int64_t value) {
  if (stmt_) Check(sqlite3_bind_int64(stmt_, index, value), "bind");
  return *this;
}

Query& Query::BindText(int index, std::string_view value) {
  // SQLITE_STATIC: the bytes outlive the statement's use; the destructor clears bindings.
  const char* data = value.data() ? value.data() : "";
  if (stmt_) {
    Check(sqlite3_bind_text64(stmt_, index, data, value.size(), SQLITE_STATIC, SQLITE_UTF8),
          "bind");
  }
  return *this;
}

Query& Query::BindBlob(int index, std::string_view value) {
  // A null pointer would bind NULL; an empty value must stay an empty BLOB.
  const char* data = value.data() ? value.data() : "";
  if (stmt_) Check(sqlite3_bind_blob64(stmt_, index, data, value.size(), SQLITE_STATIC), "bind");
  return *this;
}

StatusOr<bool> Query::Step() {
  if (!status_.ok()) return status_;
  int rc = sqlite3_step(stmt_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  status_ = db_.Error(sql_);
  return status_;
}

Status Query::Run() {
  for (;;) {
    KUMO_ASSIGN_OR_RETURN(bool row, Step());
    if (!row) return Status::Ok();
  }
}

std::string Query::Bytes(int column) const {
  const void* data = sqlite3_column_blob(stmt_, column);
  int size = sqlite3_column_bytes(stmt_, column);
  if (data == nullptr || size <= 0) return std::string();
  return std::string(static_cast<const char*>(data), static_cast<size_t>(size));
}

Txn::~Txn() {
  // After some errors (disk full, I/O) SQLite has already rolled back; don't roll back twice.
  if (open_ && db_.InTransaction()) (void)Query(db_, "ROLLBACK").Run();
}

Status Txn::Begin(bool immediate) {
  KUMO_RETURN_IF_ERROR(Query(db_, immediate ? "BEGIN IMMEDIATE" : "BEGIN").Run());
  open_ = true;
  return Status::Ok();
}

Status Txn::Commit() {
  KUMO_RETURN_IF_ERROR(Query(db_, "COMMIT").Run());
  open_ = false;
  return Status::Ok();
}

ReadPool::Lease::~Lease() {
  if (db_) pool_->Release(std::move(db_));
}

StatusOr<ReadPool::Lease> ReadPool::Acquire() {
  std::unique_lock<std::mutex> lock(mu_);
  cv_.wait(lock, [&] { return closed_ || !idle_.empty() || open_ < max_size_; });
  if (closed_) return Status(Code::kUnavailable, "the store is closing; retry");
  if (!idle_.empty()) {
    std::unique_ptr<Db> db = std::move(idle_.back());
    idle_.pop_back();
    return Lease(this, std::move(db));
  }
  ++open_;
  lock.unlock();
  StatusOr<std::unique_ptr<Db>> db = Db::Open(path_, Db::Mode::kReader, false);
  if (!db.ok()) {
    std::lock_guard<std::mutex> relock(mu_);
    --open_;
    cv_.notify_one();
    return db.status();
  }
  return Lease(this, std::move(db).value());
}

void ReadPool::Release(std::unique_ptr<Db> db) {
  std::lock_guard<std::mutex> lock(mu_);
  if (closed_) {
    --open_;
    db.reset();
  } else {
    idle_.push_back(std::move(db));
  }
  cv_.notify_one();
}

void ReadPool::Close() {
  std::vector<std::unique_ptr<Db>> idle;
  {
    std::lock_guard<std::mutex> lock(mu_);
    closed_ = true;
    open_ -= idle_.size();
    idle.swap(idle_);
  }
  cv_.notify_all();
}

}  // namespace kumo::store::sqlite
