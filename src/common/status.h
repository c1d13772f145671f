// Status and StatusOr: how errors cross module boundaries in Kumo (no exceptions).
// Codes mirror the Kubernetes Status reasons so the API server can map them 1:1.
#pragma once

#include <cassert>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace kumo {

enum class Code {
  kOk = 0,
  kBadRequest,             // 400 BadRequest
  kUnauthorized,           // 401 Unauthorized
  kForbidden,              // 403 Forbidden
  kNotFound,               // 404 NotFound
  kMethodNotAllowed,       // 405 MethodNotAllowed
  kNotAcceptable,          // 406 NotAcceptable
  kAlreadyExists,          // 409 AlreadyExists
  kConflict,               // 409 Conflict
  kGone,                   // 410 Expired (resource version too old)
  kRequestEntityTooLarge,  // 413 RequestEntityTooLarge
  kUnsupportedMediaType,   // 415 UnsupportedMediaType
  kInvalid,                // 422 Invalid
  kTooManyRequests,        // 429 TooManyRequests
  kInternal,               // 500 InternalError
  kUnavailable,            // 503 ServiceUnavailable
  kTimeout,                // 504 Timeout
};

// One field-level problem, as in Kubernetes' StatusCause.
struct Cause {
  std::string reason;  // e.g. FieldValueInvalid, FieldValueRequired, FieldValueNotSupported
  std::string message;
  std::string field;  // e.g. spec.runStrategy
};

// Value type; cheap to copy when OK. Thread-compatible.
class Status {
 public:
  Status() = default;
  Status(Code code, std::string message, std::vector<Cause> causes = {})
      : code_(code), message_(std::move(message)), causes_(std::move(causes)) {}

  static Status Ok() { return Status(); }
  bool ok() const { return code_ == Code::kOk; }
  Code code() const { return code_; }
  const std::string& message() const { return message_; }
  const std::vector<Cause>& causes() const { return causes_; }
  // Seconds a client should wait before retrying (429/503); 0 when not set.
  int retry_after_seconds() const { return retry_after_; }
  Status& set_retry_after(int seconds) {
    retry_after_ = seconds;
    return *this;
  }
  std::string ToString() const;

 private:
  Code code_ = Code::kOk;
  std::string message_;
  std::vector<Cause> causes_;
  int retry_after_ = 0;
};

inline Status BadRequest(std::string m) { return Status(Code::kBadRequest, std::move(m)); }
inline Status NotFound(std::string m) { return Status(Code::kNotFound, std::move(m)); }
inline Status AlreadyExists(std::string m) { return Status(Code::kAlreadyExists, std::move(m)); }
inline Status Conflict(std::string m) { return Status(Code::kConflict, std::move(m)); }
inline Status Gone(std::string m) { return Status(Code::kGone, std::move(m)); }
inline Status Internal(std::string m) { return Status(Code::kInternal, std::move(m)); }
inline Status Forbidden(std::string m) { return Status(Code::kForbidden, std::move(m)); }
inline Status Invalid(std::string m, std::vector<Cause> causes) {
  return Status(Code::kInvalid, std::move(m), std::move(causes));
}

// Kubernetes reason string ("NotFound") and HTTP code (404) for a code.
const char* ReasonOf(Code code);
int HttpCodeOf(Code code);

// Holds either a value or a non-OK Status.
template <typename T>
class StatusOr {
 public:
  StatusOr(Status status) : status_(std::move(status)) { assert(!status_.ok()); }
  StatusOr(T value) : value_(std::move(value)) {}

  bool ok() const { return status_.ok(); }
  const Status& status() const { return status_; }
  T& value() & { return *value_; }
  const T& value() const& { return *value_; }
  T&& value() && { return std::move(*value_); }
  T* operator->() { return &*value_; }
  const T* operator->() const { return &*value_; }
  T& operator*() { return *value_; }
  const T& operator*() const { return *value_; }

 private:
  Status status_;
  std::optional<T> value_;
};

}  // namespace kumo

// Returns early from the enclosing function when `expr` (a Status) is not OK.
#define KUMO_RETURN_IF_ERROR(expr)        \
  do {                                    \
    ::kumo::Status _st = (expr);          \
    if (!_st.ok()) return _st;            \
  } while (0)

#define KUMO_CONCAT_INNER(a, b) a##b
#define KUMO_CONCAT(a, b) KUMO_CONCAT_INNER(a, b)
// Assigns the value of a StatusOr expression to `lhs`, or returns its Status.
#define KUMO_ASSIGN_OR_RETURN(lhs, expr) \
  KUMO_ASSIGN_OR_RETURN_IMPL(KUMO_CONCAT(_so_, __LINE__), lhs, expr)
#define KUMO_ASSIGN_OR_RETURN_IMPL(tmp, lhs, expr) \
  auto tmp = (expr);                               \
  if (!tmp.ok()) return tmp.status();              \
  lhs = std::move(tmp).value()
