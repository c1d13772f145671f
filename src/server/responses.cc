#include "server/responses.h"

namespace kumo::server {

json::object StatusObject(const Status& status, const StatusDetails& details) {
  json::object o;
  o["kind"] = "Status";
  o["apiVersion"] = "v1";
  o["metadata"] = json::object();
  o["status"] = status.ok() ? "Success" : "Failure";
  o["message"] = status.message();
  o["reason"] = ReasonOf(status.code());
  json::object d;
  if (!details.name.empty()) d["name"] = details.name;
  if (!details.group.empty()) d["group"] = details.group;
  if (!details.kind.empty()) d["kind"] = details.kind;
  if (!status.causes().empty()) {
    json::array causes;
    for (const auto& c : status.causes()) {
      causes.push_back(json::object{{"reason", c.reason}, {"message", c.message}, {"field", c.field}});
    }
    d["causes"] = std::move(causes);
  }
  if (status.retry_after_seconds() > 0) d["retryAfterSeconds"] = status.retry_after_seconds();
  if (!d.empty()) o["details"] = std::move(d);
  o["code"] = HttpCodeOf(status.code());
  return o;
}

http::Response StatusResponse(const Status& status, const StatusDetails& details) {
  http::Response r;
  r.status = HttpCodeOf(status.code());
  r.body = json::serialize(StatusObject(status, details));
  if (status.retry_after_seconds() > 0) {
    r.headers.emplace_back("Retry-After", std::to_string(status.retry_after_seconds()));
  }
  return r;
}

http::Response JsonResponse(int code, std::string body) {
  http::Response r;
  r.status = code;
  r.body = std::move(body);
  return r;
}

Status ObjectNotFound(std::string_view resource, std::string_view group, std::string_view name) {
  std::string qualified(resource);
  if (!group.empty()) qualified += "." + std::string(group);
  return NotFound(qualified + " \"" + std::string(name) + "\" not found");
}

}  // namespace kumo::server
