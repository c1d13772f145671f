#include "controller/volumes.h"

#include <set>

#include "api/kubevirt.h"
#include "api/object.h"
#include "api/validation.h"
#include "common/clock.h"
#include "common/random.h"
#include "controller/objects.h"

namespace kumo::controller {

namespace {

const api::ResourceInfo& Pvcs() { return Resource("", "v1", "persistentvolumeclaims"); }
const api::ResourceInfo& Pvs() { return Resource("", "v1", "persistentvolumes"); }
const api::ResourceInfo& Classes() { return Resource("storage.k8s.io", "v1", "storageclasses"); }
const api::ResourceInfo& Vmis() { return Resource("kubevirt.io", "v1", "virtualmachineinstances"); }

constexpr int kMaxCloneDepth = 8;

// How long an attachment may name an instance that is not stored yet.
constexpr int64_t kPendingAttachSeconds = 30;

// kAttachedToAnnotation: "<ns>/<name>/<uid>/<unix seconds attached>".
std::string Holder(const std::string& ns, const std::string& name, const std::string& uid,
                   int64_t now) {
  return ns + "/" + name + "/" + uid + "/" + std::to_string(now);
}


// The claim's dataSourceRef, else its dataSource; nullptr when it has none.
const json::value* DataSourceOf(const json::value& pvc) {
  for (auto field : {"dataSourceRef", "dataSource"}) {
    const json::value* ds = Find(pvc, {"spec", field});
    if (ds && ds->is_object()) return ds;
  }
  return nullptr;
}

std::string ClaimNotFound(const std::string& ns, const std::string& claim) {
  return "persistentvolumeclaim \"" + claim + "\" not found in namespace " + ns +
         "; create it with `kumo volume create " + claim + " --size 10Gi` or a DataVolume";
}

StatusOr<json::value> ParseCached(const store::WatchCache& cache, const std::string& key) {
  store::CachedPtr o = cache.Get(key);
  if (!o) return NotFound(key);
  return ParseJson(o->json);
}

}  // namespace

StatusOr<json::value> Volumes::EnsureBound(const std::string& ns, const std::string& claim) {
  std::optional<json::value> pvc;
  for (int depth = 0;; ++depth) {
    KUMO_ASSIGN_OR_RETURN(pvc, Load(store_, Pvcs().Key(ns, claim)));
    if (!pvc) return NotFound(ClaimNotFound(ns, claim));
    if (!GetString(*pvc, {"spec", "volumeName"}).empty()) return *pvc;
    if (depth > 0) return Status(Code::kConflict, "claim " + claim + " changed while binding");

    std::string class_name = GetString(*pvc, {"spec", "storageClassName"});
    StatusOr<json::value> sc = ParseCached(cache_, Classes().Key("", class_name));
    if (!sc.ok()) {
      return NotFound("storage class \"" + class_name + "\" of claim " + claim +
                      " not found; list classes with `kubectl get storageclass`");
    }
    const std::string provisioner = GetString(*sc, {"provisioner"});
    const bool local = provisioner == api::kLocalProvisioner;
    std::string node;
    // A clone is made by a node that sees the source: a clone of a local volume (or of a
    // snapshot of one) stays on the source's node.
    if (const json::value* ds = DataSourceOf(*pvc); ds && GetString(*ds, {"kind"}) == "VolumeSnapshot") {
      KUMO_ASSIGN_OR_RETURN(json::value vsc, SnapshotContentOf(ns, GetString(*ds, {"name"})));
      if (GetString(vsc, {"spec", "driver"}) == api::kLocalDriver && !GetBool(vsc, {"status", "empty"})) {
        if (!local) {
          return Status(Code::kInvalid, "claim " + claim + " restores a snapshot of a local volume; "
                                        "it must be local too");
        }
        node = GetString(vsc, {"spec", "nodeName"});
      }
    } else if (const json::value* ds = DataSourceOf(*pvc);
        ds && GetString(*ds, {"kind"}) == "PersistentVolumeClaim") {
      std::string source = GetString(*ds, {"name"});
      if (source == claim) return Status(Code::kInvalid, "claim " + claim + " cannot clone itself");
      StatusOr<json::value> src = json::value();
      {
        static thread_local int clone_depth = 0;
        if (clone_depth >= kMaxCloneDepth) return Status(Code::kInvalid, "clones nested too deep");
        ++clone_depth;
        src = EnsureBound(ns, source);
        --clone_depth;
      }
      if (!src.ok()) return src.status();
      KUMO_ASSIGN_OR_RETURN(auto src_pv, Load(store_, Pvs().Key("", GetString(*src, {"spec", "volumeName"}))));
      if (!src_pv) return NotFound("the volume of claim " + source + " is gone");
      if (GetString(*src_pv, {"spec", "csi", "driver"}) == api::kLocalDriver) {
        if (!local) {
          return Status(Code::kInvalid, "claim " + claim + " clones the local volume " + source +
                                            "; a clone of a local volume must be local too");
        }
        node = api::FieldValue(*src_pv, api::kPvNodeField);
      }
    }

    const std::string pv_name = api::PvNameFor(*pvc);
    KUMO_ASSIGN_OR_RETURN(int64_t size, api::RequestedStorage(*Find(*pvc, {"spec"})));
    (void)size;
    const json::value* request = Find(*pvc, {"spec", "resources", "requests", "storage"});
    json::object attributes{{"node", node}};
    if (!local) attributes["location"] = GetString(*sc, {"parameters", "path"});
    json::object spec{
        {"capacity", json::object{{"storage", *request}}},
        {"accessModes", *Find(*pvc, {"spec", "accessModes"})},
        {"persistentVolumeReclaimPolicy", GetString(*sc, {"reclaimPolicy"}, "Delete")},
        {"storageClassName", class_name},
        {"volumeMode", GetString(*pvc, {"spec", "volumeMode"}, "Filesystem")},
        {"claimRef", json::object{{"apiVersion", "v1"},
                                  {"kind", "PersistentVolumeClaim"},
                                  {"namespace", ns},
                                  {"name", claim},
                                  {"uid", GetString(*pvc, {"metadata", "uid"})}}},
        {"csi", json::object{{"driver", local ? api::kLocalDriver : api::kSharedDirDriver},
                             {"volumeHandle", pv_name},
                             {"volumeAttributes", std::move(attributes)}}}};
    json::value pv = json::object{
        {"apiVersion", "v1"},
        {"kind", "PersistentVolume"},
        {"metadata",
         json::object{{"name", pv_name},
                      {"uid", NewUid()},
                      {"creationTimestamp", FormatTime(RealClock::Get().NowUnixSeconds())},
                      {"finalizers", json::array{api::kVolumeCleanupFinalizer}},
                      {"annotations",
                       json::object{{"pv.kubernetes.io/provisioned-by", provisioner}}}}},
        {"spec", std::move(spec)},
        {"status", json::object{{"phase", "Bound"}}}};
    auto created = store_.Create(Pvs().Key("", pv_name), api::SerializeForStore(pv));
    if (!created.ok() && created.status().code() != Code::kAlreadyExists) return created.status();

    Status st = Mutate(store_, Pvcs().Key(ns, claim), [&](json::value& obj) -> Status {
      if (GetString(obj, {"metadata", "uid"}) != GetString(*pvc, {"metadata", "uid"})) {
        return NotFound(ClaimNotFound(ns, claim));
      }
      EnsureObject(obj, {"spec"})["volumeName"] = pv_name;
      json::object& status = EnsureObject(obj, {"status"});
      status["phase"] = "Bound";
      status["capacity"] = json::object{{"storage", *request}};
      status["accessModes"] = *Find(*pvc, {"spec", "accessModes"});
      AddFinalizer(obj, api::kPvcProtectionFinalizer);
      return Status::Ok();
    });
    if (!st.ok()) return st;
  }
}

std::string Volumes::HolderOf(const json::value& pv) const {
  std::string a = GetString(pv, {"metadata", "annotations", api::kAttachedToAnnotation});
  if (a.starts_with(api::kSnapshotHolderPrefix)) {
    // A snapshot holds the volume while its node copies it.
    const std::string content = a.substr(std::string_view(api::kSnapshotHolderPrefix).size());
    auto vsc = Load(store_, Resource(api::kSnapshotGroup, "v1", "volumesnapshotcontents").Key("", content));
    if (!vsc.ok()) return "VolumeSnapshotContent " + content;
    if (!*vsc || Terminating(**vsc) || GetBool(**vsc, {"status", "readyToUse"})) return "";
    return "VolumeSnapshotContent " + content + " (a snapshot being taken)";
  }
  std::optional<AttachRecord> r = ParseAttach(a);
  if (!r) return "";
  auto vmi = Load(store_, Vmis().Key(r->ns, r->name));
  const std::string who = "VirtualMachineInstance " + r->ns + "/" + r->name;
  // When the store cannot answer, the holder counts as alive: never two writers.
  if (!vmi.ok()) return who;
  if (*vmi) {
    if (GetString(**vmi, {"metadata", "uid"}) == r->uid) return who;
    // Another instance of the same name: it holds the volume if it names its claim (two creates
    // of one name can race; the one stored is the holder, whatever the record says).
    const std::string claim = GetString(pv, {"spec", "claimRef", "name"});
    const json::value* spec = Find(**vmi, {"spec"});
    for (const auto& ref : spec ? api::ClaimsOf(*spec) : std::vector<api::ClaimRef>{}) {
      if (ref.claim == claim) return who;
    }
    return "";
  }
  // Attached, but the instance is not stored yet (the VM controller stores it right after).
  if (clock_.NowUnixSeconds() - r->at < kPendingAttachSeconds) return who + " (starting)";
  return "";
}

StatusOr<api::VolumeDisk> Volumes::DiskFor(const std::string& ns, const api::ClaimRef& ref,
                                           const json::value& pvc, const json::value& pv) {
  api::VolumeDisk d;
  d.volume = ref.volume;
  d.claim = ref.claim;
  d.pv = GetString(pv, {"metadata", "name"});
  d.driver = GetString(pv, {"spec", "csi", "driver"});
  d.location = GetString(pv, {"spec", "csi", "volumeAttributes", "location"});
  KUMO_ASSIGN_OR_RETURN(d.size_bytes, api::RequestedStorage(*Find(pvc, {"spec"})));
  d.populated = GetString(pv, {"metadata", "annotations", api::kPopulatedAnnotation}) == "true";
  const json::value* ds = DataSourceOf(pvc);
  std::string kind = ds ? GetString(*ds, {"kind"}) : "";
  if (kind == "Image") {
    std::string image = GetString(*ds, {"name"});
    StatusOr<json::value> img =
        ParseCached(cache_, Resource("kumo.io", "v1alpha1", "images").Key("", image));
    if (!img.ok() || GetString(*img, {"status", "phase"}) != "Ready") {
      if (!d.populated) {
        return NotFound("image \"" + image + "\" of claim " + ref.claim +
                        " is not ready; list images with `kumo image list`");
      }
    } else {
      d.source = "image";
      d.image_path = GetString(*img, {"status", "path"});
      d.image_format = GetString(*img, {"spec", "format"}, "qcow2");
      if (Find(*img, {"spec", "source", "upload"})) {
        d.image_name = image;
        d.image_checksum = GetString(*img, {"status", "checksum"});
      }
    }
  } else if (kind == "VolumeSnapshot" && !d.populated) {
    KUMO_ASSIGN_OR_RETURN(json::value vsc, SnapshotContentOf(ns, GetString(*ds, {"name"})));
    if (!GetBool(vsc, {"status", "empty"})) {
      d.source = "clone";
      d.clone_pv = GetString(vsc, {"metadata", "name"});
      d.clone_driver = GetString(vsc, {"spec", "driver"});
      d.clone_location = GetString(vsc, {"spec", "location"});
    }  // a snapshot of a volume nobody wrote is blank
  } else if (kind == "PersistentVolumeClaim" && !d.populated) {
    std::string source = GetString(*ds, {"name"});
    KUMO_ASSIGN_OR_RETURN(auto src, Load(store_, Pvcs().Key(ns, source)));
    if (!src) return NotFound("claim " + ref.claim + " clones " + ClaimNotFound(ns, source));
    KUMO_ASSIGN_OR_RETURN(auto src_pv, Load(store_, Pvs().Key("", GetString(*src, {"spec", "volumeName"}))));
    if (!src_pv) return NotFound("the volume of claim " + source + " is not bound yet");
    if (GetString(*src_pv, {"metadata", "annotations", api::kPopulatedAnnotation}) == "true") {
      d.source = "clone";
      d.clone_pv = GetString(*src_pv, {"metadata", "name"});
      d.clone_driver = GetString(*src_pv, {"spec", "csi", "driver"});
      d.clone_location = GetString(*src_pv, {"spec", "csi", "volumeAttributes", "location"});
    }  // a clone of a volume nobody wrote yet is blank
  }
  return d;
}

StatusOr<std::vector<api::VolumeDisk>> Volumes::Attach(const std::string& ns,
                                                       const std::string& name,
                                                       const std::string& uid,
                                                       const json::value& vmi_spec, bool dry_run) {
  std::vector<api::VolumeDisk> disks;
  std::set<std::string> seen;
  const std::string me = Holder(ns, name, uid, clock_.NowUnixSeconds());
  for (const api::ClaimRef& ref : api::ClaimsOf(vmi_spec)) {
    if (!seen.insert(ref.claim).second) {
      return Status(Code::kInvalid, "claim " + ref.claim + " is named by two volumes of " + name);
    }
    json::value pvc;
    if (dry_run) {
      KUMO_ASSIGN_OR_RETURN(auto loaded, Load(store_, Pvcs().Key(ns, ref.claim)));
      if (!loaded) return NotFound(ClaimNotFound(ns, ref.claim));
      pvc = std::move(*loaded);
    } else {
      KUMO_ASSIGN_OR_RETURN(pvc, EnsureBound(ns, ref.claim));
    }
    if (Terminating(pvc)) {
      return Status(Code::kConflict, "persistentvolumeclaim \"" + ref.claim + "\" is being deleted");
    }
    const std::string pv_key = Pvs().Key("", GetString(pvc, {"spec", "volumeName"}));
    KUMO_ASSIGN_OR_RETURN(auto pv, Load(store_, pv_key));
    if (!pv) {
      if (dry_run) continue;
      return NotFound("the volume of claim " + ref.claim + " is gone");
    }
    auto in_use = [&](const json::value& current) -> Status {
      std::optional<AttachRecord> was =
          ParseAttach(GetString(current, {"metadata", "annotations", api::kAttachedToAnnotation}));
      if (was && was->ns == ns && was->name == name) {
        // An earlier instance of the same name: it holds the volume only while it exists.
        auto vmi = Load(store_, Vmis().Key(ns, name));
        if (!vmi.ok()) return vmi.status();
        if (!*vmi || was->uid == uid) return Status::Ok();
      }
      std::string holder = HolderOf(current);
      if (holder.empty()) return Status::Ok();
      return Status(Code::kConflict,
                    "persistentvolumeclaim \"" + ref.claim + "\" is in use by " + holder +
                        "; a volume is attached to one VM at a time: stop that VM first");
    };
    KUMO_RETURN_IF_ERROR(in_use(*pv));
    if (!dry_run) {
      KUMO_RETURN_IF_ERROR(Mutate(store_, pv_key, [&](json::value& obj) -> Status {
        KUMO_RETURN_IF_ERROR(in_use(obj));
        EnsureObject(obj, {"metadata", "annotations"})[api::kAttachedToAnnotation] = me;
        return Status::Ok();
      }));
    }
    KUMO_ASSIGN_OR_RETURN(api::VolumeDisk disk, DiskFor(ns, ref, pvc, *pv));
    disks.push_back(std::move(disk));
  }
  return disks;
}

Status Volumes::CheckAvailable(const std::string& ns, const std::string& vm_name,
                               const json::value& vmi_spec) const {
  for (const api::ClaimRef& ref : api::ClaimsOf(vmi_spec)) {
    store::CachedPtr pvc = cache_.Get(Pvcs().Key(ns, ref.claim));
    if (!pvc) continue;  // a DataVolume (template) may create it; the start reports it otherwise
    std::string pv_name = pvc->Field("spec.volumeName");
    if (pv_name.empty()) {
      StatusOr<json::value> parsed = ParseJson(pvc->json);
      if (parsed.ok()) pv_name = GetString(*parsed, {"spec", "volumeName"});
    }
    if (pv_name.empty()) continue;
    StatusOr<json::value> pv = ParseCached(cache_, Pvs().Key("", pv_name));
    if (!pv.ok()) continue;
    std::string holder = HolderOf(*pv);
    const std::string own = "VirtualMachineInstance " + ns + "/" + vm_name;
    if (!holder.empty() && holder != own && !holder.starts_with(own + " ")) {
      return Status(Code::kConflict,
                    "persistentvolumeclaim \"" + ref.claim + "\" is in use by " + holder +
                        "; a volume is attached to one VM at a time: stop that VM first");
    }
  }
  return Status::Ok();
}

StatusOr<std::optional<std::string>> Volumes::RequiredNode(const json::value& vmi) const {
  KUMO_ASSIGN_OR_RETURN(std::vector<api::VolumeDisk> disks, api::DisksOf(vmi));
  std::optional<std::string> node;
  for (const auto& d : disks) {
    if (d.driver != api::kLocalDriver) continue;
    store::CachedPtr pv = cache_.Get(Pvs().Key("", d.pv));
    std::string at = pv ? pv->Field(api::kPvNodeField) : "";
    if (at.empty()) continue;
    if (node && *node != at) {
      return Status(Code::kInvalid, "the VM's local volumes sit on different nodes (" + *node +
                                        ", " + at + "); it cannot run anywhere");
    }
    node = at;
  }
  return node;
}

Status Volumes::PlaceVolumes(const json::value& vmi, const std::string& node, bool moved) {
  KUMO_ASSIGN_OR_RETURN(std::vector<api::VolumeDisk> disks, api::DisksOf(vmi));
  for (const auto& d : disks) {
    const bool local = d.driver == api::kLocalDriver;
    Status st = Mutate(store_, Pvs().Key("", d.pv), [&](json::value& obj) -> Status {
      std::string at = api::FieldValue(obj, api::kPvNodeField);
      if (at == node) return Status(Code::kAlreadyExists, "placed");
      if (local && !at.empty() && !moved) {
        return Status(Code::kConflict, "local volume " + d.pv + " is on node " + at);
      }
      EnsureObject(obj, {"spec", "csi", "volumeAttributes"})["node"] = node;
      if (local) {
        json::value term = json::object{
            {"matchExpressions",
             json::array{json::object{{"key", "kubernetes.io/hostname"},
                                      {"operator", "In"},
                                      {"values", json::array{json::value(node)}}}}}};
        EnsureObject(obj, {"spec"})["nodeAffinity"] = json::object{
            {"required", json::object{{"nodeSelectorTerms", json::array{std::move(term)}}}}};
      }
      return Status::Ok();
    });
    if (!st.ok() && st.code() != Code::kAlreadyExists) return st;
  }
  return Status::Ok();
}

StatusOr<json::value> Volumes::SnapshotContentOf(const std::string& ns,
                                                 const std::string& snapshot) const {
  KUMO_ASSIGN_OR_RETURN(auto vs, Load(store_, Resource(api::kSnapshotGroup, "v1", "volumesnapshots").Key(ns, snapshot)));
  if (!vs) return NotFound("volumesnapshot \"" + snapshot + "\" not found in namespace " + ns);
  // The content the server made for this snapshot (never a name from the snapshot's status).
  const std::string content = "snapcontent-" + GetString(*vs, {"metadata", "uid"});
  KUMO_ASSIGN_OR_RETURN(auto vsc, Load(store_, Resource(api::kSnapshotGroup, "v1", "volumesnapshotcontents").Key("", content)));
  if (vsc && (GetString(*vsc, {"spec", "volumeSnapshotRef", "namespace"}) != ns ||
              GetString(*vsc, {"spec", "volumeSnapshotRef", "uid"}) !=
                  GetString(*vs, {"metadata", "uid"}))) {
    vsc.reset();
  }
  if (!vsc || !GetBool(*vsc, {"status", "readyToUse"})) {
    return Status(Code::kUnavailable, "volumesnapshot \"" + snapshot + "\" is not ready yet");
  }
  return *vsc;
}


std::string Volumes::DefaultClass() const {
  std::string best;
  store::WatchCache::Page page = cache_.List(Classes().KeyPrefix(), "", 0, nullptr);
  for (const auto& o : page.items) {
    if (o->json.find(api::kDefaultClassAnnotation) == std::string::npos) continue;
    StatusOr<json::value> sc = ParseJson(o->json);
    if (!sc.ok() ||
        GetString(*sc, {"metadata", "annotations", api::kDefaultClassAnnotation}) != "true") {
      continue;
    }
    std::string name = GetString(*sc, {"metadata", "name"});
    if (best.empty() || name < best) best = name;
  }
  return best;
}

json::value Volumes::ClaimForDataVolume(const json::value& dv) const {
  const json::value* storage = Find(dv, {"spec", "storage"});
  if (!storage) storage = Find(dv, {"spec", "pvc"});
  json::object spec;
  const json::value* modes = storage ? Find(*storage, {"accessModes"}) : nullptr;
  spec["accessModes"] = modes && modes->is_array() && !modes->get_array().empty()
                            ? *modes
                            : json::value(json::array{"ReadWriteOnce"});
  if (const json::value* r = storage ? Find(*storage, {"resources"}) : nullptr) spec["resources"] = *r;
  std::string cls = storage ? GetString(*storage, {"storageClassName"}) : "";
  spec["storageClassName"] = cls.empty() ? DefaultClass() : cls;
  spec["volumeMode"] = storage ? GetString(*storage, {"volumeMode"}, "Filesystem") : "Filesystem";
  if (const json::value* reg = Find(dv, {"spec", "source", "registry"})) {
    spec["dataSourceRef"] = json::object{{"apiGroup", "kumo.io"}, {"kind", "Image"},
                                         {"name", api::ImageNameOf(GetString(*reg, {"url"}))}};
  } else if (const json::value* src = Find(dv, {"spec", "source", "pvc"})) {
    spec["dataSourceRef"] =
        json::object{{"kind", "PersistentVolumeClaim"}, {"name", GetString(*src, {"name"})}};
  }
  json::object meta{{"name", GetString(dv, {"metadata", "name"})},
                    {"namespace", GetString(dv, {"metadata", "namespace"})},
                    {"uid", NewUid()},
                    {"creationTimestamp", FormatTime(RealClock::Get().NowUnixSeconds())},
                    {"ownerReferences",
                     json::array{json::object{{"apiVersion", "cdi.kubevirt.io/v1beta1"},
                                              {"kind", "DataVolume"},
                                              {"name", GetString(dv, {"metadata", "name"})},
                                              {"uid", GetString(dv, {"metadata", "uid"})},
                                              {"controller", true},
                                              {"blockOwnerDeletion", true}}}}};
  if (const json::value* l = Find(dv, {"metadata", "labels"}); l && l->is_object()) meta["labels"] = *l;
  return json::object{{"apiVersion", "v1"},
                      {"kind", "PersistentVolumeClaim"},
                      {"metadata", std::move(meta)},
                      {"spec", std::move(spec)},
                      {"status", json::object{{"phase", "Pending"}}}};
}

Status Volumes::EnsureDataVolume(const std::string& ns, const json::value& dv_in,
                                 const json::value* owner_vm) {
  const api::ResourceInfo& dvs = Resource("cdi.kubevirt.io", "v1beta1", "datavolumes");
  const std::string name = GetString(dv_in, {"metadata", "name"});
  json::value dv = dv_in;
  if (owner_vm) {
    json::object meta{{"name", name},
                      {"namespace", ns},
                      {"uid", NewUid()},
                      {"creationTimestamp", FormatTime(RealClock::Get().NowUnixSeconds())},
                      {"ownerReferences",
                       json::array{json::object{{"apiVersion", "kubevirt.io/v1"},
                                                {"kind", "VirtualMachine"},
                                                {"name", GetString(*owner_vm, {"metadata", "name"})},
                                                {"uid", GetString(*owner_vm, {"metadata", "uid"})},
                                                {"controller", true},
                                                {"blockOwnerDeletion", true}}}}};
    if (const json::value* l = Find(dv_in, {"metadata", "labels"}); l && l->is_object()) meta["labels"] = *l;
    dv = json::object{{"apiVersion", "cdi.kubevirt.io/v1beta1"},
                      {"kind", "DataVolume"},
                      {"metadata", std::move(meta)},
                      {"spec", Find(dv_in, {"spec"}) ? *Find(dv_in, {"spec"}) : json::value(json::object())},
                      {"status", json::object{{"phase", "Pending"}}}};
    KUMO_RETURN_IF_ERROR(api::ValidateDataVolume(dv));
    auto created = store_.Create(dvs.Key(ns, name), api::SerializeForStore(dv));
    if (!created.ok() && created.status().code() != Code::kAlreadyExists) return created.status();
    KUMO_ASSIGN_OR_RETURN(auto stored, Load(store_, dvs.Key(ns, name)));
    if (!stored) return Status(Code::kConflict, "DataVolume " + name + " vanished");
    dv = std::move(*stored);
  }
  if (cache_.Get(Pvcs().Key(ns, name))) return Status::Ok();
  json::value pvc = ClaimForDataVolume(dv);
  KUMO_RETURN_IF_ERROR(api::ValidatePersistentVolumeClaim(pvc));
  if (GetString(pvc, {"spec", "storageClassName"}).empty()) {
    return NotFound("DataVolume " + name + " names no storage class and there is no default one");
  }
  auto created = store_.Create(Pvcs().Key(ns, name), api::SerializeForStore(pvc));
  if (!created.ok() && created.status().code() != Code::kAlreadyExists) return created.status();
  return Status::Ok();
}

}  // namespace kumo::controller
