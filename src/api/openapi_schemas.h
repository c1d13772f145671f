// Internal to the api module: the component schemas behind the OpenAPI v3 documents
// (openapi.cc) and the small vocabulary used to write them. Schemas are plain Boost.JSON
// objects so they serialize straight into the documents; names follow kube-apiserver
// ("io.k8s.api.core.v1.Namespace") and, for other groups, the reversed group domain
// ("io.kubevirt.v1.VirtualMachine", "io.kubevirt.instancetype.v1beta1.…").
#pragma once

#include <initializer_list>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/json.h"

namespace kumo::api::openapi {

inline constexpr std::string_view kObjectMeta = "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta";
inline constexpr std::string_view kListMeta = "io.k8s.apimachinery.pkg.apis.meta.v1.ListMeta";
inline constexpr std::string_view kQuantity = "io.k8s.apimachinery.pkg.api.resource.Quantity";
inline constexpr std::string_view kStatus = "io.k8s.apimachinery.pkg.apis.meta.v1.Status";
inline constexpr std::string_view kDeleteOptions =
    "io.k8s.apimachinery.pkg.apis.meta.v1.DeleteOptions";
inline constexpr std::string_view kPatch = "io.k8s.apimachinery.pkg.apis.meta.v1.Patch";

// Ordered (name, schema) pairs: `kubectl explain` sorts fields itself, the document keeps
// the order in which they are written here.
using Properties = std::vector<std::pair<std::string, json::object>>;

// Prefix of component names for a group-version: "io.k8s.api.core.v1" for the core group,
// "io.k8s.api.coordination.v1" for *.k8s.io groups, else the reversed domain plus version.
std::string SchemaPrefix(std::string_view group, std::string_view version);
// Full component name of a kind ("io.kubevirt.v1.VirtualMachine").
std::string SchemaName(std::string_view group, std::string_view version, std::string_view kind);

// {"$ref": "#/components/schemas/<name>"}.
json::object Ref(std::string_view name);
// A field whose type is a named component, with its own description. Wrapped in allOf as
// kube-apiserver does, because OpenAPI 3.0 ignores siblings of $ref.
json::object RefField(std::string_view name, std::string_view description);

json::object String(std::string_view description);
json::object Enum(std::string_view description, std::initializer_list<std::string_view> values);
json::object Integer(std::string_view description, std::string_view format = "int32");
json::object Boolean(std::string_view description);
json::object DateTime(std::string_view description);
// A Kubernetes quantity ("2Gi", "500m", 3): integer or string.
json::object Quantity(std::string_view description);
json::object StringMap(std::string_view description);
json::object QuantityMap(std::string_view description);
json::object Array(json::object items, std::string_view description);
json::object ArrayOf(std::string_view component, std::string_view description);
json::object StringArray(std::string_view description);
// An object with listed properties; unknown fields are kept (the server stores what it
// does not model).
json::object Object(std::string_view description, Properties properties,
                    std::vector<std::string> required = {});
// An object whose content is not modelled here.
json::object FreeForm(std::string_view description);

// A top-level kind: apiVersion, kind, metadata plus `properties`, tagged with
// x-kubernetes-group-version-kind so kubectl can find it.
json::object KindSchema(std::string_view group, std::string_view version, std::string_view kind,
                        std::string_view description, Properties properties,
                        std::vector<std::string> required = {});
// The <Kind>List schema for `item_component`.
json::object ListSchema(std::string_view group, std::string_view version, std::string_view kind,
                        std::string_view item_component);

// The component libraries, added to `out` by name.
void AddMetaSchemas(json::object& out);
void AddCoreSchemas(json::object& out);
// kubevirt.io/v1 kinds; includes AddKubevirtDomainSchemas.
void AddKubevirtSchemas(json::object& out);
// kubevirt.io/v1 instance hardware, networks and volumes.
void AddKubevirtDomainSchemas(json::object& out);
void AddInstancetypeSchemas(json::object& out);
// Volumes, storage classes, DataVolumes and snapshots.
void AddStorageSchemas(json::object& out);

}  // namespace kumo::api::openapi
