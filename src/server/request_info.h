// Parses a request path into what it addresses, as kube-apiserver's RequestInfoFactory does:
// /api/v1/namespaces/NS/secrets/NAME/status -> group "", version v1, namespace NS, ...
#pragma once

#include <map>
#include <string>
#include <string_view>

namespace kumo::server {

struct RequestInfo {
  bool is_resource_request = false;
  std::string path;
  std::string verb;  // get, list, watch, create, update, patch, delete, deletecollection
  std::string api_prefix;  // "api" or "apis"
  std::string group;
  std::string version;
  std::string namespace_;
  std::string resource;  // plural
  std::string subresource;
  std::string name;
};

// Query parameters, percent-decoded ('+' as space). Repeated keys keep the first value.
using Query = std::map<std::string, std::string, std::less<>>;
Query ParseQuery(std::string_view raw);

RequestInfo ParseRequestInfo(std::string_view method, std::string_view path, const Query& query);

}  // namespace kumo::server
