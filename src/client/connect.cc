#include "client/connect.h"

#include "client/kubeconfig.h"

namespace kumo::client {

StatusOr<RestConfig> RestConfigFromFile(const std::string& path, const std::string& server) {
  KUMO_ASSIGN_OR_RETURN(Kubeconfig kc, LoadKubeconfig(path, ""));
  KUMO_ASSIGN_OR_RETURN(RestConfig rc, RestConfigFromKubeconfig(kc));
  if (!server.empty()) rc.server = server;
  return rc;
}

StatusOr<std::unique_ptr<RestClient>> ClientFromKubeconfig(const std::string& path,
                                                                   const std::string& server) {
  KUMO_ASSIGN_OR_RETURN(RestConfig rc, RestConfigFromFile(path, server));
  return RestClient::New(rc);
}

}  // namespace kumo::client
