// The resource kinds Kumo serves: names, scope, Table columns, selectable fields, and the
// per-kind validation and defaulting hooks. The API server is generic over this registry.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "common/json.h"
#include "common/status.h"

namespace kumo::api {

// One column of a server-side Table (meta.k8s.io/v1 TableColumnDefinition).
struct Column {
  std::string name;
  std::string type;    // "string", "integer", "date", "boolean"
  std::string format;  // "name" for the name column, else ""
  std::string description;
  int priority = 0;  // 0: always shown; 1: only with -o wide
  // Computes the cell for `obj`; `now` is the current unix time (for ages).
  std::function<json::value(const json::value& obj, int64_t now)> cell;
};

struct ResourceInfo {
  std::string group;    // "" for the core group
  std::string version;  // "v1"
  std::string kind;     // "VirtualMachine"
  std::string plural;   // "virtualmachines"
  std::string singular;
  bool namespaced = true;
  bool has_status = false;  // serves the /status subresource
  std::vector<std::string> short_names;
  std::vector<std::string> categories;
  // Field selector labels besides metadata.name and metadata.namespace; each is a dotted JSON
  // path into the object ("status.nodeName").
  std::vector<std::string> selectable_fields;
  std::vector<Column> columns;
  // Checks a whole object on create and update; returns Invalid with field causes.
  std::function<Status(const json::value& obj)> validate;
  // Fills defaults on create.
  std::function<void(json::value& obj)> set_defaults;

  std::string ApiVersion() const { return group.empty() ? version : group + "/" + version; }
  std::string ListKind() const { return kind + "List"; }
  // "/registry/<group or core>/<plural>/" — the store prefix of every object of this kind.
  std::string KeyPrefix() const;
  // Store key of one object (namespace ignored for cluster-scoped kinds).
  std::string Key(std::string_view ns, std::string_view name) const;
  // True when `field` may be used in a field selector.
  bool IsSelectableField(std::string_view field) const;
};

// Immutable after construction; safe to share across threads.
class Registry {
 public:
  explicit Registry(std::vector<ResourceInfo> resources);
  const std::vector<ResourceInfo>& resources() const { return resources_; }
  // By group, version and plural; nullptr when not served.
  const ResourceInfo* Find(std::string_view group, std::string_view version,
                           std::string_view plural) const;
  // By apiVersion ("kubevirt.io/v1") and kind; nullptr when not served.
  const ResourceInfo* FindKind(std::string_view api_version, std::string_view kind) const;
  // Group-versions in serving order: {"", "v1"} first, then named groups.
  std::vector<std::pair<std::string, std::string>> GroupVersions() const;

 private:
  std::vector<ResourceInfo> resources_;
};

// The kinds Kumo serves today.
const Registry& DefaultRegistry();

// The value at a dotted field path as a string, as Kubernetes compares field selectors
// ("" when missing; booleans "true"/"false"; numbers in decimal).
std::string FieldValue(const json::value& obj, std::string_view dotted_path);

}  // namespace kumo::api
