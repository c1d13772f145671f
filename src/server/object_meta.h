// List continuation tokens (uids and generated names are in common/random.h).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "common/random.h"
#include "common/status.h"

namespace kumo::server {

// Opaque list continuation: the list's revision and the last key returned.
struct ContinueToken {
  int64_t revision = 0;
  std::string start_after;
};
std::string EncodeContinue(const ContinueToken& token);
// BadRequest when the token was not made by EncodeContinue.
StatusOr<ContinueToken> DecodeContinue(std::string_view text);

}  // namespace kumo::server
