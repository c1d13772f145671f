// Connecting CLI commands to the API server through a kubeconfig.
#pragma once

#include <memory>
#include <string>

#include "client/rest_client.h"

namespace kumo::cli {

// A REST client from the kubeconfig at `path` (its current context); `server` overrides the
// server URL when non-empty.
StatusOr<std::unique_ptr<client::RestClient>> ClientFromKubeconfig(const std::string& path,
                                                                   const std::string& server = "");

}  // namespace kumo::cli
