#include "api/validation.h"
#include "api/validation_util.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <set>

#include "api/quantity.h"
#include "api/vm_size.h"
#include "common/ipv4.h"

namespace kumo::api {

namespace {
bool IsAlnum(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); }
}  // namespace

std::string CheckDnsLabel(std::string_view name) {
  if (name.empty()) return "must not be empty";
  if (name.size() > 63) return "must be no more than 63 characters";
  for (char c : name) {
    if (!IsAlnum(c) && c != '-') {
      return "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or "
             "'-', and must start and end with an alphanumeric character (e.g. 'my-name',  or "
             "'123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')";
    }
  }
  if (!IsAlnum(name.front()) || !IsAlnum(name.back())) {
    return "a lowercase RFC 1123 label must start and end with an alphanumeric character";
  }
  return "";
}

std::string CheckDnsSubdomain(std::string_view name) {
  if (name.empty()) return "must not be empty";
  if (name.size() > 253) return "must be no more than 253 characters";
  size_t start = 0;
  while (true) {
    size_t dot = name.find('.', start);
    std::string_view label = name.substr(start, dot == std::string_view::npos ? dot : dot - start);
    if (label.empty() || !IsAlnum(label.front()) || !IsAlnum(label.back()) ||
        label.find_first_not_of("abcdefghijklmnopqrstuvwxyz0123456789-") != std::string_view::npos) {
      return "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, "
             "'-' or '.', and must start and end with an alphanumeric character (e.g. "
             "'example.com', regex used for validation is "
             "'[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')";
    }
    if (dot == std::string_view::npos) break;
    start = dot + 1;
  }
  return "";
}

void FieldErrors::Required(std::string field, std::string detail) {
  causes_.push_back({"FieldValueRequired",
                     "Required value" + (detail.empty() ? "" : ": " + detail), std::move(field)});
}

void FieldErrors::InvalidValue(std::string field, const std::string& value, std::string detail) {
  causes_.push_back({"FieldValueInvalid", "Invalid value: \"" + value + "\": " + detail,
                     std::move(field)});
}

void FieldErrors::NotSupported(std::string field, const std::string& value,
                               const std::vector<std::string>& supported) {
  std::string msg = "Unsupported value: \"" + value + "\": supported values: ";
  for (size_t i = 0; i < supported.size(); ++i) {
    if (i) msg += ", ";
    msg += "\"" + supported[i] + "\"";
  }
  causes_.push_back({"FieldValueNotSupported", msg, std::move(field)});
}

void FieldErrors::TypeInvalid(std::string field, std::string detail) {
  causes_.push_back({"FieldValueTypeInvalid", "Invalid value: " + detail, std::move(field)});
}

void FieldErrors::Duplicate(std::string field, const std::string& value) {
  causes_.push_back({"FieldValueDuplicate", "Duplicate value: \"" + value + "\"", std::move(field)});
}

Status FieldErrors::ToStatus(std::string_view kind, std::string_view name) const {
  if (causes_.empty()) return Status::Ok();
  std::string msg = std::string(kind) + " \"" + std::string(name) + "\" is invalid: ";
  if (causes_.size() > 1) msg += "[";
  for (size_t i = 0; i < causes_.size(); ++i) {
    if (i) msg += ", ";
    msg += causes_[i].field + ": " + causes_[i].message;
  }
  if (causes_.size() > 1) msg += "]";
  return Invalid(msg, causes_);
}

namespace {

void CheckStringMap(const json::value& meta, std::string_view key, FieldErrors& errs) {
  const json::value* m = Find(meta, {key});
  if (!m || m->is_null()) return;
  std::string field = "metadata." + std::string(key);
  if (!m->is_object()) {
    errs.TypeInvalid(field, "must be a map of string keys to string values");
    return;
  }
  for (const auto& kv : m->get_object()) {
    if (!kv.value().is_string()) {
      errs.TypeInvalid(field + "[" + std::string(kv.key()) + "]", "values must be strings");
    }
    if (kv.key().empty()) errs.Required(field, "keys must not be empty");
  }
}

}  // namespace

void CheckMetadata(const json::value& obj, bool label_name, FieldErrors& errs) {
  const json::value* meta = Find(obj, {"metadata"});
  if (!meta || !meta->is_object()) {
    errs.Required("metadata");
    return;
  }
  std::string name = GetString(obj, {"metadata", "name"});
  if (name.empty()) {
    errs.Required("metadata.name", "name or generateName is required");
  } else {
    std::string why = label_name ? CheckDnsLabel(name) : CheckDnsSubdomain(name);
    if (!why.empty()) errs.InvalidValue("metadata.name", name, why);
  }
  CheckStringMap(*meta, "labels", errs);
  CheckStringMap(*meta, "annotations", errs);
}

std::string KindOf(const json::value& obj) {
  std::string kind = GetString(obj, {"kind"});
  std::string api = GetString(obj, {"apiVersion"});
  size_t slash = api.find('/');
  if (slash != std::string::npos) kind += "." + api.substr(0, slash);
  return kind;
}

namespace {

// A quantity at `path` under `base` (if present) must parse and be positive.
void CheckQuantity(const json::value& base, std::initializer_list<std::string_view> path,
                   const std::string& field, FieldErrors& errs) {
  const json::value* q = Find(base, path);
  if (!q) return;
  std::string text;
  if (q->is_string()) text = std::string(q->get_string());
  else if (q->is_number()) text = json::serialize(*q);
  else {
    errs.TypeInvalid(field, "must be a quantity such as \"1Gi\" or \"500m\"");
    return;
  }
  auto v = ParseQuantity(text);
  if (!v.ok()) {
    errs.InvalidValue(field, text, v.status().message());
  } else if (*v <= 0) {
    errs.InvalidValue(field, text, "must be greater than zero");
  }
}

// Checks a VMI spec (also a VM's spec.template.spec) rooted at `prefix`.
void CheckVmiSpec(const json::value* spec, const std::string& prefix, bool has_instancetype,
                  FieldErrors& errs) {
  if (!spec || !spec->is_object()) {
    errs.Required(prefix);
    return;
  }
  const json::value* domain = Find(*spec, {"domain"});
  if (!domain || !domain->is_object()) {
    errs.Required(prefix + ".domain");
    return;
  }
  // The size, as quota, scheduler and agent will compute it (api/vm_size.h). With an
  // instancetype the flavor decides vCPUs and memory, so only the rest is checked here; quota
  // admission checks the expanded size.
  if (has_instancetype) {
    json::value expanded = *spec;
    ApplyInstancetype(expanded, json::object{{"spec", {{"cpu", {{"guest", 1}}},
                                                       {"memory", {{"guest", "16Mi"}}}}}});
    ComputeVmSize(expanded, prefix, errs);
  } else {
    ComputeVmSize(*spec, prefix, errs);
  }
  const std::string dp = prefix + ".domain";
  for (auto kind : {"requests", "limits"}) {
    CheckQuantity(*domain, {"resources", kind, "memory"}, dp + ".resources." + kind + ".memory",
                  errs);
  }

  // Volumes: unique names.
  std::set<std::string> volumes;
  if (const json::value* vols = Find(*spec, {"volumes"}); vols && vols->is_array()) {
    int i = 0;
    for (const auto& v : vols->get_array()) {
      std::string f = prefix + ".volumes[" + std::to_string(i++) + "].name";
      std::string name = GetString(v, {"name"});
      if (name.empty()) errs.Required(f);
      else if (!volumes.insert(name).second) errs.Duplicate(f, name);
    }
  }
  // Disks: unique names, each with a volume of the same name.
  std::set<std::string> disks;
  if (const json::value* ds = Find(*domain, {"devices", "disks"}); ds && ds->is_array()) {
    int i = 0;
    for (const auto& d : ds->get_array()) {
      std::string f = dp + ".devices.disks[" + std::to_string(i++) + "].name";
      std::string name = GetString(d, {"name"});
      if (name.empty()) {
        errs.Required(f);
      } else if (!disks.insert(name).second) {
        errs.Duplicate(f, name);
      } else if (!volumes.count(name)) {
        errs.InvalidValue(f, name, "disk " + name + " has no matching volume in " + prefix +
                                       ".volumes; add a volume named " + name);
      }
    }
  }
  // Networks: unique names; each interface names one.
  std::set<std::string> networks;
  if (const json::value* ns = Find(*spec, {"networks"}); ns && ns->is_array()) {
    int i = 0;
    for (const auto& n : ns->get_array()) {
      std::string f = prefix + ".networks[" + std::to_string(i++) + "].name";
      std::string name = GetString(n, {"name"});
      if (name.empty()) errs.Required(f);
      else if (!networks.insert(name).second) errs.Duplicate(f, name);
    }
  }
  if (const json::value* ifs = Find(*domain, {"devices", "interfaces"}); ifs && ifs->is_array()) {
    int i = 0;
    for (const auto& itf : ifs->get_array()) {
      std::string f = dp + ".devices.interfaces[" + std::to_string(i++) + "].name";
      std::string name = GetString(itf, {"name"});
      if (name.empty()) {
        errs.Required(f);
      } else if (!networks.count(name)) {
        errs.InvalidValue(f, name, "interface " + name + " has no matching network in " + prefix +
                                       ".networks; add a network named " + name);
      }
    }
  }
}

}  // namespace

Status ValidateGenericObject(const json::value& obj) {
  FieldErrors errs;
  bool label = GetString(obj, {"kind"}) == "Namespace";
  CheckMetadata(obj, label, errs);
  return errs.ToStatus(KindOf(obj), GetString(obj, {"metadata", "name"}));
}

Status ValidateVirtualMachine(const json::value& obj) {
  FieldErrors errs;
  CheckMetadata(obj, /*label_name=*/true, errs);
  const json::value* spec = Find(obj, {"spec"});
  if (!spec || !spec->is_object()) {
    errs.Required("spec");
    return errs.ToStatus(KindOf(obj), GetString(obj, {"metadata", "name"}));
  }
  const json::value* rs = Find(*spec, {"runStrategy"});
  const json::value* running = Find(*spec, {"running"});
  static const std::vector<std::string> kStrategies = {"Always", "RerunOnFailure", "Once",
                                                       "Manual", "Halted"};
  if (rs && !rs->is_null()) {
    std::string v = rs->is_string() ? std::string(rs->get_string()) : json::serialize(*rs);
    if (std::find(kStrategies.begin(), kStrategies.end(), v) == kStrategies.end()) {
      errs.NotSupported("spec.runStrategy", v, kStrategies);
    }
  }
  if (running && !running->is_null()) {
    if (!running->is_bool()) errs.TypeInvalid("spec.running", "must be a boolean");
    if (rs && !rs->is_null()) {
      errs.InvalidValue("spec.running", json::serialize(*running),
                        "running and runStrategy are mutually exclusive; set only runStrategy");
    }
  }
  bool has_instancetype = Find(*spec, {"instancetype", "name"}) != nullptr;
  const json::value* tmpl = Find(*spec, {"template"});
  if (!tmpl || !tmpl->is_object()) {
    errs.Required("spec.template");
  } else {
    CheckVmiSpec(Find(*tmpl, {"spec"}), "spec.template.spec", has_instancetype, errs);
  }
  return errs.ToStatus(KindOf(obj), GetString(obj, {"metadata", "name"}));
}

Status ValidateMigration(const json::value& obj) {
  FieldErrors errs;
  CheckMetadata(obj, /*label_name=*/false, errs);
  const json::value* vmi = Find(obj, {"spec", "vmiName"});
  if (!vmi || (vmi->is_string() && vmi->get_string().empty())) {
    errs.Required("spec.vmiName");
  } else if (!vmi->is_string()) {
    errs.TypeInvalid("spec.vmiName", "must be the name of a VirtualMachineInstance");
  }
  return errs.ToStatus(KindOf(obj), GetString(obj, {"metadata", "name"}));
}

Status ValidateVirtualMachineInstance(const json::value& obj) {
  FieldErrors errs;
  CheckMetadata(obj, /*label_name=*/true, errs);
  CheckVmiSpec(Find(obj, {"spec"}), "spec", /*has_instancetype=*/false, errs);
  return errs.ToStatus(KindOf(obj), GetString(obj, {"metadata", "name"}));
}

Status ValidateInstancetype(const json::value& obj) {
  FieldErrors errs;
  CheckMetadata(obj, /*label_name=*/false, errs);
  const json::value* cpu = Find(obj, {"spec", "cpu", "guest"});
  const json::value* mem = Find(obj, {"spec", "memory", "guest"});
  if (!cpu) errs.Required("spec.cpu.guest", "the number of vCPUs");
  if (!mem) errs.Required("spec.memory.guest", "e.g. 1Gi");
  if (cpu && mem) {
    // The bounds every VM has (api/vm_size.h), reported under the instancetype's fields.
    FieldErrors size_errs;
    json::value spec;
    ApplyInstancetype(spec, obj);
    if (!ComputeVmSize(spec, "spec", size_errs)) {
      for (Cause c : size_errs.causes()) {
        c.field = c.field.starts_with("spec.domain.cpu") ? "spec.cpu.guest" : "spec.memory.guest";
        errs.Add(std::move(c));
      }
    }
  }
  return errs.ToStatus(KindOf(obj), GetString(obj, {"metadata", "name"}));
}

Status ValidateImage(const json::value& obj) {
  FieldErrors errs;
  CheckMetadata(obj, /*label_name=*/false, errs);
  std::string format = GetString(obj, {"spec", "format"});
  static const std::vector<std::string> kFormats = {"qcow2", "raw"};
  if (format.empty()) errs.Required("spec.format", "qcow2 or raw");
  else if (std::find(kFormats.begin(), kFormats.end(), format) == kFormats.end()) {
    errs.NotSupported("spec.format", format, kFormats);
  }
  const json::value* source = Find(obj, {"spec", "source"});
  int kinds = 0;
  if (source && source->is_object()) {
    for (auto k : {"file", "url", "builtin", "upload"}) {
      if (Find(*source, {k})) ++kinds;
    }
    std::string builtin = GetString(*source, {"builtin"});
    if (Find(*source, {"builtin"}) && builtin != "tiny") {
      errs.NotSupported("spec.source.builtin", builtin, {"tiny"});
    }
  }
  if (kinds != 1) {
    errs.Required("spec.source",
                  "exactly one of file (a path on the nodes), url, builtin or upload (bytes "
                  "uploaded to the server, which nodes fetch into their cache)");
  }
  return errs.ToStatus(KindOf(obj), GetString(obj, {"metadata", "name"}));
}

Status ValidateIPPool(const json::value& obj) {
  FieldErrors errs;
  CheckMetadata(obj, /*label_name=*/false, errs);
  std::string cidr = GetString(obj, {"spec", "cidr"});
  size_t slash = cidr.find('/');
  int prefix = -1;
  if (slash != std::string::npos) prefix = std::atoi(cidr.c_str() + slash + 1);
  StatusOr<uint32_t> ip = slash == std::string::npos ? StatusOr<uint32_t>(BadRequest("no prefix"))
                                                     : ParseIpv4(std::string_view(cidr).substr(0, slash));
  if (cidr.empty()) {
    errs.Required("spec.cidr", "an IPv4 CIDR such as 10.10.0.0/24");
  } else if (!ip.ok() ||
             prefix < 8 || prefix > 32 || cidr.substr(slash + 1) != std::to_string(prefix)) {
    errs.InvalidValue("spec.cidr", cidr, "must be an IPv4 CIDR with a prefix from /8 to /32, e.g. 10.10.0.0/24");
  } else if (prefix < 32 && (*ip & ((1u << (32 - prefix)) - 1)) != 0) {
    errs.InvalidValue("spec.cidr", cidr, "has host bits set; use the network address");
  }
  if (const json::value* ns = Find(obj, {"spec", "namespaces"}); ns && !ns->is_null()) {
    if (!ns->is_array()) errs.TypeInvalid("spec.namespaces", "must be a list of tenant namespaces");
  }
  return errs.ToStatus(KindOf(obj), GetString(obj, {"metadata", "name"}));
}

Status ValidateIPReservation(const json::value& obj) {
  FieldErrors errs;
  CheckMetadata(obj, /*label_name=*/false, errs);
  const json::value* addrs = Find(obj, {"spec", "addresses"});
  const json::value* count = Find(obj, {"spec", "count"});
  if (addrs && !addrs->is_null()) {
    if (!addrs->is_array() || addrs->get_array().empty()) {
      errs.TypeInvalid("spec.addresses", "must be a non-empty list of IPv4 addresses");
    } else {
      std::set<std::string> seen;
      int i = 0;
      for (const auto& a : addrs->get_array()) {
        std::string f = "spec.addresses[" + std::to_string(i++) + "]";
        std::string text = a.is_string() ? std::string(a.get_string()) : json::serialize(a);
        if (!a.is_string() || !ParseIpv4(text).ok()) errs.InvalidValue(f, text, "must be an IPv4 address");
        else if (!seen.insert(text).second) errs.Duplicate(f, text);
      }
    }
  }
  if (count && !count->is_null()) {
    if (!count->is_int64() && !count->is_uint64()) errs.TypeInvalid("spec.count", "must be an integer");
    else if (count->to_number<int64_t>() < 1 || count->to_number<int64_t>() > 256) {
      errs.InvalidValue("spec.count", json::serialize(*count), "must be between 1 and 256");
    }
  }
  bool has_addrs = addrs && !addrs->is_null();
  bool has_count = count && !count->is_null();
  if (has_addrs == has_count) {
    errs.Required("spec.addresses", "set exactly one of spec.addresses or spec.count");
  }
  return errs.ToStatus(KindOf(obj), GetString(obj, {"metadata", "name"}));
}

Status ValidateTenant(const json::value& obj) {
  FieldErrors errs;
  CheckMetadata(obj, /*label_name=*/true, errs);
  std::string name = GetString(obj, {"metadata", "name"});
  if (name == "default" || name == "kumo-system" || name.rfind("kube-", 0) == 0) {
    errs.InvalidValue("metadata.name", name,
                      "is a system namespace; a tenant needs a namespace of its own");
  }
  const json::value* spec = Find(obj, {"spec"});
  if (spec && !spec->is_null() && !spec->is_object()) {
    errs.TypeInvalid("spec", "must be an object");
    return errs.ToStatus(KindOf(obj), name);
  }
  if (const json::value* quota = spec ? Find(*spec, {"quota"}) : nullptr; quota && !quota->is_null()) {
    if (!quota->is_object()) {
      errs.TypeInvalid("spec.quota", "must be an object");
    } else {
      for (const auto& kv : quota->get_object()) {
        std::string field = "spec.quota." + std::string(kv.key());
        if (kv.key() == "memory" || kv.key() == "storage") {
          const json::value& q = kv.value();
          std::string text = q.is_string() ? std::string(q.get_string())
                                           : q.is_number() ? json::serialize(q) : "";
          auto v = text.empty() ? StatusOr<double>(BadRequest("")) : ParseQuantity(text);
          if (!v.ok() || *v < 0) {
            errs.InvalidValue(field, text.empty() ? json::serialize(q) : text,
                              "must be a non-negative quantity such as \"64Gi\"");
          }
        } else if (kv.key() == "vcpus" || kv.key() == "vms" || kv.key() == "ips" ||
                   kv.key() == "reservations" || kv.key() == "volumes") {
          const json::value& v = kv.value();
          if ((!v.is_int64() && !v.is_uint64()) || v.to_number<int64_t>() < 0) {
            errs.InvalidValue(field, json::serialize(v), "must be a non-negative integer");
          }
        } else {
          errs.NotSupported(field, std::string(kv.key()),
                            {"vcpus", "memory", "vms", "ips", "reservations", "volumes",
                             "storage"});
        }
      }
    }
  }
  if (const json::value* sel = spec ? Find(*spec, {"nodeSelector"}) : nullptr; sel && !sel->is_null()) {
    if (!sel->is_object()) {
      errs.TypeInvalid("spec.nodeSelector", "must be a map of node label keys to values");
    } else {
      for (const auto& kv : sel->get_object()) {
        if (!kv.value().is_string() || kv.key().empty()) {
          errs.TypeInvalid("spec.nodeSelector[" + std::string(kv.key()) + "]",
                           "keys must be non-empty and values strings");
        } else if (!kv.key().starts_with(kNodeRestrictionPrefix) ||
                   kv.key().size() == std::strlen(kNodeRestrictionPrefix)) {
          // A node cannot give itself these labels, so it cannot pull a tenant's VMs onto it.
          errs.InvalidValue("spec.nodeSelector", std::string(kv.key()),
                            std::string("dedicated-node labels must be under ") +
                                kNodeRestrictionPrefix + " (e.g. " + kNodeRestrictionPrefix +
                                "pool), which nodes cannot set on themselves");
        }
      }
    }
  }
  if (const json::value* pools = spec ? Find(*spec, {"ipPools"}) : nullptr; pools && !pools->is_null()) {
    if (!pools->is_array()) {
      errs.TypeInvalid("spec.ipPools", "must be a list of IPPool names");
    } else {
      int i = 0;
      for (const auto& p : pools->get_array()) {
        if (!p.is_string() || p.get_string().empty()) {
          errs.TypeInvalid("spec.ipPools[" + std::to_string(i) + "]", "must be an IPPool name");
        }
        ++i;
      }
    }
  }
  if (const json::value* members = spec ? Find(*spec, {"members"}) : nullptr; members && !members->is_null()) {
    if (!members->is_array()) {
      errs.TypeInvalid("spec.members", "must be a list of {user, role}");
    } else {
      std::set<std::string> seen;
      int i = 0;
      for (const auto& m : members->get_array()) {
        std::string field = "spec.members[" + std::to_string(i++) + "]";
        std::string user = GetString(m, {"user"});
        std::string role = GetString(m, {"role"});
        if (user.empty()) {
          errs.Required(field + ".user", "the user name the member's token authenticates as");
        } else if (user.rfind("system:", 0) == 0) {
          errs.InvalidValue(field + ".user", user, "names starting with \"system:\" are reserved");
        } else if (!seen.insert(user).second) {
          errs.Duplicate(field + ".user", user);
        }
        if (role != "admin" && role != "member" && role != "viewer") {
          errs.NotSupported(field + ".role", role, {"admin", "member", "viewer"});
        }
      }
    }
  }
  if (const json::value* share = spec ? Find(*spec, {"apiShare"}) : nullptr; share && !share->is_null()) {
    if ((!share->is_int64() && !share->is_uint64()) || share->to_number<int64_t>() < 1 ||
        share->to_number<int64_t>() > 100) {
      errs.InvalidValue("spec.apiShare", json::serialize(*share), "must be an integer from 1 to 100");
    }
  }
  return errs.ToStatus(KindOf(obj), name);
}

}  // namespace kumo::api
