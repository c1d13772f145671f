#include "server/audit.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <ctime>

#include "common/json.h"
#include "common/log.h"

namespace kumo::server {

bool IsMutatingVerb(std::string_view verb) {
  return verb == "create" || verb == "update" || verb == "patch" || verb == "delete" ||
         verb == "deletecollection";
}

StatusOr<std::unique_ptr<AuditLog>> AuditLog::Open(const std::string& path) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
  if (fd < 0) {
    return Status(Code::kInternal,
                  "cannot open the audit log " + path + ": " + std::strerror(errno));
  }
  return std::unique_ptr<AuditLog>(new AuditLog(fd));
}

AuditLog::~AuditLog() { ::close(fd_); }

std::string AuditLine(const AuditRecord& r, int64_t unix_micros) {
  std::time_t secs = static_cast<std::time_t>(unix_micros / 1000000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char ts[40];
  std::snprintf(ts, sizeof ts, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                static_cast<int>((unix_micros / 1000) % 1000));
  json::array groups;
  for (const auto& g : r.groups) groups.emplace_back(g);
  return json::serialize(json::object{{"time", ts},
                                      {"user", r.user},
                                      {"groups", std::move(groups)},
                                      {"verb", r.verb},
                                      {"group", r.group},
                                      {"resource", r.resource},
                                      {"subresource", r.subresource},
                                      {"namespace", r.ns},
                                      {"name", r.name},
                                      {"code", r.code},
                                      {"sourceIP", r.source}});
}

void AuditLog::Write(const AuditRecord& record) {
  int64_t now = std::chrono::duration_cast<std::chrono::microseconds>(
                    std::chrono::system_clock::now().time_since_epoch())
                    .count();
  std::string line = AuditLine(record, now) + "\n";
  std::lock_guard lock(mu_);
  // O_APPEND: one write() per line keeps lines whole even with other writers.
  ssize_t n = ::write(fd_, line.data(), line.size());
  if (n != static_cast<ssize_t>(line.size()) && !warned_) {
    warned_ = true;
    spdlog::error("cannot write the audit log: {}", n < 0 ? std::strerror(errno) : "short write");
  }
}

void RecordingWriter::Send(http::Response response) {
  status_ = response.status;
  if (response.status == 201 && !response.body.empty()) {
    if (auto obj = ParseJson(response.body); obj.ok())
      created_name_ = GetString(*obj, {"metadata", "name"});
  }
  for (const auto& h : headers_) response.headers.push_back(h);
  inner_.Send(std::move(response));
}

bool RecordingWriter::StartStream(int status, std::string_view content_type,
                                  const http::Headers& headers) {
  status_ = status;
  http::Headers all = headers;
  for (const auto& h : headers_) all.push_back(h);
  return inner_.StartStream(status, content_type, all);
}

}  // namespace kumo::server
