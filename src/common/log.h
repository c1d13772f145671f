// Logging: spdlog, one line per event. `KUMO_LOG(info, "...", args)`.
#pragma once

#include <spdlog/spdlog.h>

namespace kumo {
// Sets the global level ("debug", "info", "warn", "error") and Kumo's line format.
void InitLogging(const char* level);
}  // namespace kumo
