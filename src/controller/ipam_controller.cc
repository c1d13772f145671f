#include "controller/ipam_controller.h"

#include <algorithm>

#include "api/object.h"
#include "api/resource.h"
#include "common/ipv4.h"
#include "common/log.h"

namespace kumo::controller {

namespace {

const api::ResourceInfo& Res(const char* plural) {
  return *api::DefaultRegistry().Find("kumo.io", "v1alpha1", plural);
}

// Writes `status` into the object at `key` when it differs.
Status WriteStatus(store::Store& store, const std::string& key, const json::object& status) {
  auto res = store::GuaranteedUpdate(store, key, [&](const store::KeyValue& cur) -> StatusOr<std::string> {
    KUMO_ASSIGN_OR_RETURN(json::value obj, ParseJson(cur.value));
    const json::value* old = Find(obj, {"status"});
    if (old && *old == json::value(status)) return Status(Code::kAlreadyExists, "unchanged");
    obj.get_object()["status"] = status;
    return api::SerializeForStore(obj);
  });
  if (res.ok() || res.status().code() == Code::kAlreadyExists || res.status().code() == Code::kNotFound) {
    return Status::Ok();
  }
  return res.status();
}

}  // namespace

IpamController::IpamController(store::Store& store, store::WatchCache& cache, EventRecorder& events,
                               const Clock& clock)
    : store_(store), cache_(cache), events_(events), clock_(clock), ipam_(store, cache) {
  const std::string res_prefix = Res("ipreservations").KeyPrefix();
  const std::string pool_prefix = Res("ippools").KeyPrefix();
  const std::string alloc_prefix = Res("ipallocations").KeyPrefix();
  reservations_ = std::make_unique<Controller>(
      "ipreservation-controller", cache_,
      std::vector<Controller::Watch>{
          {res_prefix, [](const store::CachedObject& o) { return std::vector<std::string>{o.key}; }},
          {alloc_prefix,
           [res_prefix](const store::CachedObject& o) {
             auto v = ParseJson(o.json);
             if (!v.ok()) return std::vector<std::string>{};
             std::string r = GetString(*v, {"spec", "reservation"});
             if (r.empty()) return std::vector<std::string>{};
             return std::vector<std::string>{res_prefix + GetString(*v, {"spec", "namespace"}) + "/" + r};
           }}},
      [this](const std::string& key) { return ReconcileReservation(key); }, 1);
  pools_ = std::make_unique<Controller>(
      "ippool-controller", cache_,
      std::vector<Controller::Watch>{
          {pool_prefix, [](const store::CachedObject& o) { return std::vector<std::string>{o.key}; }},
          {alloc_prefix,
           [pool_prefix](const store::CachedObject& o) {
             auto v = ParseJson(o.json);
             if (!v.ok()) return std::vector<std::string>{};
             return std::vector<std::string>{pool_prefix + GetString(*v, {"spec", "pool"})};
           }}},
      [this](const std::string& key) { return ReconcilePool(key); }, 1);
}

IpamController::~IpamController() { Stop(); }

void IpamController::Start() {
  reservations_->Start();
  pools_->Start();
}

void IpamController::Stop() {
  reservations_->Stop();
  pools_->Stop();
}

StatusOr<Result> IpamController::ReconcileReservation(const std::string& key) {
  std::string rest = key.substr(Res("ipreservations").KeyPrefix().size());
  size_t slash = rest.find('/');
  std::string ns = rest.substr(0, slash), name = rest.substr(slash + 1);
  auto kv = store_.Get(key);
  if (!kv.ok()) {
    if (kv.status().code() != Code::kNotFound) return kv.status();
    KUMO_RETURN_IF_ERROR(ipam_.ReleaseReservation(ns, name));
    return Result{};
  }
  KUMO_ASSIGN_OR_RETURN(json::value res, api::ParseStored(kv->value, kv->mod_revision));
  Allocation owner{"", "", ns, "", name};
  std::string problem;
  if (const json::value* addrs = Find(res, {"spec", "addresses"}); addrs && addrs->is_array()) {
    for (const auto& a : addrs->get_array()) {
      if (!a.is_string()) continue;
      Status st = ipam_.Claim(std::string(a.get_string()), owner);
      if (!st.ok() && problem.empty()) problem = st.message();
    }
  } else if (const json::value* count = Find(res, {"spec", "count"}); count && count->is_int64()) {
    std::string pool = GetString(res, {"spec", "pool"});
    int64_t have = static_cast<int64_t>(ipam_.ByReservation(ns, name).size());
    for (; have < count->get_int64(); ++have) {
      auto addr = ipam_.ClaimAny(ns, pool, owner);
      if (!addr.ok()) {
        problem = addr.status().message();
        break;
      }
    }
  }
  std::vector<Allocation> held = ipam_.ByReservation(ns, name);
  std::sort(held.begin(), held.end(), [](const Allocation& a, const Allocation& b) {
    auto x = ParseIpv4(a.address), y = ParseIpv4(b.address);
    return (x.ok() ? *x : 0) < (y.ok() ? *y : 0);
  });
  json::array addresses;
  for (const auto& a : held) addresses.push_back(json::object{{"address", a.address}, {"vm", a.vm}});
  json::object status{{"addresses", std::move(addresses)},
                      {"phase", problem.empty() ? "Ready" : "Failed"}};
  if (!held.empty()) status["pool"] = held.front().pool;
  if (!problem.empty()) {
    status["message"] = problem;
    events_.Record(res, "Warning", "ReservationFailed", problem);
  }
  KUMO_RETURN_IF_ERROR(WriteStatus(store_, key, status));
  return problem.empty() ? Result{} : Result{std::chrono::seconds(10)};
}

StatusOr<Result> IpamController::ReconcilePool(const std::string& key) {
  std::string name = key.substr(Res("ippools").KeyPrefix().size());
  for (const auto& p : ipam_.Pools()) {
    if (p.name != name) continue;
    int64_t size = p.prefix == 32 ? 1 : (int64_t{1} << (32 - p.prefix));
    if (p.prefix <= 30) size -= 2;
    int64_t allocated = ipam_.CountInPool(name);
    KUMO_RETURN_IF_ERROR(WriteStatus(store_, key, json::object{{"allocated", allocated},
                                                               {"free", std::max<int64_t>(0, size - allocated)}}));
  }
  return Result{};
}

}  // namespace kumo::controller
