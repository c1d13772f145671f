#include "server/object_meta.h"

#include "common/json.h"

namespace kumo::server {

std::string EncodeContinue(const ContinueToken& token) {
  std::string text = json::serialize(
      json::object{{"v", "kumo/v1"}, {"rv", token.revision}, {"start", token.start_after}});
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (unsigned char c : text) {
    out.push_back(kHex[c >> 4]);
    out.push_back(kHex[c & 15]);
  }
  return out;
}

StatusOr<ContinueToken> DecodeContinue(std::string_view text) {
  auto bad = BadRequest("continue key is not valid: it must be the metadata.continue value of a "
                        "previous list response");
  if (text.size() % 2) return bad;
  std::string raw;
  for (size_t i = 0; i < text.size(); i += 2) {
    auto hex = [](char c) -> int {
      if (c >= '0' && c <= '9') return c - '0';
      if (c >= 'a' && c <= 'f') return c - 'a' + 10;
      return -1;
    };
    int hi = hex(text[i]), lo = hex(text[i + 1]);
    if (hi < 0 || lo < 0) return bad;
    raw.push_back(static_cast<char>(hi * 16 + lo));
  }
  auto v = ParseJson(raw);
  if (!v.ok() || GetString(*v, {"v"}) != "kumo/v1") return bad;
  const json::value* rv = Find(*v, {"rv"});
  if (!rv || !rv->is_int64()) return bad;
  return ContinueToken{rv->get_int64(), GetString(*v, {"start"})};
}

}  // namespace kumo::server
