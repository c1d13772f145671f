#include "http/socket_conn.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <mutex>

#include "common/sha256.h"

namespace kumo::http {

namespace {

std::string OpenSslError() {
  unsigned long e = ERR_get_error();
  if (e == 0) return errno != 0 ? std::strerror(errno) : "connection closed";
  char buf[256];
  ERR_error_string_n(e, buf, sizeof buf);
  ERR_clear_error();
  return buf;
}

void SetTimeouts(int fd, int ms) {
  timeval tv{};
  tv.tv_sec = ms / 1000;
  tv.tv_usec = (ms % 1000) * 1000;
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
}

std::string DerSha256(X509* cert) {
  unsigned char* der = nullptr;
  int n = i2d_X509(cert, &der);
  if (n <= 0) return "";
  std::string out = Sha256Hex(std::string_view(reinterpret_cast<char*>(der), static_cast<size_t>(n)));
  OPENSSL_free(der);
  return out;
}

bool IsIpLiteral(const std::string& host) {
  in6_addr a6;
  in_addr a4;
  return inet_pton(AF_INET, host.c_str(), &a4) == 1 || inet_pton(AF_INET6, host.c_str(), &a6) == 1;
}

// Connects one address with a deadline; the socket is left blocking.
int ConnectOne(const addrinfo* ai, int timeout_ms, int* err) {
  int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, ai->ai_protocol);
  if (fd < 0) {
    *err = errno;
    return -1;
  }
  if (connect(fd, ai->ai_addr, ai->ai_addrlen) != 0) {
    if (errno != EINPROGRESS) {
      *err = errno;
      close(fd);
      return -1;
    }
    pollfd p{fd, POLLOUT, 0};
    int r;
    do {
      r = poll(&p, 1, timeout_ms);
    } while (r < 0 && errno == EINTR);
    if (r == 0) {
      *err = ETIMEDOUT;
      close(fd);
      return -1;
    }
    int so = 0;
    socklen_t len = sizeof so;
    getsockopt(fd, SOL_SOCKET, SO_ERROR, &so, &len);
    if (r < 0 || so != 0) {
      *err = r < 0 ? errno : so;
      close(fd);
      return -1;
    }
  }
  fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  return fd;
}

}  // namespace

void IgnoreSigpipe() {
  static std::once_flag once;
  std::call_once(once, [] { signal(SIGPIPE, SIG_IGN); });
}

SocketConn::SocketConn(int fd, SSL* ssl, bool owns_fd) : fd_(fd), ssl_(ssl), owns_fd_(owns_fd) {
  IgnoreSigpipe();
  if (ssl_ != nullptr) {
    SSL_set_fd(ssl_, fd_);
    // A peer that closes without close_notify has simply gone away.
    SSL_set_options(ssl_, SSL_OP_IGNORE_UNEXPECTED_EOF);
  }
}

SocketConn::~SocketConn() {
  CloseNotify();
  if (ssl_ != nullptr) SSL_free(ssl_);
  if (owns_fd_ && fd_ >= 0) close(fd_);
}

void SocketConn::CloseNotify() {
  if (ssl_ != nullptr && !shut_down_ && SSL_is_init_finished(ssl_)) SSL_shutdown(ssl_);
  shut_down_ = true;
}

bool SocketConn::Pending() const { return ssl_ != nullptr && SSL_pending(ssl_) > 0; }

StatusOr<size_t> SocketConn::Read(char* buf, size_t n) {
  if (ssl_ == nullptr) {
    for (;;) {
      ssize_t r = recv(fd_, buf, n, 0);
      if (r >= 0) return static_cast<size_t>(r);
      if (errno == EINTR) continue;
      if (errno == ECONNRESET || errno == EPIPE || errno == ENOTCONN) return size_t{0};
      if (errno == EAGAIN) return Status(Code::kTimeout, "read timed out");
      return Status(Code::kUnavailable, std::string("read failed: ") + std::strerror(errno));
    }
  }
  for (;;) {
    ERR_clear_error();
    errno = 0;
    size_t got = 0;
    if (SSL_read_ex(ssl_, buf, n, &got) == 1) return got;
    int err = SSL_get_error(ssl_, 0);
    if (err == SSL_ERROR_ZERO_RETURN) return size_t{0};
    if (err == SSL_ERROR_SYSCALL) {
      if (errno == EINTR) continue;
      if (errno == 0 || errno == ECONNRESET || errno == EPIPE || errno == ENOTCONN) {
        shut_down_ = true;
        return size_t{0};
      }
      if (errno == EAGAIN) return Status(Code::kTimeout, "read timed out");
    }
    shut_down_ = true;  // no close_notify on a broken session
    return Status(Code::kUnavailable, "TLS read failed: " + OpenSslError());
  }
}

Status SocketConn::Write(std::string_view data) {
  while (!data.empty()) {
    if (ssl_ == nullptr) {
      ssize_t w = send(fd_, data.data(), data.size(), MSG_NOSIGNAL);
      if (w < 0 && errno == EINTR) continue;
      if (w <= 0) {
        return Status(Code::kUnavailable, std::string("write failed: ") + std::strerror(errno));
      }
      data.remove_prefix(static_cast<size_t>(w));
      continue;
    }
    ERR_clear_error();
    errno = 0;
    size_t written = 0;
    if (SSL_write_ex(ssl_, data.data(), data.size(), &written) == 1) {
      data.remove_prefix(written);
      continue;
    }
    if (SSL_get_error(ssl_, 0) == SSL_ERROR_SYSCALL && errno == EINTR) continue;
    shut_down_ = true;
    return Status(Code::kUnavailable, "TLS write failed: " + OpenSslError());
  }
  return Status::Ok();
}

void SocketConn::Shutdown() {
  shut_down_ = true;
  ::shutdown(fd_, SHUT_RDWR);
}

Status SocketConn::Accept() {
  if (ssl_ == nullptr) return Status::Ok();
  ERR_clear_error();
  if (SSL_accept(ssl_) == 1) return Status::Ok();
  shut_down_ = true;
  return Status(Code::kUnavailable, "TLS handshake failed: " + OpenSslError());
}

Status SocketConn::Connect() {
  if (ssl_ == nullptr) return Status::Ok();
  ERR_clear_error();
  if (SSL_connect(ssl_) == 1) return Status::Ok();
  shut_down_ = true;
  long verify = SSL_get_verify_result(ssl_);
  if (verify != X509_V_OK) {
    return Status(Code::kUnavailable, std::string("the server certificate did not verify (") +
                                          X509_verify_cert_error_string(verify) + ")");
  }
  return Status(Code::kUnavailable, "TLS handshake failed: " + OpenSslError());
}

StatusOr<std::unique_ptr<SocketConn>> Dial(const DialOptions& o) {
  const std::string peer = o.host.find(':') != std::string::npos ? "[" + o.host + "]:" + o.port
                                                                  : o.host + ":" + o.port;
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* res = nullptr;
  if (int rc = getaddrinfo(o.host.c_str(), o.port.c_str(), &hints, &res); rc != 0) {
    return Status(Code::kUnavailable, "cannot resolve " + o.host + ": " + gai_strerror(rc));
  }
  int fd = -1, err = 0;
  for (addrinfo* ai = res; ai != nullptr && fd < 0; ai = ai->ai_next) {
    fd = ConnectOne(ai, o.timeout_ms, &err);
  }
  freeaddrinfo(res);
  if (fd < 0) {
    if (err == ETIMEDOUT) return Status(Code::kTimeout, "connecting to " + peer + " timed out");
    return Status(Code::kUnavailable, "cannot connect to " + peer + ": " + std::strerror(err));
  }
  if (o.tls == nullptr) return std::make_unique<SocketConn>(fd, nullptr, true);

  SSL* ssl = SSL_new(o.tls);
  if (ssl == nullptr) {
    close(fd);
    return Status(Code::kInternal, "cannot create a TLS session: " + OpenSslError());
  }
  auto conn = std::make_unique<SocketConn>(fd, ssl, true);
  const std::string name = o.server_name.empty() ? o.host : o.server_name;
  const bool ip = IsIpLiteral(name);
  if (!ip) SSL_set_tlsext_host_name(ssl, name.c_str());
  if (!o.pinned_sha256.empty()) {
    SSL_set_verify(ssl, SSL_VERIFY_NONE, nullptr);
  } else if (ip) {
    X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), name.c_str());
  } else {
    X509_VERIFY_PARAM_set1_host(SSL_get0_param(ssl), name.c_str(), 0);
  }
  SetTimeouts(fd, o.timeout_ms);
  Status hs = conn->Connect();
  if (!hs.ok()) return Status(hs.code(), "TLS with " + peer + ": " + hs.message());
  if (!o.pinned_sha256.empty()) {
    std::string got = PeerCertSha256(ssl);
    if (got != o.pinned_sha256) {
      return Status(Code::kUnavailable, "the certificate of " + peer + " (SHA-256 " +
                                            (got.empty() ? "none" : got) +
                                            ") is not the one published for it");
    }
  }
  SetTimeouts(fd, 0);
  return conn;
}

std::string PeerCertSha256(SSL* ssl) {
  X509* cert = SSL_get1_peer_certificate(ssl);
  if (cert == nullptr) return "";
  std::string out = DerSha256(cert);
  X509_free(cert);
  return out;
}

std::string CertPemSha256(const std::string& pem) {
  BIO* bio = BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()));
  if (bio == nullptr) return "";
  X509* cert = PEM_read_bio_X509(bio, nullptr, nullptr, nullptr);
  BIO_free(bio);
  if (cert == nullptr) return "";
  std::string out = DerSha256(cert);
  X509_free(cert);
  return out;
}

}  // namespace kumo::http
