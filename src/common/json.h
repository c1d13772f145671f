// JSON helpers over Boost.JSON, the one JSON library of Kumo's hot path.
// Parse once per request; these helpers read and write paths in a parsed tree.
#pragma once

#include <boost/json.hpp>
#include <initializer_list>
#include <string>
#include <string_view>

#include "common/status.h"

namespace kumo {

namespace json = boost::json;

// How deeply objects and arrays may nest in anything Kumo parses or stores ({} is depth 1).
// ParseJson refuses deeper documents, so nothing deeper may ever be stored.
inline constexpr int kMaxJsonDepth = 64;
// The largest object the server stores, serialized: etcd's default request limit
// (--max-request-bytes, 1.5 MiB), so an object that one backend accepts fits in the other.
// Request bodies may be larger (3 MiB, as kube-apiserver) only to carry patches and options.
inline constexpr size_t kMaxObjectBytes = 1536 * 1024;
// The most a YAML document may expand to through aliases, and the most a JSON patch may add
// or copy: kube-apiserver's body limit (and its JSON-patch copy limit), 3 MiB.
inline constexpr size_t kMaxExpansionBytes = 3 * 1024 * 1024;

// Parses `text` as one JSON value, nested at most kMaxJsonDepth deep. A syntax error becomes
// BadRequest naming the offset; a string or key that is not UTF-8 becomes Invalid naming the
// field.
StatusOr<json::value> ParseJson(std::string_view text);

// Parses JSON or YAML (a single document) into a JSON value; BadRequest on failure, also for
// YAML nested deeper than kMaxJsonDepth. RequestEntityTooLarge (413) when aliases expand the
// YAML past max(10,000 values, 64 values per input byte) or kMaxExpansionBytes; Invalid when a
// YAML string or key is not UTF-8.
StatusOr<json::value> ParseJsonOrYaml(std::string_view text);

// Whether `v` can be stored: RequestEntityTooLarge when it serializes to more than `max_bytes`,
// Invalid when it nests deeper than `max_depth`. Walks at most max_bytes of output and
// max_depth levels, however large `v` is.
Status CheckObjectBounds(const json::value& v, size_t max_bytes = kMaxObjectBytes,
                         int max_depth = kMaxJsonDepth);

// The nesting depth of `v` (0 for a scalar, 1 for {} or []), counting no further than `limit`
// + 1: a result above `limit` means "too deep", and the walk stays bounded.
int BoundedDepth(const json::value& v, int limit);

// The size of `v` serialized as JSON, counting no further than `limit` + 1 bytes (a result
// above `limit` means "too large"); the cost is bounded by `limit`, not by the size of `v`.
size_t BoundedSerializedSize(const json::value& v, size_t limit);

// Invalid (422) unless every string and object key in `v` is well-formed UTF-8 (RFC 3629: no
// overlong forms, surrogates or code points above U+10FFFF), the cause naming the field path
// (e.g. metadata.labels.app). What JSON parsing enforces, for values that came another way
// (YAML, protobuf), so that every stored object reads back.
Status CheckUtf8(const json::value& v);
// Whether `s` is well-formed UTF-8 (as CheckUtf8 defines it).
bool IsValidUtf8(std::string_view s);

std::string ToJson(const json::value& v);

// Returns the value at a dotted path of object keys, or nullptr when any step is missing or
// not an object. Example: Find(obj, {"metadata", "name"}).
const json::value* Find(const json::value& v, std::initializer_list<std::string_view> path);
json::value* Find(json::value& v, std::initializer_list<std::string_view> path);

// The string at `path`, or `def` when missing or not a string.
std::string GetString(const json::value& v, std::initializer_list<std::string_view> path,
                      std::string_view def = "");
// The integer at `path`, or `def` when missing or not an integer.
int64_t GetInt(const json::value& v, std::initializer_list<std::string_view> path,
               int64_t def = 0);
// The boolean at `path`, or `def` when missing or not a boolean.
bool GetBool(const json::value& v, std::initializer_list<std::string_view> path, bool def = false);
// The object at `path`, created (with intermediate objects) when missing. The value at each
// step must be an object or absent; a non-object is replaced.
json::object& EnsureObject(json::value& v, std::initializer_list<std::string_view> path);
// True when the values at `path` of `a` and `b` are equal, or both absent (a null object
// counts as one without the path): "did this write change the field?".
bool SameAt(const json::value* a, const json::value* b,
            std::initializer_list<std::string_view> path);

// RFC 3339 UTC timestamp with second precision, as Kubernetes writes creationTimestamp.
std::string FormatTime(int64_t unix_seconds);
// Parses RFC 3339 ("2024-01-02T03:04:05Z"); returns -1 when malformed.
int64_t ParseTime(std::string_view text);

// Kubernetes-style short age: 5s, 3m, 2h, 4d, 3y (k8s.io/apimachinery duration.HumanDuration).
std::string HumanDuration(int64_t seconds);

}  // namespace kumo
