// OpenAPI v3 documents for the served kinds, as kube-apiserver publishes them at /openapi/v3:
// a root index of group-versions and one document per group-version with paths (carrying
// x-kubernetes-group-version-kind and the fieldValidation parameter, which tells kubectl the
// server validates fields itself) and component schemas with descriptions for `kubectl explain`.
#pragma once

#include <string>
#include <string_view>

#include "api/resource.h"
#include "common/status.h"

namespace kumo::api {

// The root index: {"paths": {"api/v1": {"serverRelativeURL": "/openapi/v3/api/v1?hash=..."}}}.
std::string OpenApiV3Root(const Registry& registry);

// The document for one group-version path ("api/v1", "apis/kubevirt.io/v1"); NotFound when the
// registry serves no such group-version.
StatusOr<std::string> OpenApiV3Document(const Registry& registry, std::string_view gv_path);

// The Swagger 2.0 document of /openapi/v2 for every served group-version (see openapi_v2.h):
// JSON, or gnostic's protobuf encoding when `protobuf`. Built once per registry.
const std::string& OpenApiV2(const Registry& registry, bool protobuf);

}  // namespace kumo::api
