#include "cli/connect.h"

#include "client/kubeconfig.h"

namespace kumo::cli {

StatusOr<std::unique_ptr<client::RestClient>> ClientFromKubeconfig(const std::string& path,
                                                                   const std::string& server) {
  KUMO_ASSIGN_OR_RETURN(client::Kubeconfig kc, client::LoadKubeconfig(path, ""));
  KUMO_ASSIGN_OR_RETURN(client::RestConfig rc, client::RestConfigFromKubeconfig(kc));
  if (!server.empty()) rc.server = server;
  return client::RestClient::New(rc);
}

}  // namespace kumo::cli
