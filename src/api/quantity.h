// Kubernetes resource quantities ("128Mi", "1G", "500m", "2").
#pragma once

#include <string_view>

#include "common/status.h"

namespace kumo::api {

// The value of a quantity in base units (bytes for memory, cores for CPU); "500m" is 0.5.
// BadRequest when the text is not a Kubernetes quantity or its value is not a finite double.
StatusOr<double> ParseQuantity(std::string_view text);

}  // namespace kumo::api
