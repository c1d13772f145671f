#include "api/resource.h"

#include <algorithm>

#include "api/columns.h"
#include "api/validation.h"

namespace kumo::api {

std::string ResourceInfo::KeyPrefix() const {
  return "/registry/" + (group.empty() ? std::string("core") : group) + "/" + plural + "/";
}

std::string ResourceInfo::Key(std::string_view ns, std::string_view name) const {
  std::string k = KeyPrefix();
  if (namespaced) {
    k.append(ns);
    k.push_back('/');
  }
  k.append(name);
  return k;
}

bool ResourceInfo::IsSelectableField(std::string_view field) const {
  if (field == "metadata.name") return true;
  if (field == "metadata.namespace") return namespaced;
  return std::find(selectable_fields.begin(), selectable_fields.end(), field) !=
         selectable_fields.end();
}

Registry::Registry(std::vector<ResourceInfo> resources) : resources_(std::move(resources)) {}

const ResourceInfo* Registry::Find(std::string_view group, std::string_view version,
                                   std::string_view plural) const {
  for (const auto& r : resources_) {
    if (r.group == group && r.version == version && r.plural == plural) return &r;
  }
  return nullptr;
}

const ResourceInfo* Registry::FindKind(std::string_view api_version,
                                       std::string_view kind) const {
  for (const auto& r : resources_) {
    if (r.kind == kind && r.ApiVersion() == api_version) return &r;
  }
  return nullptr;
}

std::vector<std::pair<std::string, std::string>> Registry::GroupVersions() const {
  std::vector<std::pair<std::string, std::string>> out;
  for (const auto& r : resources_) {
    std::pair<std::string, std::string> gv{r.group, r.version};
    if (std::find(out.begin(), out.end(), gv) == out.end()) out.push_back(gv);
  }
  std::stable_partition(out.begin(), out.end(), [](const auto& gv) { return gv.first.empty(); });
  return out;
}

std::string FieldValue(const json::value& obj, std::string_view dotted_path) {
  const json::value* cur = &obj;
  size_t start = 0;
  while (start <= dotted_path.size()) {
    size_t dot = dotted_path.find('.', start);
    std::string_view part = dotted_path.substr(
        start, dot == std::string_view::npos ? std::string_view::npos : dot - start);
    const json::object* o = cur->if_object();
    if (!o) return "";
    auto it = o->find(part);
    if (it == o->end()) return "";
    cur = &it->value();
    if (dot == std::string_view::npos) break;
    start = dot + 1;
  }
  if (cur->is_string()) return std::string(cur->get_string());
  if (cur->is_bool()) return cur->get_bool() ? "true" : "false";
  if (cur->is_int64()) return std::to_string(cur->get_int64());
  if (cur->is_uint64()) return std::to_string(cur->get_uint64());
  if (cur->is_double()) return json::serialize(*cur);
  return "";
}

namespace {

// The status of the condition of `type` in status.conditions ("" when absent).
std::string ConditionStatus(const json::value& o, std::string_view type) {
  const json::value* conds = Find(o, {"status", "conditions"});
  if (!conds || !conds->is_array()) return "";
  for (const auto& c : conds->get_array()) {
    if (GetString(c, {"type"}) == type) return GetString(c, {"status"});
  }
  return "";
}

Column ReadyConditionColumn() {
  return {"Ready", "string", "", "Whether the Ready condition is True.", 0,
          [](const json::value& o, int64_t) {
            std::string s = ConditionStatus(o, "Ready");
            if (s.empty()) {
              const json::value* r = Find(o, {"status", "ready"});
              if (r && r->is_bool()) s = r->get_bool() ? "True" : "False";
            }
            return json::value(s.empty() ? "False" : s);
          }};
}

ResourceInfo Namespace() {
  ResourceInfo r{.group = "", .version = "v1", .kind = "Namespace", .plural = "namespaces",
                 .singular = "namespace", .namespaced = false, .has_status = true};
  r.short_names = {"ns"};
  r.selectable_fields = {"status.phase"};
  r.columns = {NameColumn(), PathColumn("Status", "status.phase", "The phase of the namespace."),
               AgeColumn()};
  r.validate = ValidateGenericObject;
  r.set_defaults = [](json::value& o) { EnsureObject(o, {"status"})["phase"] = "Active"; };
  return r;
}

ResourceInfo Node() {
  ResourceInfo r{.group = "", .version = "v1", .kind = "Node", .plural = "nodes",
                 .singular = "node", .namespaced = false, .has_status = true};
  r.short_names = {"no"};
  r.selectable_fields = {"spec.unschedulable"};
  r.columns = {
      NameColumn(),
      {"Status", "string", "", "The node's readiness and schedulability.", 0,
       [](const json::value& o, int64_t) {
         std::string ready = ConditionStatus(o, "Ready");
         std::string s = ready == "True" ? "Ready" : ready.empty() ? "Unknown" : "NotReady";
         const json::value* u = Find(o, {"spec", "unschedulable"});
         if (u && u->is_bool() && u->get_bool()) s += ",SchedulingDisabled";
         return json::value(s);
       }},
      {"Roles", "string", "", "The roles of the node.", 0,
       [](const json::value& o, int64_t) {
         std::string roles;
         const json::value* labels = Find(o, {"metadata", "labels"});
         if (labels && labels->is_object()) {
           constexpr std::string_view kPrefix = "node-role.kubernetes.io/";
           for (const auto& kv : labels->get_object()) {
             std::string_view k = kv.key();
             if (k.substr(0, kPrefix.size()) == kPrefix) {
               if (!roles.empty()) roles += ",";
               roles += std::string(k.substr(kPrefix.size()));
             }
           }
         }
         return json::value(roles.empty() ? "<none>" : roles);
       }},
      AgeColumn(),
      PathColumn("Version", "status.nodeInfo.kubeletVersion", "Agent version."),
      PathColumn("Kernel-Version", "status.nodeInfo.kernelVersion", "Kernel version.", 1),
  };
  r.validate = ValidateGenericObject;
  return r;
}

ResourceInfo Event() {
  ResourceInfo r{.group = "", .version = "v1", .kind = "Event", .plural = "events",
                 .singular = "event", .namespaced = true};
  r.short_names = {"ev"};
  r.selectable_fields = {"involvedObject.kind",       "involvedObject.namespace",
                         "involvedObject.name",       "involvedObject.uid",
                         "involvedObject.apiVersion", "involvedObject.resourceVersion",
                         "involvedObject.fieldPath",  "reason",
                         "reportingComponent",        "source",
                         "type"};
  r.columns = {
      {"Last Seen", "string", "", "Time since the event was last seen.", 0,
       [](const json::value& o, int64_t now) {
         if (!GetString(o, {"lastTimestamp"}).empty()) return AgeOf(o, now, {"lastTimestamp"});
         if (!GetString(o, {"eventTime"}).empty()) return AgeOf(o, now, {"eventTime"});
         return AgeOf(o, now, {"metadata", "creationTimestamp"});
       }},
      PathColumn("Type", "type", "Normal or Warning."),
      PathColumn("Reason", "reason", "Why the event happened."),
      {"Object", "string", "", "The object the event is about.", 0,
       [](const json::value& o, int64_t) {
         std::string kind = GetString(o, {"involvedObject", "kind"});
         for (auto& c : kind) c = static_cast<char>(tolower(c));
         return json::value(kind + "/" + GetString(o, {"involvedObject", "name"}));
       }},
      PathColumn("Message", "message", "What happened."),
  };
  r.validate = ValidateGenericObject;
  return r;
}

ResourceInfo Secret() {
  ResourceInfo r{.group = "", .version = "v1", .kind = "Secret", .plural = "secrets",
                 .singular = "secret", .namespaced = true};
  r.selectable_fields = {"type"};
  r.columns = {NameColumn(), PathColumn("Type", "type", "The secret type."),
               {"Data", "integer", "", "Number of data keys.", 0,
                [](const json::value& o, int64_t) {
                  const json::value* d = Find(o, {"data"});
                  int64_t n = d && d->is_object() ? static_cast<int64_t>(d->get_object().size()) : 0;
                  return json::value(n);
                }},
               AgeColumn()};
  r.validate = ValidateGenericObject;
  r.set_defaults = [](json::value& o) {
    if (GetString(o, {"type"}).empty()) o.get_object()["type"] = "Opaque";
  };
  return r;
}

ResourceInfo Lease() {
  ResourceInfo r{.group = "coordination.k8s.io", .version = "v1", .kind = "Lease",
                 .plural = "leases", .singular = "lease", .namespaced = true};
  r.columns = {NameColumn(), PathColumn("Holder", "spec.holderIdentity", "Current holder."),
               AgeColumn()};
  r.validate = ValidateGenericObject;
  return r;
}

ResourceInfo VirtualMachine() {
  ResourceInfo r{.group = "kubevirt.io", .version = "v1", .kind = "VirtualMachine",
                 .plural = "virtualmachines", .singular = "virtualmachine",
                 .namespaced = true, .has_status = true};
  r.short_names = {"vm", "vms"};
  r.categories = {"all"};
  r.selectable_fields = {"status.printableStatus"};
  r.columns = {NameColumn(), AgeColumn(),
               PathColumn("Status", "status.printableStatus", "Human readable VM status."),
               ReadyConditionColumn()};
  r.validate = ValidateVirtualMachine;
  return r;
}

ResourceInfo VirtualMachineInstance() {
  ResourceInfo r{.group = "kubevirt.io", .version = "v1", .kind = "VirtualMachineInstance",
                 .plural = "virtualmachineinstances", .singular = "virtualmachineinstance",
                 .namespaced = true, .has_status = true};
  r.short_names = {"vmi", "vmis"};
  r.categories = {"all"};
  r.selectable_fields = {"status.nodeName", "status.phase", "status.migrationState.targetNode"};
  r.columns = {NameColumn(), AgeColumn(),
               PathColumn("Phase", "status.phase", "The VMI's lifecycle phase."),
               {"IP", "string", "", "The IP address of the VMI's first interface.", 0,
                [](const json::value& o, int64_t) {
                  const json::value* ifs = Find(o, {"status", "interfaces"});
                  if (ifs && ifs->is_array() && !ifs->get_array().empty()) {
                    return json::value(GetString(ifs->get_array()[0], {"ipAddress"}));
                  }
                  return json::value("");
                }},
               PathColumn("NodeName", "status.nodeName", "The node the VMI runs on."),
               ReadyConditionColumn()};
  r.validate = ValidateVirtualMachineInstance;
  return r;
}

ResourceInfo VirtualMachineInstanceMigration() {
  ResourceInfo r{.group = "kubevirt.io", .version = "v1",
                 .kind = "VirtualMachineInstanceMigration",
                 .plural = "virtualmachineinstancemigrations",
                 .singular = "virtualmachineinstancemigration", .namespaced = true,
                 .has_status = true};
  r.short_names = {"vmim", "vmims"};
  r.categories = {"all"};
  r.selectable_fields = {"status.phase"};
  r.columns = {NameColumn(), PathColumn("Phase", "status.phase", "Where the migration is."),
               PathColumn("VMI", "spec.vmiName", "The instance that migrates."),
               PathColumn("Target", "status.migrationState.targetNode", "The node it moves to."),
               AgeColumn()};
  r.validate = ValidateMigration;
  return r;
}

ResourceInfo ClusterInstancetype() {
  ResourceInfo r{.group = "instancetype.kubevirt.io", .version = "v1beta1",
                 .kind = "VirtualMachineClusterInstancetype",
                 .plural = "virtualmachineclusterinstancetypes",
                 .singular = "virtualmachineclusterinstancetype", .namespaced = false};
  r.short_names = {"vmcis", "vmci", "vmclusterinstancetype", "vmclusterinstancetypes", "vmcf",
                   "vmcfs"};
  r.columns = {NameColumn(),
               PathColumn("CPU", "spec.cpu.guest", "Guest vCPUs."),
               PathColumn("Memory", "spec.memory.guest", "Guest memory."), AgeColumn()};
  r.validate = ValidateInstancetype;
  return r;
}

ResourceInfo ClusterPreference() {
  ResourceInfo r{.group = "instancetype.kubevirt.io", .version = "v1beta1",
                 .kind = "VirtualMachineClusterPreference",
                 .plural = "virtualmachineclusterpreferences",
                 .singular = "virtualmachineclusterpreference", .namespaced = false};
  r.short_names = {"vmcps", "vmcp", "vmclusterpref", "vmclusterprefs"};
  r.columns = {NameColumn(), AgeColumn()};
  r.validate = ValidateGenericObject;
  return r;
}

ResourceInfo Image() {
  ResourceInfo r{.group = "kumo.io", .version = "v1alpha1", .kind = "Image", .plural = "images",
                 .singular = "image", .namespaced = false, .has_status = true};
  r.short_names = {"img"};
  r.selectable_fields = {"status.phase"};
  r.columns = {NameColumn(), PathColumn("Format", "spec.format", "qcow2 or raw."),
               PathColumn("Phase", "status.phase", "Pending, Importing, Ready or Failed."),
               PathColumn("Size", "status.size", "Size in bytes."),
               {"Nodes", "string", "", "Nodes whose cache holds an uploaded image.", 0,
                [](const json::value& o, int64_t) {
                  const json::value* nodes = Find(o, {"status", "nodes"});
                  if (!Find(o, {"spec", "source", "upload"})) return json::value("all (path)");
                  if (!nodes || !nodes->is_array() || nodes->get_array().empty()) {
                    return json::value("<none>");
                  }
                  std::string out;
                  size_t shown = 0;
                  for (const auto& n : nodes->get_array()) {
                    if (!n.is_string() || ++shown > 3) continue;
                    out += (out.empty() ? "" : ",") + std::string(n.get_string());
                  }
                  if (shown > 3) out += " +" + std::to_string(shown - 3) + " more";
                  return json::value(out);
                }},
               AgeColumn(),
               PathColumn("Checksum", "status.checksum", "sha256 of the image.", 1)};
  r.validate = ValidateImage;
  return r;
}

ResourceInfo IPPool() {
  ResourceInfo r{.group = "kumo.io", .version = "v1alpha1", .kind = "IPPool", .plural = "ippools",
                 .singular = "ippool", .namespaced = false, .has_status = true};
  r.short_names = {"ipp"};
  r.columns = {NameColumn(), PathColumn("CIDR", "spec.cidr", "The pool's address range."),
               PathColumn("Allocated", "status.allocated", "Addresses in use or reserved."),
               PathColumn("Free", "status.free", "Addresses left."), AgeColumn()};
  r.validate = ValidateIPPool;
  return r;
}

ResourceInfo IPReservation() {
  ResourceInfo r{.group = "kumo.io", .version = "v1alpha1", .kind = "IPReservation",
                 .plural = "ipreservations", .singular = "ipreservation", .namespaced = true,
                 .has_status = true};
  r.short_names = {"ipr", "ip"};
  r.columns = {NameColumn(),
               {"Addresses", "string", "", "Reserved addresses (and the VM using each).", 0,
                [](const json::value& o, int64_t) {
                  std::string out;
                  const json::value* addrs = Find(o, {"status", "addresses"});
                  if (addrs && addrs->is_array()) {
                    for (const auto& a : addrs->get_array()) {
                      if (!out.empty()) out += ",";
                      out += GetString(a, {"address"});
                      std::string vm = GetString(a, {"vm"});
                      if (!vm.empty()) out += "(" + vm + ")";
                    }
                  }
                  return json::value(out);
                }},
               PathColumn("Pool", "status.pool", "The pool the addresses come from."), AgeColumn()};
  r.validate = ValidateIPReservation;
  return r;
}

ResourceInfo IPAllocation() {
  ResourceInfo r{.group = "kumo.io", .version = "v1alpha1", .kind = "IPAllocation",
                 .plural = "ipallocations", .singular = "ipallocation", .namespaced = false};
  r.short_names = {"ipa"};
  r.selectable_fields = {"spec.namespace", "spec.vm", "spec.reservation", "spec.pool"};
  r.columns = {NameColumn(), PathColumn("Pool", "spec.pool", "Pool of the address."),
               PathColumn("Namespace", "spec.namespace", "Tenant holding the address."),
               PathColumn("VM", "spec.vm", "VM using the address."),
               PathColumn("Reservation", "spec.reservation", "Reservation that keeps it."),
               AgeColumn()};
  r.validate = ValidateGenericObject;
  return r;
}

ResourceInfo BGPPeer() {
  ResourceInfo r{.group = "kumo.io", .version = "v1alpha1", .kind = "BGPPeer", .plural = "bgppeers",
                 .singular = "bgppeer", .namespaced = false};
  r.columns = {NameColumn(), PathColumn("Peer IP", "spec.peerIP", "Address of the BGP peer."),
               PathColumn("AS", "spec.asNumber", "The peer's AS number."),
               PathColumn("Node", "spec.node", "The node that peers (empty: every node)."), AgeColumn()};
  r.validate = ValidateGenericObject;
  return r;
}

ResourceInfo BGPConfiguration() {
  ResourceInfo r{.group = "kumo.io", .version = "v1alpha1", .kind = "BGPConfiguration",
                 .plural = "bgpconfigurations", .singular = "bgpconfiguration", .namespaced = false};
  r.columns = {NameColumn(), PathColumn("AS", "spec.asNumber", "The nodes' AS number (default 64512)."),
               PathColumn("Mesh", "spec.nodeToNodeMeshEnabled", "Node-to-node iBGP mesh."), AgeColumn()};
  r.validate = ValidateGenericObject;
  return r;
}

// "used/limit" of one quota resource, "used" when unlimited.
Column QuotaColumn(std::string name, std::string key, std::string description, int priority = 0) {
  return {std::move(name), "string", "", std::move(description), priority,
          [key](const json::value& o, int64_t) {
            std::string used = FieldValue(o, "status.usage." + key);
            std::string limit = FieldValue(o, "spec.quota." + key);
            if (used.empty()) used = "0";
            return json::value(limit.empty() ? used : used + "/" + limit);
          }};
}

ResourceInfo Tenant() {
  ResourceInfo r{.group = "kumo.io", .version = "v1alpha1", .kind = "Tenant", .plural = "tenants",
                 .singular = "tenant", .namespaced = false, .has_status = true};
  r.short_names = {"tnt"};
  r.selectable_fields = {"status.phase"};
  r.columns = {NameColumn(),
               QuotaColumn("VMs", "vms", "VMs used (and the quota)."),
               QuotaColumn("vCPUs", "vcpus", "vCPUs used (and the quota)."),
               QuotaColumn("Memory", "memory", "Memory used, guest plus overhead (and the quota)."),
               QuotaColumn("IPs", "ips", "Addresses claimed (and the quota).", 1),
               QuotaColumn("Volumes", "volumes", "Volumes claimed (and the quota).", 1),
               QuotaColumn("Storage", "storage", "Volume storage claimed (and the quota).", 1),
               {"Members", "integer", "", "Number of members.", 0,
                [](const json::value& o, int64_t) {
                  const json::value* m = Find(o, {"spec", "members"});
                  return json::value(m && m->is_array() ? static_cast<int64_t>(m->get_array().size()) : 0);
                }},
               PathColumn("Phase", "status.phase", "Active or Terminating."), AgeColumn()};
  r.validate = ValidateTenant;
  return r;
}

}  // namespace

// resource_storage.cc
ResourceInfo PersistentVolumeClaim();
ResourceInfo PersistentVolume();
ResourceInfo StorageClass();
ResourceInfo DataVolume();
ResourceInfo VolumeSnapshot();
ResourceInfo VolumeSnapshotContent();

const Registry& DefaultRegistry() {
  static const Registry* registry = new Registry({
      Namespace(),
      Node(),
      Event(),
      Secret(),
      Lease(),
      VirtualMachine(),
      VirtualMachineInstance(),
      VirtualMachineInstanceMigration(),
      ClusterInstancetype(),
      ClusterPreference(),
      Image(),
      IPPool(),
      IPReservation(),
      IPAllocation(),
      BGPPeer(),
      BGPConfiguration(),
      Tenant(),
      PersistentVolumeClaim(),
      PersistentVolume(),
      StorageClass(),
      DataVolume(),
      VolumeSnapshot(),
      VolumeSnapshotContent(),
  });
  return *registry;
}

}  // namespace kumo::api
