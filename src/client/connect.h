// Connecting to the API server through a kubeconfig (CLI commands, the lab).
#pragma once

#include <memory>
#include <string>

#include "client/rest_client.h"

namespace kumo::client {

// The connection details of the kubeconfig at `path` (its current context); `server`
// overrides the server URL when non-empty.
StatusOr<RestConfig> RestConfigFromFile(const std::string& path, const std::string& server = "");

// A REST client from the kubeconfig at `path` (its current context); `server` overrides the
// server URL when non-empty.
StatusOr<std::unique_ptr<RestClient>> ClientFromKubeconfig(const std::string& path,
                                                                   const std::string& server = "");

}  // namespace kumo::client
