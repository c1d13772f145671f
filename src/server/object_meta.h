// Server-owned object metadata: uids, generated names, continue tokens.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "common/status.h"

namespace kumo::server {

// A random RFC 4122 version 4 UUID. Thread-safe.
std::string NewUid();
// `n` random characters from Kubernetes' generateName alphabet. Thread-safe.
std::string RandomSuffix(int n);

// Opaque list continuation: the list's revision and the last key returned.
struct ContinueToken {
  int64_t revision = 0;
  std::string start_after;
};
std::string EncodeContinue(const ContinueToken& token);
// BadRequest when the token was not made by EncodeContinue.
StatusOr<ContinueToken> DecodeContinue(std::string_view text);

}  // namespace kumo::server
