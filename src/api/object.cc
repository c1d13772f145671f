#include "api/object.h"

namespace kumo::api {

std::string SerializeForStore(const json::value& obj) {
  const json::object& in = obj.as_object();
  json::object out;
  out.reserve(in.size());
  for (auto key : {"apiVersion", "kind", "metadata"}) {
    auto it = in.find(key);
    if (it == in.end()) continue;
    if (std::string_view(key) == "metadata" && it->value().is_object()) {
      json::object meta = it->value().get_object();
      meta.erase("resourceVersion");
      out.emplace(key, std::move(meta));
    } else {
      out.emplace(key, it->value());
    }
  }
  if (out.find("metadata") == out.end()) out.emplace("metadata", json::object());
  for (const auto& kv : in) {
    if (kv.key() == "apiVersion" || kv.key() == "kind" || kv.key() == "metadata") continue;
    out.emplace(kv.key(), kv.value());
  }
  return json::serialize(out);
}

std::string InjectResourceVersion(std::string_view stored, int64_t rv) {
  constexpr std::string_view kMeta = "\"metadata\":{";
  size_t pos = stored.find(kMeta);
  std::string rvs = "\"resourceVersion\":\"" + std::to_string(rv) + "\"";
  std::string out;
  if (pos == std::string_view::npos) return std::string(stored);
  size_t at = pos + kMeta.size();
  out.reserve(stored.size() + rvs.size() + 1);
  out.append(stored.substr(0, at));
  out.append(rvs);
  if (at < stored.size() && stored[at] != '}') out.push_back(',');
  out.append(stored.substr(at));
  return out;
}

StatusOr<json::value> ParseStored(std::string_view stored, int64_t rv) {
  KUMO_ASSIGN_OR_RETURN(json::value v, ParseJson(stored));
  if (v.is_object()) EnsureObject(v, {"metadata"})["resourceVersion"] = std::to_string(rv);
  return v;
}

bool HasFinalizer(const json::value& obj, std::string_view f) {
  const json::value* fs = Find(obj, {"metadata", "finalizers"});
  if (!fs || !fs->is_array()) return false;
  for (const auto& v : fs->get_array()) {
    if (v.is_string() && v.get_string() == f) return true;
  }
  return false;
}

void AddFinalizer(json::value& obj, std::string_view f) {
  if (HasFinalizer(obj, f)) return;
  json::value& fs = EnsureObject(obj, {"metadata"})["finalizers"];
  if (!fs.is_array()) fs = json::array();
  fs.get_array().push_back(json::value(f));
}

bool RemoveFinalizer(json::value& obj, std::string_view f) {
  json::value* fs = Find(obj, {"metadata", "finalizers"});
  if (!fs || !fs->is_array()) return false;
  json::array kept;
  bool found = false;
  for (const auto& v : fs->get_array()) {
    if (v.is_string() && v.get_string() == f) found = true;
    else kept.push_back(v);
  }
  if (kept.empty()) obj.get_object()["metadata"].get_object().erase("finalizers");
  else *fs = std::move(kept);
  return found;
}

}  // namespace kumo::api
