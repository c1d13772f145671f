#include "controller/ipam.h"

#include "api/object.h"
#include "api/resource.h"
#include "common/ipv4.h"
#include "common/random.h"

#include <algorithm>
#include <chrono>
#include <ctime>
#include <set>

namespace kumo::controller {

namespace {

const api::ResourceInfo& Pools_() { return *api::DefaultRegistry().Find("kumo.io", "v1alpha1", "ippools"); }
const api::ResourceInfo& Allocs() {
  return *api::DefaultRegistry().Find("kumo.io", "v1alpha1", "ipallocations");
}
const api::ResourceInfo& Reservations() {
  return *api::DefaultRegistry().Find("kumo.io", "v1alpha1", "ipreservations");
}

const api::ResourceInfo& Tenants() {
  return *api::DefaultRegistry().Find("kumo.io", "v1alpha1", "tenants");
}

Allocation FromJson(const json::value& v) {
  return Allocation{GetString(v, {"metadata", "name"}), GetString(v, {"spec", "pool"}),
                    GetString(v, {"spec", "namespace"}), GetString(v, {"spec", "vm"}),
                    GetString(v, {"spec", "reservation"})};
}

std::string Describe(const Allocation& a) {
  if (!a.vm.empty()) return "VM " + a.ns + "/" + a.vm;
  if (!a.reservation.empty()) return "reservation " + a.ns + "/" + a.reservation;
  return "another owner";
}

}  // namespace

bool Pool::Contains(uint32_t ip) const {
  uint32_t mask = prefix == 0 ? 0 : ~0u << (32 - prefix);
  return (ip & mask) == network;
}

bool Pool::AllowsNamespace(const std::string& ns) const {
  return namespaces.empty() || std::find(namespaces.begin(), namespaces.end(), ns) != namespaces.end();
}

void Ipam::Fresh() const {
  cache_.WaitForRevision(store_.CurrentRevision(), std::chrono::seconds(5));
}

std::vector<Pool> Ipam::Pools() const {
  Fresh();
  std::vector<Pool> out;
  for (const auto& o : cache_.List(Pools_().KeyPrefix(), "", 0, nullptr).items) {
    auto v = ParseJson(o->json);
    if (!v.ok()) continue;
    Pool p;
    p.name = GetString(*v, {"metadata", "name"});
    p.cidr = GetString(*v, {"spec", "cidr"});
    size_t slash = p.cidr.find('/');
    if (slash == std::string::npos) continue;
    auto network = ParseIpv4(std::string_view(p.cidr).substr(0, slash));
    if (!network.ok()) continue;
    p.network = *network;
    p.prefix = std::atoi(p.cidr.c_str() + slash + 1);
    if (const json::value* ns = Find(*v, {"spec", "namespaces"}); ns && ns->is_array()) {
      for (const auto& n : ns->get_array()) {
        if (n.is_string()) p.namespaces.emplace_back(n.get_string());
      }
    }
    const json::value* d = Find(*v, {"spec", "disabled"});
    p.disabled = d && d->is_bool() && d->get_bool();
    out.push_back(std::move(p));
  }
  return out;
}

std::optional<std::set<std::string>> Ipam::TenantPools(const std::string& ns) const {
  store::CachedPtr tenant = cache_.Get(Tenants().Key("", ns));
  if (!tenant) return std::nullopt;
  auto v = ParseJson(tenant->json);
  if (!v.ok()) return std::nullopt;
  const json::value* pools = Find(*v, {"spec", "ipPools"});
  if (!pools || !pools->is_array() || pools->get_array().empty()) return std::nullopt;
  std::set<std::string> out;
  for (const auto& p : pools->get_array()) {
    if (p.is_string()) out.emplace(p.get_string());
  }
  return out;
}

bool Ipam::Usable(const Pool& p, const std::string& ns,
                  const std::optional<std::set<std::string>>& tenant_pools) const {
  if (p.disabled || !p.AllowsNamespace(ns)) return false;
  return !tenant_pools || tenant_pools->count(p.name) > 0;
}

StatusOr<std::vector<Pool>> Ipam::PoolsFor(const std::string& ns, const std::string& pool_name) const {
  std::vector<Pool> out;
  bool named_found = false;
  const auto tenant_pools = TenantPools(ns);
  for (auto& p : Pools()) {
    if (!pool_name.empty() && p.name != pool_name) continue;
    named_found = true;
    if (!Usable(p, ns, tenant_pools)) continue;
    out.push_back(std::move(p));
  }
  if (!pool_name.empty()) {
    if (!named_found) return NotFound("IP pool \"" + pool_name + "\" not found; list pools with `kubectl get ippools`");
    if (out.empty()) return Forbidden("tenant " + ns + " may not use IP pool \"" + pool_name + "\"");
  }
  return out;
}

StatusOr<Pool> Ipam::PoolOf(const std::string& address, const std::string& ns) const {
  auto parsed = ParseIpv4(address);
  if (!parsed.ok()) return Status(Code::kInvalid, "\"" + address + "\" is not an IPv4 address");
  uint32_t ip = *parsed;
  std::string usable;
  const auto tenant_pools = TenantPools(ns);
  for (const auto& p : Pools()) {
    if (!Usable(p, ns, tenant_pools)) continue;
    if (p.Contains(ip)) return p;
    usable += (usable.empty() ? "" : ", ") + p.name + " " + p.cidr;
  }
  return Status(Code::kInvalid, "address " + address + " is outside every IP pool tenant " + ns +
                                    " may use" + (usable.empty() ? " (there are none)" : " (" + usable + ")"));
}

bool Ipam::ReservationExists(const std::string& ns, const std::string& name) const {
  return store_.Get(Reservations().Key(ns, name)).ok();
}

std::optional<Allocation> Ipam::Get(const std::string& address) const {
  auto kv = store_.Get(Allocs().Key("", address));
  if (!kv.ok()) return std::nullopt;
  auto v = ParseJson(kv->value);
  if (!v.ok()) return std::nullopt;
  return FromJson(*v);
}

std::vector<Allocation> Ipam::ByVm(const std::string& ns, const std::string& vm) const {
  std::vector<Allocation> out;
  Fresh();
  for (const auto& o : cache_.List(Allocs().KeyPrefix(), "", 0, [&](const store::CachedObject& c) {
         return c.Field("spec.namespace") == ns && c.Field("spec.vm") == vm;
       }).items) {
    if (auto v = ParseJson(o->json); v.ok()) out.push_back(FromJson(*v));
  }
  return out;
}

std::vector<Allocation> Ipam::ByReservation(const std::string& ns, const std::string& reservation) const {
  std::vector<Allocation> out;
  Fresh();
  for (const auto& o : cache_.List(Allocs().KeyPrefix(), "", 0, [&](const store::CachedObject& c) {
         return c.Field("spec.namespace") == ns && c.Field("spec.reservation") == reservation;
       }).items) {
    if (auto v = ParseJson(o->json); v.ok()) out.push_back(FromJson(*v));
  }
  return out;
}

int64_t Ipam::CountInPool(const std::string& pool) const {
  Fresh();
  return static_cast<int64_t>(cache_.List(Allocs().KeyPrefix(), "", 0, [&](const store::CachedObject& c) {
                                  return c.Field("spec.pool") == pool;
                                }).items.size());
}

int64_t Ipam::CountInNamespace(const std::string& ns) const {
  Fresh();
  return static_cast<int64_t>(cache_.List(Allocs().KeyPrefix(), "", 0, [&](const store::CachedObject& c) {
                                  return c.Field("spec.namespace") == ns;
                                }).items.size());
}

Status Ipam::Write(const Allocation& a, bool create) {
  json::value obj = json::object{
      {"apiVersion", "kumo.io/v1alpha1"},
      {"kind", "IPAllocation"},
      {"metadata", json::object{{"name", a.address}, {"uid", NewUid()},
                                {"creationTimestamp", FormatTime(std::time(nullptr))}}},
      {"spec", json::object{{"pool", a.pool}, {"namespace", a.ns}, {"vm", a.vm}, {"reservation", a.reservation}}}};
  std::string key = Allocs().Key("", a.address);
  if (create) return store_.Create(key, api::SerializeForStore(obj)).status();
  auto res = store::GuaranteedUpdate(store_, key, [&](const store::KeyValue& cur) -> StatusOr<std::string> {
    KUMO_ASSIGN_OR_RETURN(json::value v, ParseJson(cur.value));
    Allocation now = FromJson(v);
    if (now.ns != a.ns) return Conflict("address " + a.address + " changed owner");
    if (!a.vm.empty() && !now.vm.empty() && now.vm != a.vm) {
      return Conflict("address " + a.address + " was just taken by VM " + now.ns + "/" + now.vm);
    }
    json::object& spec = EnsureObject(v, {"spec"});
    spec["vm"] = a.vm;
    spec["reservation"] = a.reservation;
    return api::SerializeForStore(v);
  });
  return res.status();
}

Status Ipam::Claim(const std::string& address, const Allocation& owner) {
  KUMO_ASSIGN_OR_RETURN(Pool pool, PoolOf(address, owner.ns));
  for (int attempt = 0; attempt < 8; ++attempt) {
    std::optional<Allocation> cur = Get(address);
    if (!cur) {
      Allocation a = owner;
      a.address = address;
      a.pool = pool.name;
      Status st = Write(a, /*create=*/true);
      if (st.code() == Code::kAlreadyExists) continue;  // raced: look again
      return st;
    }
    if (cur->ns != owner.ns) return Conflict("address " + address + " is already in use by another tenant");
    if (!owner.vm.empty()) {
      if (cur->vm == owner.vm) {
        if (owner.reservation.empty() || cur->reservation == owner.reservation) return Status::Ok();
      } else if (!cur->vm.empty()) {
        return Conflict("address " + address + " is already in use by " + Describe(*cur));
      } else if (cur->reservation != owner.reservation) {
        return Conflict("address " + address + " is reserved by reservation " + cur->ns + "/" +
                        cur->reservation + "; name it with the annotation kumo.io/ip-reservation to use it");
      }
    } else {
      if (cur->reservation == owner.reservation) return Status::Ok();
      return Conflict("address " + address + " is already in use by " + Describe(*cur));
    }
    Allocation a = *cur;
    if (!owner.vm.empty()) a.vm = owner.vm;
    if (!owner.reservation.empty()) a.reservation = owner.reservation;
    Status st = Write(a, /*create=*/false);
    if (st.code() == Code::kConflict || st.code() == Code::kNotFound) continue;
    return st;
  }
  return Conflict("address " + address + " is contended; try again");
}

StatusOr<std::string> Ipam::ClaimAny(const std::string& ns, const std::string& pool_name,
                                     const Allocation& owner) {
  KUMO_ASSIGN_OR_RETURN(std::vector<Pool> pools, PoolsFor(ns, pool_name));
  if (pools.empty()) return Status(Code::kUnavailable, "tenant " + ns + " may use no IP pool");
  for (const auto& p : pools) {
    uint64_t size = p.prefix == 32 ? 1 : (1ull << (32 - p.prefix));
    uint32_t first = p.network, last = static_cast<uint32_t>(p.network + size - 1);
    if (p.prefix <= 30) {
      ++first;  // skip the network and broadcast addresses
      --last;
    }
    std::set<std::string> used;
    for (const auto& o : cache_.List(Allocs().KeyPrefix(), "", 0, [&](const store::CachedObject& c) {
           return c.Field("spec.pool") == p.name;
         }).items) {
      used.insert(o->Field("metadata.name"));
    }
    for (uint64_t ip = first; ip <= last; ++ip) {
      std::string addr = FormatIpv4(static_cast<uint32_t>(ip));
      if (used.count(addr)) continue;
      Allocation a = owner;
      a.address = addr;
      a.pool = p.name;
      Status st = Write(a, /*create=*/true);
      if (st.ok()) return addr;
      if (st.code() != Code::kAlreadyExists) return st;
    }
  }
  return Status(Code::kUnavailable, "no free address left in the IP pools of tenant " + ns +
                                        (pool_name.empty() ? "" : " (pool " + pool_name + ")"));
}

StatusOr<std::optional<std::string>> Ipam::AddressForVm(const std::string& ns, const std::string& vm,
                                                        const std::string& fixed_address,
                                                        const std::string& reservation) {
  Allocation owner{"", "", ns, vm, ""};
  if (!fixed_address.empty()) {
    // A reservation may hold the fixed address: the VM then uses it through the reservation.
    auto cur = Get(fixed_address);
    if (cur && cur->ns == ns && !cur->reservation.empty() && (cur->vm.empty() || cur->vm == vm)) {
      owner.reservation = cur->reservation;
    }
    // A VM that names a reservation takes its fixed address from it, or not at all: otherwise
    // it would hold an address that no quota counts.
    if (!reservation.empty() && owner.reservation != reservation) {
      return Status(Code::kInvalid, "address " + fixed_address + " is not held by IP reservation \"" +
                                        reservation + "\" in " + ns);
    }
    KUMO_RETURN_IF_ERROR(Claim(fixed_address, owner));
    return std::optional<std::string>(fixed_address);
  }
  if (!reservation.empty()) {
    auto held = ByReservation(ns, reservation);
    for (const auto& a : held) {
      if (a.vm == vm) return std::optional<std::string>(a.address);
    }
    if (!store_.Get(Reservations().Key(ns, reservation)).ok()) {
      return NotFound("IP reservation \"" + reservation + "\" not found in " + ns);
    }
    for (const auto& a : held) {
      if (!a.vm.empty()) continue;
      Allocation mine = a;
      mine.vm = vm;
      if (Claim(a.address, mine).ok()) return std::optional<std::string>(a.address);
    }
    return Conflict("IP reservation \"" + reservation + "\" has no free address: all " +
                    std::to_string(held.size()) + " are in use");
  }
  for (const auto& a : ByVm(ns, vm)) return std::optional<std::string>(a.address);
  auto pools = PoolsFor(ns, "");
  if (!pools.ok() || pools->empty()) return std::optional<std::string>();
  KUMO_ASSIGN_OR_RETURN(std::string addr, ClaimAny(ns, "", owner));
  return std::optional<std::string>(addr);
}

Status Ipam::ReleaseVm(const std::string& ns, const std::string& vm) {
  for (auto a : ByVm(ns, vm)) {
    if (a.reservation.empty()) {
      auto del = store_.Delete(Allocs().Key("", a.address), 0);
      if (!del.ok() && del.status().code() != Code::kNotFound) return del.status();
    } else {
      a.vm.clear();
      KUMO_RETURN_IF_ERROR(Write(a, false));
    }
  }
  return Status::Ok();
}

Status Ipam::ReleaseReservation(const std::string& ns, const std::string& reservation) {
  for (auto a : ByReservation(ns, reservation)) {
    if (a.vm.empty()) {
      auto del = store_.Delete(Allocs().Key("", a.address), 0);
      if (!del.ok() && del.status().code() != Code::kNotFound) return del.status();
    } else {
      a.reservation.clear();
      KUMO_RETURN_IF_ERROR(Write(a, false));
    }
  }
  return Status::Ok();
}

}  // namespace kumo::controller
