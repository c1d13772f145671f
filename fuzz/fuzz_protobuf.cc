// DecodeKubernetesProtobuf (kubectl's protobuf bodies for Namespace and Secret): no crash on
// any bytes, and what it accepts reads back as JSON.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "fuzz_util.h"
#include "server/protobuf_decode.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view body(reinterpret_cast<const char*>(data), size);
  if (auto v = kumo::server::DecodeKubernetesProtobuf(body); v.ok()) {
    kumo::fuzz::RequireStorable(*v, "DecodeKubernetesProtobuf", SIZE_MAX);
  }
  return 0;
}
