// A synchronous HTTP/1.1 client for talking to one API server: TLS (server verified against a
// CA given in memory, optional client certificate) or plain HTTP, keep-alive connections kept
// in a small pool, a per-request timeout, and a streaming mode that hands a chunked body
// (watch events) to a callback line by line. Beast and Asio stay inside the .cc file.
#pragma once

#include <atomic>
#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/status.h"
#include "http/websocket.h"

namespace kumo::client {

using HttpHeaders = std::vector<std::pair<std::string, std::string>>;

struct HttpRequest {
  std::string method = "GET";
  std::string target;   // path and query, e.g. "/api/v1/namespaces?limit=5"
  HttpHeaders headers;  // sent as given; Host, Content-Length and User-Agent are added
  std::string body;
};

struct HttpResponse {
  int status = 0;
  HttpHeaders headers;  // names lower-cased
  std::string body;

  // Value of the first header named `name` (lower-case), or "" when absent.
  std::string Header(std::string_view name) const;
};

struct HttpClientOptions {
  std::string url;     // "https://host:port" or "http://host:port"; a path is prefixed to targets
  std::string ca_pem;  // PEM CA(s) the server certificate must chain to; "" = system roots
  bool insecure_skip_verify = false;            // do not verify the server (debugging only)
  // Verify the server by the SHA-256 of its certificate (hex) instead of a CA and name.
  std::string pinned_cert_sha256;
  std::string client_cert_pem, client_key_pem;  // optional client certificate (PEM text)
  int timeout_seconds = 30;          // whole request incl. connect; 0 = none. Streams: headers only
  size_t max_idle_connections = 32;  // keep-alive connections kept for reuse
  // Local IP address to connect from (e.g. one loopback address per simulated node); "" lets
  // the system choose.
  std::string source_address;
};

// Receives one line of a streamed body, without the trailing '\n' (or "\r\n"). Returning
// false ends the stream.
using LineCallback = std::function<bool(std::string_view line)>;

// Owned by its creator; every method may be called from many threads at once. Each request
// takes a connection from the pool (or opens one) and returns it when the response was read
// completely and the server keeps the connection alive.
class HttpClient {
 public:
  // Validates the URL and builds the TLS context (CA, client certificate). Opens no
  // connection: an unreachable server shows up on the first request.
  static StatusOr<std::unique_ptr<HttpClient>> New(const HttpClientOptions& options);
  ~HttpClient();
  HttpClient(const HttpClient&) = delete;
  HttpClient& operator=(const HttpClient&) = delete;

  // Sends `request` and reads the whole response. Any HTTP status is a successful exchange;
  // the Status is non-OK only when no response was read: kUnavailable (cannot connect, TLS
  // failure, connection lost) or kTimeout. Messages name the server URL.
  StatusOr<HttpResponse> Send(const HttpRequest& request);

  // Sends `request`; for a 2xx response delivers the body to `on_line` line by line as it
  // arrives, until `on_line` returns false, the server ends the body, or `*cancel` becomes true
  // (checked at least every 250 ms). Returns the status and headers (empty body). A non-2xx
  // response is not streamed: it is read whole and returned with its body. The request timeout
  // applies until the response headers arrive; the body may then take any time. A body the
  // server cuts off mid-way is kUnavailable.
  StatusOr<HttpResponse> Stream(const HttpRequest& request, const LineCallback& on_line,
                                const std::atomic<bool>* cancel);

  // Opens a WebSocket on a new connection (GET `request.target` with its headers), offering
  // `protocols`. Any answer is a successful exchange: 101 with the socket, or the refusal's
  // status and body. Errors mean no answer was read (kUnavailable, kTimeout).
  StatusOr<http::WebSocketDial> OpenWebSocket(const HttpRequest& request,
                                              const std::vector<std::string>& protocols);

  const std::string& url() const;

 private:
  struct Impl;
  explicit HttpClient(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace kumo::client
