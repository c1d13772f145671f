// The schema vocabulary of openapi_schemas.h and the apimachinery (meta/v1) components that
// every group-version document shares.
#include "api/openapi_schemas.h"

namespace kumo::api::openapi {

std::string SchemaPrefix(std::string_view group, std::string_view version) {
  std::string v(version);
  if (group.empty()) return "io.k8s.api.core." + v;
  constexpr std::string_view kK8s = ".k8s.io";
  if (group.size() > kK8s.size() && group.substr(group.size() - kK8s.size()) == kK8s) {
    std::string_view first = group.substr(0, group.find('.'));
    return "io.k8s.api." + std::string(first) + "." + v;
  }
  // Reverse the domain labels: instancetype.kubevirt.io -> io.kubevirt.instancetype.
  std::string out;
  size_t end = group.size();
  while (true) {
    size_t dot = group.rfind('.', end == 0 ? 0 : end - 1);
    size_t start = dot == std::string_view::npos ? 0 : dot + 1;
    if (!out.empty()) out.push_back('.');
    out.append(group.substr(start, end - start));
    if (dot == std::string_view::npos) break;
    end = dot;
  }
  return out + "." + v;
}

std::string SchemaName(std::string_view group, std::string_view version, std::string_view kind) {
  return SchemaPrefix(group, version) + "." + std::string(kind);
}

json::object Ref(std::string_view name) {
  return {{"$ref", "#/components/schemas/" + std::string(name)}};
}

json::object RefField(std::string_view name, std::string_view description) {
  return {{"description", description}, {"allOf", json::array{Ref(name)}}};
}

json::object String(std::string_view description) {
  return {{"description", description}, {"type", "string"}};
}

json::object Enum(std::string_view description, std::initializer_list<std::string_view> values) {
  json::array e;
  for (auto v : values) e.emplace_back(v);
  return {{"description", description}, {"type", "string"}, {"enum", std::move(e)}};
}

json::object Integer(std::string_view description, std::string_view format) {
  return {{"description", description}, {"type", "integer"}, {"format", format}};
}

json::object Boolean(std::string_view description) {
  return {{"description", description}, {"type", "boolean"}};
}

json::object DateTime(std::string_view description) {
  return {{"description", description}, {"type", "string"}, {"format", "date-time"}};
}

json::object Quantity(std::string_view description) { return RefField(kQuantity, description); }

json::object StringMap(std::string_view description) {
  return {{"description", description},
          {"type", "object"},
          {"additionalProperties", {{"type", "string"}, {"default", ""}}}};
}

json::object QuantityMap(std::string_view description) {
  return {
      {"description", description}, {"type", "object"}, {"additionalProperties", Ref(kQuantity)}};
}

json::object Array(json::object items, std::string_view description) {
  return {{"description", description}, {"type", "array"}, {"items", std::move(items)}};
}

json::object ArrayOf(std::string_view component, std::string_view description) {
  return Array({{"allOf", json::array{Ref(component)}}, {"default", json::object{}}}, description);
}

json::object StringArray(std::string_view description) {
  return Array({{"type", "string"}, {"default", ""}}, description);
}

json::object Object(std::string_view description, Properties properties,
                    std::vector<std::string> required) {
  json::object props;
  for (auto& [name, schema] : properties) props[name] = std::move(schema);
  json::object o{{"description", description},
                 {"type", "object"},
                 {"properties", std::move(props)},
                 {"x-kubernetes-preserve-unknown-fields", true}};
  if (!required.empty()) {
    json::array r;
    for (auto& n : required) r.emplace_back(n);
    o["required"] = std::move(r);
  }
  return o;
}

json::object FreeForm(std::string_view description) {
  return {{"description", description},
          {"type", "object"},
          {"x-kubernetes-preserve-unknown-fields", true}};
}

namespace {

json::array Gvk(std::string_view group, std::string_view version, std::string_view kind) {
  return {json::object{{"group", group}, {"kind", kind}, {"version", version}}};
}

Properties TypeMetaProperties() {
  return {
      {"apiVersion",
       String("The versioned schema of this representation, as group/version (\"v1\" for the "
              "core group). The server may convert objects it receives to the version it "
              "stores.")},
      {"kind",
       String("The REST resource type of this object, in CamelCase. The server infers it from "
              "the endpoint when a client leaves it out; it cannot be changed.")},
  };
}

}  // namespace

json::object KindSchema(std::string_view group, std::string_view version, std::string_view kind,
                        std::string_view description, Properties properties,
                        std::vector<std::string> required) {
  Properties all = TypeMetaProperties();
  all.emplace_back("metadata",
                   RefField(kObjectMeta,
                            "Standard object metadata: name, namespace, labels, annotations "
                            "and the fields the server maintains."));
  for (auto& p : properties) all.push_back(std::move(p));
  json::object o = Object(description, std::move(all), std::move(required));
  o["x-kubernetes-group-version-kind"] = Gvk(group, version, kind);
  return o;
}

json::object ListSchema(std::string_view group, std::string_view version, std::string_view kind,
                        std::string_view item_component) {
  std::string k(kind);
  Properties props = TypeMetaProperties();
  props.emplace_back("items", ArrayOf(item_component, "The " + k + " objects in this list."));
  props.emplace_back("metadata", RefField(kListMeta,
                                          "List metadata: the resourceVersion of the list and the "
                                          "continue token of paged reads."));
  json::object o = Object(k + "List is a list of " + k + " objects.", std::move(props), {"items"});
  o["x-kubernetes-group-version-kind"] = Gvk(group, version, k + "List");
  return o;
}

void AddMetaSchemas(json::object& out) {
  constexpr std::string_view kOwnerRef = "io.k8s.apimachinery.pkg.apis.meta.v1.OwnerReference";
  constexpr std::string_view kManagedFields =
      "io.k8s.apimachinery.pkg.apis.meta.v1.ManagedFieldsEntry";
  constexpr std::string_view kStatusDetails = "io.k8s.apimachinery.pkg.apis.meta.v1.StatusDetails";
  constexpr std::string_view kStatusCause = "io.k8s.apimachinery.pkg.apis.meta.v1.StatusCause";
  constexpr std::string_view kPreconditions = "io.k8s.apimachinery.pkg.apis.meta.v1.Preconditions";

  out[kQuantity] = json::object{
      {"description",
       "A fixed-point number with an optional suffix: binary (Ki, Mi, Gi, Ti, Pi, Ei), decimal "
       "SI (m, k, M, G, T, P, E) or a decimal exponent (1e3). \"128Mi\" is 128 * 2^20 bytes; "
       "\"500m\" is half a CPU. A plain number is accepted as well."},
      {"anyOf", json::array{json::object{{"type", "integer"}}, json::object{{"type", "string"}}}},
      {"x-kubernetes-int-or-string", true}};

  out[kObjectMeta] = Object(
      "Metadata that every persisted object carries. Users set name, namespace, labels and "
      "annotations; the server fills in uid, resourceVersion, generation and the timestamps.",
      {
          {"name",
           String("Unique name of the object within its namespace (or the cluster, for "
                  "cluster-scoped kinds). Required on create unless generateName is set; it "
                  "cannot be changed afterwards.")},
          {"generateName",
           String("Prefix from which the server builds a unique name when name is empty: it "
                  "appends a random suffix. Ignored when name is set.")},
          {"namespace",
           String("The namespace the object lives in; empty for cluster-scoped kinds. Must be "
                  "a DNS label.")},
          {"uid",
           String("Unique identifier the server assigns on create; it never repeats over the "
                  "life of the cluster. Read-only.")},
          {"resourceVersion",
           String("Opaque version of this object, changed on every write. Send it back on "
                  "update for optimistic concurrency; use it to start a watch. Read-only; "
                  "clients must not interpret it.")},
          {"generation",
           Integer("Sequence number of changes to the desired state (spec). Read-only.", "int64")},
          {"creationTimestamp",
           DateTime("When the server created the object (RFC 3339, UTC). Read-only.")},
          {"deletionTimestamp",
           DateTime("When the object will be removed: set by the server once deletion was "
                    "requested and finalizers are still pending. Read-only.")},
          {"deletionGracePeriodSeconds",
           Integer("Seconds the object is given to terminate gracefully once deletion was "
                   "requested. Read-only.",
                   "int64")},
          {"labels",
           StringMap("Key/value pairs for organizing and selecting objects; label selectors "
                     "match on them.")},
          {"annotations",
           StringMap("Key/value pairs for arbitrary, non-identifying data attached by tools "
                     "and users. Not used for selection.")},
          {"ownerReferences",
           ArrayOf(kOwnerRef,
                   "Objects this object depends on. When every owner is gone the object is "
                   "garbage-collected; at most one owner may be the managing controller.")},
          {"finalizers",
           StringArray("Conditions that must be cleared before the object is deleted. While "
                       "any entry remains, a delete only sets deletionTimestamp.")},
          {"managedFields",
           ArrayOf(kManagedFields,
                   "Which manager owns which fields, as recorded by server-side apply. "
                   "Internal bookkeeping; users rarely need to touch it.")},
      });

  out[kOwnerRef] =
      Object("Identifies an owning object in the same namespace (or the cluster).",
             {
                 {"apiVersion", String("API version of the owner.")},
                 {"kind", String("Kind of the owner.")},
                 {"name", String("Name of the owner.")},
                 {"uid", String("UID of the owner.")},
                 {"controller", Boolean("True when the owner is the managing controller.")},
                 {"blockOwnerDeletion",
                  Boolean("When true, foreground deletion of the owner waits until this object is "
                          "gone.")},
             },
             {"apiVersion", "kind", "name", "uid"});

  out[kManagedFields] = Object(
      "A record of the fields one manager set through one operation.",
      {
          {"manager", String("Name of the managing workflow (the field manager).")},
          {"operation", Enum("The operation that set the fields.", {"Apply", "Update"})},
          {"apiVersion", String("Version of the fields' schema.")},
          {"time", DateTime("When the manager last changed these fields.")},
          {"fieldsType", String("Format of fieldsV1; always \"FieldsV1\".")},
          {"fieldsV1", FreeForm("The set of owned fields, as a trie of field paths.")},
          {"subresource", String("The subresource the fields were written through, if any.")},
      });

  out[kListMeta] = Object(
      "Metadata of a list response.",
      {
          {"resourceVersion",
           String("Version of the collection at the time of the read; start a watch from it.")},
          {"continue",
           String("Token for the next page when the list was cut short by limit; empty on the "
                  "last page. It expires together with the retained history.")},
          {"remainingItemCount",
           Integer("Estimated number of items after this page, when known.", "int64")},
      });

  out[kStatus] = KindSchema(
      "", "v1", "Status",
      "The result of an operation that does not return an object, and every error.",
      {
          {"status", Enum("Outcome of the operation.", {"Success", "Failure"})},
          {"message", String("Human-readable explanation.")},
          {"reason", String("Machine-readable CamelCase reason (NotFound, AlreadyExists, Conflict, "
                            "Invalid, …).")},
          {"details", RefField(kStatusDetails, "Extra data that depends on the reason.")},
          {"code", Integer("The HTTP status code.")},
      });
  // Status is not a listed kind of any group-version; keep its GVK off so that kubectl's
  // search for a served kind never lands on it.
  out[kStatus].as_object().erase("x-kubernetes-group-version-kind");
  out[kStatus].as_object()["properties"].as_object()["metadata"] =
      RefField(kListMeta, "List metadata; usually empty.");

  out[kStatusDetails] = Object(
      "Details of a Status: which object was involved and which fields were wrong.",
      {
          {"name", String("Name of the object involved.")},
          {"group", String("API group of the object involved.")},
          {"kind", String("Kind of the object involved.")},
          {"uid", String("UID of the object involved.")},
          {"causes", ArrayOf(kStatusCause, "One entry per problem found, e.g. per bad field.")},
          {"retryAfterSeconds",
           Integer("Seconds the client should wait before retrying the request.")},
      });

  out[kStatusCause] =
      Object("One cause of an error.",
             {
                 {"reason", String("Machine-readable cause, e.g. FieldValueInvalid.")},
                 {"message", String("Human-readable description of the cause.")},
                 {"field", String("Path of the field at fault, e.g. spec.runStrategy.")},
             });

  out[kPreconditions] =
      Object("Conditions that must hold for a delete to proceed.",
             {
                 {"uid", String("The object must have this UID.")},
                 {"resourceVersion", String("The object must have this resourceVersion.")},
             });

  out[kDeleteOptions] = Object(
      "Options of a delete request.",
      {
          {"apiVersion", String("API version of this options object.")},
          {"kind", String("\"DeleteOptions\".")},
          {"gracePeriodSeconds",
           Integer("Seconds before the object is deleted; 0 deletes immediately.", "int64")},
          {"propagationPolicy", Enum("Whether and how dependents are garbage-collected.",
                                     {"Orphan", "Background", "Foreground"})},
          {"preconditions", RefField(kPreconditions, "Must hold for the delete to happen.")},
          {"dryRun", StringArray("\"All\" to run every stage except persisting the change.")},
      });

  out[kPatch] = json::object{
      {"description",
       "The body of a PATCH: a JSON patch, a JSON merge patch, a strategic merge patch "
       "(built-in kinds only) or an apply configuration, as named by Content-Type."},
      {"type", "object"}};
}

}  // namespace kumo::api::openapi
