// ParseJson and ParseJsonOrYaml (request bodies, apply patches, review bodies): no crash, no
// unbounded expansion (libFuzzer's -timeout and -rss_limit_mb catch those), and whatever they
// accept reads back as JSON.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  if (auto v = kumo::ParseJson(text); v.ok()) kumo::fuzz::RequireStorable(*v, "ParseJson", SIZE_MAX);
  if (auto v = kumo::ParseJsonOrYaml(text); v.ok()) {
    kumo::fuzz::RequireStorable(*v, "ParseJsonOrYaml", SIZE_MAX);
  }
  return 0;
}
