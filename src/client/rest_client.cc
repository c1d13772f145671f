#include "client/rest_client.h"

#include <algorithm>
#include <cstdlib>
#include <optional>

#include "client/http/http_client.h"

namespace kumo::client {
namespace {

Code CodeOfHttp(int http_code) {
  switch (http_code) {
    case 400:
      return Code::kBadRequest;
    case 401:
      return Code::kUnauthorized;
    case 403:
      return Code::kForbidden;
    case 404:
      return Code::kNotFound;
    case 405:
      return Code::kMethodNotAllowed;
    case 406:
      return Code::kNotAcceptable;
    case 409:
      return Code::kConflict;
    case 410:
      return Code::kGone;
    case 413:
      return Code::kRequestEntityTooLarge;
    case 415:
      return Code::kUnsupportedMediaType;
    case 422:
      return Code::kInvalid;
    case 429:
      return Code::kTooManyRequests;
    case 503:
      return Code::kUnavailable;
    case 504:
      return Code::kTimeout;
  }
  return http_code >= 500 ? Code::kInternal : Code::kBadRequest;
}

int ParseSeconds(std::string_view s) {
  if (s.empty()) return 0;
  std::string text(s);
  char* end = nullptr;
  long v = std::strtol(text.c_str(), &end, 10);
  if (*end != '\0' || v < 0) return 0;  // an HTTP-date Retry-After is not worth supporting
  return static_cast<int>(std::min<long>(v, 24 * 3600));
}

// The Status described by a meta/v1 Status object, or nullopt when `v` is not one.
std::optional<Status> StatusOfObject(const json::value& v, int http_code,
                                     std::string_view retry_after) {
  if (!v.is_object() || GetString(v, {"kind"}) != "Status") return std::nullopt;
  const json::object& o = v.get_object();
  if (http_code == 0) {
    if (const json::value* c = o.if_contains("code"); c && c->is_int64()) {
      http_code = static_cast<int>(c->get_int64());
    }
  }
  std::string reason = GetString(v, {"reason"});
  Code code = CodeOfReason(reason);
  if (code == Code::kOk) code = CodeOfHttp(http_code);
  std::string message = GetString(v, {"message"});
  if (message.empty()) {
    message = "the server responded with HTTP " + std::to_string(http_code) +
              (reason.empty() ? "" : " " + reason);
  }
  std::vector<Cause> causes;
  if (const json::value* list = Find(v, {"details", "causes"}); list && list->is_array()) {
    for (const auto& c : list->get_array()) {
      causes.push_back(
          Cause{GetString(c, {"reason"}), GetString(c, {"message"}), GetString(c, {"field"})});
    }
  }
  Status status(code, std::move(message), std::move(causes));
  int retry = ParseSeconds(retry_after);
  if (retry == 0) {
    if (const json::value* r = Find(v, {"details", "retryAfterSeconds"}); r && r->is_int64()) {
      retry = static_cast<int>(std::max<int64_t>(0, r->get_int64()));
    }
  }
  if (retry > 0) status.set_retry_after(retry);
  return status;
}

std::string_view PatchContentType(PatchType type) {
  switch (type) {
    case PatchType::kMerge:
      return "application/merge-patch+json";
    case PatchType::kJson:
      return "application/json-patch+json";
    case PatchType::kStrategic:
      return "application/strategic-merge-patch+json";
  }
  return "application/merge-patch+json";
}

bool HasQueryParam(std::string_view target, std::string_view name) {
  size_t q = target.find('?');
  if (q == std::string_view::npos) return false;
  std::string_view query = target.substr(q + 1);
  while (!query.empty()) {
    size_t amp = query.find('&');
    std::string_view param = query.substr(0, amp);
    if (param.substr(0, param.find('=')) == name) return true;
    if (amp == std::string_view::npos) break;
    query.remove_prefix(amp + 1);
  }
  return false;
}

// Thread-safe: the HTTP client is, and the rest is immutable after construction.
class RestClientImpl final : public RestClient {
 public:
  RestClientImpl(RestConfig config, std::unique_ptr<HttpClient> http)
      : config_(std::move(config)), http_(std::move(http)) {}

  StatusOr<RestResponse> Do(std::string_view method, std::string_view path_with_query,
                            std::string_view body, std::string_view content_type,
                            std::string_view accept) override {
    HttpRequest req = MakeRequest(method, path_with_query, accept);
    if (!content_type.empty()) req.headers.emplace_back("Content-Type", content_type);
    req.body = std::string(body);
    KUMO_ASSIGN_OR_RETURN(HttpResponse resp, http_->Send(req));
    return RestResponse{resp.status, std::move(resp.body), std::move(resp.headers)};
  }

  Status Watch(std::string_view path_with_query, const WatchCallback& on_event,
               const std::atomic<bool>* cancel) override {
    std::string target(path_with_query);
    if (!HasQueryParam(target, "watch")) {
      target += target.find('?') == std::string::npos ? "?watch=true" : "&watch=true";
    }
    HttpRequest req = MakeRequest("GET", target, kJsonContentType);
    Status result = Status::Ok();
    auto on_line = [&](std::string_view line) -> bool {
      if (line.empty()) return true;
      StatusOr<json::value> event = ParseJson(line);
      if (!event.ok() || !event->is_object()) {
        result = Internal(
            "the watch stream from " + config_.server +
            " carried a line that is not a JSON watch event: " + std::string(line.substr(0, 200)));
        return false;
      }
      std::string type = GetString(*event, {"type"});
      json::object& o = event->get_object();
      json::value* object = o.if_contains("object");
      if (type.empty() || object == nullptr) {
        result = Internal("the watch stream from " + config_.server +
                          " carried an event without type or object");
        return false;
      }
      if (type == "ERROR") {
        std::optional<Status> st = StatusOfObject(*object, 0, "");
        result = st ? *st : Internal("the server ended the watch with an error");
        return false;
      }
      return on_event(type, std::move(*object));
    };
    KUMO_ASSIGN_OR_RETURN(HttpResponse resp, http_->Stream(req, on_line, cancel));
    if (resp.status < 200 || resp.status >= 300) {
      return StatusFromResponse(resp.status, resp.body, resp.Header("retry-after"));
    }
    return result;
  }

  Status StreamLines(std::string_view path_with_query,
                     const std::function<bool(std::string_view line)>& on_line,
                     const std::atomic<bool>* cancel) override {
    HttpRequest req = MakeRequest("GET", path_with_query, "text/plain");
    KUMO_ASSIGN_OR_RETURN(HttpResponse resp, http_->Stream(req, on_line, cancel));
    if (resp.status < 200 || resp.status >= 300) {
      return StatusFromResponse(resp.status, resp.body, resp.Header("retry-after"));
    }
    return Status::Ok();
  }

  StatusOr<std::unique_ptr<http::WebSocket>> OpenWebSocket(
      std::string_view path_with_query, const std::vector<std::string>& protocols) override {
    HttpRequest req = MakeRequest("GET", path_with_query, "");
    KUMO_ASSIGN_OR_RETURN(http::WebSocketDial dial, http_->OpenWebSocket(req, protocols));
    if (dial.socket) return std::move(dial.socket);
    std::string retry_after;
    for (const auto& [k, v] : dial.headers) {
      if (k == "retry-after") retry_after = v;
    }
    return StatusFromResponse(dial.status, dial.body, retry_after);
  }

 private:
  HttpRequest MakeRequest(std::string_view method, std::string_view target,
                          std::string_view accept) const {
    HttpRequest req;
    req.method = std::string(method);
    req.target = std::string(target);
    if (!config_.token.empty())
      req.headers.emplace_back("Authorization", "Bearer " + config_.token);
    if (!accept.empty()) req.headers.emplace_back("Accept", accept);
    return req;
  }

  const RestConfig config_;
  const std::unique_ptr<HttpClient> http_;
};

}  // namespace

Status RestClient::StreamLines(std::string_view, const std::function<bool(std::string_view)>&,
                               const std::atomic<bool>*) {
  return Status(Code::kInternal, "this client cannot stream");
}

StatusOr<std::unique_ptr<http::WebSocket>> RestClient::OpenWebSocket(
    std::string_view, const std::vector<std::string>&) {
  return Status(Code::kInternal, "this client cannot open WebSockets");
}

std::string RestResponse::Header(std::string_view name) const {
  for (const auto& [key, value] : headers) {
    if (key == name) return value;
  }
  return "";
}

StatusOr<RestConfig> RestConfigFromKubeconfig(const Kubeconfig& kubeconfig) {
  if (kubeconfig.server.empty()) {
    return BadRequest(
        "the kubeconfig names no server (clusters[].cluster.server); "
        "use the kubeconfig written by `kumo server`");
  }
  RestConfig config;
  config.server = kubeconfig.server;
  config.ca_pem = kubeconfig.ca_pem;
  config.token = kubeconfig.token;
  config.client_cert_pem = kubeconfig.client_cert_pem;
  config.client_key_pem = kubeconfig.client_key_pem;
  config.insecure_skip_tls_verify = kubeconfig.insecure_skip_tls_verify;
  return config;
}

StatusOr<std::unique_ptr<RestClient>> RestClient::New(const RestConfig& config) {
  HttpClientOptions options;
  options.url = config.server;
  options.ca_pem = config.ca_pem;
  options.insecure_skip_verify = config.insecure_skip_tls_verify;
  options.pinned_cert_sha256 = config.pinned_cert_sha256;
  options.client_cert_pem = config.client_cert_pem;
  options.client_key_pem = config.client_key_pem;
  options.timeout_seconds = config.timeout_seconds;
  options.max_idle_connections = config.max_idle_connections;
  options.source_address = config.source_address;
  KUMO_ASSIGN_OR_RETURN(std::unique_ptr<HttpClient> http, HttpClient::New(options));
  return std::unique_ptr<RestClient>(new RestClientImpl(config, std::move(http)));
}

StatusOr<json::value> RestClient::JsonCall(std::string_view method, std::string_view path,
                                           std::string_view body, std::string_view content_type) {
  KUMO_ASSIGN_OR_RETURN(RestResponse resp, Do(method, path, body, content_type));
  if (resp.code < 200 || resp.code >= 300) {
    return StatusFromResponse(resp.code, resp.body, resp.Header("retry-after"));
  }
  if (resp.body.empty()) return json::value(nullptr);
  StatusOr<json::value> parsed = ParseJson(resp.body);
  if (!parsed.ok()) {
    return Internal(std::string(method) + " " + std::string(path) +
                    " returned a body that is not JSON: " + parsed.status().message());
  }
  return parsed;
}

StatusOr<json::value> RestClient::Get(std::string_view path) {
  return JsonCall("GET", path, {}, {});
}

StatusOr<json::value> RestClient::List(std::string_view path_with_query) {
  return JsonCall("GET", path_with_query, {}, {});
}

StatusOr<json::value> RestClient::Create(std::string_view collection_path,
                                         const json::value& object) {
  return JsonCall("POST", collection_path, json::serialize(object), kJsonContentType);
}

StatusOr<json::value> RestClient::Update(std::string_view path, const json::value& object) {
  return JsonCall("PUT", path, json::serialize(object), kJsonContentType);
}

StatusOr<json::value> RestClient::Patch(std::string_view path, PatchType type,
                                        const json::value& patch) {
  return JsonCall("PATCH", path, json::serialize(patch), PatchContentType(type));
}

StatusOr<json::value> RestClient::Delete(std::string_view path, const json::value& options) {
  if (options.is_null()) return JsonCall("DELETE", path, {}, {});
  return JsonCall("DELETE", path, json::serialize(options), kJsonContentType);
}

Status StatusFromResponse(int http_code, std::string_view body, std::string_view retry_after) {
  if (StatusOr<json::value> parsed = ParseJson(body); parsed.ok()) {
    if (std::optional<Status> st = StatusOfObject(*parsed, http_code, retry_after)) return *st;
  }
  std::string snippet(body.substr(0, 200));
  while (!snippet.empty() && (snippet.back() == '\n' || snippet.back() == '\r')) snippet.pop_back();
  Status status(CodeOfHttp(http_code), "the server responded with HTTP " +
                                           std::to_string(http_code) +
                                           (snippet.empty() ? std::string() : ": " + snippet));
  if (int retry = ParseSeconds(retry_after); retry > 0) status.set_retry_after(retry);
  return status;
}

Code CodeOfReason(std::string_view reason) {
  static constexpr Code kCodes[] = {Code::kBadRequest,
                                    Code::kUnauthorized,
                                    Code::kForbidden,
                                    Code::kNotFound,
                                    Code::kMethodNotAllowed,
                                    Code::kNotAcceptable,
                                    Code::kAlreadyExists,
                                    Code::kConflict,
                                    Code::kGone,
                                    Code::kRequestEntityTooLarge,
                                    Code::kUnsupportedMediaType,
                                    Code::kInvalid,
                                    Code::kTooManyRequests,
                                    Code::kInternal,
                                    Code::kUnavailable,
                                    Code::kTimeout};
  if (reason.empty()) return Code::kOk;
  for (Code c : kCodes) {
    if (reason == ReasonOf(c)) return c;
  }
  if (reason == "Gone") return Code::kGone;
  if (reason == "ServerTimeout") return Code::kTimeout;
  return Code::kOk;
}

std::string ResourcePath(std::string_view group, std::string_view version, std::string_view plural,
                         std::string_view ns, std::string_view name, std::string_view subresource) {
  std::string path = group.empty() ? "/api/" : "/apis/" + std::string(group) + "/";
  path.append(version);
  if (!ns.empty()) path.append("/namespaces/").append(ns);
  path.append("/").append(plural);
  if (!name.empty()) {
    path.append("/").append(name);
    if (!subresource.empty()) path.append("/").append(subresource);
  }
  return path;
}

std::string QueryEscape(std::string_view value) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(value.size());
  for (char ch : value) {
    unsigned char c = static_cast<unsigned char>(ch);
    if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
        c == '_' || c == '.' || c == '~') {
      out.push_back(ch);
    } else {
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 15]);
    }
  }
  return out;
}

}  // namespace kumo::client
