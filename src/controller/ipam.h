// IP address management: tenants draw VM addresses from IPPools, reserve them ahead of time
// (IPReservation) and keep them. Every address in use is one IPAllocation object named after
// the address, created with the store's create-if-absent, so two VMs never hold the same IP,
// also under concurrent creates. An allocation names its owner: a VM (namespace + VM name, so
// the address survives restart, reschedule and migration) and/or a reservation (so it outlives
// the VM).
#pragma once

#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "common/json.h"
#include "common/status.h"
#include "store/store.h"
#include "store/watch_cache.h"

namespace kumo::controller {

struct Pool {
  std::string name;
  std::string cidr;
  uint32_t network = 0;
  int prefix = 32;
  std::vector<std::string> namespaces;  // empty: every tenant may use it
  bool disabled = false;

  bool Contains(uint32_t ip) const;
  bool AllowsNamespace(const std::string& ns) const;
};

struct Allocation {
  std::string address, pool, ns, vm, reservation;
};

// Thread-safe; borrows the store and cache.
class Ipam {
 public:
  Ipam(store::Store& store, store::WatchCache& cache) : store_(store), cache_(cache) {}

  std::vector<Pool> Pools() const;
  // Enabled pools `ns` may use; only `pool_name` when given (NotFound / Forbidden otherwise).
  StatusOr<std::vector<Pool>> PoolsFor(const std::string& ns, const std::string& pool_name) const;
  // The pool containing `address` that `ns` may use; Invalid with a message naming the usable
  // pools when there is none.
  StatusOr<Pool> PoolOf(const std::string& address, const std::string& ns) const;

  // The pools a tenant's spec.ipPools limits namespace `ns` to; nullopt when it sets none.
  // Every address a tenant gets (automatic, count, explicit, Calico) is checked against it.
  std::optional<std::set<std::string>> TenantPools(const std::string& ns) const;

  std::optional<Allocation> Get(const std::string& address) const;
  bool ReservationExists(const std::string& ns, const std::string& name) const;
  std::vector<Allocation> ByVm(const std::string& ns, const std::string& vm) const;
  std::vector<Allocation> ByReservation(const std::string& ns, const std::string& reservation) const;
  int64_t CountInPool(const std::string& pool) const;
  int64_t CountInNamespace(const std::string& ns) const;

  // Takes `address` for `owner`. OK when it is already the owner's (or a reservation of the
  // same tenant that the owner names); Conflict naming the holder otherwise.
  Status Claim(const std::string& address, const Allocation& owner);
  // Takes any free address from the pools `ns` may use (or `pool_name`). Unavailable when all
  // are taken.
  StatusOr<std::string> ClaimAny(const std::string& ns, const std::string& pool_name,
                                 const Allocation& owner);
  // The VM's address: its existing allocation, else one of `reservation` (if set), else a new one
  // from the tenant's pools. nullopt when the tenant may use no pool (the VM gets user-mode NAT).
  StatusOr<std::optional<std::string>> AddressForVm(const std::string& ns, const std::string& vm,
                                                    const std::string& fixed_address,
                                                    const std::string& reservation);
  // Releases what a deleted VM held: its own allocations go; reserved ones stay reserved.
  Status ReleaseVm(const std::string& ns, const std::string& vm);
  // Releases a deleted reservation: unused addresses go; those in use stay with their VM.
  Status ReleaseReservation(const std::string& ns, const std::string& reservation);

 private:
  bool Usable(const Pool& p, const std::string& ns,
              const std::optional<std::set<std::string>>& tenant_pools) const;
  Status Write(const Allocation& a, bool create);
  // Waits until the cache reflects every write already made to the store, so that lookups
  // see the allocations this process just created (a stale read would double-allocate).
  void Fresh() const;

  store::Store& store_;
  store::WatchCache& cache_;
};

}  // namespace kumo::controller
