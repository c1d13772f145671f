#include "server/discovery.h"

#include <algorithm>

#include "common/json.h"

namespace kumo::server {

namespace {

json::array Strings(const std::vector<std::string>& v) {
  json::array a;
  for (const auto& s : v) a.push_back(json::value(s));
  return a;
}

json::object GroupObject(const api::Registry& registry, std::string_view group) {
  json::array versions;
  for (const auto& [g, v] : registry.GroupVersions()) {
    if (g != group) continue;
    versions.push_back(json::object{{"groupVersion", g + "/" + v}, {"version", v}});
  }
  json::object g{{"name", group}, {"versions", versions}};
  if (!versions.empty()) g["preferredVersion"] = versions[0];
  return g;
}

}  // namespace

std::string VersionJson() {
  return json::serialize(json::object{{"major", "1"},
                                      {"minor", "32"},
                                      {"gitVersion", "v1.32.0-kumo.0.1.0"},
                                      {"gitCommit", ""},
                                      {"gitTreeState", "clean"},
                                      {"buildDate", "2026-11-30T00:00:00Z"},
                                      {"goVersion", "n/a (C++)"},
                                      {"compiler", "gcc"},
                                      {"platform", "linux/amd64"}});
}

std::string ApiVersionsJson() {
  return json::serialize(json::object{
      {"kind", "APIVersions"},
      {"versions", json::array{"v1"}},
      {"serverAddressByClientCIDRs",
       json::array{json::object{{"clientCIDR", "0.0.0.0/0"}, {"serverAddress", ""}}}}});
}

std::string ApiGroupListJson(const api::Registry& registry) {
  json::array groups;
  std::vector<std::string> seen;
  for (const auto& [g, v] : registry.GroupVersions()) {
    if (g.empty() || std::find(seen.begin(), seen.end(), g) != seen.end()) continue;
    seen.push_back(g);
    groups.push_back(GroupObject(registry, g));
  }
  // KubeVirt's subresource group (start, stop, restart) is served by its own handler.
  json::object sub{{"groupVersion", "subresources.kubevirt.io/v1"}, {"version", "v1"}};
  groups.push_back(json::object{{"name", "subresources.kubevirt.io"},
                                {"versions", json::array{sub}},
                                {"preferredVersion", sub}});
  return json::serialize(
      json::object{{"kind", "APIGroupList"}, {"apiVersion", "v1"}, {"groups", groups}});
}

StatusOr<std::string> ApiGroupJson(const api::Registry& registry, std::string_view group) {
  json::object g = GroupObject(registry, group);
  if (g["versions"].get_array().empty()) {
    return NotFound("the server could not find the requested resource");
  }
  g["kind"] = "APIGroup";
  g["apiVersion"] = "v1";
  return json::serialize(g);
}

StatusOr<std::string> ApiResourceListJson(const api::Registry& registry, std::string_view group,
                                          std::string_view version) {
  json::array resources;
  for (const auto& r : registry.resources()) {
    if (r.group != group || r.version != version) continue;
    json::object o{{"name", r.plural},
                   {"singularName", r.singular},
                   {"namespaced", r.namespaced},
                   {"kind", r.kind},
                   {"verbs", json::array{"create", "delete", "deletecollection", "get", "list",
                                         "patch", "update", "watch"}}};
    if (!r.short_names.empty()) o["shortNames"] = Strings(r.short_names);
    if (!r.categories.empty()) o["categories"] = Strings(r.categories);
    resources.push_back(std::move(o));
    if (r.has_status) {
      resources.push_back(json::object{{"name", r.plural + "/status"},
                                       {"singularName", ""},
                                       {"namespaced", r.namespaced},
                                       {"kind", r.kind},
                                       {"verbs", json::array{"get", "patch", "update"}}});
    }
  }
  if (resources.empty()) return NotFound("the server could not find the requested resource");
  std::string gv = group.empty() ? std::string(version) : std::string(group) + "/" + std::string(version);
  return json::serialize(json::object{{"kind", "APIResourceList"},
                                      {"apiVersion", "v1"},
                                      {"groupVersion", gv},
                                      {"resources", resources}});
}

}  // namespace kumo::server
