#include "server/tenancy_admission.h"

#include <algorithm>
#include <functional>
#include <set>

#include "api/kubevirt.h"
#include "api/object.h"
#include "api/resource.h"
#include "api/storage.h"
#include "api/validation.h"
#include "common/log.h"
#include "server/authz.h"

namespace kumo::server {

namespace {

constexpr char kCalicoPools[] = "cni.projectcalico.org/ipv4pools";
constexpr auto kPendingTtl = std::chrono::seconds(10);

std::string Qualified(const api::ResourceInfo& r) {
  return r.group.empty() ? r.plural : r.plural + "." + r.group;
}

std::string ForbiddenPrefix(const AdmissionRequest& req) {
  return Qualified(req.resource) + " \"" + req.name + "\" is forbidden: ";
}

bool SameMember(const json::object* a, const json::object* b, std::string_view key) {
  const json::value* x = a ? a->if_contains(key) : nullptr;
  const json::value* y = b ? b->if_contains(key) : nullptr;
  if (!x || !y) return !x && !y;
  return *x == *y;
}

// Dedicated nodes: merges the tenant's selector into `spec` (a VMI spec) and checks its
// tolerations. `field` names `spec` in messages.
Status ApplyNodePolicy(json::object& spec, const json::object* old_spec, const std::string& field,
                       const TenantInfo& tenant, const std::string& prefix) {
  if (old_spec && SameMember(&spec, old_spec, "nodeSelector") &&
      SameMember(&spec, old_spec, "tolerations")) {
    return Status::Ok();  // placement unchanged: it was checked when it was set
  }
  if (!tenant.node_selector.empty()) {
    json::value& sel = spec["nodeSelector"];
    if (!sel.is_object()) sel = json::object();
    json::object& s = sel.get_object();
    for (const auto& [k, v] : tenant.node_selector) {
      const json::value* have = s.if_contains(k);
      if (have && (!have->is_string() || have->get_string() != v)) {
        std::string asked =
            have->is_string() ? std::string(have->get_string()) : json::serialize(*have);
        return Forbidden(prefix + field + ".nodeSelector: \"" + k + "\": \"" + asked +
                         "\" conflicts with the node selector of tenant \"" + tenant.name + "\" (" +
                         k + "=" + v + "); its VMs run only on its dedicated nodes");
      }
      s[k] = v;
    }
  }
  bool has_own = false;
  if (const json::value* tols = spec.if_contains("tolerations"); tols && tols->is_array()) {
    for (const auto& t : tols->get_array()) {
      std::string key = GetString(t, {"key"});
      std::string op = GetString(t, {"operator"}, "Equal");
      std::string value = GetString(t, {"value"});
      if (key.empty() && op == "Exists") {
        return Forbidden(prefix + field +
                         ".tolerations: a toleration of every taint would let the "
                         "VM onto other tenants' dedicated nodes");
      }
      if (key == kDedicatedTaintKey) {
        if (op == "Exists" || value != tenant.name) {
          return Forbidden(prefix + field + ".tolerations: " + kDedicatedTaintKey +
                           " may only be tolerated for the tenant's own dedicated nodes (value \"" +
                           tenant.name + "\")");
        }
        has_own = true;
      }
    }
  }
  if (!tenant.node_selector.empty() && !has_own) {
    json::value& tols = spec["tolerations"];
    if (!tols.is_array()) tols = json::array();
    tols.get_array().push_back(json::object{{"key", kDedicatedTaintKey},
                                            {"operator", "Equal"},
                                            {"value", tenant.name},
                                            {"effect", "NoSchedule"}});
  }
  return Status::Ok();
}

Status CheckPool(const std::string& pool, const TenantInfo& tenant, const std::string& prefix,
                 const std::string& field) {
  if (pool.empty() || tenant.ip_pools.empty()) return Status::Ok();
  if (std::find(tenant.ip_pools.begin(), tenant.ip_pools.end(), pool) != tenant.ip_pools.end()) {
    return Status::Ok();
  }
  std::string allowed;
  for (const auto& p : tenant.ip_pools) allowed += (allowed.empty() ? "" : ", ") + p;
  return Forbidden(prefix + field + ": tenant \"" + tenant.name + "\" may not use IP pool \"" +
                   pool + "\"; its pools are: " + allowed);
}

const json::object* ObjectAt(const json::value* v, std::initializer_list<std::string_view> path) {
  if (!v) return nullptr;
  const json::value* f = Find(*v, path);
  return f ? f->if_object() : nullptr;
}

int64_t RevisionOf(const json::value* obj) {
  if (!obj) return 0;
  std::string rv = GetString(*obj, {"metadata", "resourceVersion"});
  return rv.empty() ? 0 : std::strtoll(rv.c_str(), nullptr, 10);
}

const api::ResourceInfo& Kind(std::string_view group, std::string_view plural) {
  for (const auto& r : api::DefaultRegistry().resources()) {
    if (r.group == group && r.plural == plural) return r;
  }
  std::abort();  // the kinds below are always registered
}

}  // namespace

std::mutex& TenantPolicyAdmission::LockFor(const std::string& ns) {
  return tenant_locks_[std::hash<std::string>{}(ns) % tenant_locks_.size()];
}

Status TenantPolicyAdmission::Admit(const AdmissionRequest& req) {
  if (!req.resource.namespaced || req.ns.empty() || !req.object || req.subresource == "status") {
    return Status::Ok();
  }
  if (req.verb != "create" && req.verb != "update" && req.verb != "patch") return Status::Ok();
  const std::string& kind = req.resource.kind;
  bool vm = kind == "VirtualMachine" && req.resource.group == "kubevirt.io";
  bool vmi = kind == "VirtualMachineInstance" && req.resource.group == "kubevirt.io";
  bool reservation = kind == "IPReservation" && req.resource.group == "kumo.io";
  bool volume = (kind == "PersistentVolumeClaim" && req.resource.group.empty()) ||
                (kind == "DataVolume" && req.resource.group == "cdi.kubevirt.io") ||
                (kind == "VolumeSnapshot" && req.resource.group == api::kSnapshotGroup);
  if (!vm && !vmi && !reservation && !volume) return Status::Ok();
  std::shared_ptr<const TenantInfo> tenant = tenants_.Get(req.ns);
  if (!tenant) return Status::Ok();
  std::string prefix = ForbiddenPrefix(req);
  json::value& obj = *req.object;
  if (vm) {
    const json::object* old_spec = ObjectAt(req.old, {"spec", "template", "spec"});
    if (Find(obj, {"spec", "template", "spec"}) || !tenant->node_selector.empty()) {
      KUMO_RETURN_IF_ERROR(ApplyNodePolicy(EnsureObject(obj, {"spec", "template", "spec"}),
                                           old_spec, "spec.template.spec", *tenant, prefix));
    }
    std::string pools =
        GetString(obj, {"spec", "template", "metadata", "annotations", kCalicoPools});
    if (!pools.empty()) {
      auto list = ParseJson(pools);
      if (list.ok() && list->is_array()) {
        for (const auto& p : list->get_array()) {
          if (!p.is_string()) continue;
          KUMO_RETURN_IF_ERROR(
              CheckPool(std::string(p.get_string()), *tenant, prefix,
                        std::string("spec.template.metadata.annotations[") + kCalicoPools + "]"));
        }
      }
    }
  } else if (vmi) {
    KUMO_RETURN_IF_ERROR(ApplyNodePolicy(EnsureObject(obj, {"spec"}), ObjectAt(req.old, {"spec"}),
                                         "spec", *tenant, prefix));
  } else if (reservation) {
    KUMO_RETURN_IF_ERROR(CheckPool(GetString(obj, {"spec", "pool"}), *tenant, prefix, "spec.pool"));
  }
  if (!tenant->quota.Any()) return Status::Ok();
  return CheckQuota(req, *tenant);
}

StatusOr<Amounts> TenantPolicyAdmission::ClaimOf(const api::ResourceInfo& r, const json::value& obj,
                                                 const std::string& ns) {
  if (r.kind == "IPReservation") return ClaimOfReservation(obj);
  if (r.kind == "PersistentVolumeClaim" || r.kind == "DataVolume") return ClaimOfVolume(obj);
  if (r.kind == "VolumeSnapshot") {
    // A snapshot's copy takes as much storage as its source claim asks for.
    // The size the server recorded once the copy was planned; before that, the source's.
    if (std::string size = GetString(obj, {"status", "restoreSize"}); !size.empty()) {
      json::value source = json::object{{"spec", {{"resources", {{"requests", {{"storage", size}}}}}}}};
      return ClaimOfSnapshot(&source);
    }
    const std::string claim = GetString(obj, {"spec", "source", "persistentVolumeClaimName"});
    store::CachedPtr pvc = cache_.Get(Kind("", "persistentvolumeclaims").Key(ns, claim));
    StatusOr<json::value> parsed = pvc ? ParseJson(pvc->json) : StatusOr<json::value>(NotFound(claim));
    return ClaimOfSnapshot(parsed.ok() ? &*parsed : nullptr);
  }
  if (r.kind == "VirtualMachineInstance") {
    // A VM's own VMI is counted with the VM. Only the VM controller sets that ownerReference
    // (ServerFieldsAdmission), so a VMI that merely shares a VM's name counts on its own.
    if (!api::VmOwnerUid(obj).empty()) return Amounts{};
    return ClaimOfVmi(obj);
  }
  const store::WatchCache& cache = cache_;
  StatusOr<Amounts> claim = ClaimOfVm(obj, [&cache](const std::string& name) -> StatusOr<json::value> {
    const api::ResourceInfo& its =
        Kind("instancetype.kubevirt.io", "virtualmachineclusterinstancetypes");
    store::CachedPtr it = cache.Get(its.Key("", name));
    if (!it) return NotFound("no instancetype " + name);
    return ParseJson(it->json);
  });
  // A VM takes its address from a reservation (and claims none) only while that reservation
  // exists; one that names a reservation that is gone counts its address.
  if (claim.ok() && claim->ips == 0) {
    const std::string named = api::VmReservation(obj);
    if (!cache_.Get(Kind("kumo.io", "ipreservations").Key(ns, named))) claim->ips = 1;
  }
  return claim;
}

Status TenantPolicyAdmission::CheckQuota(const AdmissionRequest& req, const TenantInfo& tenant) {
  std::lock_guard tenant_lock(LockFor(req.ns));
  KUMO_ASSIGN_OR_RETURN(Amounts next, ClaimOf(req.resource, *req.object, req.ns));
  Amounts old;
  if (req.old) {
    StatusOr<Amounts> o = ClaimOf(req.resource, *req.old, req.ns);
    if (o.ok()) old = *o;
  }
  KUMO_ASSIGN_OR_RETURN(Amounts used, UsageLocked(req.ns));
  Status st = server::CheckQuota(tenant.name, tenant.quota, used, old, next);
  if (!st.ok()) return Forbidden(ForbiddenPrefix(req) + st.message());
  if (!req.dry_run) {
    std::lock_guard lock(mu_);
    pending_[req.ns][req.resource.Key(req.ns, req.name)] =
        Pending{next, RevisionOf(req.old), std::chrono::steady_clock::now()};
  }
  return Status::Ok();
}

StatusOr<Amounts> TenantPolicyAdmission::Usage(const std::string& ns) {
  std::lock_guard tenant_lock(LockFor(ns));
  return UsageLocked(ns);
}

StatusOr<Amounts> TenantPolicyAdmission::UsageLocked(const std::string& ns) {
  // The tenant's lock is held: nobody else touches this namespace's memo or pending entries'
  // meaning; mu_ guards the maps themselves. Map nodes are stable, so the references stay valid.
  std::map<std::string, Memo>* memo;
  std::map<std::string, Pending> pending;
  uint64_t generation;
  {
    std::lock_guard lock(mu_);
    memo = &memo_[ns];
    generation = ++generation_[ns];
    if (auto it = pending_.find(ns); it != pending_.end()) pending = it->second;
  }
  std::set<std::string> resolved;  // pending keys the cache has caught up with (or replaced)
  Amounts total;
  store::WatchCache::Page vms;
  auto visit = [&](const api::ResourceInfo& r, store::WatchCache::Page& page) {
    std::string prefix = r.KeyPrefix() + ns + "/";
    page = cache_.List(prefix, "", 0, nullptr);
    for (const auto& o : page.items) {
      Memo& m = (*memo)[o->key];
      if (m.revision != o->mod_revision || m.generation == 0) {
        m.revision = o->mod_revision;
        StatusOr<json::value> parsed = ParseJson(o->json);
        StatusOr<Amounts> claim = !parsed.ok() ? StatusOr<Amounts>(parsed.status())
                                  : r.kind == "IPReservation"
                                      ? StatusOr<Amounts>(ClaimOfReservation(*parsed))
                                      : ClaimOf(r, *parsed, ns);
        m.claim = claim.ok() ? *claim : Amounts{};
      }
      m.generation = generation;
      auto p = pending.find(o->key);
      if (p != pending.end()) {
        resolved.insert(o->key);
        // Admitted but not in the cache yet: the admitted version counts instead.
        if (o->mod_revision <= p->second.base_revision) {
          total += p->second.claim;
          continue;
        }
        pending.erase(p);
      }
      total += m.claim;
    }
  };
  visit(Kind("kubevirt.io", "virtualmachines"), vms);
  store::WatchCache::Page vmis, reservations;
  visit(Kind("kubevirt.io", "virtualmachineinstances"), vmis);
  visit(Kind("kumo.io", "ipreservations"), reservations);
  store::WatchCache::Page claims, data_volumes;
  visit(Kind("", "persistentvolumeclaims"), claims);
  visit(Kind("cdi.kubevirt.io", "datavolumes"), data_volumes);
  store::WatchCache::Page snapshots;
  visit(Kind(api::kSnapshotGroup, "volumesnapshots"), snapshots);
  // Admitted creates the cache does not show yet.
  auto now = std::chrono::steady_clock::now();
  for (const auto& [key, p] : pending) {
    if (!resolved.count(key) && p.base_revision == 0 && now - p.at <= kPendingTtl) total += p.claim;
  }
  std::lock_guard lock(mu_);
  std::erase_if(*memo, [generation](const auto& kv) { return kv.second.generation != generation; });
  if (auto pit = pending_.find(ns); pit != pending_.end()) {
    std::erase_if(pit->second, [&](const auto& kv) {
      const Pending& p = kv.second;
      auto still = pending.find(kv.first);
      bool superseded = still == pending.end();  // the cache has a newer version
      bool vanished = !resolved.count(kv.first) && p.base_revision != 0;
      return superseded || vanished || now - p.at > kPendingTtl;
    });
    if (pit->second.empty()) pending_.erase(pit);
  }
  return total;
}

namespace {

// The labels of `obj` under api::kNodeRestrictionPrefix.
json::object RestrictedLabels(const json::value* obj) {
  json::object out;
  const json::value* labels = obj ? Find(*obj, {"metadata", "labels"}) : nullptr;
  if (!labels || !labels->is_object()) return out;
  for (const auto& kv : labels->get_object()) {
    if (kv.key().starts_with(api::kNodeRestrictionPrefix)) out[kv.key()] = kv.value();
  }
  return out;
}

}  // namespace

// A node may not give itself the labels that tenants' dedicated-node selectors match, nor
// change its taints (the node lifecycle controller and admins set them), as Kubernetes'
// NodeRestriction forbids kubelets. `old` is null on create.
Status NodeRestrictionAdmission::CheckNodeSelfChange(const std::string& who,
                                                     const json::value& obj,
                                                     const json::value* old) {
  if (RestrictedLabels(&obj) != RestrictedLabels(old)) {
    return Forbidden(who + " may not set, change or remove labels under " +
                     std::string(api::kNodeRestrictionPrefix) + "; an admin assigns them");
  }
  if (old && !SameAt(&obj, old, {"spec", "taints"})) {
    return Forbidden(who + " may not change its own taints");
  }
  return Status::Ok();
}

// What a node may change on a VMI bound to it: the status it observes and the cleanup
// finalizer. The migration's identity (which migration, from where, to where) is the
// migration controller's, and only the target publishes where it listens.
namespace {

// True when the write changes nothing of the stored object but (if allowed) its status and,
// possibly, drops the kumo.io/volume-cleanup finalizer.
bool ChangesOnlyCleanup(const AdmissionRequest& req, bool status_may_change) {
  if (!req.old || !req.object) return false;
  json::value dropped = *req.old;
  if (dropped.is_object()) api::RemoveFinalizer(dropped, api::kVolumeCleanupFinalizer);
  if (!SameAt(req.object, req.old, {"metadata", "finalizers"}) &&
      !SameAt(req.object, &dropped, {"metadata", "finalizers"})) {
    return false;
  }
  for (auto field : {"annotations", "labels"}) {
    if (!SameAt(req.object, req.old, {"metadata", field})) return false;
  }
  return SameAt(req.object, req.old, {"spec"}) &&
         (status_may_change || SameAt(req.object, req.old, {"status"}));
}

}  // namespace

Status NodeRestrictionAdmission::CheckNodeVmiChange(const std::string& who,
                                                    const AdmissionRequest& req,
                                                    const std::string& node) {
  const json::value* obj = req.object;
  const json::value* old = req.old;
  for (auto field : {"labels", "annotations", "ownerReferences"}) {
    if (!SameAt(obj, old, {"metadata", field})) {
      return Forbidden(who + " may not change metadata." + field + " of VirtualMachineInstance " +
                       req.ns + "/" + req.name);
    }
  }
  for (auto field : {"migrationUid", "sourceNode", "targetNode"}) {
    if (!SameAt(obj, old, {"status", "migrationState", field})) {
      return Forbidden(who + " may not change status.migrationState." + field +
                       "; the migration controller decides it");
    }
  }
  if (GetString(*old, {"status", "migrationState", "targetNode"}) != node) {
    for (auto field : {"targetNodeAddress", "targetMigrationPort", "targetDiskPort"}) {
      if (!SameAt(obj, old, {"status", "migrationState", field})) {
        return Forbidden(who + " may not change status.migrationState." + field +
                         "; only the migration's target node publishes it");
      }
    }
  }
  return Status::Ok();
}

Status NodeRestrictionAdmission::Admit(const AdmissionRequest& req) {
  if (!req.user) return Status::Ok();
  std::string node = NodeNameOf(*req.user);
  if (node.empty()) return Status::Ok();
  const std::string& kind = req.resource.kind;
  std::string who = "node \"" + node + "\"";
  if (kind == "Node" && req.name != node) {
    return Forbidden(who + " may not " + req.verb + " Node \"" + req.name + "\"; only its own");
  }
  if (kind == "Lease" && req.name != node) {
    return Forbidden(who + " may not " + req.verb + " Lease \"" + req.name + "\"; only its own");
  }
  const bool change = req.verb == "update" || req.verb == "patch";
  if (kind == "Node" && req.object) {
    KUMO_RETURN_IF_ERROR(CheckNodeSelfChange(who, *req.object, change ? req.old : nullptr));
  }
  if (kind == "VirtualMachineInstance" && change && req.object && req.old) {
    KUMO_RETURN_IF_ERROR(CheckNodeVmiChange(who, req, node));
  }
  // A node removes the data of a released volume it holds (or of a snapshot copy it made),
  // then drops the cleanup finalizer; of a snapshot content it also reports the copy (status).
  // Nothing else, and only for its own.
  if (kind == "PersistentVolume" &&
      !(change && req.old && api::FieldValue(*req.old, api::kPvNodeField) == node &&
        ChangesOnlyCleanup(req, /*status_may_change=*/false))) {
    return Forbidden(who + " may only remove the " + api::kVolumeCleanupFinalizer +
                     " finalizer of a PersistentVolume it holds");
  }
  if (kind == "VolumeSnapshotContent" &&
      !(change && req.old && GetString(*req.old, {"spec", "nodeName"}) == node &&
        ChangesOnlyCleanup(req, /*status_may_change=*/true))) {
    return Forbidden(who + " may only report the copy of a VolumeSnapshotContent it makes");
  }
  if (kind == "VirtualMachineInstance" && change) {
    std::string bound = req.old ? GetString(*req.old, {"status", "nodeName"}) : "";
    std::string next = req.object ? GetString(*req.object, {"status", "nodeName"}) : "";
    // A live migration involves two nodes: the target reports its readiness on the VMI, and
    // the source hands the VMI over to the target when the memory has moved.
    const std::string target =
        req.old ? GetString(*req.old, {"status", "migrationState", "targetNode"}) : "";
    const bool migrating = !target.empty() && target != bound;
    if (migrating && target == node && next == bound) return Status::Ok();
    if (migrating && bound == node && next == target) return Status::Ok();
    if (bound != node || (!next.empty() && next != node)) {
      return Forbidden(who + " may only change VMIs bound to it; VirtualMachineInstance " + req.ns +
                       "/" + req.name + " is bound to \"" + bound + "\"");
    }
  }
  return Status::Ok();
}

}  // namespace kumo::server
