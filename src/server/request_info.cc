#include "server/request_info.h"

#include <vector>

namespace kumo::server {

namespace {

std::vector<std::string> SplitPath(std::string_view path) {
  std::vector<std::string> parts;
  size_t i = 0;
  while (i < path.size()) {
    while (i < path.size() && path[i] == '/') ++i;
    size_t j = path.find('/', i);
    if (j == std::string_view::npos) j = path.size();
    if (j > i) parts.emplace_back(path.substr(i, j - i));
    i = j;
  }
  return parts;
}

}  // namespace

RequestInfo ParseRequestInfo(std::string_view method, std::string_view path, const Query& query) {
  RequestInfo info;
  info.path = std::string(path);
  std::vector<std::string> parts = SplitPath(path);
  if (parts.empty() || (parts[0] != "api" && parts[0] != "apis")) return info;
  info.api_prefix = parts[0];
  size_t i = 1;
  if (info.api_prefix == "apis") {
    if (parts.size() < 4) return info;  // /apis, /apis/g, /apis/g/v are discovery
    info.group = parts[1];
    info.version = parts[2];
    i = 3;
  } else {
    if (parts.size() < 3) return info;  // /api, /api/v1
    info.version = parts[1];
    i = 2;
  }
  info.is_resource_request = true;
  std::vector<std::string> rest(parts.begin() + static_cast<long>(i), parts.end());
  // namespaces/NS/RESOURCE/... addresses namespaced resources; namespaces/NS, /status and
  // /finalize address the namespace object itself.
  if (rest.size() >= 3 && rest[0] == "namespaces" && rest[2] != "status" &&
      rest[2] != "finalize") {
    info.namespace_ = rest[1];
    rest.erase(rest.begin(), rest.begin() + 2);
  }
  if (!rest.empty()) info.resource = rest[0];
  if (rest.size() >= 2) info.name = rest[1];
  if (rest.size() >= 3) info.subresource = rest[2];
  for (size_t k = 3; k < rest.size(); ++k) info.subresource += "/" + rest[k];

  bool has_name = !info.name.empty();
  auto watch = query.find("watch");
  bool is_watch = watch != query.end() && (watch->second == "true" || watch->second == "1");
  if (method == "GET" || method == "HEAD") {
    info.verb = is_watch ? "watch" : has_name ? "get" : "list";
  } else if (method == "POST") {
    info.verb = "create";
  } else if (method == "PUT") {
    info.verb = "update";
  } else if (method == "PATCH") {
    info.verb = "patch";
  } else if (method == "DELETE") {
    info.verb = has_name ? "delete" : "deletecollection";
  } else {
    info.verb = "";
  }
  return info;
}

}  // namespace kumo::server
