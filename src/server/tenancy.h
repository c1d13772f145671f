// Tenants as the request path sees them. A kumo.io/v1alpha1 Tenant (cluster-scoped) owns the
// namespace of the same name; its spec says who the members are and with which role, the
// quota, the node selector of its dedicated nodes, the IP pools it may use and its API share
// (the fair-queuing weight). TenantDirectory reads Tenants from the watch cache and parses each
// one once per change, so authorization, admission and flow control can look a tenant up on
// every request.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "common/json.h"
#include "server/quota.h"
#include "store/watch_cache.h"

namespace kumo::server {

// Label on a tenant's namespace (value: the tenant name).
inline constexpr char kTenantLabel[] = "kumo.io/tenant";
// Namespace of Kumo's own objects (tenant users' token Secrets); no tenant may use it.
inline constexpr char kSystemNamespace[] = "kumo-system";

// Roles, weakest first: viewer reads; member also changes VMs, VMIs, Secrets and IP
// reservations; admin also writes Events and Leases in the namespace.
enum class TenantRole { kNone = 0, kViewer, kMember, kAdmin };
TenantRole ParseRole(std::string_view role);
const char* RoleName(TenantRole role);

// One parsed Tenant. Immutable once built; shared between threads.
struct TenantInfo {
  std::string name;  // also its namespace
  std::map<std::string, TenantRole, std::less<>> members;
  Quota quota;
  std::map<std::string, std::string> node_selector;
  std::vector<std::string> ip_pools;
  int api_share = 1;
  bool terminating = false;

  // The role of a caller. Tenant users are per tenant: a token issued for tenant T carries the
  // group kTenantGroupPrefix + T and has a role in T only, so two people given the same user
  // name in two tenants never share an identity's roles. Callers without such a group (client
  // certificates an operator issued) are looked up by name.
  TenantRole RoleOf(std::string_view user, const std::vector<std::string>& groups) const;
};

// Group prefix of a tenant user's token: "kumo:tenant:acme".
inline constexpr char kTenantGroupPrefix[] = "kumo:tenant:";

// Reads a Tenant object (lenient: malformed fields are skipped; validation rejects them first).
TenantInfo ParseTenant(const json::value& tenant);

// Thread-safe; borrows the cache, which must outlive it.
class TenantDirectory {
 public:
  explicit TenantDirectory(const store::WatchCache& cache) : cache_(cache) {}

  // The Tenant named `name` (the tenant of namespace `name`) as the cache holds it now, or
  // nullptr when there is none.
  std::shared_ptr<const TenantInfo> Get(std::string_view name) const;

 private:
  struct Entry {
    int64_t revision = 0;
    std::shared_ptr<const TenantInfo> info;
  };
  const store::WatchCache& cache_;
  mutable std::mutex mu_;
  mutable std::map<std::string, Entry, std::less<>> parsed_;  // by tenant name
};

}  // namespace kumo::server
