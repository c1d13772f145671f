// SQLite plumbing for the sqlite Store backend: a connection with a cache of prepared
// statements, a cursor over one cached statement, a transaction guard, and a pool of read
// connections. SQL text is always a string literal; data only ever goes through bindings.
#pragma once

#include <sqlite3.h>

#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "common/status.h"

namespace kumo::store::sqlite {

// One SQLite connection and its prepared statements. Owned by one user at a time (the
// writer thread, or whoever holds a ReadPool lease); not thread-safe.
class Db {
 public:
  enum class Mode { kWriter, kReader };

  // kWriter creates the file, switches it to WAL and sets synchronous (FULL when `durable`,
  // else NORMAL). kReader opens an existing file with query_only set.
  static StatusOr<std::unique_ptr<Db>> Open(const std::string& path, Mode mode, bool durable);
  ~Db();
  Db(const Db&) = delete;
  Db& operator=(const Db&) = delete;

  // The cached statement for `sql`, prepared on first use. `sql` must have static storage
  // duration (a literal): the cache is keyed by its address.
  StatusOr<sqlite3_stmt*> Prepare(const char* sql);
  // Internal error carrying sqlite3_errmsg(), prefixed with what was being done.
  Status Error(std::string_view what) const;
  bool InTransaction() const { return sqlite3_get_autocommit(db_) == 0; }

 private:
  explicit Db(sqlite3* db) : db_(db) {}
  // Runs a parameterless PRAGMA; returns the first column of its last row ("" when none).
  StatusOr<std::string> Pragma(const char* sql);

  sqlite3* db_;
  std::unordered_map<const char*, sqlite3_stmt*> cache_;
};

// Runs one cached statement: bind, step, read columns. Resets the statement and clears its
// bindings on destruction, so bound string_views need only outlive the Query.
class Query {
 public:
  Query(Db& db, const char* sql);
  ~Query();
  Query(const Query&) = delete;
  Query& operator=(const Query&) = delete;

  Query& Bind(int index, int64_t value);
  Query& BindText(int index, std::string_view value);
  Query& BindBlob(int index, std::string_view value);
  // true when a row is available, false when the statement is done.
  StatusOr<bool> Step();
  // Steps to completion, for statements that return no rows.
  Status Run();

  int64_t Int(int column) const { return sqlite3_column_int64(stmt_, column); }
  std::string Bytes(int column) const;  // TEXT or BLOB column

 private:
  void Check(int rc, const char* what);

  Db& db_;
  const char* sql_;
  sqlite3_stmt* stmt_ = nullptr;
  Status status_;  // first prepare/bind error, returned by Step()
};

// A transaction on one connection; rolls back on destruction unless committed.
class Txn {
 public:
  explicit Txn(Db& db) : db_(db) {}
  ~Txn();
  Txn(const Txn&) = delete;
  Txn& operator=(const Txn&) = delete;

  // Deferred BEGIN gives readers one consistent snapshot; IMMEDIATE takes the write lock.
  Status Begin(bool immediate);
  Status Commit();

 private:
  Db& db_;
  bool open_ = false;
};

// Read connections for Get, List and watch history, so reads never wait for the writer (WAL
// lets them run beside it). Thread-safe. Connections are opened on demand up to max_size.
class ReadPool {
 public:
  class Lease {
   public:
    Lease(ReadPool* pool, std::unique_ptr<Db> db) : pool_(pool), db_(std::move(db)) {}
    Lease(Lease&& other) noexcept = default;
    Lease& operator=(Lease&&) = delete;
    ~Lease();
    Db& operator*() { return *db_; }

   private:
    ReadPool* pool_;
    std::unique_ptr<Db> db_;
  };

  ReadPool(std::string path, size_t max_size) : path_(std::move(path)), max_size_(max_size) {}

  // A connection for the caller's exclusive use; waits when all are busy. Unavailable after
  // Close().
  StatusOr<Lease> Acquire();
  // Closes idle connections now and busy ones when they come back.
  void Close();

 private:
  void Release(std::unique_ptr<Db> db);

  const std::string path_;
  const size_t max_size_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::unique_ptr<Db>> idle_;
  size_t open_ = 0;
  bool closed_ = false;
};

}  // namespace kumo::store::sqlite
