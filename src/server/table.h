// Server-side Tables (meta.k8s.io/v1 Table), which `kubectl get` asks for and prints as is.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "api/resource.h"
#include "common/json.h"

namespace kumo::server {

enum class IncludeObject { kNone, kMetadata, kObject };

// True when an Accept header asks for a Table (as=Table;g=meta.k8s.io).
bool WantsTable(std::string_view accept);
// Parses the includeObject query value ("" = Metadata).
IncludeObject ParseIncludeObject(std::string_view value);

// A Table of `objects` (parsed) with the resource's columns. `with_columns` false omits
// columnDefinitions (for watch events after the first). `list_meta` carries resourceVersion
// and continue.
json::object BuildTable(const api::ResourceInfo& info, const std::vector<json::value>& objects,
                        IncludeObject include, bool with_columns, json::object list_meta,
                        int64_t now);

}  // namespace kumo::server
