// The API server's PKI: a private CA, the TLS serving certificate signed by it, client
// certificates for node agents, and bearer tokens. Built on the OpenSSL 3 C API.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "common/status.h"

namespace kumo::pki {

// Paths of the PEM files that make up the server's PKI.
struct PkiFiles {
  std::string ca_cert;
  std::string ca_key;
  std::string server_cert;
  std::string server_key;
};

// Creates (first call) or reuses (later calls) `dir`/pki/ holding a self-signed CA
// (ECDSA P-256, CN kumo-ca, 10 years) and a serving certificate signed by it (ECDSA P-256,
// CN kumo-apiserver, 2 years) whose subjectAltName covers `hosts` plus 127.0.0.1, ::1 and
// localhost. IP literals (v4 and v6, optionally in brackets) become IP entries, the rest DNS.
// Keys are written 0600. The serving certificate alone is reissued, from the same CA, when it
// lacks a requested host, no longer chains to the CA, does not match its key or is near
// expiry. Not safe to call concurrently on the same `dir` from several processes.
StatusOr<PkiFiles> EnsureServerPki(const std::string& dir, const std::vector<std::string>& hosts);

// Issues a client certificate (extendedKeyUsage clientAuth, 1 year) signed by the CA in
// `files`, with subject CN=`common_name` and one O= per entry of `organizations`, which
// Kubernetes reads as the user name and groups. Returns (certificate PEM, private key PEM).
// Thread-safe.
StatusOr<std::pair<std::string, std::string>> IssueClientCert(
    const PkiFiles& files, const std::string& common_name,
    const std::vector<std::string>& organizations);

// A self-signed serving certificate (a node agent's), pinned by its SHA-256 rather than
// chained to the CA.
struct SelfSignedCert {
  std::string cert_file, key_file;
  std::string sha256;  // of the certificate (DER), lower-case hex
};

// Creates (or reuses, while it matches its key, covers `hosts` and is not near expiry)
// `dir`/`name`.crt and .key: ECDSA P-256, CN `common_name`, subjectAltName `hosts`.
StatusOr<SelfSignedCert> EnsureSelfSignedCert(const std::string& dir, const std::string& name,
                                              const std::string& common_name,
                                              const std::vector<std::string>& hosts);

// 32 bytes from the OpenSSL CSPRNG, hex encoded (64 characters). Suitable as a bearer token.
// Thread-safe.
std::string GenerateToken();

}  // namespace kumo::pki
