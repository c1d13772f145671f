// Built with asio::ssl::context for its PEM loading from files and memory and its error
// messages; the finished OpenSSL handle is handed out on its own.
#include "http/tls_context.h"

#include <openssl/x509.h>

#include <boost/asio/buffer.hpp>
#include <boost/asio/ssl/context.hpp>

namespace kumo::http {
namespace {

namespace asio = boost::asio;
using boost::system::error_code;

constexpr unsigned char kHttp11[] = {8, 'h', 't', 't', 'p', '/', '1', '.', '1'};

// Kubernetes clients speak HTTP/2 when offered; we only do HTTP/1.1, so pick it explicitly.
int SelectAlpn(SSL*, const unsigned char** out, unsigned char* outlen, const unsigned char* in,
               unsigned int inlen, void*) {
  unsigned char* selected = nullptr;
  if (SSL_select_next_proto(&selected, outlen, kHttp11, sizeof(kHttp11), in, inlen) ==
      OPENSSL_NPN_NEGOTIATED) {
    *out = selected;
    return SSL_TLSEXT_ERR_OK;
  }
  return SSL_TLSEXT_ERR_NOACK;
}

Status LoadOwnCertificate(asio::ssl::context& ctx, const TlsContextOptions& o) {
  const bool has_cert = !o.cert_file.empty() || !o.cert_pem.empty();
  const bool has_key = !o.key_file.empty() || !o.key_pem.empty();
  const std::string own = o.server ? "serving" : "client";
  if (has_cert != has_key) {
    return BadRequest("a " + own + " certificate needs both the certificate and its key");
  }
  if (!has_cert) return Status::Ok();
  error_code ec;
  if (!o.cert_file.empty()) {
    if (ctx.use_certificate_chain_file(o.cert_file, ec); ec) {
      return Status(Code::kInvalid, "cannot load TLS certificate " + o.cert_file + ": " +
                                        ec.message() + "; check that it is a readable PEM file");
    }
  } else if (ctx.use_certificate_chain(asio::buffer(o.cert_pem), ec); ec) {
    return BadRequest("the " + own + " certificate is not valid PEM: " + ec.message());
  }
  if (!o.key_file.empty()) {
    if (ctx.use_private_key_file(o.key_file, asio::ssl::context::pem, ec); ec) {
      return Status(Code::kInvalid, "cannot load TLS key " + o.key_file + ": " + ec.message() +
                                        "; check that it is a readable PEM key matching the "
                                        "certificate");
    }
  } else if (ctx.use_private_key(asio::buffer(o.key_pem), asio::ssl::context::pem, ec); ec) {
    return BadRequest("the " + own +
                      " key is not a valid PEM key matching the certificate: " + ec.message());
  }
  return Status::Ok();
}

Status LoadVerification(asio::ssl::context& ctx, const TlsContextOptions& o) {
  error_code ec;
  if (!o.verify_peer) {
    ctx.set_verify_mode(asio::ssl::verify_none, ec);
    return Status::Ok();
  }
  if (!o.ca_file.empty()) {
    if (ctx.load_verify_file(o.ca_file, ec); ec) {
      return Status(Code::kInvalid, std::string("cannot load ") +
                                        (o.server ? "client CA " : "CA ") + o.ca_file + ": " +
                                        ec.message());
    }
    // Servers name the CAs they accept when asking for a client certificate.
    if (o.server) {
      if (STACK_OF(X509_NAME)* names = SSL_load_client_CA_file(o.ca_file.c_str())) {
        SSL_CTX_set_client_CA_list(ctx.native_handle(), names);
      }
    }
  } else if (!o.ca_pem.empty()) {
    if (ctx.add_certificate_authority(asio::buffer(o.ca_pem), ec); ec) {
      return BadRequest("the CA data" + (o.peer.empty() ? "" : " for " + o.peer) +
                        " is not a valid PEM certificate: " + ec.message());
    }
  } else if (ctx.set_default_verify_paths(ec); ec) {
    return Internal("cannot load the system CA certificates: " + ec.message() + "; give " +
                    (o.server ? "the clients'" : "the server's") + " CA explicitly");
  }
  ctx.set_verify_mode(asio::ssl::verify_peer, ec);
  return Status::Ok();
}

}  // namespace

StatusOr<SslCtxPtr> NewTlsContext(const TlsContextOptions& options) {
  asio::ssl::context ctx(options.server ? asio::ssl::context::tls_server
                                        : asio::ssl::context::tls_client);
  error_code ec;
  ctx.set_options(asio::ssl::context::default_workarounds | asio::ssl::context::no_sslv2 |
                      asio::ssl::context::no_sslv3 | asio::ssl::context::no_tlsv1 |
                      asio::ssl::context::no_tlsv1_1,
                  ec);
  KUMO_RETURN_IF_ERROR(LoadOwnCertificate(ctx, options));
  KUMO_RETURN_IF_ERROR(LoadVerification(ctx, options));
  if (options.server) {
    SSL_CTX_set_alpn_select_cb(ctx.native_handle(), SelectAlpn, nullptr);
    // Session resumption makes a returning client's handshake cheap (no new signature). With
    // client certificates requested, OpenSSL resumes only sessions of a named context.
    static constexpr unsigned char kSessionContext[] = "kumo-apiserver";
    SSL_CTX_set_session_id_context(ctx.native_handle(), kSessionContext,
                                   sizeof(kSessionContext) - 1);
    SSL_CTX_set_session_cache_mode(ctx.native_handle(), SSL_SESS_CACHE_SERVER);
    SSL_CTX_sess_set_cache_size(ctx.native_handle(), 20000);
  } else {
    SSL_CTX_set_alpn_protos(ctx.native_handle(), kHttp11, sizeof(kHttp11));
  }
  // `ctx` frees its reference on return; the caller keeps this one.
  SSL_CTX_up_ref(ctx.native_handle());
  return SslCtxPtr(ctx.native_handle());
}

}  // namespace kumo::http
