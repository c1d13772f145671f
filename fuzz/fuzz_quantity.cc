// Kubernetes quantities ("128Mi", "1.5", "500m", "1e3"): no crash or undefined behaviour, and
// an accepted quantity is a finite number.
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string_view>

#include "api/quantity.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  if (auto q = kumo::api::ParseQuantity(text); q.ok() && !std::isfinite(*q)) {
    fprintf(stderr, "ParseQuantity accepted %f\n", *q);
    abort();
  }
  return 0;
}
