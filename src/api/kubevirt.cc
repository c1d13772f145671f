#include "api/kubevirt.h"

namespace kumo::api {

std::string RunStrategyOf(const json::value& vm) {
  std::string rs = GetString(vm, {"spec", "runStrategy"});
  if (!rs.empty()) return rs;
  return GetBool(vm, {"spec", "running"}) ? "Always" : "Halted";
}

std::string VmReservation(const json::value& vm) {
  std::string named = GetString(vm, {"metadata", "annotations", kIpReservationAnnotation});
  if (!named.empty()) return named;
  return GetString(vm, {"spec", "template", "metadata", "annotations", kIpReservationAnnotation});
}

std::string VmOwnerUid(const json::value& vmi) {
  const json::value* refs = Find(vmi, {"metadata", "ownerReferences"});
  if (!refs || !refs->is_array()) return "";
  for (const auto& r : refs->get_array()) {
    if (GetString(r, {"kind"}) == "VirtualMachine") return GetString(r, {"uid"});
  }
  return "";
}

bool VmiBoundTo(const json::value& vmi, std::string_view node) {
  if (node.empty()) return false;
  if (GetString(vmi, {"status", "nodeName"}) == node) return true;
  const json::value* ms = Find(vmi, {"status", "migrationState"});
  return ms && (GetString(*ms, {"targetNode"}) == node || GetString(*ms, {"sourceNode"}) == node);
}

bool MigrationActive(const json::value* ms) {
  return ms && ms->is_object() && !GetString(*ms, {"migrationUid"}).empty() &&
         !GetBool(*ms, {"completed"}) && !GetBool(*ms, {"failed"});
}

std::string ImageNameOf(std::string_view ref) {
  std::string s(ref);
  size_t at = s.find('@');
  if (at != std::string::npos) s = s.substr(0, at);
  size_t slash = s.rfind('/');
  if (slash != std::string::npos) s = s.substr(slash + 1);
  size_t colon = s.find(':');
  if (colon != std::string::npos) s = s.substr(0, colon);
  return s;
}

}  // namespace kumo::api
