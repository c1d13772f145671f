// The audit log: who did what. One JSON line per mutating request (create, update, patch,
// delete, deletecollection; allowed or not) appended to DATA_DIR/audit.log:
//   {"time":"2025-01-02T03:04:05.678Z","user":"alice","groups":["kumo:tenant-users",...],
//    "verb":"create","group":"kubevirt.io","resource":"virtualmachines","subresource":"",
//    "namespace":"a","name":"vm1","code":201,"sourceIP":"127.0.0.1:53422"}
// Also the ResponseWriter decorator the request path uses to add headers to every response and
// learn its status code.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "common/status.h"
#include "http/http_server.h"

namespace kumo::server {

struct AuditRecord {
  std::string user;
  std::vector<std::string> groups;
  std::string verb, group, resource, subresource, ns, name;
  int code = 0;
  std::string source;
};

// True for the verbs the audit log records.
bool IsMutatingVerb(std::string_view verb);

// Thread-safe. Owns the file descriptor.
class AuditLog {
 public:
  // Opens `path` for appending (created 0600).
  static StatusOr<std::unique_ptr<AuditLog>> Open(const std::string& path);
  ~AuditLog();
  // Appends one line stamped with the current time. Write errors are logged once, not returned.
  void Write(const AuditRecord& record);

 private:
  explicit AuditLog(int fd) : fd_(fd) {}
  std::mutex mu_;
  int fd_;
  bool warned_ = false;
};

// The line for `record` (without the trailing newline), stamped `unix_micros`.
std::string AuditLine(const AuditRecord& record, int64_t unix_micros);

// Forwards to another writer, adding `headers` to the response and remembering its status
// code (and, for 201 Created, the created object's name). Same threading as the wrapped writer.
class RecordingWriter : public http::ResponseWriter {
 public:
  RecordingWriter(http::ResponseWriter& inner, http::Headers headers)
      : inner_(inner), headers_(std::move(headers)) {}
  void Send(http::Response response) override;
  bool StartStream(int status, std::string_view content_type,
                   const http::Headers& headers) override;
  bool WriteChunk(std::string_view data) override { return inner_.WriteChunk(data); }
  void EndStream() override { inner_.EndStream(); }
  bool ClientGone() override { return inner_.ClientGone(); }
  std::unique_ptr<http::Conn> Upgrade(const http::Headers& headers) override {
    status_ = 101;
    http::Headers all = headers;
    all.insert(all.end(), headers_.begin(), headers_.end());
    return inner_.Upgrade(all);
  }

  int status() const { return status_; }
  const std::string& created_name() const { return created_name_; }

 private:
  http::ResponseWriter& inner_;
  http::Headers headers_;
  int status_ = 0;
  std::string created_name_;
};

}  // namespace kumo::server
