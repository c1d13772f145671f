#include "server/tenancy.h"

#include <algorithm>

#include "common/log.h"

namespace kumo::server {

namespace {
constexpr std::string_view kTenantPrefix = "/registry/kumo.io/tenants/";
}  // namespace

TenantRole ParseRole(std::string_view role) {
  if (role == "admin") return TenantRole::kAdmin;
  if (role == "member") return TenantRole::kMember;
  if (role == "viewer") return TenantRole::kViewer;
  return TenantRole::kNone;
}

const char* RoleName(TenantRole role) {
  switch (role) {
    case TenantRole::kAdmin:
      return "admin";
    case TenantRole::kMember:
      return "member";
    case TenantRole::kViewer:
      return "viewer";
    default:
      return "none";
  }
}

TenantRole TenantInfo::RoleOf(std::string_view user,
                               const std::vector<std::string>& groups) const {
  constexpr std::string_view kPrefix = kTenantGroupPrefix;
  for (const auto& g : groups) {
    if (g.starts_with(kPrefix) && std::string_view(g).substr(kPrefix.size()) != name) {
      return TenantRole::kNone;  // a token of another tenant
    }
  }
  auto it = members.find(user);
  return it == members.end() ? TenantRole::kNone : it->second;
}

TenantInfo ParseTenant(const json::value& tenant) {
  TenantInfo t;
  t.name = GetString(tenant, {"metadata", "name"});
  t.terminating = !GetString(tenant, {"metadata", "deletionTimestamp"}).empty();
  const json::value* spec = Find(tenant, {"spec"});
  if (!spec || !spec->is_object()) return t;
  if (const json::value* members = Find(*spec, {"members"}); members && members->is_array()) {
    for (const auto& m : members->get_array()) {
      std::string user = GetString(m, {"user"});
      TenantRole role = ParseRole(GetString(m, {"role"}));
      if (!user.empty() && role != TenantRole::kNone) t.members[user] = role;
    }
  }
  t.quota = ParseQuota(Find(*spec, {"quota"}));
  if (const json::value* sel = Find(*spec, {"nodeSelector"}); sel && sel->is_object()) {
    for (const auto& kv : sel->get_object()) {
      if (kv.value().is_string()) t.node_selector[kv.key()] = kv.value().get_string();
    }
  }
  if (const json::value* pools = Find(*spec, {"ipPools"}); pools && pools->is_array()) {
    for (const auto& p : pools->get_array()) {
      if (p.is_string()) t.ip_pools.emplace_back(p.get_string());
    }
  }
  if (const json::value* share = Find(*spec, {"apiShare"});
      share && (share->is_int64() || share->is_uint64())) {
    int64_t v = share->to_number<int64_t>();
    t.api_share = static_cast<int>(std::clamp<int64_t>(v, 1, 100));
  }
  return t;
}

std::shared_ptr<const TenantInfo> TenantDirectory::Get(std::string_view name) const {
  if (name.empty()) return nullptr;
  std::string key = std::string(kTenantPrefix) + std::string(name);
  store::CachedPtr obj = cache_.Get(key);
  std::lock_guard lock(mu_);
  auto it = parsed_.find(name);
  if (!obj) {
    if (it != parsed_.end()) parsed_.erase(it);
    return nullptr;
  }
  if (it != parsed_.end() && it->second.revision == obj->mod_revision) return it->second.info;
  StatusOr<json::value> parsed = ParseJson(obj->json);
  if (!parsed.ok()) {
    spdlog::warn("cannot parse tenant {}: {}", name, parsed.status().ToString());
    return nullptr;
  }
  auto info = std::make_shared<const TenantInfo>(ParseTenant(*parsed));
  parsed_[std::string(name)] = Entry{obj->mod_revision, info};
  return info;
}

}  // namespace kumo::server
