// Random identifiers: object uids and generated-name suffixes.
#pragma once

#include <string>

namespace kumo {

// A random RFC 4122 version 4 UUID. Thread-safe.
std::string NewUid();
// `n` random characters from Kubernetes' generateName alphabet. Thread-safe.
std::string RandomSuffix(int n);

}  // namespace kumo
