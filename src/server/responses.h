// Encoding of API responses: Kubernetes Status objects for errors, JSON bodies for success.
#pragma once

#include <string>
#include <string_view>

#include "common/json.h"
#include "common/status.h"
#include "http/http_server.h"

namespace kumo::server {

// What an error is about, for Status.details.
struct StatusDetails {
  std::string name;
  std::string group;
  std::string kind;  // the resource (plural), as kube-apiserver fills it
};

// A meta/v1 Status object for a non-OK status.
json::object StatusObject(const Status& status, const StatusDetails& details = {});

// An HTTP response carrying the Status (code from the status; Retry-After when set).
http::Response StatusResponse(const Status& status, const StatusDetails& details = {});

http::Response JsonResponse(int code, std::string body);

// NotFound for a named object: `virtualmachines.kubevirt.io "x" not found`.
Status ObjectNotFound(std::string_view resource, std::string_view group, std::string_view name);

}  // namespace kumo::server
