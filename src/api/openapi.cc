#include "api/openapi.h"

#include <cctype>
#include <cstdint>
#include <cstdio>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <vector>

#include "api/openapi_schemas.h"
#include "api/openapi_v2.h"

namespace kumo::api {

namespace {

using openapi::Ref;

// "api/v1" for the core group, "apis/<group>/<version>" otherwise: the keys of the root
// index and what client-go's openapi3.GroupVersionToAPIPath produces.
std::string GvPath(std::string_view group, std::string_view version) {
  if (group.empty()) return "api/" + std::string(version);
  return "apis/" + std::string(group) + "/" + std::string(version);
}

// The group-version part of operation IDs, as kube-apiserver spells it: "CoreV1",
// "CoordinationV1" for *.k8s.io groups, "KubevirtIoV1" for others.
std::string OperationGv(std::string_view group, std::string_view version) {
  std::string out;
  auto append_cap = [&out](std::string_view word) {
    if (word.empty()) return;
    out.push_back(static_cast<char>(toupper(static_cast<unsigned char>(word[0]))));
    out.append(word.substr(1));
  };
  if (group.empty()) {
    out = "Core";
  } else {
    constexpr std::string_view kK8s = ".k8s.io";
    if (group.size() > kK8s.size() && group.substr(group.size() - kK8s.size()) == kK8s) {
      group = group.substr(0, group.size() - kK8s.size());
    }
    size_t start = 0;
    while (start <= group.size()) {
      size_t dot = group.find('.', start);
      append_cap(group.substr(start, dot == std::string_view::npos ? dot : dot - start));
      if (dot == std::string_view::npos) break;
      start = dot + 1;
    }
  }
  append_cap(version);
  return out;
}

json::object Param(std::string_view name, std::string_view in, std::string_view description,
                   std::string_view type = "string", bool required = false) {
  json::object p{{"name", name},
                 {"in", in},
                 {"description", description},
                 {"schema", {{"type", type}, {"uniqueItems", true}}}};
  if (required) p["required"] = true;
  return p;
}

json::object DryRun() {
  return Param("dryRun", "query",
               "When present, run every stage of the request except persisting it. The only "
               "valid value is All.");
}

json::object FieldManager() {
  return Param("fieldManager", "query",
               "Name of the actor making the change, recorded in managedFields.");
}

json::object FieldValidation() {
  return Param("fieldValidation", "query",
               "How the server treats unknown and duplicate fields in the body: Ignore drops "
               "them silently, Warn (the default) drops them and returns a warning, Strict "
               "rejects the request.");
}

void AppendListParams(json::array& params) {
  params.push_back(Param("allowWatchBookmarks", "query",
                         "With watch, ask for BOOKMARK events that carry only a "
                         "resourceVersion.",
                         "boolean"));
  params.push_back(Param("continue", "query",
                         "Token from a previous page's metadata.continue to read the next "
                         "page."));
  params.push_back(Param("fieldSelector", "query",
                         "Restrict the result to objects whose fields match, e.g. "
                         "metadata.name=vm1."));
  params.push_back(Param("labelSelector", "query",
                         "Restrict the result to objects whose labels match, e.g. app=web."));
  params.push_back(Param("limit", "query",
                         "Largest number of items to return; the rest is reachable through "
                         "continue.",
                         "integer"));
  params.push_back(Param("resourceVersion", "query",
                         "Which version of the collection to read, or where a watch starts."));
  params.push_back(Param("resourceVersionMatch", "query",
                         "How resourceVersion is applied to a list: Exact or NotOlderThan."));
  params.push_back(Param("sendInitialEvents", "query",
                         "With watch, start with synthetic ADDED events for existing "
                         "objects.",
                         "boolean"));
  params.push_back(
      Param("timeoutSeconds", "query", "Upper bound of the duration of the call.", "integer"));
  params.push_back(Param("watch", "query",
                         "Stream changes (ADDED, MODIFIED, DELETED) instead of returning a "
                         "list.",
                         "boolean"));
}

json::object Content(std::string_view schema, std::initializer_list<std::string_view> types) {
  json::object c;
  for (auto t : types) c[t] = json::object{{"schema", Ref(schema)}};
  return c;
}

json::object JsonContent(std::string_view schema) {
  return Content(schema, {"application/json", "application/yaml"});
}

json::object Response(std::string_view description, std::string_view schema) {
  return {{"description", description}, {"content", JsonContent(schema)}};
}

// One operation on a path of `r`.
struct OpSpec {
  std::string_view method;  // get, put, post, patch, delete
  std::string_view action;  // x-kubernetes-action
  std::string id;
  std::string description;
};

json::object Operation(const ResourceInfo& r, const OpSpec& spec, std::string_view body_schema,
                       std::string_view response_schema, bool list) {
  json::object op{{"tags", json::array{OperationGv(r.group, r.version)}},
                  {"description", spec.description},
                  {"operationId", spec.id}};
  json::array params;
  if (spec.action == "list") AppendListParams(params);
  if (spec.method == "post" || spec.method == "put" || spec.method == "patch") {
    params.push_back(DryRun());
    params.push_back(FieldManager());
    params.push_back(FieldValidation());
  }
  if (spec.method == "patch") {
    params.push_back(Param("force", "query",
                           "Server-side apply only: take ownership of fields that other "
                           "managers own instead of failing with a conflict.",
                           "boolean"));
  }
  if (spec.method == "delete") {
    params.push_back(DryRun());
    params.push_back(Param("gracePeriodSeconds", "query",
                           "Seconds before the object is deleted; 0 deletes at once.", "integer"));
    params.push_back(Param("propagationPolicy", "query",
                           "Whether and how dependents are deleted: Orphan, Background or "
                           "Foreground."));
    if (spec.action == "deletecollection") AppendListParams(params);
  }
  if (!params.empty()) op["parameters"] = std::move(params);

  if (spec.method == "patch") {
    json::object content;
    std::vector<std::string_view> types = {"application/json-patch+json",
                                           "application/merge-patch+json"};
    // Strategic merge patch needs Go struct tags; only built-in kinds support it.
    if (r.group.empty() || r.group.ends_with(".k8s.io")) {
      types.push_back("application/strategic-merge-patch+json");
    }
    types.push_back("application/apply-patch+yaml");
    for (auto t : types) content[t] = json::object{{"schema", Ref(openapi::kPatch)}};
    op["requestBody"] = json::object{{"content", std::move(content)}, {"required", true}};
  } else if (!body_schema.empty()) {
    op["requestBody"] =
        json::object{{"content", Content(body_schema, {"application/json"})}, {"required", true}};
  }

  json::object responses;
  if (spec.method == "post") {
    responses["200"] = Response("OK", response_schema);
    responses["201"] = Response("Created", response_schema);
    responses["202"] = Response("Accepted", response_schema);
  } else if (spec.method == "put" || spec.method == "patch") {
    responses["200"] = Response("OK", response_schema);
    responses["201"] = Response("Created", response_schema);
  } else if (spec.method == "delete") {
    responses["200"] = Response("OK", response_schema);
    if (!list) responses["202"] = Response("Accepted", response_schema);
  } else {
    responses["200"] = Response("OK", response_schema);
  }
  responses["401"] = json::object{{"description", "Unauthorized"}};
  op["responses"] = std::move(responses);

  op["x-kubernetes-action"] = spec.action;
  op["x-kubernetes-group-version-kind"] =
      json::object{{"group", r.group}, {"kind", r.kind}, {"version", r.version}};
  return op;
}

// Adds the collection, item and (when served) status paths of `r`.
void AddResourcePaths(const ResourceInfo& r, std::string_view item_schema,
                      std::string_view list_schema, json::object& paths) {
  const std::string gv = OperationGv(r.group, r.version);
  const std::string scoped = (r.namespaced ? "Namespaced" : "") + r.kind;
  const std::string base = "/" + GvPath(r.group, r.version);
  const std::string collection =
      base + (r.namespaced ? "/namespaces/{namespace}/" : "/") + r.plural;
  const std::string item = collection + "/{name}";
  const std::string kind = r.kind;

  json::array scope_params;
  if (r.namespaced) {
    scope_params.push_back(Param("namespace", "path",
                                 "Object name and auth scope, such as for teams and projects.",
                                 "string", true));
  }
  scope_params.push_back(Param("pretty", "query", "If 'true', then the output is pretty printed."));
  json::array item_params;
  item_params.push_back(Param("name", "path", "Name of the " + kind + ".", "string", true));
  for (const auto& p : scope_params) item_params.push_back(p);

  json::object coll{{"parameters", scope_params}};
  coll["get"] = Operation(r, {"get", "list", "list" + gv + scoped, "List objects of kind " + kind},
                          "", list_schema, true);
  coll["post"] = Operation(r, {"post", "post", "create" + gv + scoped, "Create a " + kind},
                           item_schema, item_schema, false);
  coll["delete"] = Operation(r,
                             {"delete", "deletecollection", "delete" + gv + "Collection" + scoped,
                              "Delete a collection of " + kind},
                             openapi::kDeleteOptions, openapi::kStatus, true);
  paths[collection] = std::move(coll);

  json::object one{{"parameters", item_params}};
  one["get"] = Operation(r, {"get", "get", "read" + gv + scoped, "Read the specified " + kind}, "",
                         item_schema, false);
  one["put"] =
      Operation(r, {"put", "put", "replace" + gv + scoped, "Replace the specified " + kind},
                item_schema, item_schema, false);
  one["patch"] = Operation(
      r, {"patch", "patch", "patch" + gv + scoped, "Partially update the specified " + kind}, "",
      item_schema, false);
  one["delete"] =
      Operation(r, {"delete", "delete", "delete" + gv + scoped, "Delete a " + kind},
                openapi::kDeleteOptions, r.group.empty() ? openapi::kStatus : item_schema, false);
  paths[item] = std::move(one);

  if (r.has_status) {
    json::object status{{"parameters", item_params}};
    status["get"] = Operation(
        r, {"get", "get", "read" + gv + scoped + "Status", "Read status of the specified " + kind},
        "", item_schema, false);
    status["put"] = Operation(r,
                              {"put", "put", "replace" + gv + scoped + "Status",
                               "Replace status of the specified " + kind},
                              item_schema, item_schema, false);
    status["patch"] = Operation(r,
                                {"patch", "patch", "patch" + gv + scoped + "Status",
                                 "Partially update status of the specified " + kind},
                                "", item_schema, false);
    paths[item + "/status"] = std::move(status);
  }

  if (r.namespaced) {
    json::object all{
        {"parameters",
         json::array{Param("pretty", "query", "If 'true', then the output is pretty printed.")}}};
    all["get"] = Operation(r,
                           {"get", "list", "list" + gv + kind + "ForAllNamespaces",
                            "List objects of kind " + kind + " in all namespaces"},
                           "", list_schema, true);
    paths[base + "/" + r.plural] = std::move(all);
  }
}

void CollectRefs(const json::value& v, std::set<std::string>& out) {
  constexpr std::string_view kPrefix = "#/components/schemas/";
  if (const json::object* o = v.if_object()) {
    auto it = o->find("$ref");
    if (it != o->end() && it->value().is_string()) {
      std::string_view ref = it->value().get_string();
      if (ref.starts_with(kPrefix)) out.insert(std::string(ref.substr(kPrefix.size())));
    }
    for (const auto& kv : *o) CollectRefs(kv.value(), out);
  } else if (const json::array* a = v.if_array()) {
    for (const auto& e : *a) CollectRefs(e, out);
  }
}

std::string HashHex(std::string_view text) {
  uint64_t h = 14695981039346656037ull;  // FNV-1a, 64 bit
  for (unsigned char c : text) {
    h ^= c;
    h *= 1099511628211ull;
  }
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llX", static_cast<unsigned long long>(h));
  return buf;
}

// All documents for one registry, serialized once.
struct Built {
  std::string root;
  std::map<std::string, std::string, std::less<>> documents;  // by gv path
  std::string v2_json;
  std::string v2_protobuf;
};

std::unique_ptr<const Built> Build(const Registry& registry) {
  json::object library;
  openapi::AddMetaSchemas(library);
  openapi::AddCoreSchemas(library);
  openapi::AddKubevirtSchemas(library);
  openapi::AddInstancetypeSchemas(library);
  openapi::AddStorageSchemas(library);

  auto built = std::make_unique<Built>();
  json::object root_paths;
  json::object all_paths;  // every group-version's, for the one v2 document
  json::object all_schemas;
  for (const auto& [group, version] : registry.GroupVersions()) {
    json::object own;  // schemas made for this document: lists, unmodelled kinds
    json::object paths;
    std::set<std::string> wanted;
    for (const auto& r : registry.resources()) {
      if (r.group != group || r.version != version) continue;
      std::string item = openapi::SchemaName(group, version, r.kind);
      std::string list = openapi::SchemaName(group, version, r.ListKind());
      if (!library.contains(item)) {
        own[item] = openapi::KindSchema(group, version, r.kind,
                                        r.kind + " objects (schema not modelled by Kumo).",
                                        {{"spec", openapi::FreeForm("The desired state.")},
                                         {"status", openapi::FreeForm("The observed state.")}});
      }
      own[list] = openapi::ListSchema(group, version, r.kind, item);
      wanted.insert(item);
      wanted.insert(list);
      AddResourcePaths(r, item, list, paths);
    }
    CollectRefs(paths, wanted);

    // Close over $refs so that the document is self-contained.
    std::map<std::string, json::value> schemas;
    std::vector<std::string> todo(wanted.begin(), wanted.end());
    while (!todo.empty()) {
      std::string name = std::move(todo.back());
      todo.pop_back();
      if (schemas.contains(name)) continue;
      const json::value* s = own.if_contains(name);
      if (!s) s = library.if_contains(name);
      if (!s) continue;  // a dangling reference is a bug in the schema tables
      schemas[name] = *s;
      std::set<std::string> refs;
      CollectRefs(*s, refs);
      for (const auto& ref : refs) {
        if (!schemas.contains(ref)) todo.push_back(ref);
      }
    }
    json::object components;
    for (auto& [name, s] : schemas) {
      all_schemas[name] = s;
      components[name] = std::move(s);
    }
    for (const auto& p : paths) all_paths[p.key()] = p.value();

    json::object doc{
        {"openapi", "3.0.0"},
        {"info", {{"title", "Kubernetes"}, {"version", "v1.32.0"}}},
        {"paths", std::move(paths)},
        {"components", {{"schemas", std::move(components)}}},
    };
    std::string gv_path = GvPath(group, version);
    std::string text = json::serialize(doc);
    root_paths[gv_path] =
        json::object{{"serverRelativeURL", "/openapi/v3/" + gv_path + "?hash=" + HashHex(text)}};
    built->documents.emplace(gv_path, std::move(text));
  }
  built->root = json::serialize(json::object{{"paths", std::move(root_paths)}});
  json::object swagger = ToSwagger2(all_paths, all_schemas);
  built->v2_json = json::serialize(swagger);
  built->v2_protobuf = EncodeSwagger2Protobuf(swagger);
  return built;
}

// What the documents depend on; registries with equal fingerprints share documents.
std::string Fingerprint(const Registry& registry) {
  std::string f;
  for (const auto& r : registry.resources()) {
    f += r.group + "/" + r.version + "/" + r.kind + "/" + r.plural + "/" +
         (r.namespaced ? "n" : "c") + (r.has_status ? "s" : "-") + ";";
  }
  return f;
}

const Built& BuiltFor(const Registry& registry) {
  static std::mutex mu;
  static auto* cache = new std::map<std::string, std::unique_ptr<const Built>>();
  std::string key = Fingerprint(registry);
  std::lock_guard<std::mutex> lock(mu);
  auto& slot = (*cache)[key];
  if (!slot) slot = Build(registry);
  return *slot;
}

}  // namespace

std::string OpenApiV3Root(const Registry& registry) { return BuiltFor(registry).root; }

const std::string& OpenApiV2(const Registry& registry, bool protobuf) {
  const Built& built = BuiltFor(registry);
  return protobuf ? built.v2_protobuf : built.v2_json;
}

StatusOr<std::string> OpenApiV3Document(const Registry& registry, std::string_view gv_path) {
  while (gv_path.starts_with('/')) gv_path.remove_prefix(1);
  while (gv_path.ends_with('/')) gv_path.remove_suffix(1);
  const Built& built = BuiltFor(registry);
  auto it = built.documents.find(gv_path);
  if (it == built.documents.end()) {
    return NotFound("no OpenAPI v3 document for \"" + std::string(gv_path) +
                    "\"; GET /openapi/v3 lists the served group-versions");
  }
  return it->second;
}

}  // namespace kumo::api
