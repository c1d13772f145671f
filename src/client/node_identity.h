// Node identities: a kubeconfig with a client certificate for system:node:NAME (group
// system:nodes), signed by the API server's CA, with which an agent may change only its own
// Node and Lease and the VMIs bound to it. Issued on the server host (it needs the CA key).
#pragma once

#include <string>

#include "client/kubeconfig.h"
#include "common/status.h"

namespace kumo::client {

// The kubeconfig for node `node`, from the CA in `server_data_dir`/pki. `server_url` ""
// means the server URL of the admin kubeconfig in `server_data_dir`. Errors say what to fix.
StatusOr<Kubeconfig> IssueNodeKubeconfig(const std::string& server_data_dir,
                                         const std::string& node,
                                         const std::string& server_url = "");

}  // namespace kumo::client
