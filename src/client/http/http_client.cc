// HTTP/1.1 client over Boost.Beast with blocking I/O. Blocking Asio calls have no timeouts of
// their own, so sockets are put in non-blocking mode and every wait is a poll() in short ticks
// that also watches the deadline and the cancel flag. Every Boost exception is caught here;
// callers only see Status.
#include "client/http/http_client.h"

#include <errno.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>
#include <poll.h>
#include <strings.h>
#include <sys/socket.h>

#include <algorithm>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <cctype>
#include <chrono>
#include <exception>
#include <mutex>
#include <optional>

#include "http/socket_conn.h"
#include "http/tls_context.h"

namespace kumo::client {

std::string HttpResponse::Header(std::string_view name) const {
  for (const auto& [key, value] : headers) {
    if (key == name) return value;
  }
  return "";
}

namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = asio::ip::tcp;
using boost::system::error_code;
using Clock = std::chrono::steady_clock;

constexpr auto kTick = std::chrono::milliseconds(250);
constexpr uint32_t kMaxHeaderBytes = 64 * 1024;
constexpr const char* kUserAgent = "kumo-client/0.1";

struct ParsedUrl {
  bool tls = true;
  std::string host;         // without brackets
  std::string port;         // "443"
  std::string authority;    // as written, for the Host header
  std::string path_prefix;  // "" or "/prefix" (no trailing slash)
  bool host_is_ip = false;
};

StatusOr<ParsedUrl> ParseUrl(const std::string& url) {
  ParsedUrl u;
  std::string_view rest = url;
  if (rest.substr(0, 8) == "https://") {
    rest.remove_prefix(8);
  } else if (rest.substr(0, 7) == "http://") {
    u.tls = false;
    rest.remove_prefix(7);
  } else {
    return BadRequest("server URL \"" + url +
                      "\" must start with https:// or http:// (e.g. https://127.0.0.1:6443)");
  }
  size_t slash = rest.find('/');
  std::string_view authority = rest.substr(0, slash);
  if (slash != std::string_view::npos) {
    std::string_view path = rest.substr(slash);
    while (!path.empty() && path.back() == '/') path.remove_suffix(1);
    u.path_prefix = std::string(path);
  }
  if (authority.empty()) return BadRequest("server URL \"" + url + "\" has no host");
  u.authority = std::string(authority);
  std::string_view port;
  if (authority.front() == '[') {
    size_t close = authority.find(']');
    if (close == std::string_view::npos) {
      return BadRequest("server URL \"" + url + "\" has an unterminated IPv6 address");
    }
    u.host = std::string(authority.substr(1, close - 1));
    std::string_view after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') return BadRequest("server URL \"" + url + "\" is malformed");
      port = after.substr(1);
    }
  } else {
    size_t colon = authority.rfind(':');
    u.host = std::string(authority.substr(0, colon));
    if (colon != std::string_view::npos) port = authority.substr(colon + 1);
  }
  if (port.empty()) port = u.tls ? "443" : "80";
  for (char c : port) {
    if (!std::isdigit(static_cast<unsigned char>(c))) {
      return BadRequest("server URL \"" + url + "\" has an invalid port");
    }
  }
  u.port = std::string(port);
  error_code ec;
  asio::ip::make_address(u.host, ec);
  u.host_is_ip = !ec;
  return u;
}

// Waits until `fd` is ready for `events`, the deadline passes (timed_out) or `*cancel` is set
// (operation_aborted).
bool WaitFd(int fd, short events, Clock::time_point deadline, const std::atomic<bool>* cancel,
            error_code& ec) {
  for (;;) {
    if (cancel != nullptr && cancel->load()) {
      ec = asio::error::operation_aborted;
      return false;
    }
    auto now = Clock::now();
    if (now >= deadline) {
      ec = asio::error::timed_out;
      return false;
    }
    auto wait = std::min<Clock::duration>(deadline - now, kTick);
    int ms = static_cast<int>(
        std::max<int64_t>(1, std::chrono::ceil<std::chrono::milliseconds>(wait).count()));
    pollfd p{};
    p.fd = fd;
    p.events = events;
    int r = ::poll(&p, 1, ms);
    if (r > 0) return true;
    if (r < 0 && errno != EINTR) {
      ec = error_code(errno, boost::system::system_category());
      return false;
    }
  }
}

// A non-blocking TCP socket that looks blocking to Asio's SSL stream and to Beast, except that
// reads and writes give up at a deadline or when a cancel flag is set. Owned by one Connection.
class TimedSocket {
 public:
  using lowest_layer_type = tcp::socket;
  using executor_type = tcp::socket::executor_type;

  explicit TimedSocket(tcp::socket socket) : socket_(std::move(socket)) {}
  TimedSocket(TimedSocket&&) = default;

  lowest_layer_type& lowest_layer() { return socket_; }
  executor_type get_executor() { return socket_.get_executor(); }

  void Arm(Clock::time_point deadline, const std::atomic<bool>* cancel) {
    deadline_ = deadline;
    cancel_ = cancel;
  }

  template <class MutableBufferSequence>
  size_t read_some(const MutableBufferSequence& buffers, error_code& ec) {
    for (;;) {
      size_t n = socket_.read_some(buffers, ec);
      if (ec != asio::error::would_block && ec != asio::error::try_again) return n;
      if (!WaitFd(socket_.native_handle(), POLLIN, deadline_, cancel_, ec)) return 0;
    }
  }
  template <class MutableBufferSequence>
  size_t read_some(const MutableBufferSequence& buffers) {
    error_code ec;
    size_t n = read_some(buffers, ec);
    if (ec) throw boost::system::system_error(ec);
    return n;
  }
  template <class ConstBufferSequence>
  size_t write_some(const ConstBufferSequence& buffers, error_code& ec) {
    for (;;) {
      size_t n = socket_.write_some(buffers, ec);
      if (ec != asio::error::would_block && ec != asio::error::try_again) return n;
      if (!WaitFd(socket_.native_handle(), POLLOUT, deadline_, cancel_, ec)) return 0;
    }
  }
  template <class ConstBufferSequence>
  size_t write_some(const ConstBufferSequence& buffers) {
    error_code ec;
    size_t n = write_some(buffers, ec);
    if (ec) throw boost::system::system_error(ec);
    return n;
  }

 private:
  tcp::socket socket_;
  Clock::time_point deadline_ = Clock::time_point::max();
  const std::atomic<bool>* cancel_ = nullptr;
};

// One keep-alive connection, plain or TLS. It meets Beast's SyncReadStream/SyncWriteStream
// requirements so that the HTTP codec is instantiated once for both kinds. Used by one request
// at a time; idle ones live in the pool.
class Connection {
 public:
  explicit Connection(TimedSocket socket) : plain_(std::move(socket)) {}
  Connection(TimedSocket socket, asio::ssl::context& ctx)
      : tls_(std::make_unique<asio::ssl::stream<TimedSocket>>(std::move(socket), ctx)) {}

  TimedSocket& Socket() { return tls_ ? tls_->next_layer() : *plain_; }
  SSL* Ssl() { return tls_ ? tls_->native_handle() : nullptr; }
  error_code Handshake() {
    error_code ec;
    if (tls_) tls_->handshake(asio::ssl::stream_base::client, ec);
    return ec;
  }
  beast::flat_buffer& buffer() { return buffer_; }
  bool reused = false;

  // True when the server closed the connection (or sent something unexpected) while idle.
  bool Stale() {
    if (buffer_.size() > 0) return true;
    pollfd p{};
    p.fd = Socket().lowest_layer().native_handle();
    p.events = POLLIN | POLLRDHUP;
    if (::poll(&p, 1, 0) <= 0) return false;
    return true;  // EOF, reset, or bytes nobody asked for
  }

  template <class MutableBufferSequence>
  size_t read_some(const MutableBufferSequence& buffers, error_code& ec) {
    for (auto it = asio::buffer_sequence_begin(buffers); it != asio::buffer_sequence_end(buffers);
         ++it) {
      asio::mutable_buffer b(*it);
      if (b.size() > 0) return tls_ ? tls_->read_some(b, ec) : plain_->read_some(b, ec);
    }
    ec = {};
    return 0;
  }
  template <class MutableBufferSequence>
  size_t read_some(const MutableBufferSequence& buffers) {
    error_code ec;
    size_t n = read_some(buffers, ec);
    if (ec) throw boost::system::system_error(ec);
    return n;
  }
  template <class ConstBufferSequence>
  size_t write_some(const ConstBufferSequence& buffers, error_code& ec) {
    for (auto it = asio::buffer_sequence_begin(buffers); it != asio::buffer_sequence_end(buffers);
         ++it) {
      asio::const_buffer b(*it);
      if (b.size() > 0) return tls_ ? tls_->write_some(b, ec) : plain_->write_some(b, ec);
    }
    ec = {};
    return 0;
  }
  template <class ConstBufferSequence>
  size_t write_some(const ConstBufferSequence& buffers) {
    error_code ec;
    size_t n = write_some(buffers, ec);
    if (ec) throw boost::system::system_error(ec);
    return n;
  }

 private:
  std::optional<TimedSocket> plain_;
  std::unique_ptr<asio::ssl::stream<TimedSocket>> tls_;
  beast::flat_buffer buffer_;
};

bool IsDisconnect(const error_code& ec) {
  return ec == asio::error::eof || ec == bhttp::error::end_of_stream ||
         ec == asio::error::connection_reset || ec == asio::error::broken_pipe ||
         ec == asio::ssl::error::stream_truncated;
}

// Methods that may be sent again when a reused connection turned out to be closed before the
// server answered. POST and PATCH are not: the server may have acted on them.
bool Resendable(const std::string& method) {
  return method == "GET" || method == "HEAD" || method == "PUT" || method == "DELETE" ||
         method == "OPTIONS";
}

std::string SerializeRequest(const HttpRequest& req, const ParsedUrl& url) {
  std::string out;
  out.reserve(256 + req.body.size());
  out.append(req.method).append(" ").append(url.path_prefix);
  out.append(req.target.empty() ? "/" : req.target).append(" HTTP/1.1\r\n");
  out.append("Host: ").append(url.authority).append("\r\n");
  bool has_agent = false;
  for (const auto& [name, value] : req.headers) {
    if (name.size() == 10 && strncasecmp(name.c_str(), "user-agent", 10) == 0) has_agent = true;
    out.append(name).append(": ").append(value).append("\r\n");
  }
  if (!has_agent) out.append("User-Agent: ").append(kUserAgent).append("\r\n");
  if (!req.body.empty() || req.method == "POST" || req.method == "PUT" || req.method == "PATCH") {
    out.append("Content-Length: ").append(std::to_string(req.body.size())).append("\r\n");
  }
  out.append("\r\n").append(req.body);
  return out;
}

// Splits a byte stream into lines for a LineCallback. Not thread-safe.
class LineSplitter {
 public:
  explicit LineSplitter(const LineCallback& on_line) : on_line_(on_line) {}
  // Returns false once the callback asked to stop; later input is ignored.
  bool Feed(std::string_view data) {
    if (stopped_) return false;
    pending_.append(data);
    size_t start = 0;
    for (;;) {
      size_t nl = pending_.find('\n', start);
      if (nl == std::string::npos) break;
      size_t end = nl;
      if (end > start && pending_[end - 1] == '\r') --end;
      bool keep = on_line_(std::string_view(pending_).substr(start, end - start));
      start = nl + 1;
      if (!keep) {
        stopped_ = true;
        break;
      }
    }
    pending_.erase(0, start);
    return !stopped_;
  }
  // Delivers a last line that had no newline.
  void Finish() {
    if (!stopped_ && !pending_.empty()) {
      std::string last = std::move(pending_);
      pending_.clear();
      if (!on_line_(last)) stopped_ = true;
    }
  }
  bool stopped() const { return stopped_; }

 private:
  const LineCallback& on_line_;
  std::string pending_;
  bool stopped_ = false;
};

HttpResponse HeadOf(const bhttp::response<bhttp::string_body>& msg) {
  HttpResponse r;
  r.status = static_cast<int>(msg.result_int());
  for (const auto& field : msg) {
    std::string name(field.name_string());
    std::transform(name.begin(), name.end(), name.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    r.headers.emplace_back(std::move(name), std::string(field.value()));
  }
  return r;
}

}  // namespace

struct HttpClient::Impl {
  HttpClientOptions options;
  ParsedUrl url;
  asio::io_context io;  // never run: sockets need one, but all I/O here is blocking
  std::unique_ptr<asio::ssl::context> tls;
  std::mutex mu;
  std::vector<std::unique_ptr<Connection>> idle;  // guarded by mu; destroyed before io

  ~Impl() { idle.clear(); }

  Status Init();
  StatusOr<std::unique_ptr<Connection>> Connect(Clock::time_point deadline,
                                                const std::atomic<bool>* cancel);
  std::unique_ptr<Connection> TakeIdle();
  void PutIdle(std::unique_ptr<Connection> conn);
  Status Failure(std::string_view what, const error_code& ec) const;
  StatusOr<HttpResponse> Exchange(const HttpRequest& request, const LineCallback* on_line,
                                  const std::atomic<bool>* cancel);
  // One try on one connection. `resend` is set when the request may be sent again on a fresh
  // connection; `keep` when the connection can serve another request.
  StatusOr<HttpResponse> Attempt(Connection& conn, const HttpRequest& request,
                                 const std::string& wire, Clock::time_point deadline,
                                 const LineCallback* on_line, const std::atomic<bool>* cancel,
                                 bool& resend, bool& keep);
};

Status HttpClient::Impl::Init() {
  KUMO_ASSIGN_OR_RETURN(url, ParseUrl(options.url));
  if (!url.tls) return Status::Ok();
  http::TlsContextOptions o;
  o.cert_pem = options.client_cert_pem;
  o.key_pem = options.client_key_pem;
  o.verify_peer = !options.insecure_skip_verify && options.pinned_cert_sha256.empty();
  o.ca_pem = options.ca_pem;
  o.peer = options.url;
  KUMO_ASSIGN_OR_RETURN(http::SslCtxPtr ctx, http::NewTlsContext(o));
  tls = std::make_unique<asio::ssl::context>(ctx.release());
  return Status::Ok();
}

Status HttpClient::Impl::Failure(std::string_view what, const error_code& ec) const {
  if (ec == asio::error::timed_out) {
    return Status(Code::kTimeout, "request to " + options.url + " timed out after " +
                                      std::to_string(options.timeout_seconds) +
                                      " s; the server is overloaded or unreachable");
  }
  return Status(Code::kUnavailable, std::string(what) + " " + options.url + ": " + ec.message());
}

StatusOr<std::unique_ptr<Connection>> HttpClient::Impl::Connect(Clock::time_point deadline,
                                                                const std::atomic<bool>* cancel) {
  error_code ec;
  tcp::resolver resolver(io);
  auto results = resolver.resolve(url.host, url.port, ec);
  if (ec || results.empty()) {
    return Status(Code::kUnavailable, "cannot resolve the host of " + options.url + ": " +
                                          (ec ? ec.message() : "no addresses"));
  }
  error_code last;
  for (const auto& entry : results) {
    tcp::socket socket(io);
    const tcp::endpoint ep = entry.endpoint();
    if (socket.open(ep.protocol(), ec); ec) {
      last = ec;
      continue;
    }
    if (!options.source_address.empty()) {
      auto local = asio::ip::make_address(options.source_address, ec);
      if (!ec) socket.bind(tcp::endpoint(local, 0), ec);
      if (ec) {
        return Status(Code::kUnavailable, "cannot connect from " + options.source_address + ": " +
                                              ec.message());
      }
    }
    socket.non_blocking(true, ec);
    if (::connect(socket.native_handle(), ep.data(), static_cast<socklen_t>(ep.size())) != 0) {
      if (errno != EINPROGRESS) {
        last = error_code(errno, boost::system::system_category());
        continue;
      }
      if (!WaitFd(socket.native_handle(), POLLOUT, deadline, cancel, ec)) {
        last = ec;
        if (ec == asio::error::timed_out || ec == asio::error::operation_aborted) break;
        continue;
      }
      int err = 0;
      socklen_t len = sizeof(err);
      ::getsockopt(socket.native_handle(), SOL_SOCKET, SO_ERROR, &err, &len);
      if (err != 0) {
        last = error_code(err, boost::system::system_category());
        continue;
      }
    }
    socket.set_option(tcp::no_delay(true), ec);
    TimedSocket timed(std::move(socket));
    timed.Arm(deadline, cancel);
    if (!tls) return std::make_unique<Connection>(std::move(timed));

    auto conn = std::make_unique<Connection>(std::move(timed), *tls);
    SSL* ssl = conn->Ssl();
    if (!url.host_is_ip) SSL_set_tlsext_host_name(ssl, url.host.c_str());
    if (!options.insecure_skip_verify && options.pinned_cert_sha256.empty()) {
      X509_VERIFY_PARAM* param = SSL_get0_param(ssl);
      if (url.host_is_ip) {
        X509_VERIFY_PARAM_set1_ip_asc(param, url.host.c_str());
      } else {
        X509_VERIFY_PARAM_set1_host(param, url.host.c_str(), 0);
      }
    }
    if (error_code hs = conn->Handshake(); hs) {
      if (hs == asio::error::timed_out) return Failure("", hs);
      std::string detail = hs.message();
      long verify = SSL_get_verify_result(ssl);
      if (verify != X509_V_OK) {
        detail = std::string("the server certificate did not verify (") +
                 X509_verify_cert_error_string(verify) +
                 "); check that the CA in the kubeconfig is this server's CA";
      }
      return Status(Code::kUnavailable, "TLS handshake with " + options.url + " failed: " + detail);
    }
    if (!options.pinned_cert_sha256.empty() &&
        http::PeerCertSha256(ssl) != options.pinned_cert_sha256) {
      return Status(Code::kUnavailable, "the certificate of " + options.url +
                                            " is not the one published for it");
    }
    return conn;
  }
  if (last == asio::error::timed_out) return Failure("", last);
  return Status(Code::kUnavailable, "cannot connect to the API server at " + options.url + ": " +
                                        last.message() + "; check that it is running");
}

std::unique_ptr<Connection> HttpClient::Impl::TakeIdle() {
  for (;;) {
    std::unique_ptr<Connection> conn;
    {
      std::lock_guard lock(mu);
      if (idle.empty()) return nullptr;
      conn = std::move(idle.back());
      idle.pop_back();
    }
    if (!conn->Stale()) {
      conn->reused = true;
      return conn;
    }
  }
}

void HttpClient::Impl::PutIdle(std::unique_ptr<Connection> conn) {
  std::lock_guard lock(mu);
  if (idle.size() < options.max_idle_connections) idle.push_back(std::move(conn));
}

StatusOr<HttpResponse> HttpClient::Impl::Attempt(Connection& conn, const HttpRequest& request,
                                                 const std::string& wire,
                                                 Clock::time_point deadline,
                                                 const LineCallback* on_line,
                                                 const std::atomic<bool>* cancel, bool& resend,
                                                 bool& keep) {
  resend = false;
  keep = false;
  TimedSocket& socket = conn.Socket();
  socket.Arm(deadline, cancel);
  error_code ec;
  asio::write(conn, asio::buffer(wire), ec);

  bhttp::response_parser<bhttp::string_body> parser;
  parser.header_limit(kMaxHeaderBytes);
  parser.body_limit(boost::none);  // full lists of 100,000 objects are hundreds of MB
  if (request.method == "HEAD") parser.skip(true);
  std::optional<LineSplitter> lines;
  if (on_line != nullptr) lines.emplace(*on_line);
  std::string error_body;  // a chunked non-2xx body is collected, not streamed
  auto on_chunk = [&](std::uint64_t, std::string_view body, error_code&) -> std::size_t {
    const int status = static_cast<int>(parser.get().result_int());
    if (lines && status >= 200 && status < 300) {
      lines->Feed(body);
    } else {
      error_body.append(body);
    }
    return body.size();
  };
  parser.on_chunk_body(on_chunk);

  if (!ec) bhttp::read_header(conn, conn.buffer(), parser, ec);
  if (ec) {
    resend = conn.reused && !parser.got_some() && IsDisconnect(ec);
    if (ec == asio::error::operation_aborted) {
      return Status(Code::kUnavailable, "request to " + options.url + " was cancelled");
    }
    return Failure("cannot reach the API server at", ec);
  }
  const int status = static_cast<int>(parser.get().result_int());
  const bool streaming = lines && status >= 200 && status < 300;
  if (!streaming) {
    bhttp::read(conn, conn.buffer(), parser, ec);
    if (ec) return Failure("lost the connection to", ec);
    HttpResponse response = HeadOf(parser.get());
    response.body = parser.get().chunked() ? std::move(error_body) : std::move(parser.get().body());
    keep = parser.get().keep_alive() && !parser.need_eof();
    return response;
  }

  // A stream may stay quiet for as long as the server likes; only cancel ends the wait.
  socket.Arm(Clock::time_point::max(), cancel);
  while (!parser.is_done() && !lines->stopped()) {
    bhttp::read_some(conn, conn.buffer(), parser, ec);
    if (ec) break;
  }
  HttpResponse head = HeadOf(parser.get());
  if (lines->stopped()) return head;
  if (ec == asio::error::operation_aborted && cancel != nullptr && cancel->load()) return head;
  if (ec) return Failure("the response stream ended unexpectedly from", ec);
  if (!parser.get().chunked()) lines->Feed(parser.get().body());
  lines->Finish();
  keep = parser.get().keep_alive() && !parser.need_eof() && !lines->stopped();
  return head;
}

StatusOr<HttpResponse> HttpClient::Impl::Exchange(const HttpRequest& request,
                                                  const LineCallback* on_line,
                                                  const std::atomic<bool>* cancel) {
  const Clock::time_point deadline =
      options.timeout_seconds > 0 ? Clock::now() + std::chrono::seconds(options.timeout_seconds)
                                  : Clock::time_point::max();
  const std::string wire = SerializeRequest(request, url);
  for (int attempt = 0;; ++attempt) {
    std::unique_ptr<Connection> conn = TakeIdle();
    if (!conn) {
      KUMO_ASSIGN_OR_RETURN(conn, Connect(deadline, cancel));
    }
    bool resend = false, keep = false;
    StatusOr<HttpResponse> response =
        Attempt(*conn, request, wire, deadline, on_line, cancel, resend, keep);
    if (!response.ok() && resend && attempt == 0 && Resendable(request.method)) continue;
    if (keep) PutIdle(std::move(conn));
    return response;
  }
}

HttpClient::HttpClient(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
HttpClient::~HttpClient() = default;

StatusOr<std::unique_ptr<HttpClient>> HttpClient::New(const HttpClientOptions& options) {
  try {
    auto impl = std::make_unique<Impl>();
    impl->options = options;
    KUMO_RETURN_IF_ERROR(impl->Init());
    return std::unique_ptr<HttpClient>(new HttpClient(std::move(impl)));
  } catch (const std::exception& e) {
    return Internal(std::string("cannot set up an HTTP client for ") + options.url + ": " +
                    e.what());
  }
}

const std::string& HttpClient::url() const { return impl_->options.url; }

StatusOr<http::WebSocketDial> HttpClient::OpenWebSocket(
    const HttpRequest& request, const std::vector<std::string>& protocols) {
  const Impl& impl = *impl_;
  http::DialOptions dial;
  dial.host = impl.url.host;
  dial.port = impl.url.port;
  dial.tls = impl.tls ? impl.tls->native_handle() : nullptr;
  dial.pinned_sha256 = impl.options.pinned_cert_sha256;
  if (impl.options.timeout_seconds > 0) dial.timeout_ms = impl.options.timeout_seconds * 1000;
  auto conn = http::Dial(dial);
  if (!conn.ok()) {
    return Status(conn.status().code(),
                  "cannot open a WebSocket to " + impl.options.url + ": " + conn.status().message());
  }
  http::Headers headers = request.headers;
  headers.emplace_back("User-Agent", kUserAgent);
  auto result = http::WebSocketHandshake(std::move(*conn), impl.url.authority,
                                         impl.url.path_prefix + request.target, headers, protocols);
  if (!result.ok()) {
    return Status(result.status().code(),
                  "WebSocket to " + impl.options.url + ": " + result.status().message());
  }
  return result;
}

StatusOr<HttpResponse> HttpClient::Send(const HttpRequest& request) {
  try {
    return impl_->Exchange(request, nullptr, nullptr);
  } catch (const std::exception& e) {
    return Internal("request to " + impl_->options.url + " failed: " + e.what());
  }
}

StatusOr<HttpResponse> HttpClient::Stream(const HttpRequest& request, const LineCallback& on_line,
                                          const std::atomic<bool>* cancel) {
  try {
    return impl_->Exchange(request, &on_line, cancel);
  } catch (const std::exception& e) {
    return Internal("request to " + impl_->options.url + " failed: " + e.what());
  }
}

}  // namespace kumo::client
