// Admission for tenant namespaces, run on every API write whoever makes it:
//
// - TenantPolicyAdmission (mutating, then validating):
//   * dedicated nodes, as Kubernetes' PodNodeSelector: the tenant's nodeSelector is merged into
//     each VM's spec.template.spec.nodeSelector and each VMI's spec.nodeSelector; a VM asking for
//     a different value of one of its keys is refused (403). VMs may not tolerate another
//     tenant's dedication taint (kumo.io/dedicated=<tenant>:NoSchedule) nor every taint; a
//     tenant with a nodeSelector gets the toleration for its own dedicated nodes added.
//   * IP pools: an IPReservation (spec.pool) or a VM (annotation cni.projectcalico.org/ipv4pools)
//     naming a pool outside the tenant's spec.ipPools is refused.
//   * quota: a create or update that would take the tenant past spec.quota is refused with
//     Kubernetes' "exceeded quota" message; nothing is stored. Usage is summed from the watch
//     cache plus the writes admitted but not yet visible there, under a per-tenant lock, so
//     concurrent creates cannot overshoot.
// - NodeRestriction: a node identity may create only its own Node and Lease and change only the
//   VMIs bound to it (their status and finalizers, not the migration's identity); it may not
//   give itself labels under node-restriction.kumo.io/ (which dedicated-node selectors use) or
//   change its taints.
#pragma once

#include <array>
#include <chrono>
#include <map>
#include <mutex>
#include <string>

#include "server/admission.h"
#include "server/quota.h"
#include "server/tenancy.h"
#include "store/watch_cache.h"

namespace kumo::server {

// Taint key that keeps other tenants off a tenant's dedicated nodes (value: the tenant).
inline constexpr char kDedicatedTaintKey[] = "kumo.io/dedicated";

// Thread-safe; borrows the directory and the cache.
class TenantPolicyAdmission : public AdmissionPlugin {
 public:
  TenantPolicyAdmission(const TenantDirectory& tenants, const store::WatchCache& cache)
      : tenants_(tenants), cache_(cache) {}
  std::string name() const override { return "TenantPolicy"; }
  Status Admit(const AdmissionRequest& request) override;

  // What the objects of namespace `ns` claim now (the tenant controller reports it).
  StatusOr<Amounts> Usage(const std::string& ns);

 private:
  struct Pending {
    Amounts claim;
    int64_t base_revision = 0;  // the stored object's revision it replaces (0: a create)
    std::chrono::steady_clock::time_point at;
  };
  Status CheckQuota(const AdmissionRequest& req, const TenantInfo& tenant);
  // Usage of `ns` from the cache and the pending writes; called with the tenant's lock held.
  StatusOr<Amounts> UsageLocked(const std::string& ns);
  StatusOr<Amounts> ClaimOf(const api::ResourceInfo& r, const json::value& obj,
                            const std::string& ns);
  std::mutex& LockFor(const std::string& ns);

  const TenantDirectory& tenants_;
  const store::WatchCache& cache_;
  std::array<std::mutex, 16> tenant_locks_;
  std::mutex mu_;                                                  // guards pending_ and memo_
  std::map<std::string, std::map<std::string, Pending>> pending_;  // ns -> key -> claim
  struct Memo {
    int64_t revision = 0;
    Amounts claim;
    uint64_t generation = 0;  // the last count that saw the object
  };
  std::map<std::string, std::map<std::string, Memo>> memo_;  // ns -> key -> parsed claim
  std::map<std::string, uint64_t> generation_;               // ns -> counts so far
};

// Stateless; thread-safe.
class NodeRestrictionAdmission : public AdmissionPlugin {
 public:
  std::string name() const override { return "NodeRestriction"; }
  Status Admit(const AdmissionRequest& request) override;

 private:
  static Status CheckNodeSelfChange(const std::string& who, const json::value& obj,
                                    const json::value* old);
  static Status CheckNodeVmiChange(const std::string& who, const AdmissionRequest& req,
                                   const std::string& node);
};

}  // namespace kumo::server
