#include "api/vm_size.h"

#include <cmath>

#include "api/quantity.h"

namespace kumo::api {

namespace {

constexpr int64_t kMiB = int64_t{1} << 20;

// The integer at `key` of `obj` in [1, kMaxVcpus]; 1 when absent.
std::optional<int64_t> CpuCount(const json::value& cpu, std::string_view key,
                                const std::string& field, FieldErrors& errs) {
  const json::value* v = Find(cpu, {key});
  if (!v || v->is_null()) return 1;
  if (v->is_uint64() && v->get_uint64() > static_cast<uint64_t>(kMaxVcpus)) {
    errs.InvalidValue(field, json::serialize(*v),
                      "must be at most " + std::to_string(kMaxVcpus));
    return std::nullopt;
  }
  if (!v->is_int64() && !v->is_uint64()) {
    errs.TypeInvalid(field, "must be an integer");
    return std::nullopt;
  }
  int64_t n = v->to_number<int64_t>();
  if (n < 1) {
    errs.InvalidValue(field, json::serialize(*v), "must be greater than or equal to 1");
    return std::nullopt;
  }
  if (n > kMaxVcpus) {
    errs.InvalidValue(field, json::serialize(*v), "must be at most " + std::to_string(kMaxVcpus));
    return std::nullopt;
  }
  return n;
}

// A quantity (JSON number or string) as a finite positive double no larger than `max`;
// nullopt and an error otherwise. Absent: -1.
std::optional<double> QuantityIn(const json::value* v, double max, const std::string& field,
                                 FieldErrors& errs) {
  if (!v || v->is_null()) return -1.0;
  std::string text;
  double value = 0;
  if (v->is_string()) {
    text = std::string(v->get_string());
    StatusOr<double> q = ParseQuantity(text);
    if (!q.ok()) {
      errs.InvalidValue(field, text, q.status().message());
      return std::nullopt;
    }
    value = *q;
  } else if (v->is_number()) {
    text = json::serialize(*v);
    value = v->to_number<double>();
  } else {
    errs.TypeInvalid(field, "must be a quantity such as \"1Gi\" or \"500m\"");
    return std::nullopt;
  }
  if (!std::isfinite(value) || value <= 0) {
    errs.InvalidValue(field, text, "must be greater than zero");
    return std::nullopt;
  }
  if (value > max) {
    errs.InvalidValue(field, text, "is too large");
    return std::nullopt;
  }
  return value;
}

}  // namespace

int64_t MemoryOverhead(int64_t guest_bytes, int64_t vcpus) {
  return guest_bytes / 512 + (int64_t{96} << 20) + vcpus * (int64_t{8} << 20);
}

std::optional<VmSize> ComputeVmSize(const json::value& spec, const std::string& prefix,
                                    FieldErrors& errs) {
  const json::value* domain = Find(spec, {"domain"});
  const std::string dp = prefix + ".domain";
  if (!domain || !domain->is_object()) {
    errs.Required(dp);
    return std::nullopt;
  }
  VmSize size;
  bool ok = true;
  const json::value* cpu = Find(*domain, {"cpu"});
  if (cpu && !cpu->is_null()) {
    if (!cpu->is_object()) {
      errs.TypeInvalid(dp + ".cpu", "must be an object");
      ok = false;
    } else {
      int64_t product = 1;
      for (auto key : {"sockets", "cores", "threads"}) {
        std::optional<int64_t> n = CpuCount(*cpu, key, dp + ".cpu." + key, errs);
        if (!n) {
          ok = false;
          continue;
        }
        // Each factor is at most kMaxVcpus, so the product of three fits in int64_t; it is
        // bounded after every step all the same.
        if (__builtin_mul_overflow(product, *n, &product) || product > kMaxVcpus) {
          product = kMaxVcpus + 1;
        }
      }
      if (ok && product > kMaxVcpus) {
        errs.InvalidValue(dp + ".cpu", std::to_string(product) + "+",
                          "sockets x cores x threads must be at most " +
                              std::to_string(kMaxVcpus) + " vCPUs");
        ok = false;
      }
      size.vcpus = product;
    }
  } else {
    for (auto kind : {"limits", "requests"}) {
      std::optional<double> c =
          QuantityIn(Find(*domain, {"resources", kind, "cpu"}), static_cast<double>(kMaxVcpus),
                     dp + ".resources." + kind + ".cpu", errs);
      if (!c) {
        ok = false;
        break;
      }
      if (*c > 0) {
        size.vcpus = static_cast<int64_t>(std::ceil(*c));
        break;
      }
    }
  }
  std::optional<double> request_cpu =
      QuantityIn(Find(*domain, {"resources", "requests", "cpu"}), static_cast<double>(kMaxVcpus),
                 dp + ".resources.requests.cpu", errs);
  if (!request_cpu) ok = false;
  else if (*request_cpu > 0) size.cpu_request_millis = static_cast<int64_t>(std::ceil(*request_cpu * 1000));

  double guest = -1;
  for (auto path : {std::pair{"memory", "guest"}, std::pair{"resources", "requests"},
                    std::pair{"resources", "limits"}}) {
    const bool direct = std::string_view(path.first) == "memory";
    const json::value* v = direct ? Find(*domain, {"memory", "guest"})
                                  : Find(*domain, {"resources", path.second, "memory"});
    std::string field = direct ? dp + ".memory.guest"
                               : dp + ".resources." + path.second + ".memory";
    std::optional<double> q = QuantityIn(v, static_cast<double>(kMaxGuestMemory), field, errs);
    if (!q) {
      ok = false;
      break;
    }
    if (*q > 0) {
      guest = *q;
      break;
    }
  }
  if (ok && guest < 0) {
    errs.Required(dp + ".memory.guest",
                  "set domain.memory.guest, domain.resources.requests.memory or an instancetype");
    ok = false;
  }
  if (!ok) return std::nullopt;
  // Whole MiB, rounded up, as QEMU's -m takes them; never below what boots.
  int64_t bytes = static_cast<int64_t>(std::ceil(guest));
  bytes = (bytes + kMiB - 1) / kMiB * kMiB;
  size.guest_memory = std::max(bytes, kMinGuestMemory);
  size.overhead = MemoryOverhead(size.guest_memory, size.vcpus);
  return size;
}

StatusOr<VmSize> VmSizeOf(const json::value& spec, std::string_view kind, std::string_view name,
                          const std::string& prefix) {
  FieldErrors errs;
  std::optional<VmSize> size = ComputeVmSize(spec, prefix, errs);
  if (!size) return errs.ToStatus(kind, name);
  return *size;
}

void ApplyInstancetype(json::value& spec, const json::value& instancetype) {
  if (!spec.is_object()) spec = json::object();
  json::object& domain = EnsureObject(spec, {"domain"});
  if (const json::value* cpus = Find(instancetype, {"spec", "cpu", "guest"})) {
    domain["cpu"] = json::object{{"sockets", *cpus}, {"cores", 1}, {"threads", 1}};
  }
  if (const json::value* mem = Find(instancetype, {"spec", "memory", "guest"})) {
    EnsureObject(spec, {"domain", "memory"})["guest"] = *mem;
  }
}

}  // namespace kumo::api
