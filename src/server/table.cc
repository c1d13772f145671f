#include "server/table.h"

namespace kumo::server {

bool WantsTable(std::string_view accept) {
  // e.g. "application/json;as=Table;v=v1;g=meta.k8s.io,application/json;as=Table;v=v1beta1;..."
  size_t pos = 0;
  while (pos < accept.size()) {
    size_t comma = accept.find(',', pos);
    std::string_view part = accept.substr(pos, comma == std::string_view::npos ? comma : comma - pos);
    if (part.find("as=Table") != std::string_view::npos &&
        part.find("g=meta.k8s.io") != std::string_view::npos &&
        part.find("v=v1beta1") == std::string_view::npos) {
      return true;
    }
    if (comma == std::string_view::npos) break;
    pos = comma + 1;
  }
  return false;
}

IncludeObject ParseIncludeObject(std::string_view value) {
  if (value == "None") return IncludeObject::kNone;
  if (value == "Object") return IncludeObject::kObject;
  return IncludeObject::kMetadata;
}

json::object BuildTable(const api::ResourceInfo& info, const std::vector<json::value>& objects,
                        IncludeObject include, bool with_columns, json::object list_meta,
                        int64_t now) {
  json::object table;
  table["kind"] = "Table";
  table["apiVersion"] = "meta.k8s.io/v1";
  table["metadata"] = std::move(list_meta);
  json::array columns;
  if (with_columns) {
    for (const auto& c : info.columns) {
      columns.push_back(json::object{{"name", c.name},
                                     {"type", c.type},
                                     {"format", c.format},
                                     {"description", c.description},
                                     {"priority", c.priority}});
    }
  }
  table["columnDefinitions"] = std::move(columns);
  json::array rows;
  for (const auto& obj : objects) {
    json::array cells;
    for (const auto& c : info.columns) cells.push_back(c.cell(obj, now));
    json::object row{{"cells", std::move(cells)}};
    if (include == IncludeObject::kObject) {
      row["object"] = obj;
    } else if (include == IncludeObject::kMetadata) {
      const json::value* meta = Find(obj, {"metadata"});
      row["object"] = json::object{{"kind", "PartialObjectMetadata"},
                                   {"apiVersion", "meta.k8s.io/v1"},
                                   {"metadata", meta ? *meta : json::object()}};
    }
    rows.push_back(std::move(row));
  }
  table["rows"] = std::move(rows);
  return table;
}

}  // namespace kumo::server
