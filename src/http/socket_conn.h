// Conn over a socket, with TLS done by OpenSSL directly on the file descriptor. OpenSSL reads
// only the records it needs (no read-ahead), so once Pending() is false every unread byte is
// still in the kernel and poll() on fd() is exact: one thread can pump several connections.
// Also: dialing a TLS/TCP endpoint with a deadline, and certificate fingerprints for pinning.
#pragma once

#include <openssl/ssl.h>

#include <memory>
#include <string>

#include "http/conn.h"

namespace kumo::http {

class SocketConn final : public Conn {
 public:
  // Takes ownership of `ssl` (null: plain TCP). Closes `fd` on destruction when `owns_fd`.
  SocketConn(int fd, SSL* ssl, bool owns_fd);
  ~SocketConn() override;
  SocketConn(const SocketConn&) = delete;
  SocketConn& operator=(const SocketConn&) = delete;

  int fd() const override { return fd_; }
  bool Pending() const override;
  StatusOr<size_t> Read(char* buf, size_t n) override;
  Status Write(std::string_view data) override;
  void Shutdown() override;

  // Sends TLS close_notify once (no-op for plain TCP or a broken session). The destructor
  // does it too; call it first when someone else closes the descriptor.
  void CloseNotify();

  SSL* ssl() const { return ssl_; }
  // Blocking TLS handshakes (no-ops for plain TCP).
  Status Accept();
  Status Connect();

 private:
  int fd_;
  SSL* ssl_;
  bool owns_fd_;
  bool shut_down_ = false;
};

struct DialOptions {
  std::string host;  // name or IP literal (no brackets)
  std::string port;
  SSL_CTX* tls = nullptr;  // null: plain TCP. Not owned; its verify mode and CAs apply
  // SNI and the name (or IP) the server certificate must carry; "" = host.
  std::string server_name;
  // When set, the server certificate's SHA-256 (hex, as CertSha256 prints it) must be this;
  // the CA and the name are not checked.
  std::string pinned_sha256;
  int timeout_ms = 10000;  // connect and handshake
};

// Opens a connection (and TLS session). Errors are kUnavailable or kTimeout, naming the peer.
StatusOr<std::unique_ptr<SocketConn>> Dial(const DialOptions& options);

// SHA-256 of the peer's certificate (DER), lower-case hex; "" when it sent none.
std::string PeerCertSha256(SSL* ssl);
// SHA-256 of the first certificate in `pem` (DER), lower-case hex; "" when unreadable.
std::string CertPemSha256(const std::string& pem);

// Makes writes to closed sockets fail with EPIPE instead of killing the process. Idempotent.
void IgnoreSigpipe();

}  // namespace kumo::http
