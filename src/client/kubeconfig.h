// kubeconfig files: writing one that a stock kubectl accepts, and reading the connection
// details (server, CA, credentials, namespace) of one context back out of any kubeconfig.
#pragma once

#include <string>

#include "common/status.h"

namespace kumo::client {

// Everything needed to reach and authenticate to one API server. PEM fields hold PEM text,
// not base64 or paths. Plain value type.
struct Kubeconfig {
  std::string server;  // e.g. https://127.0.0.1:6443
  std::string ca_pem;
  std::string token;
  std::string client_cert_pem, client_key_pem;
  std::string context_name = "kumo";  // also used as the cluster and user entry names
  std::string namespace_;             // empty: kubectl's default
  bool insecure_skip_tls_verify = false;
};

// Renders a v1 Config with one cluster, user and context, all named `config.context_name`,
// made current. PEM data is embedded base64-encoded (*-data fields). When
// insecure_skip_tls_verify is set the CA is omitted, since kubectl rejects both together.
std::string RenderKubeconfig(const Kubeconfig& config);

// Reads the context `context` ("" = current-context) of the kubeconfig at `path`, resolving
// its cluster and user. Supports both embedded *-data fields and file paths
// (certificate-authority, client-certificate, client-key, tokenFile), relative paths being
// resolved against the kubeconfig's directory. Errors name the file and what is missing.
StatusOr<Kubeconfig> LoadKubeconfig(const std::string& path, const std::string& context);

}  // namespace kumo::client
