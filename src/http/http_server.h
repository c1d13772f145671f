// HTTP/1.1 transport for the API server: the only place that includes Boost.Beast.
// Handlers see plain Request/Response types and a ResponseWriter that can also stream
// (chunked, for watches). TLS by default; optional client-certificate verification.
#pragma once

#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/status.h"
#include "http/conn.h"

namespace kumo::http {

using Headers = std::vector<std::pair<std::string, std::string>>;

struct Request {
  std::string method;  // "GET", "POST", ...
  std::string target;  // as sent: "/api/v1/namespaces?limit=5"
  std::string path;    // target before '?', percent-decoded
  std::string query;   // raw text after '?', not decoded ("" when none)
  Headers headers;     // names lower-cased
  std::string body;
  std::string remote_addr;  // "127.0.0.1:53422"
  // Subject of a client certificate that verified against the client CA; empty otherwise.
  std::string client_cert_cn;
  std::vector<std::string> client_cert_orgs;

  // Value of the first header named `name` (lower-case), or "" when absent.
  std::string Header(std::string_view name) const;
};

struct Response {
  int status = 200;
  std::string content_type = "application/json";
  Headers headers;  // extra headers
  std::string body;
};

// One per request; used from the handler's thread only.
class ResponseWriter {
 public:
  virtual ~ResponseWriter() = default;
  // Sends a complete response. Call at most once, and not after StartStream.
  virtual void Send(Response response) = 0;
  // Starts a chunked response (Transfer-Encoding: chunked). Returns false if the client is gone.
  virtual bool StartStream(int status, std::string_view content_type, const Headers& headers) = 0;
  // Writes and flushes one chunk. Returns false once the client is gone.
  virtual bool WriteChunk(std::string_view data) = 0;
  // Ends a chunked response with the terminating chunk.
  virtual void EndStream() = 0;
  // True when the peer has closed its side of the connection (checked without blocking).
  virtual bool ClientGone() = 0;
  // Sends "101 Switching Protocols" with `headers` and lends the raw connection to the handler
  // (nullptr if the client is gone or a response was already started). Use it only on the
  // handler's thread and before the handler returns; the connection is closed afterwards.
  virtual std::unique_ptr<Conn> Upgrade(const Headers& headers) = 0;
};

// "HOST:PORT" (host may be empty for 0.0.0.0, or a bracketed IPv6 literal) as (host, port).
// BadRequest naming --listen when malformed.
StatusOr<std::pair<std::string, int>> ParseListenAddress(const std::string& listen);

// A Kubernetes Status body ("kind":"Status", failure) for an error response.
std::string StatusBody(int code, std::string_view reason, std::string_view message);
// An error response for `status`: its HTTP code, reason and message as a Status body.
Response ErrorResponse(const Status& status);

using Handler = std::function<void(const Request&, ResponseWriter&)>;

struct ServerOptions {
  std::string host = "127.0.0.1";
  int port = 6443;  // 0: pick a free port (see HttpServer::port())
  bool tls = true;
  std::string cert_file;       // PEM serving certificate (chain)
  std::string key_file;        // PEM private key
  std::string client_ca_file;  // PEM CA for optional client certificates; "" disables
  size_t max_body_bytes = 3 * 1024 * 1024;  // larger bodies get 413 RequestEntityTooLarge
  int idle_timeout_seconds = 300;           // keep-alive connections idle this long are closed
  // Before a client has sent its first request it is unauthenticated: the TLS handshake and
  // that request's header must arrive within this many seconds.
  int handshake_timeout_seconds = 10;
  // Connections over these caps are closed at once, before any TLS work.
  int max_connections = 16384;
  int max_connections_per_ip = 2048;
  // TLS handshakes in progress at once (0: half the cores, at least one); more wait. Keeps a
  // flood of new connections from taking the CPU that requests on open connections need.
  int max_concurrent_handshakes = 0;
};

// Owns the listener and connection threads. Start/Stop from one thread.
class HttpServer {
 public:
  virtual ~HttpServer() = default;
  // Binds, listens and starts accepting. The handler may be called from many threads at once.
  static StatusOr<std::unique_ptr<HttpServer>> Start(const ServerOptions& options,
                                                     Handler handler);
  // The bound port (useful with port 0).
  virtual int port() const = 0;
  // Stops accepting, closes connections (ending streams), and joins all threads.
  virtual void Stop() = 0;
};

}  // namespace kumo::http
