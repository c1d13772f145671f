#include "api/columns.h"

namespace kumo::api {

Column NameColumn() {
  return {"Name", "string", "name", "Name must be unique within a namespace.", 0,
          [](const json::value& o, int64_t) {
            return json::value(GetString(o, {"metadata", "name"}));
          }};
}

json::value AgeOf(const json::value& o, int64_t now, std::initializer_list<std::string_view> path) {
  std::string ts = GetString(o, path);
  if (ts.empty()) return json::value("<unknown>");
  int64_t t = ParseTime(ts);
  if (t < 0) return json::value("<invalid>");
  return json::value(HumanDuration(now - t));
}

Column AgeColumn() {
  return {"Age", "date", "", "Time since the object was created.", 0,
          [](const json::value& o, int64_t now) {
            return AgeOf(o, now, {"metadata", "creationTimestamp"});
          }};
}

Column PathColumn(std::string name, std::string path, std::string description, int priority) {
  return {std::move(name), "string", "", std::move(description), priority,
          [path](const json::value& o, int64_t) { return json::value(FieldValue(o, path)); }};
}

}  // namespace kumo::api
