#include "api/storage.h"

#include <cstdlib>
#include <limits>

#include "api/quantity.h"

namespace kumo::api {

std::vector<ClaimRef> ClaimsOf(const json::value& vmi_spec) {
  std::vector<ClaimRef> out;
  const json::value* vols = Find(vmi_spec, {"volumes"});
  if (!vols || !vols->is_array()) return out;
  for (const auto& v : vols->get_array()) {
    std::string name = GetString(v, {"name"});
    std::string claim = GetString(v, {"persistentVolumeClaim", "claimName"});
    if (claim.empty()) claim = GetString(v, {"dataVolume", "name"});
    if (!claim.empty()) out.push_back({name, claim});
  }
  return out;
}

StatusOr<int64_t> RequestedStorage(const json::value& spec) {
  const json::value* q = Find(spec, {"resources", "requests", "storage"});
  if (!q) return Status(Code::kInvalid, "resources.requests.storage is required, e.g. \"10Gi\"");
  std::string text = q->is_string() ? std::string(q->get_string())
                     : q->is_number() ? json::serialize(*q)
                                      : std::string();
  auto v = ParseQuantity(text);
  if (!v.ok()) return Status(Code::kInvalid, "resources.requests.storage: " + v.status().message());
  if (!(*v > 0)) return Status(Code::kInvalid, "resources.requests.storage must be greater than zero");
  if (*v > static_cast<double>(kMaxVolumeBytes)) {
    return Status(Code::kInvalid, "resources.requests.storage " + text +
                                      " is larger than the largest volume Kumo makes (64Ti)");
  }
  constexpr int64_t kMiB = 1 << 20;
  int64_t bytes = static_cast<int64_t>(*v);
  if (static_cast<double>(bytes) < *v) ++bytes;
  return (bytes + kMiB - 1) / kMiB * kMiB;
}

std::string PvNameFor(const json::value& pvc) {
  return "pvc-" + GetString(pvc, {"metadata", "uid"});
}

std::string AccessModesShort(const json::value* modes) {
  std::string out;
  if (!modes || !modes->is_array()) return out;
  for (const auto& m : modes->get_array()) {
    if (!m.is_string()) continue;
    std::string_view s = m.get_string();
    std::string abbrev = s == "ReadWriteOnce"      ? "RWO"
                         : s == "ReadOnlyMany"     ? "ROX"
                         : s == "ReadWriteMany"    ? "RWX"
                         : s == "ReadWriteOncePod" ? "RWOP"
                                                   : std::string(s);
    out += (out.empty() ? "" : ",") + abbrev;
  }
  return out;
}

json::value DisksToJson(const std::vector<VolumeDisk>& disks) {
  json::array out;
  for (const auto& d : disks) {
    json::object o{{"volume", d.volume},   {"claim", d.claim},         {"pv", d.pv},
                   {"driver", d.driver},   {"sizeBytes", d.size_bytes}, {"populated", d.populated},
                   {"source", d.source}};
    if (!d.location.empty()) o["location"] = d.location;
    if (d.source == "image") {
      o["imagePath"] = d.image_path;
      o["imageFormat"] = d.image_format;
      if (!d.image_checksum.empty()) {
        o["imageName"] = d.image_name;
        o["imageChecksum"] = d.image_checksum;
      }
    } else if (d.source == "clone") {
      o["clonePv"] = d.clone_pv;
      o["cloneDriver"] = d.clone_driver;
      if (!d.clone_location.empty()) o["cloneLocation"] = d.clone_location;
    }
    out.push_back(std::move(o));
  }
  return out;
}

StatusOr<std::vector<VolumeDisk>> DisksOf(const json::value& vmi) {
  std::vector<VolumeDisk> out;
  std::string text = GetString(vmi, {"metadata", "annotations", kVmiVolumesAnnotation});
  if (text.empty()) return out;
  auto parsed = ParseJson(text);
  if (!parsed.ok() || !parsed->is_array()) {
    return Status(Code::kInvalid, std::string(kVmiVolumesAnnotation) + " is not a JSON list");
  }
  for (const auto& v : parsed->get_array()) {
    VolumeDisk d;
    d.volume = GetString(v, {"volume"});
    d.claim = GetString(v, {"claim"});
    d.pv = GetString(v, {"pv"});
    d.driver = GetString(v, {"driver"});
    d.location = GetString(v, {"location"});
    d.size_bytes = GetInt(v, {"sizeBytes"}, 0);
    d.populated = GetBool(v, {"populated"});
    d.source = GetString(v, {"source"}, "blank");
    d.image_path = GetString(v, {"imagePath"});
    d.image_format = GetString(v, {"imageFormat"});
    d.image_name = GetString(v, {"imageName"});
    d.image_checksum = GetString(v, {"imageChecksum"});
    d.clone_pv = GetString(v, {"clonePv"});
    d.clone_driver = GetString(v, {"cloneDriver"});
    d.clone_location = GetString(v, {"cloneLocation"});
    if (d.volume.empty() || !ValidPvName(d.pv) || d.size_bytes <= 0 ||
        (d.source == "clone" && !ValidPvName(d.clone_pv))) {
      return Status(Code::kInvalid, std::string(kVmiVolumesAnnotation) + ": malformed volume " + d.volume);
    }
    out.push_back(std::move(d));
  }
  return out;
}

bool ValidPvName(std::string_view name) {
  if (name.size() < 5 || name.size() > 100) return false;
  if (!name.starts_with("pvc-") && !(name.starts_with("snapcontent-") && name.size() > 12)) {
    return false;
  }
  for (char c : name) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-')) return false;
  }
  return true;
}

std::optional<AttachRecord> ParseAttach(const std::string& a) {
  size_t s1 = a.find('/');
  size_t s2 = s1 == std::string::npos ? s1 : a.find('/', s1 + 1);
  if (s2 == std::string::npos) return std::nullopt;
  AttachRecord r{a.substr(0, s1), a.substr(s1 + 1, s2 - s1 - 1), a.substr(s2 + 1), 0};
  if (size_t s3 = r.uid.find('/'); s3 != std::string::npos) {
    r.at = std::strtoll(r.uid.c_str() + s3 + 1, nullptr, 10);
    r.uid.resize(s3);
  }
  return r;
}

}  // namespace kumo::api
