// Registering images (kumo.io/v1alpha1 Image objects) with the API server.
#pragma once

#include <string>

#include "client/rest_client.h"

namespace kumo::agent {

// Creates or replaces the Image `name` and marks it Ready at `path` on the nodes.
Status RegisterImage(client::RestClient& client, const std::string& name, const std::string& format,
                     const json::value& source, const std::string& path, int64_t size,
                     const std::string& sha256);

// Builds the tiny image under `image_dir` (cache under image_dir/.cache) and registers it as
// the Image "tiny". Progress lines go to stderr.
Status BuildAndRegisterTiny(client::RestClient& client, const std::string& image_dir);

}  // namespace kumo::agent
