// SHA-256 digests as lower-case hex: image checksums, token hashes.
#pragma once

#include <string>
#include <string_view>

#include "common/status.h"

namespace kumo {

std::string Sha256Hex(std::string_view data);
// The digest of a file's contents, read in 1 MiB pieces; Internal when it cannot be read.
StatusOr<std::string> Sha256File(const std::string& path);
// True for a digest as Sha256Hex writes it: 64 lower-case hex digits.
bool IsSha256Hex(std::string_view text);

}  // namespace kumo
