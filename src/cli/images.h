// The CLI's view of agent/image/image_registry.h.
#pragma once

#include "agent/image/image_registry.h"

namespace kumo::cli {
using agent::BuildAndRegisterTiny;
using agent::RegisterImage;
}  // namespace kumo::cli
