// Label and field selector parsing (the labelSelector and fieldSelector query parameters of
// every list and watch): no crash, and a parsed selector can be matched.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "store/selector.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  static const kumo::store::Labels kLabels{{"app", "web"}, {"tier", "front"}, {"x", ""}};
  if (auto l = kumo::store::LabelSelector::Parse(text); l.ok()) {
    (void)l->Matches(kLabels);
    (void)l->Matches({});
  }
  if (auto f = kumo::store::FieldSelector::Parse(text); f.ok()) {
    (void)f->Matches([](std::string_view field) { return std::string(field); });
    (void)f->ExactValue("metadata.name");
  }
  return 0;
}
