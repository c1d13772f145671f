// The one place that sets up OpenSSL contexts for HTTPS, for the server and the client alike:
// TLS 1.2 and later, HTTP/1.1 by ALPN, an own certificate and key, and the CAs that verify
// the peer.
#pragma once

#include <openssl/ssl.h>

#include <memory>
#include <string>

#include "common/status.h"

namespace kumo::http {

struct SslCtxFree {
  void operator()(SSL_CTX* ctx) const { SSL_CTX_free(ctx); }
};
using SslCtxPtr = std::unique_ptr<SSL_CTX, SslCtxFree>;

struct TlsContextOptions {
  // Server side: picks HTTP/1.1 from the client's ALPN offer. Client side: offers it.
  bool server = false;
  // Own certificate (chain) and private key, each from a PEM file or, when the file is "",
  // from PEM text. Both or neither.
  std::string cert_file, cert_pem;
  std::string key_file, key_pem;
  // Verify the peer's certificate against the CAs in `ca_file`, else `ca_pem`, else the
  // system's. A server only asks: clients without a certificate are still accepted (they may
  // use tokens instead).
  bool verify_peer = false;
  std::string ca_file, ca_pem;
  std::string peer;  // names the peer in messages about `ca_pem` (e.g. the server URL)
};

// A new context, or an error naming what could not be loaded: kInvalid for a file, kBadRequest
// for PEM text, kInternal for the system CAs. Thread-safe.
StatusOr<SslCtxPtr> NewTlsContext(const TlsContextOptions& options);

}  // namespace kumo::http
