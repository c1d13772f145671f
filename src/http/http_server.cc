// HTTP/1.1 transport over Boost.Beast with blocking I/O: one acceptor thread, one thread per
// connection, and a watchdog thread that enforces I/O deadlines (blocking Asio calls have no
// timeouts of their own) and joins finished connection threads. Every Boost exception is caught
// here; callers only see Status.
#include "http/http_server.h"

#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <poll.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/string.hpp>
#include <boost/beast/http/chunk_encode.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <exception>
#include <map>
#include <mutex>
#include <optional>
#include <thread>

#include "http/socket_conn.h"
#include "http/tls_context.h"

namespace kumo::http {

std::string Request::Header(std::string_view name) const {
  for (const auto& [key, value] : headers) {
    if (key == name) return value;
  }
  return "";
}

std::string StatusBody(int code, std::string_view reason, std::string_view message) {
  boost::json::object o;
  o["kind"] = "Status";
  o["apiVersion"] = "v1";
  o["metadata"] = boost::json::object();
  o["status"] = "Failure";
  o["message"] = message;
  o["reason"] = reason;
  o["code"] = code;
  return boost::json::serialize(o);
}

StatusOr<std::pair<std::string, int>> ParseListenAddress(const std::string& listen) {
  size_t colon = listen.rfind(':');
  if (colon == std::string::npos) {
    return BadRequest("--listen must be HOST:PORT, got \"" + listen + "\"");
  }
  std::string host = listen.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  char* end = nullptr;
  long port = std::strtol(listen.c_str() + colon + 1, &end, 10);
  if (*end || port < 0 || port > 65535 || colon + 1 == listen.size()) {
    return BadRequest("--listen port must be a number from 0 to 65535, got \"" +
                      listen.substr(colon + 1) + "\"");
  }
  return std::make_pair(host.empty() ? std::string("0.0.0.0") : host, static_cast<int>(port));
}

Response ErrorResponse(const Status& status) {
  Response r;
  r.status = HttpCodeOf(status.code());
  r.body = StatusBody(r.status, ReasonOf(status.code()), status.message());
  return r;
}

namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = asio::ip::tcp;
using boost::system::error_code;

constexpr uint32_t kMaxHeaderBytes = 64 * 1024;
// After rejecting a request we keep reading (and discarding) for a while so that the client can
// finish sending its body and read our response, instead of getting a connection reset.
constexpr int64_t kLingerMs = 2000;
constexpr size_t kLingerMaxBytes = 16 * 1024 * 1024;
constexpr auto kWatchdogPeriod = std::chrono::milliseconds(250);

int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Decodes %XX escapes; nullopt when an escape is malformed.
std::optional<std::string> PercentDecode(std::string_view in) {
  std::string out;
  out.reserve(in.size());
  for (size_t i = 0; i < in.size(); ++i) {
    if (in[i] != '%') {
      out.push_back(in[i]);
      continue;
    }
    if (i + 2 >= in.size()) return std::nullopt;
    int hi = HexValue(in[i + 1]), lo = HexValue(in[i + 2]);
    if (hi < 0 || lo < 0) return std::nullopt;
    out.push_back(static_cast<char>(hi * 16 + lo));
    i += 2;
  }
  return out;
}

std::string FormatEndpoint(const tcp::endpoint& ep) {
  std::string addr = ep.address().to_string();
  if (ep.address().is_v6()) addr = "[" + addr + "]";
  return addr + ":" + std::to_string(ep.port());
}

std::string Asn1ToUtf8(const ASN1_STRING* s) {
  unsigned char* utf8 = nullptr;
  int n = ASN1_STRING_to_UTF8(&utf8, s);
  if (n < 0) return "";
  std::string out(reinterpret_cast<char*>(utf8), static_cast<size_t>(n));
  OPENSSL_free(utf8);
  return out;
}

// A blocking byte stream, plain or TLS (OpenSSL on the descriptor, see SocketConn; the
// tcp::socket keeps owning it). It meets Beast's SyncReadStream/SyncWriteStream requirements.
// Owned by one connection thread.
class Transport {
 public:
  using Buffers = std::array<asio::const_buffer, 8>;

  Transport(tcp::socket socket, SSL_CTX* tls)
      : socket_(std::move(socket)),
        conn_(socket_.native_handle(), tls != nullptr ? SSL_new(tls) : nullptr, false) {}

  tcp::socket& Socket() { return socket_; }
  SocketConn& Conn() { return conn_; }
  SSL* Ssl() { return conn_.ssl(); }
  error_code Handshake() {
    return conn_.Accept().ok() ? error_code() : asio::error::connection_aborted;
  }

  // Beast/Asio stream interface.
  template <class MutableBufferSequence>
  size_t read_some(const MutableBufferSequence& buffers, error_code& ec) {
    ec = {};
    for (auto it = asio::buffer_sequence_begin(buffers); it != asio::buffer_sequence_end(buffers);
         ++it) {
      asio::mutable_buffer b(*it);
      if (b.size() == 0) continue;
      StatusOr<size_t> n = conn_.Read(static_cast<char*>(b.data()), b.size());
      if (!n.ok()) {
        ec = n.status().code() == Code::kTimeout ? asio::error::timed_out
                                                 : asio::error::connection_reset;
        return 0;
      }
      if (*n == 0) ec = asio::error::eof;
      return *n;
    }
    return 0;
  }
  template <class MutableBufferSequence>
  size_t read_some(const MutableBufferSequence& buffers) {
    error_code ec;
    size_t n = read_some(buffers, ec);
    if (ec) throw boost::system::system_error(ec);
    return n;
  }
  // Small buffers (chunk framing, headers) are coalesced so that they travel in one TLS record.
  template <class ConstBufferSequence>
  size_t write_some(const ConstBufferSequence& buffers, error_code& ec) {
    ec = {};
    std::string_view first;
    for (auto it = asio::buffer_sequence_begin(buffers); it != asio::buffer_sequence_end(buffers);
         ++it) {
      asio::const_buffer b(*it);
      if (b.size() == 0) continue;
      std::string_view view(static_cast<const char*>(b.data()), b.size());
      if (first.empty()) {
        first = view;
        if (view.size() >= kCoalesceBytes) break;
        scratch_.assign(view);
        continue;
      }
      if (scratch_.size() + view.size() > kCoalesceBytes) break;
      scratch_.append(view);
    }
    if (first.empty()) return 0;
    std::string_view out = first.size() >= kCoalesceBytes ? first : std::string_view(scratch_);
    if (!conn_.Write(out).ok()) {
      ec = asio::error::broken_pipe;
      return 0;
    }
    return out.size();
  }
  template <class ConstBufferSequence>
  size_t write_some(const ConstBufferSequence& buffers) {
    error_code ec;
    size_t n = write_some(buffers, ec);
    if (ec) throw boost::system::system_error(ec);
    return n;
  }

 private:
  static constexpr size_t kCoalesceBytes = 16 * 1024;
  tcp::socket socket_;
  SocketConn conn_;
  std::string scratch_;
};

// Shared between a connection thread and the server's Stop/watchdog.
struct ConnRecord {
  uint64_t id = 0;
  std::string ip;                       // the peer's address, for the per-address cap
  std::thread thread;                   // guarded by ServerImpl::mu_
  int fd = -1;                          // guarded by ServerImpl::mu_; -1 once closed
  std::atomic<int64_t> deadline_ms{0};  // steady-clock ms; 0: no deadline
  std::atomic<bool> closing{false};     // the server shut the socket down (Stop or timeout)
};

class ServerImpl;

// Serves one connection on its own thread; owns the transport.
class Connection {
 public:
  Connection(ServerImpl& server, std::shared_ptr<ConnRecord> rec,
             std::unique_ptr<Transport> transport, std::string remote_addr);
  void Run();

  bool ClientGone();
  bool Closing() const { return rec_->closing.load(); }
  template <class Message>
  bool WriteMessage(Message& message);
  template <class Serializer>
  bool WriteHeader(Serializer& serializer);
  template <class ConstBufferSequence>
  bool WriteBuffers(const ConstBufferSequence& buffers);
  // Hands the connection to the handler after a 101 response (see ResponseWriter::Upgrade).
  std::unique_ptr<Conn> Upgraded();
  Status WriteWithDeadline(std::string_view data);

 private:
  void Serve();
  void ReadClientCertificate();
  // Handles a failed read; sends an error response when the request itself was at fault.
  void OnReadError(const error_code& ec);
  // Sends a Status error with Connection: close, then drains input before the caller closes.
  void Reject(int code, std::string_view reason, std::string_view message);
  void Linger();
  void Close();
  void Arm(int64_t ms) { rec_->deadline_ms.store(NowMs() + ms); }
  void Disarm() { rec_->deadline_ms.store(0); }

  ServerImpl& server_;
  std::shared_ptr<ConnRecord> rec_;
  std::unique_ptr<Transport> transport_;
  std::string remote_addr_;
  std::string cert_cn_;
  std::vector<std::string> cert_orgs_;
  int64_t idle_ms_;
  beast::flat_buffer buffer_;
};

// The ResponseWriter for one request; lives on the connection thread's stack.
class Writer final : public ResponseWriter {
 public:
  Writer(Connection& conn, bool keep_alive, bool head)
      : conn_(conn), keep_alive_(keep_alive), head_(head) {}

  void Send(Response response) override;
  bool StartStream(int status, std::string_view content_type, const Headers& headers) override;
  bool WriteChunk(std::string_view data) override;
  void EndStream() override;
  bool ClientGone() override { return failed_ || conn_.ClientGone(); }
  std::unique_ptr<Conn> Upgrade(const Headers& headers) override;

  // Completes whatever the handler left open; true when the connection can serve another request.
  bool Finish();

 private:
  enum class State { kIdle, kSent, kStreaming, kEnded, kUpgraded };

  Connection& conn_;
  bool keep_alive_;
  bool head_;
  State state_ = State::kIdle;
  bool failed_ = false;
};

// Owns the listener, the watchdog and the connection threads.
class ServerImpl final : public HttpServer {
 public:
  ServerImpl(const ServerOptions& options, Handler handler)
      : options_(options), handler_(std::move(handler)) {}
  ~ServerImpl() override { Stop(); }

  Status Init();
  int port() const override { return port_; }
  void Stop() override;

  const ServerOptions& options() const { return options_; }
  const Handler& handler() const { return handler_; }
  bool verifies_clients() const { return tls_ && !options_.client_ca_file.empty(); }
  // Called by a connection thread as its last act: the socket must no longer be shut down by
  // others, and the thread may be joined.
  void Release(ConnRecord& rec, tcp::socket& socket);

  // A turn to run a TLS handshake among at most max_concurrent_handshakes; waits until one is
  // free or `deadline_ms` passes (then ok() is false). Given back when destroyed.
  class HandshakeTurn {
   public:
    HandshakeTurn(ServerImpl& server, int64_t deadline_ms);
    ~HandshakeTurn();
    bool ok() const { return ok_; }

   private:
    ServerImpl& server_;
    bool ok_ = false;
  };

 private:
  Status InitTls();
  void AcceptLoop();
  void Spawn(tcp::socket socket);
  void WatchdogLoop();
  // Moves out the threads of finished connections; the caller joins them without the lock.
  std::vector<std::thread> TakeFinishedLocked();

  const ServerOptions options_;
  const Handler handler_;
  asio::io_context io_;  // never run: sockets need one, but all I/O here is blocking
  tcp::acceptor acceptor_{io_};
  SslCtxPtr tls_;
  int port_ = 0;
  std::thread accept_thread_;
  std::thread watchdog_thread_;

  std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;
  uint64_t next_id_ = 1;
  std::map<uint64_t, std::shared_ptr<ConnRecord>> conns_;
  std::map<std::string, int> per_ip_;  // open connections by peer address
  int handshakes_ = 0;                 // in progress
  int max_handshakes_ = 1;
  std::condition_variable handshake_cv_;
  std::vector<uint64_t> finished_;
};

// ---- Connection ----

Connection::Connection(ServerImpl& server, std::shared_ptr<ConnRecord> rec,
                       std::unique_ptr<Transport> transport, std::string remote_addr)
    : server_(server),
      rec_(std::move(rec)),
      transport_(std::move(transport)),
      remote_addr_(std::move(remote_addr)),
      idle_ms_(std::max(1, server.options().idle_timeout_seconds) * int64_t{1000}) {}

void Connection::Run() {
  try {
    Serve();
  } catch (const std::exception& e) {
    spdlog::warn("http: connection from {} failed: {}", remote_addr_, e.what());
  } catch (...) {
    spdlog::warn("http: connection from {} failed with an unknown exception", remote_addr_);
  }
  Close();
}

void Connection::Close() {
  // close_notify while the descriptor is still ours (it may be reused once released); a peer
  // that does not read gets a short deadline.
  Arm(1000);
  transport_->Conn().CloseNotify();
  Disarm();
  server_.Release(*rec_, transport_->Socket());
}

void Connection::Serve() {
  const ServerOptions& options = server_.options();
  const int64_t handshake_ms = std::max(1, options.handshake_timeout_seconds) * int64_t{1000};
  Arm(handshake_ms);
  {
    ServerImpl::HandshakeTurn turn(server_, NowMs() + handshake_ms);
    if (!turn.ok()) return;  // waited past the deadline
    if (error_code ec = transport_->Handshake()) {
      spdlog::debug("http: TLS handshake with {} failed: {}", remote_addr_, ec.message());
      return;
    }
  }
  if (server_.verifies_clients()) ReadClientCertificate();

  bool first = true;
  for (;;) {
    bhttp::request_parser<bhttp::string_body> parser;
    parser.header_limit(kMaxHeaderBytes);
    parser.body_limit(static_cast<uint64_t>(options.max_body_bytes));

    error_code ec;
    if (!first) Arm(idle_ms_);  // the first header is still under the handshake deadline
    first = false;
    bhttp::read_header(*transport_, buffer_, parser, ec);
    if (ec) return OnReadError(ec);
    if (!parser.is_done() && beast::iequals(parser.get()[bhttp::field::expect], "100-continue")) {
      static constexpr std::string_view kContinue = "HTTP/1.1 100 Continue\r\n\r\n";
      if (!WriteBuffers(asio::const_buffer(kContinue.data(), kContinue.size()))) return;
    }
    Arm(idle_ms_);
    bhttp::read(*transport_, buffer_, parser, ec);
    if (ec) return OnReadError(ec);
    Disarm();

    bhttp::request<bhttp::string_body> msg = parser.release();
    Request req;
    req.method = std::string(msg.method_string());
    req.target = std::string(msg.target());
    std::string_view target = req.target;
    // Absolute-form ("http://host/path") is legal from proxies; keep only the path.
    if (!target.empty() && target[0] != '/') {
      size_t scheme = target.find("://");
      if (scheme != std::string_view::npos) {
        size_t slash = target.find('/', scheme + 3);
        target = slash == std::string_view::npos ? "/" : target.substr(slash);
      }
    }
    size_t q = target.find('?');
    std::optional<std::string> path = PercentDecode(target.substr(0, q));
    if (!path) {
      return Reject(400, "BadRequest", "malformed percent-encoding in the request path");
    }
    req.path = std::move(*path);
    if (q != std::string_view::npos) req.query = std::string(target.substr(q + 1));
    req.headers.reserve(std::distance(msg.begin(), msg.end()));
    for (const auto& field : msg) {
      std::string name(field.name_string());
      std::transform(name.begin(), name.end(), name.begin(),
                     [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
      req.headers.emplace_back(std::move(name), std::string(field.value()));
    }
    req.body = std::move(msg.body());
    req.remote_addr = remote_addr_;
    req.client_cert_cn = cert_cn_;
    req.client_cert_orgs = cert_orgs_;

    const bool keep_alive = msg.keep_alive();
    Writer writer(*this, keep_alive, msg.method() == bhttp::verb::head);
    try {
      server_.handler()(req, writer);
    } catch (const std::exception& e) {
      spdlog::error("http: handler for {} {} threw: {}", req.method, req.target, e.what());
    } catch (...) {
      spdlog::error("http: handler for {} {} threw an unknown exception", req.method, req.target);
    }
    if (!writer.Finish() || !keep_alive || Closing()) return;
  }
}

void Connection::ReadClientCertificate() {
  SSL* ssl = transport_->Ssl();
  if (ssl == nullptr) return;
#if OPENSSL_VERSION_MAJOR >= 3
  X509* cert = SSL_get1_peer_certificate(ssl);
#else
  X509* cert = SSL_get_peer_certificate(ssl);
#endif
  if (cert == nullptr) return;
  if (SSL_get_verify_result(ssl) == X509_V_OK) {
    X509_NAME* subject = X509_get_subject_name(cert);
    int i = X509_NAME_get_index_by_NID(subject, NID_commonName, -1);
    if (i >= 0) cert_cn_ = Asn1ToUtf8(X509_NAME_ENTRY_get_data(X509_NAME_get_entry(subject, i)));
    for (i = -1; (i = X509_NAME_get_index_by_NID(subject, NID_organizationName, i)) >= 0;) {
      cert_orgs_.push_back(Asn1ToUtf8(X509_NAME_ENTRY_get_data(X509_NAME_get_entry(subject, i))));
    }
  }
  X509_free(cert);
}

void Connection::OnReadError(const error_code& ec) {
  // The peer went away, or the server closed the socket (Stop, idle timeout): nothing to say.
  if (Closing() || ec == bhttp::error::end_of_stream || ec == bhttp::error::partial_message ||
      ec.category() != bhttp::make_error_code(bhttp::error::end_of_stream).category()) {
    return;
  }
  if (ec == bhttp::error::body_limit) {
    return Reject(413, "RequestEntityTooLarge",
                  "the request body exceeds the limit of " +
                      std::to_string(server_.options().max_body_bytes) +
                      " bytes; send a smaller object");
  }
  if (ec == bhttp::error::header_limit) {
    return Reject(400, "BadRequest",
                  "the request headers exceed " + std::to_string(kMaxHeaderBytes) + " bytes");
  }
  Reject(400, "BadRequest", "malformed HTTP request: " + ec.message());
}

void Connection::Reject(int code, std::string_view reason, std::string_view message) {
  bhttp::response<bhttp::string_body> res{static_cast<bhttp::status>(code), 11};
  res.set(bhttp::field::content_type, "application/json");
  res.keep_alive(false);
  res.body() = StatusBody(code, reason, message);
  res.prepare_payload();
  if (WriteMessage(res)) Linger();
}

void Connection::Linger() {
  // A TCP-level FIN (even under TLS, after the complete response) tells the client we are done
  // without waiting for it to finish sending.
  error_code ec;
  transport_->Socket().shutdown(tcp::socket::shutdown_send, ec);
  Arm(std::min(kLingerMs, idle_ms_));
  std::array<char, 16 * 1024> scratch;
  size_t drained = 0;
  while (!ec && drained < kLingerMaxBytes) {
    drained += transport_->read_some(asio::buffer(scratch), ec);
  }
  Disarm();
}

bool Connection::ClientGone() {
  if (Closing()) return true;
  pollfd p{};
  p.fd = transport_->Socket().native_handle();
  p.events = POLLRDHUP;
  if (::poll(&p, 1, 0) <= 0) return false;
  return (p.revents & (POLLRDHUP | POLLHUP | POLLERR | POLLNVAL)) != 0;
}

template <class Message>
bool Connection::WriteMessage(Message& message) {
  error_code ec;
  Arm(idle_ms_);
  bhttp::write(*transport_, message, ec);
  Disarm();
  return !ec;
}

template <class Serializer>
bool Connection::WriteHeader(Serializer& serializer) {
  error_code ec;
  Arm(idle_ms_);
  bhttp::write_header(*transport_, serializer, ec);
  Disarm();
  return !ec;
}

template <class ConstBufferSequence>
bool Connection::WriteBuffers(const ConstBufferSequence& buffers) {
  error_code ec;
  Arm(idle_ms_);
  asio::write(*transport_, buffers, ec);
  Disarm();
  return !ec;
}

// The connection after a 101 response, lent to the handler on the connection's own thread.
// Bytes the HTTP parser had already buffered are read first. Writes keep the idle deadline (a
// peer that stops reading is cut off); reads wait as long as the peer is silent.
class UpgradedConn final : public Conn {
 public:
  UpgradedConn(Connection& conn, SocketConn& socket, std::string leftover)
      : conn_(conn), socket_(socket), leftover_(std::move(leftover)) {}
  int fd() const override { return socket_.fd(); }
  bool Pending() const override { return !leftover_.empty() || socket_.Pending(); }
  StatusOr<size_t> Read(char* buf, size_t n) override {
    if (leftover_.empty()) return socket_.Read(buf, n);
    n = std::min(n, leftover_.size());
    std::memcpy(buf, leftover_.data(), n);
    leftover_.erase(0, n);
    return n;
  }
  Status Write(std::string_view data) override { return conn_.WriteWithDeadline(data); }
  void Shutdown() override { socket_.Shutdown(); }

 private:
  Connection& conn_;
  SocketConn& socket_;
  std::string leftover_;
};

std::unique_ptr<Conn> Connection::Upgraded() {
  std::string leftover(static_cast<const char*>(buffer_.data().data()), buffer_.size());
  buffer_.consume(buffer_.size());
  return std::make_unique<UpgradedConn>(*this, transport_->Conn(), std::move(leftover));
}

Status Connection::WriteWithDeadline(std::string_view data) {
  if (Closing()) return Status(Code::kUnavailable, "the server is shutting down");
  Arm(idle_ms_);
  Status st = transport_->Conn().Write(data);
  Disarm();
  return st;
}

// ---- Writer ----

bool BodyAllowed(int status) { return status >= 200 && status != 204 && status != 304; }

void Writer::Send(Response response) {
  if (state_ != State::kIdle) {
    spdlog::error("http: Send called after a response was already started; ignored");
    return;
  }
  state_ = State::kSent;
  bhttp::response<bhttp::string_body> res{static_cast<bhttp::status>(response.status), 11};
  if (!response.content_type.empty()) {
    res.set(bhttp::field::content_type, response.content_type);
  }
  for (const auto& [name, value] : response.headers) res.insert(name, value);
  res.keep_alive(keep_alive_);
  if (BodyAllowed(response.status)) {
    res.content_length(response.body.size());
    if (!head_) res.body() = std::move(response.body);
  }
  failed_ = !conn_.WriteMessage(res);
}

bool Writer::StartStream(int status, std::string_view content_type, const Headers& headers) {
  if (state_ != State::kIdle) {
    spdlog::error("http: StartStream called after a response was already started; ignored");
    return false;
  }
  state_ = State::kStreaming;
  if (ClientGone()) {
    failed_ = true;
    return false;
  }
  bhttp::response<bhttp::empty_body> res{static_cast<bhttp::status>(status), 11};
  if (!content_type.empty()) res.set(bhttp::field::content_type, content_type);
  for (const auto& [name, value] : headers) res.insert(name, value);
  res.keep_alive(keep_alive_);
  res.chunked(true);
  bhttp::response_serializer<bhttp::empty_body> serializer{res};
  failed_ = !conn_.WriteHeader(serializer);
  return !failed_;
}

bool Writer::WriteChunk(std::string_view data) {
  if (state_ != State::kStreaming || failed_) return false;
  // A write into a half-closed connection still succeeds once; ask the socket first so that
  // watches end promptly when the client leaves.
  if (ClientGone()) {
    failed_ = true;
    return false;
  }
  if (data.empty()) return true;  // an empty chunk would end the stream
  failed_ = !conn_.WriteBuffers(bhttp::make_chunk(asio::const_buffer(data.data(), data.size())));
  return !failed_;
}

std::unique_ptr<Conn> Writer::Upgrade(const Headers& headers) {
  if (state_ != State::kIdle) {
    spdlog::error("http: Upgrade called after a response was already started; ignored");
    return nullptr;
  }
  state_ = State::kUpgraded;
  std::string head = "HTTP/1.1 101 Switching Protocols\r\n";
  for (const auto& [name, value] : headers) head += name + ": " + value + "\r\n";
  head += "\r\n";
  if (!conn_.WriteWithDeadline(head).ok()) {
    failed_ = true;
    return nullptr;
  }
  return conn_.Upgraded();
}

void Writer::EndStream() {
  if (state_ != State::kStreaming) return;
  state_ = State::kEnded;
  if (!failed_) failed_ = !conn_.WriteBuffers(bhttp::make_chunk_last());
}

bool Writer::Finish() {
  switch (state_) {
    case State::kIdle: {
      Response response;
      response.status = 500;
      response.body = StatusBody(500, "InternalError", "the server did not produce a response");
      Send(std::move(response));
      break;
    }
    case State::kStreaming:
      EndStream();
      break;
    case State::kUpgraded:
      return false;  // the handler owned the bytes; no more HTTP on this connection
    case State::kSent:
    case State::kEnded:
      break;
  }
  return !failed_;
}

// ---- ServerImpl ----

Status ServerImpl::InitTls() {
  if (options_.cert_file.empty() || options_.key_file.empty()) {
    return Status(Code::kInvalid,
                  "TLS needs a serving certificate and key: set cert_file and key_file, "
                  "or disable TLS");
  }
  TlsContextOptions o;
  o.server = true;
  o.cert_file = options_.cert_file;
  o.key_file = options_.key_file;
  o.verify_peer = !options_.client_ca_file.empty();
  o.ca_file = options_.client_ca_file;
  KUMO_ASSIGN_OR_RETURN(tls_, NewTlsContext(o));
  return Status::Ok();
}

Status ServerImpl::Init() {
  if (options_.tls) KUMO_RETURN_IF_ERROR(InitTls());
  max_handshakes_ = options_.max_concurrent_handshakes > 0
                        ? options_.max_concurrent_handshakes
                        : std::max(1u, std::thread::hardware_concurrency() / 2);
  error_code ec;
  tcp::endpoint endpoint;
  asio::ip::address address = asio::ip::make_address(options_.host, ec);
  if (!ec) {
    endpoint = tcp::endpoint(address, static_cast<uint16_t>(options_.port));
  } else {
    tcp::resolver resolver(io_);
    auto results = resolver.resolve(options_.host, std::to_string(options_.port), ec);
    if (ec || results.empty()) {
      return Status(Code::kInvalid, "cannot resolve listen host '" + options_.host +
                                        "': " + ec.message() + "; use an IP address");
    }
    endpoint = results.begin()->endpoint();
  }
  const std::string where = options_.host + ":" + std::to_string(options_.port);
  if (acceptor_.open(endpoint.protocol(), ec); ec) {
    return Status(Code::kUnavailable, "cannot open a socket for " + where + ": " + ec.message());
  }
  acceptor_.set_option(asio::socket_base::reuse_address(true), ec);
  if (acceptor_.bind(endpoint, ec); ec) {
    return Status(Code::kUnavailable, "cannot listen on " + where + ": " + ec.message() +
                                          "; choose another port or stop the process using it");
  }
  if (acceptor_.listen(asio::socket_base::max_listen_connections, ec); ec) {
    return Status(Code::kUnavailable, "cannot listen on " + where + ": " + ec.message());
  }
  port_ = acceptor_.local_endpoint(ec).port();
  try {
    watchdog_thread_ = std::thread([this] { WatchdogLoop(); });
    accept_thread_ = std::thread([this] { AcceptLoop(); });
  } catch (const std::system_error& e) {
    return Status(Code::kUnavailable, std::string("cannot start server threads: ") + e.what());
  }
  return Status::Ok();
}

void ServerImpl::AcceptLoop() {
  for (;;) {
    tcp::socket socket(io_);
    error_code ec;
    acceptor_.accept(socket, ec);
    {
      std::lock_guard lock(mu_);
      if (stopping_) return;  // socket closes itself
    }
    if (ec) {
      // Usually fd exhaustion; back off instead of spinning.
      spdlog::warn("http: accept failed: {}", ec.message());
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
      continue;
    }
    Spawn(std::move(socket));
  }
}

ServerImpl::HandshakeTurn::HandshakeTurn(ServerImpl& server, int64_t deadline_ms)
    : server_(server) {
  if (!server_.tls_) {
    ok_ = true;
    return;
  }
  std::unique_lock lock(server_.mu_);
  auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(deadline_ms - NowMs());
  ok_ = server_.handshake_cv_.wait_until(lock, until, [this] {
    return server_.stopping_ || server_.handshakes_ < server_.max_handshakes_;
  }) && !server_.stopping_;
  if (ok_) ++server_.handshakes_;
}

ServerImpl::HandshakeTurn::~HandshakeTurn() {
  if (!ok_ || !server_.tls_) return;
  {
    std::lock_guard lock(server_.mu_);
    --server_.handshakes_;
  }
  server_.handshake_cv_.notify_one();
}

void ServerImpl::Spawn(tcp::socket socket) {
  try {
    error_code ec;
    socket.set_option(tcp::no_delay(true), ec);  // watch events must not wait for Nagle
    auto peer = socket.remote_endpoint(ec);
    std::string remote = FormatEndpoint(peer);
    auto rec = std::make_shared<ConnRecord>();
    rec->fd = socket.native_handle();
    rec->ip = ec ? std::string() : peer.address().to_string();
    {
      std::lock_guard lock(mu_);
      // Over a cap: closed before any TLS work, so a flood of connections costs little.
      if (static_cast<int>(conns_.size()) >= options_.max_connections ||
          (!rec->ip.empty() && per_ip_[rec->ip] >= options_.max_connections_per_ip)) {
        if (per_ip_[rec->ip] == 0) per_ip_.erase(rec->ip);
        spdlog::warn("http: refusing a connection from {}: too many open connections", remote);
        return;  // the socket closes itself
      }
      if (!rec->ip.empty()) ++per_ip_[rec->ip];
    }
    auto transport = std::make_unique<Transport>(std::move(socket), tls_.get());
    std::lock_guard lock(mu_);
    const uint64_t id = next_id_++;
    rec->id = id;
    // The thread cannot finish (Release takes mu_) before it is stored in the record.
    rec->thread = std::thread([this, rec, t = std::move(transport), remote]() mutable {
      Connection(*this, rec, std::move(t), std::move(remote)).Run();
    });
    conns_.emplace(id, std::move(rec));
  } catch (const std::exception& e) {
    spdlog::warn("http: cannot serve a new connection: {}", e.what());
  }
}

void ServerImpl::Release(ConnRecord& rec, tcp::socket& socket) {
  {
    std::lock_guard lock(mu_);
    rec.fd = -1;  // from here on nobody else touches the descriptor, so it may be reused
    if (auto it = per_ip_.find(rec.ip); it != per_ip_.end() && --it->second <= 0) {
      per_ip_.erase(it);
    }
  }
  error_code ec;
  socket.close(ec);
  std::lock_guard lock(mu_);
  finished_.push_back(rec.id);
}

std::vector<std::thread> ServerImpl::TakeFinishedLocked() {
  std::vector<std::thread> threads;
  for (uint64_t id : finished_) {
    auto it = conns_.find(id);
    if (it == conns_.end()) continue;
    threads.push_back(std::move(it->second->thread));
    conns_.erase(it);
  }
  finished_.clear();
  return threads;
}

void ServerImpl::WatchdogLoop() {
  std::unique_lock lock(mu_);
  while (!stopping_) {
    cv_.wait_for(lock, kWatchdogPeriod);
    const int64_t now = NowMs();
    for (auto& [id, rec] : conns_) {
      int64_t deadline = rec->deadline_ms.load();
      if (deadline != 0 && now >= deadline && rec->fd >= 0 && !rec->closing) {
        rec->closing = true;
        ::shutdown(rec->fd, SHUT_RDWR);  // the blocked read or write returns with an error
      }
    }
    std::vector<std::thread> done = TakeFinishedLocked();
    lock.unlock();
    for (std::thread& t : done) t.join();
    lock.lock();
  }
}

void ServerImpl::Stop() {
  {
    std::lock_guard lock(mu_);
    if (stopping_) return;
    stopping_ = true;
  }
  // shutdown() wakes a thread blocked in accept() on Linux; close() alone would not.
  if (acceptor_.is_open()) ::shutdown(acceptor_.native_handle(), SHUT_RDWR);
  if (accept_thread_.joinable()) accept_thread_.join();
  error_code ec;
  acceptor_.close(ec);
  {
    std::lock_guard lock(mu_);
    for (auto& [id, rec] : conns_) {
      rec->closing = true;
      if (rec->fd >= 0) ::shutdown(rec->fd, SHUT_RDWR);
    }
  }
  cv_.notify_all();
  handshake_cv_.notify_all();
  if (watchdog_thread_.joinable()) watchdog_thread_.join();
  std::vector<std::thread> threads;
  {
    std::lock_guard lock(mu_);
    for (auto& [id, rec] : conns_) threads.push_back(std::move(rec->thread));
    conns_.clear();
    finished_.clear();
  }
  for (std::thread& t : threads) {
    if (t.joinable()) t.join();
  }
}

}  // namespace

StatusOr<std::unique_ptr<HttpServer>> HttpServer::Start(const ServerOptions& options,
                                                        Handler handler) {
  try {
    auto server = std::make_unique<ServerImpl>(options, std::move(handler));
    KUMO_RETURN_IF_ERROR(server->Init());
    return std::unique_ptr<HttpServer>(std::move(server));
  } catch (const std::exception& e) {
    return Status(Code::kInternal, std::string("cannot start the HTTP server: ") + e.what());
  }
}

}  // namespace kumo::http
