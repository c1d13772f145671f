#include "common/log.h"

namespace kumo {

void InitLogging(const char* level) {
  spdlog::set_pattern("%Y-%m-%dT%H:%M:%S.%e %^%L%$ %v");
  spdlog::set_level(spdlog::level::from_str(level));
}

}  // namespace kumo
