// ApplyPatch for the four patch types. Input: one byte choosing the type, then the target
// object as JSON, a NUL byte, and the patch. The patched object must be storable, and a failed
// patch leaves the target as it was.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "fuzz_util.h"
#include "server/patch.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using kumo::server::PatchType;
  if (size < 1) return 0;
  static constexpr PatchType kTypes[] = {PatchType::kMerge, PatchType::kJson,
                                         PatchType::kStrategic, PatchType::kApply};
  PatchType type = kTypes[data[0] % 4];
  std::string_view rest(reinterpret_cast<const char*>(data + 1), size - 1);
  size_t nul = rest.find('\0');
  std::string_view target_text = nul == std::string_view::npos ? "" : rest.substr(0, nul);
  std::string_view patch = nul == std::string_view::npos ? rest : rest.substr(nul + 1);
  kumo::json::value target = kumo::json::object{{"metadata", kumo::json::object{{"name", "x"}}}};
  if (auto t = kumo::ParseJson(target_text); t.ok() && t->is_object()) target = std::move(*t);
  kumo::json::value before = target;
  kumo::Status st = kumo::server::ApplyPatch(type, patch, target);
  if (st.ok()) {
    kumo::fuzz::RequireStorable(target, "ApplyPatch", kumo::kMaxObjectBytes);
  } else if (target != before) {
    fprintf(stderr, "a failed patch changed its target: %s\n", st.ToString().c_str());
    abort();
  }
  return 0;
}
