// The CLI's view of client/connect.h.
#pragma once

#include "client/connect.h"

namespace kumo::cli {
using client::ClientFromKubeconfig;
}  // namespace kumo::cli
