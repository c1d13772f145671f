// Discovery documents kubectl reads to learn what the server serves: /version, /api, /apis,
// /apis/<group> and each group-version's APIResourceList.
#pragma once

#include <string>
#include <string_view>

#include "api/resource.h"
#include "common/status.h"

namespace kumo::server {

std::string VersionJson();
std::string ApiVersionsJson();
std::string ApiGroupListJson(const api::Registry& registry);
// NotFound when the group is not served.
StatusOr<std::string> ApiGroupJson(const api::Registry& registry, std::string_view group);
// NotFound when the group-version is not served.
StatusOr<std::string> ApiResourceListJson(const api::Registry& registry, std::string_view group,
                                          std::string_view version);

}  // namespace kumo::server
