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

// Parses `text` as one JSON value; a syntax error becomes BadRequest naming the offset.
StatusOr<json::value> ParseJson(std::string_view text);

// Parses JSON or YAML (a single document) into a JSON value; BadRequest on failure.
StatusOr<json::value> ParseJsonOrYaml(std::string_view text);

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

// RFC 3339 UTC timestamp with second precision, as Kubernetes writes creationTimestamp.
std::string FormatTime(int64_t unix_seconds);
// Parses RFC 3339 ("2024-01-02T03:04:05Z"); returns -1 when malformed.
int64_t ParseTime(std::string_view text);

// Kubernetes-style short age: 5s, 3m, 2h, 4d, 3y (k8s.io/apimachinery duration.HumanDuration).
std::string HumanDuration(int64_t seconds);

}  // namespace kumo
