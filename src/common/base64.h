// Standard base64 (RFC 4648, with padding): kubeconfig data, Secret values, cloud-init user
// data, WebSocket keys.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace kumo {

std::string Base64Encode(std::string_view in);
// Strict: whitespace is skipped, anything else outside the alphabet (or bad padding) fails.
std::optional<std::string> Base64Decode(std::string_view in);
// Lenient, for user data: also takes the URL-safe alphabet and missing padding, and skips any
// other character.
std::string Base64DecodeLenient(std::string_view in);

}  // namespace kumo
