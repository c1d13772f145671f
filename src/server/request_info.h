// Parses a request path into what it addresses, as kube-apiserver's RequestInfoFactory does:
// /api/v1/namespaces/NS/secrets/NAME/status -> group "", version v1, namespace NS, ...
#pragma once

#include "http/query.h"

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

using http::ParseQuery;
using http::Query;

RequestInfo ParseRequestInfo(std::string_view method, std::string_view path, const Query& query);

}  // namespace kumo::server
