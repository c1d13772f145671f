#include "server/quota.h"

#include <cmath>
#include <vector>

#include "api/quantity.h"
#include "scheduler/placement.h"

namespace kumo::server {

namespace {

constexpr char kReservationAnnotation[] = "kumo.io/ip-reservation";

// A quantity at `path` in base units; -1 when absent, Invalid when malformed.
StatusOr<double> QuantityAt(const json::value& v, std::initializer_list<std::string_view> path) {
  const json::value* f = Find(v, path);
  if (!f || f->is_null()) return -1.0;
  if (f->is_number()) return f->to_number<double>();
  if (f->is_string()) return api::ParseQuantity(f->get_string());
  return Status(Code::kInvalid, "not a quantity");
}

bool HasReservation(const json::value& obj, const json::value* tmpl) {
  if (!GetString(obj, {"metadata", "annotations", kReservationAnnotation}).empty()) return true;
  return tmpl && !GetString(*tmpl, {"metadata", "annotations", kReservationAnnotation}).empty();
}

// vCPUs and guest memory of a VMI spec: domain.cpu sockets*cores*threads (else the CPU request
// rounded up, else 1) and domain.memory.guest (else the memory request or limit).
StatusOr<std::pair<int64_t, int64_t>> SizeOfSpec(const json::value* spec, const std::string& what) {
  const json::value* domain = spec ? Find(*spec, {"domain"}) : nullptr;
  if (!domain)
    return Status(Code::kInvalid, what + " has no spec.domain to count against the quota");
  int64_t vcpus = 1;
  if (Find(*domain, {"cpu"})) {
    vcpus = GetInt(*domain, {"cpu", "sockets"}, 1) * GetInt(*domain, {"cpu", "cores"}, 1) *
            GetInt(*domain, {"cpu", "threads"}, 1);
  } else {
    KUMO_ASSIGN_OR_RETURN(double cpu, QuantityAt(*domain, {"resources", "requests", "cpu"}));
    if (cpu > 0) vcpus = static_cast<int64_t>(std::ceil(cpu));
  }
  double guest = -1;
  for (auto path : std::vector<std::vector<std::string_view>>{{"memory", "guest"},
                                                              {"resources", "requests", "memory"},
                                                              {"resources", "limits", "memory"}}) {
    const json::value* f = domain;
    for (auto p : path) f = f ? Find(*f, {p}) : nullptr;
    if (!f) continue;
    StatusOr<double> q = f->is_string() ? api::ParseQuantity(f->get_string())
                         : f->is_number()
                             ? StatusOr<double>(f->to_number<double>())
                             : StatusOr<double>(Status(Code::kInvalid, "not a quantity"));
    if (!q.ok()) return Status(Code::kInvalid, what + " has a malformed memory size");
    guest = *q;
    break;
  }
  if (guest < 0) return Status(Code::kInvalid, what + " sets no memory to count against the quota");
  return std::make_pair(vcpus, static_cast<int64_t>(guest));
}

Amounts ClaimOf(int64_t vcpus, int64_t guest, bool reserved_address) {
  Amounts a;
  a.vcpus = vcpus;
  a.memory = guest + scheduler::MemoryOverhead(guest, static_cast<int>(vcpus));
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
                                {"reservations", &Amounts::reservations}};

std::string Format(const Named& r, int64_t v) {
  return std::string(r.name) + "=" +
         (r.field == &Amounts::memory ? FormatMemory(v) : std::to_string(v));
}

}  // namespace

Amounts& Amounts::operator+=(const Amounts& o) {
  for (const auto& r : kResources) this->*r.field += o.*r.field;
  return *this;
}

Amounts& Amounts::operator-=(const Amounts& o) {
  for (const auto& r : kResources) this->*r.field -= o.*r.field;
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
    if (r.field == &Amounts::memory) {
      StatusOr<double> bytes = v->is_string()   ? api::ParseQuantity(v->get_string())
                               : v->is_number() ? StatusOr<double>(v->to_number<double>())
                                                : StatusOr<double>(BadRequest("not a quantity"));
      if (bytes.ok() && *bytes >= 0) q.limits.memory = static_cast<int64_t>(*bytes);
    } else if ((v->is_int64() || v->is_uint64()) && v->to_number<int64_t>() >= 0) {
      q.limits.*r.field = v->to_number<int64_t>();
    }
  }
  return q;
}

StatusOr<Amounts> ClaimOfVm(const json::value& vm, const FlavorLookup& flavors) {
  const json::value* tmpl = Find(vm, {"spec", "template"});
  std::string what = "VirtualMachine \"" + GetString(vm, {"metadata", "name"}) + "\"";
  std::string flavor = GetString(vm, {"spec", "instancetype", "name"});
  int64_t vcpus = 0, guest = 0;
  if (!flavor.empty()) {
    StatusOr<std::pair<int64_t, int64_t>> size =
        flavors ? flavors(flavor) : StatusOr<std::pair<int64_t, int64_t>>(NotFound(""));
    if (!size.ok()) {
      return Status(Code::kInvalid,
                    what + " names instancetype \"" + flavor +
                        "\", which does not exist; list flavors with `kubectl get vmcis`");
    }
    std::tie(vcpus, guest) = *size;
  } else {
    KUMO_ASSIGN_OR_RETURN(auto size, SizeOfSpec(tmpl ? Find(*tmpl, {"spec"}) : nullptr, what));
    std::tie(vcpus, guest) = size;
  }
  return ClaimOf(vcpus, guest, HasReservation(vm, tmpl));
}

StatusOr<Amounts> ClaimOfVmi(const json::value& vmi) {
  std::string what = "VirtualMachineInstance \"" + GetString(vmi, {"metadata", "name"}) + "\"";
  KUMO_ASSIGN_OR_RETURN(auto size, SizeOfSpec(Find(vmi, {"spec"}), what));
  return ClaimOf(size.first, size.second, HasReservation(vmi, nullptr));
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
                      {"reservations", a.reservations}};
}

}  // namespace kumo::server
