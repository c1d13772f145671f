#include "client/node_identity.h"

#include "common/file_util.h"
#include "http/pki.h"

namespace kumo::client {

StatusOr<Kubeconfig> IssueNodeKubeconfig(const std::string& server_data_dir,
                                         const std::string& node,
                                         const std::string& server_url) {
  if (node.empty()) return BadRequest("a node identity needs the node's name");
  const std::string pki_dir = server_data_dir + "/pki";
  pki::PkiFiles files{pki_dir + "/ca.crt", pki_dir + "/ca.key", "", ""};
  StatusOr<std::string> ca = ReadFileToString(files.ca_cert);
  if (!ca.ok()) {
    return Status(ca.status().code(), "no CA at " + files.ca_cert + ": " + ca.status().message() +
                                          "; run this on the server host with --data-dir set "
                                          "to the server's data dir");
  }
  std::string server = server_url;
  if (server.empty()) {
    StatusOr<Kubeconfig> admin = LoadKubeconfig(server_data_dir + "/kubeconfig.yaml", "");
    if (!admin.ok()) {
      return Status(admin.status().code(),
                    admin.status().message() + "; pass --server https://HOST:PORT");
    }
    server = admin->server;
  }
  KUMO_ASSIGN_OR_RETURN(auto cert,
                        pki::IssueClientCert(files, "system:node:" + node, {"system:nodes"}));
  Kubeconfig kc;
  kc.server = server;
  kc.ca_pem = *ca;
  kc.client_cert_pem = cert.first;
  kc.client_key_pem = cert.second;
  kc.context_name = "kumo-node-" + node;
  return kc;
}

}  // namespace kumo::client
