// Internal to the api module: the Table columns several kinds share (name, age, a field).
#pragma once

#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>

#include "api/resource.h"

namespace kumo::api {

Column NameColumn();
// "5m", "3d": time since the timestamp at `path`.
json::value AgeOf(const json::value& o, int64_t now, std::initializer_list<std::string_view> path);
Column AgeColumn();
// A column showing the string at a dotted path ("" when missing).
Column PathColumn(std::string name, std::string path, std::string description, int priority = 0);

}  // namespace kumo::api
