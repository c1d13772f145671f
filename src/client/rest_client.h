// RestClient: the Kubernetes-style REST client of the node agent and the `kumo` CLI. JSON in
// and out, errors as Status built from the server's Status objects, and watches as a stream
// of (type, object) events. Transport: client/http/http_client.h.
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "client/kubeconfig.h"
#include "common/json.h"
#include "common/status.h"
#include "http/websocket.h"

namespace kumo::client {

// Where the API server is and who we are. PEM fields hold PEM text. Plain value type.
struct RestConfig {
  std::string server;  // "https://127.0.0.1:6443"
  std::string ca_pem;  // "" with https: the system's CA certificates
  std::string token;   // bearer token; "" for none
  std::string client_cert_pem, client_key_pem;
  int timeout_seconds = 30;  // per request (a watch: until its response headers arrive)
  bool insecure_skip_tls_verify = false;
  // Verify the server by this SHA-256 certificate fingerprint instead of a CA (node agents).
  std::string pinned_cert_sha256;
  size_t max_idle_connections = 32;  // keep-alive connections kept for reuse
  std::string source_address;        // local IP to connect from; "" = the system's choice
};

// The connection details of a loaded kubeconfig. BadRequest when it names no server.
StatusOr<RestConfig> RestConfigFromKubeconfig(const Kubeconfig& kubeconfig);

// A raw response. Headers names are lower-case.
struct RestResponse {
  int code = 0;
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;

  std::string Header(std::string_view name) const;  // "" when absent
};

enum class PatchType {
  kMerge,      // application/merge-patch+json (RFC 7386)
  kJson,       // application/json-patch+json (RFC 6902)
  kStrategic,  // application/strategic-merge-patch+json
};

// Receives one watch event: type is ADDED, MODIFIED, DELETED or BOOKMARK. Returning false
// ends the watch.
using WatchCallback = std::function<bool(std::string_view type, json::value&& object)>;

inline constexpr std::string_view kJsonContentType = "application/json";

// Owned by its creator; thread-safe (requests from many threads share a small pool of
// keep-alive connections). Abstract so that callers can be tested against a fake; the JSON
// helpers are built on Do().
class RestClient {
 public:
  // Builds a client (TLS context included) without connecting. BadRequest for a malformed
  // server URL or unreadable PEM data.
  static StatusOr<std::unique_ptr<RestClient>> New(const RestConfig& config);
  virtual ~RestClient() = default;

  // One request. Every HTTP response is OK here (look at `code`); errors are kUnavailable
  // (cannot connect, TLS failure; the message names the server URL) or kTimeout.
  virtual StatusOr<RestResponse> Do(std::string_view method, std::string_view path_with_query,
                                    std::string_view body = {}, std::string_view content_type = {},
                                    std::string_view accept = kJsonContentType) = 0;

  // Watches `path_with_query` (watch=true is added when the query has no watch parameter),
  // calling `on_event` for each event in order, until it returns false, the server ends the
  // watch, or `*cancel` (may be null) becomes true, which is noticed within a second. Those
  // three end with OK. An ERROR event ends the watch with its Status (e.g. kGone for a
  // resourceVersion that is too old: list again); a non-2xx response maps like Get().
  virtual Status Watch(std::string_view path_with_query, const WatchCallback& on_event,
                       const std::atomic<bool>* cancel) = 0;

  // Streams a plain-text body line by line (e.g. a log with follow=true) until `on_line`
  // returns false, the server ends it, or `*cancel` becomes true. Errors map like Get().
  virtual Status StreamLines(std::string_view path_with_query,
                             const std::function<bool(std::string_view line)>& on_line,
                             const std::atomic<bool>* cancel);
  // Opens a WebSocket (e.g. a VM console) offering `protocols`. A refusal is the server's
  // Status as an error, like Get().
  virtual StatusOr<std::unique_ptr<http::WebSocket>> OpenWebSocket(
      std::string_view path_with_query, const std::vector<std::string>& protocols);
  // JSON helpers: the response body parsed, or the server's error as a Status (see
  // StatusFromResponse).
  StatusOr<json::value> Get(std::string_view path);
  StatusOr<json::value> List(std::string_view path_with_query);
  StatusOr<json::value> Create(std::string_view collection_path, const json::value& object);
  StatusOr<json::value> Update(std::string_view path, const json::value& object);  // PUT
  StatusOr<json::value> Patch(std::string_view path, PatchType type, const json::value& patch);
  // `options` is an optional DeleteOptions body (e.g. {"propagationPolicy":"Foreground"}).
  StatusOr<json::value> Delete(std::string_view path, const json::value& options = nullptr);

 protected:
  RestClient() = default;

 private:
  StatusOr<json::value> JsonCall(std::string_view method, std::string_view path,
                                 std::string_view body, std::string_view content_type);
};

// The Status for a non-2xx response: reason → Code (falling back to the HTTP code when the
// body is not a Status), message and causes kept, Retry-After (header or
// details.retryAfterSeconds) kept.
Status StatusFromResponse(int http_code, std::string_view body, std::string_view retry_after);

// Code for a Kubernetes Status reason ("NotFound"); kOk when unknown.
Code CodeOfReason(std::string_view reason);

// "/api/v1/namespaces/ns/pods/name/status" for the core group (group ""),
// "/apis/group/version/..." otherwise. The namespaces segment appears only when `ns` is
// non-empty; `name` and `subresource` only when non-empty.
std::string ResourcePath(std::string_view group, std::string_view version, std::string_view plural,
                         std::string_view ns = {}, std::string_view name = {},
                         std::string_view subresource = {});

// Percent-encodes a query parameter value (everything but A-Z a-z 0-9 - _ . ~).
std::string QueryEscape(std::string_view value);

}  // namespace kumo::client
