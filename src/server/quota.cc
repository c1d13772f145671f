#include "server/quota.h"

#include <cmath>
#include <vector>

#include "api/kubevirt.h"
#include "api/quantity.h"
#include "api/storage.h"
#include "api/vm_size.h"

namespace kumo::server {

namespace {

Amounts ClaimOf(const api::VmSize& size, bool reserved_address) {
  Amounts a;
  a.vcpus = size.vcpus;
  a.memory = size.HostMemory();
  a.vms = 1;
  a.ips = reserved_address ? 0 : 1;
  return a;
}

struct Named {
  const char* name;
  int64_t Amounts::*field;
};
constexpr Named kResources[] = {{"vcpus", &Amounts::vcpus},
                                {"memory", &Amounts::memory},
                                {"vms", &Amounts::vms},
                                {"ips", &Amounts::ips},
                                {"reservations", &Amounts::reservations},
                                {"volumes", &Amounts::volumes},
                                {"storage", &Amounts::storage}};

bool IsBytes(int64_t Amounts::*field) {
  return field == &Amounts::memory || field == &Amounts::storage;
}

// The storage that a DataVolume (or a VM's DataVolume template) asks for.
StatusOr<int64_t> DataVolumeStorage(const json::value& dv) {
  const json::value* storage = Find(dv, {"spec", "storage"});
  if (!storage) storage = Find(dv, {"spec", "pvc"});
  if (!storage) return Status(Code::kInvalid, "the DataVolume has no spec.storage");
  return api::RequestedStorage(*storage);
}

bool OwnedBy(const json::value& obj, std::string_view kind) {
  const json::value* refs = Find(obj, {"metadata", "ownerReferences"});
  if (!refs || !refs->is_array()) return false;
  for (const auto& r : refs->get_array()) {
    if (GetString(r, {"kind"}) == kind) return true;
  }
  return false;
}

std::string Format(const Named& r, int64_t v) {
  return std::string(r.name) + "=" +
         (IsBytes(r.field) ? FormatMemory(v) : std::to_string(v));
}

}  // namespace

// Sums saturate: a tenant without a limit may hold more than int64_t counts, and overflow is
// undefined behaviour.
Amounts& Amounts::operator+=(const Amounts& o) {
  for (const auto& r : kResources) {
    int64_t& v = this->*r.field;
    if (__builtin_add_overflow(v, o.*r.field, &v)) {
      v = o.*r.field > 0 ? INT64_MAX : INT64_MIN;
    }
  }
  return *this;
}

Amounts& Amounts::operator-=(const Amounts& o) {
  for (const auto& r : kResources) {
    int64_t& v = this->*r.field;
    if (__builtin_sub_overflow(v, o.*r.field, &v)) {
      v = o.*r.field < 0 ? INT64_MAX : INT64_MIN;
    }
  }
  return *this;
}

bool Quota::Any() const {
  for (const auto& r : kResources) {
    if (limits.*r.field != kUnlimited) return true;
  }
  return false;
}

Quota ParseQuota(const json::value* quota) {
  Quota q;
  if (!quota || !quota->is_object()) return q;
  for (const auto& r : kResources) {
    const json::value* v = Find(*quota, {r.name});
    if (!v || v->is_null()) continue;
    if (IsBytes(r.field)) {
      StatusOr<double> bytes = v->is_string()   ? api::ParseQuantity(v->get_string())
                               : v->is_number() ? StatusOr<double>(v->to_number<double>())
                                                : StatusOr<double>(BadRequest("not a quantity"));
      // Limits past 8 EiB are as good as none.
      if (bytes.ok() && *bytes >= 0) {
        q.limits.*r.field = *bytes < 9.2e18 ? static_cast<int64_t>(*bytes) : kUnlimited;
      }
    } else if ((v->is_int64() || v->is_uint64()) && v->to_number<int64_t>() >= 0) {
      q.limits.*r.field = v->to_number<int64_t>();
    }
  }
  return q;
}

StatusOr<Amounts> ClaimOfVm(const json::value& vm, const FlavorLookup& flavors) {
  const json::value* tmpl = Find(vm, {"spec", "template"});
  const std::string name = GetString(vm, {"metadata", "name"});
  json::value spec = tmpl && Find(*tmpl, {"spec"}) ? *Find(*tmpl, {"spec"}) : json::value();
  std::string flavor = GetString(vm, {"spec", "instancetype", "name"});
  if (!flavor.empty()) {
    StatusOr<json::value> it = flavors ? flavors(flavor) : StatusOr<json::value>(NotFound(""));
    if (!it.ok()) {
      return Status(Code::kInvalid,
                    "VirtualMachine \"" + name + "\" names instancetype \"" + flavor +
                        "\", which does not exist; list flavors with `kubectl get vmcis`");
    }
    api::ApplyInstancetype(spec, *it);
  }
  KUMO_ASSIGN_OR_RETURN(api::VmSize size,
                        api::VmSizeOf(spec, "VirtualMachine", name, "spec.template.spec"));
  Amounts claim = ClaimOf(size, !api::VmReservation(vm).empty());
  // The VM's own DataVolumes count with it.
  if (const json::value* ts = Find(vm, {"spec", "dataVolumeTemplates"}); ts && ts->is_array()) {
    for (const auto& t : ts->get_array()) {
      StatusOr<int64_t> bytes = DataVolumeStorage(t);
      if (!bytes.ok()) {
        return Status(Code::kInvalid, "VirtualMachine \"" + name + "\": dataVolumeTemplates " +
                                          GetString(t, {"metadata", "name"}) + ": " +
                                          bytes.status().message());
      }
      Amounts v;
      v.volumes = 1;
      v.storage = *bytes;
      claim += v;
    }
  }
  return claim;
}

StatusOr<Amounts> ClaimOfVolume(const json::value& obj) {
  Amounts a;
  const bool dv = GetString(obj, {"kind"}) == "DataVolume";
  if (OwnedBy(obj, dv ? "VirtualMachine" : "DataVolume")) return a;
  StatusOr<int64_t> bytes = dv ? DataVolumeStorage(obj)
                               : api::RequestedStorage(Find(obj, {"spec"}) ? *Find(obj, {"spec"})
                                                                           : json::value());
  if (!bytes.ok()) return bytes.status();
  a.volumes = 1;
  a.storage = *bytes;
  return a;
}

StatusOr<Amounts> ClaimOfVmi(const json::value& vmi) {
  const json::value* spec = Find(vmi, {"spec"});
  KUMO_ASSIGN_OR_RETURN(api::VmSize size,
                        api::VmSizeOf(spec ? *spec : json::value(), "VirtualMachineInstance",
                                      GetString(vmi, {"metadata", "name"})));
  return ClaimOf(size, !api::VmReservation(vmi).empty());
}

Amounts ClaimOfReservation(const json::value& reservation) {
  Amounts a;
  a.reservations = 1;
  if (const json::value* addrs = Find(reservation, {"spec", "addresses"});
      addrs && addrs->is_array()) {
    a.ips = static_cast<int64_t>(addrs->get_array().size());
  } else {
    a.ips = GetInt(reservation, {"spec", "count"}, 0);
  }
  return a;
}

Amounts ClaimOfSnapshot(const json::value* source_claim) {
  Amounts a;
  const json::value* spec = source_claim ? Find(*source_claim, {"spec"}) : nullptr;
  StatusOr<int64_t> bytes = spec ? api::RequestedStorage(*spec) : StatusOr<int64_t>(int64_t{0});
  a.storage = bytes.ok() ? *bytes : 0;
  return a;
}

Status CheckQuota(const std::string& quota_name, const Quota& quota, const Amounts& used,
                  const Amounts& old_claim, const Amounts& new_claim) {
  std::string requested, used_text, limited;
  for (const auto& r : kResources) {
    int64_t limit = quota.limits.*r.field;
    if (limit == kUnlimited) continue;
    int64_t delta = new_claim.*r.field - old_claim.*r.field;
    if (delta <= 0) continue;
    int64_t cur = used.*r.field - old_claim.*r.field;
    if (cur + new_claim.*r.field <= limit) continue;
    auto join = [](std::string& s, const std::string& item) { s += (s.empty() ? "" : ",") + item; };
    join(requested, Format(r, delta));
    join(used_text, Format(r, used.*r.field));
    join(limited, Format(r, limit));
  }
  if (requested.empty()) return Status::Ok();
  return Forbidden("exceeded quota: " + quota_name + ", requested: " + requested +
                   ", used: " + used_text + ", limited: " + limited);
}

std::string FormatMemory(int64_t bytes) {
  constexpr int64_t kKi = 1LL << 10, kMi = 1LL << 20, kGi = 1LL << 30;
  if (bytes != 0 && bytes % kGi == 0) return std::to_string(bytes / kGi) + "Gi";
  if (bytes != 0 && bytes % kMi == 0) return std::to_string(bytes / kMi) + "Mi";
  if (bytes != 0 && bytes % kKi == 0) return std::to_string(bytes / kKi) + "Ki";
  return std::to_string(bytes);
}

json::object AmountsToJson(const Amounts& a) {
  return json::object{{"vcpus", a.vcpus},
                      {"memory", FormatMemory(a.memory)},
                      {"vms", a.vms},
                      {"ips", a.ips},
                      {"reservations", a.reservations},
                      {"volumes", a.volumes},
                      {"storage", FormatMemory(a.storage)}};
}

}  // namespace kumo::server
