#include "server/storage_admission.h"

#include "api/kubevirt.h"
#include "api/resource.h"
#include "api/storage.h"
#include "api/validation.h"

namespace kumo::server {

namespace {

const api::ResourceInfo& Kind(std::string_view group, std::string_view version, std::string_view plural) {
  return *api::DefaultRegistry().Find(group, version, plural);
}


bool IsWrite(const AdmissionRequest& req) {
  return req.object && req.subresource.empty() &&
         (req.verb == "create" || req.verb == "update" || req.verb == "patch");
}

}  // namespace

Status StorageAdmission::Admit(const AdmissionRequest& req) {
  if (!IsWrite(req)) return Status::Ok();
  const std::string& kind = req.resource.kind;
  if (kind == "PersistentVolumeClaim") return AdmitClaim(req);
  if (kind == "DataVolume") return AdmitDataVolume(req);
  if (kind == "VolumeSnapshot") {
    if (req.old) {
      if (!SameAt(req.object, req.old, {"spec"})) {
        return FieldForbidden(req, "spec", "a VolumeSnapshot's spec cannot change; take a new snapshot");
      }
      return Status::Ok();
    }
    // Status is the server's: a created snapshot starts with none.
    req.object->get_object().erase("status");
    return CheckSource(req, "PersistentVolumeClaim",
                       GetString(*req.object, {"spec", "source", "persistentVolumeClaimName"}),
                       "spec.source.persistentVolumeClaimName");
  }
  if (kind == "VirtualMachine") return AdmitVm(req);
  if (kind == "VirtualMachineInstance" && req.verb == "create") return AdmitVmi(req);
  if (kind == "StorageClass" && req.old) {
    for (auto field : {"provisioner", "parameters", "reclaimPolicy", "volumeBindingMode"}) {
      if (!SameAt(req.object, req.old, {field})) {
        return FieldForbidden(req, field, "a StorageClass's " + std::string(field) +
                                      " cannot change; create a new class instead");
      }
    }
  }
  return Status::Ok();
}

Status StorageAdmission::CheckSource(const AdmissionRequest& req, const std::string& kind,
                                     const std::string& name, const std::string& field) {
  if (kind == "PersistentVolumeClaim") {
    if (!cache_.Get(Kind("", "v1", "persistentvolumeclaims").Key(req.ns, name))) {
      return NotFound(field + ": persistentvolumeclaim \"" + name + "\" not found in namespace " +
                      req.ns + "; a volume can only be cloned from a claim of its own namespace");
    }
  } else if (kind == "VolumeSnapshot") {
    if (!cache_.Get(Kind(api::kSnapshotGroup, "v1", "volumesnapshots").Key(req.ns, name))) {
      return NotFound(field + ": volumesnapshot \"" + name + "\" not found in namespace " + req.ns +
                      "; list snapshots with `kumo volume snapshots`");
    }
  } else if (kind == "Image") {
    if (!cache_.Get(Kind("kumo.io", "v1alpha1", "images").Key("", name))) {
      return NotFound(field + ": image \"" + name +
                      "\" not found; list images with `kumo image list`");
    }
  }
  return Status::Ok();
}

Status StorageAdmission::AdmitClaim(const AdmissionRequest& req) {
  json::value& obj = *req.object;
  if (!req.old) {
    std::string cls = GetString(obj, {"spec", "storageClassName"});
    if (cls.empty()) {
      cls = volumes_.DefaultClass();
      if (cls.empty()) {
        return FieldForbidden(req, "spec.storageClassName",
                      "no storage class is named and none is the default; list classes with "
                      "`kubectl get storageclass`");
      }
      EnsureObject(obj, {"spec"})["storageClassName"] = cls;
    }
    if (!cache_.Get(Kind("storage.k8s.io", "v1", "storageclasses").Key("", cls))) {
      return NotFound("storageclass \"" + cls +
                      "\" not found; list classes with `kubectl get storageclass`");
    }
    for (auto field : {"dataSource", "dataSourceRef"}) {
      const json::value* ds = Find(obj, {"spec", field});
      if (!ds || !ds->is_object()) continue;
      const std::string kind = GetString(*ds, {"kind"}), name = GetString(*ds, {"name"});
      KUMO_RETURN_IF_ERROR(CheckSource(req, kind, name, std::string("spec.") + field));
      // A copy is as big as its source: a smaller claim would hold more than it counts for.
      std::string source_size;
      if (kind == "PersistentVolumeClaim") {
        store::CachedPtr src = cache_.Get(Kind("", "v1", "persistentvolumeclaims").Key(req.ns, name));
        StatusOr<json::value> parsed = src ? ParseJson(src->json) : StatusOr<json::value>(NotFound(name));
        if (parsed.ok()) source_size = GetString(*parsed, {"spec", "resources", "requests", "storage"});
      } else if (kind == "VolumeSnapshot") {
        store::CachedPtr src = cache_.Get(Kind(api::kSnapshotGroup, "v1", "volumesnapshots").Key(req.ns, name));
        StatusOr<json::value> parsed = src ? ParseJson(src->json) : StatusOr<json::value>(NotFound(name));
        if (parsed.ok()) source_size = GetString(*parsed, {"status", "restoreSize"});
      }
      if (!source_size.empty()) {
        json::value want = json::object{{"resources", {{"requests", {{"storage", source_size}}}}}};
        StatusOr<int64_t> need = api::RequestedStorage(want);
        StatusOr<int64_t> have = api::RequestedStorage(*Find(obj, {"spec"}));
        if (need.ok() && have.ok() && *have < *need) {
          return FieldForbidden(req, "spec.resources.requests.storage",
                        "the copy needs at least " + source_size + ", the size of its source");
        }
      }
    }
    return Status::Ok();
  }
  for (auto field : {"storageClassName", "accessModes", "dataSource", "dataSourceRef", "volumeMode"}) {
    if (!SameAt(req.object, req.old, {"spec", field})) {
      return FieldForbidden(req, std::string("spec.") + field,
                    "is immutable after creation; create a new claim (a clone keeps the data)");
    }
  }
  StatusOr<int64_t> next = api::RequestedStorage(*Find(obj, {"spec"}));
  const json::value* old_spec = Find(*req.old, {"spec"});
  StatusOr<int64_t> prev = old_spec ? api::RequestedStorage(*old_spec) : StatusOr<int64_t>(0);
  if (next.ok() && prev.ok() && *next != *prev) {
    if (const json::value* refs = Find(obj, {"metadata", "ownerReferences"}); refs && refs->is_array()) {
      for (const auto& r : refs->get_array()) {
        if (GetString(r, {"kind"}) == "DataVolume") {
          return FieldForbidden(req, "spec.resources.requests.storage",
                        "the claim of DataVolume " + GetString(r, {"name"}) +
                            " keeps its DataVolume's size; copy it into a bigger claim instead");
        }
      }
    }
    if (*next < *prev) {
      return FieldForbidden(req, "spec.resources.requests.storage",
                    "a volume cannot shrink; it can only grow");
    }
    std::string cls = GetString(obj, {"spec", "storageClassName"});
    store::CachedPtr sc = cache_.Get(Kind("storage.k8s.io", "v1", "storageclasses").Key("", cls));
    StatusOr<json::value> parsed = sc ? ParseJson(sc->json) : StatusOr<json::value>(NotFound(cls));
    if (!parsed.ok() || !GetBool(*parsed, {"allowVolumeExpansion"})) {
      return FieldForbidden(req, "spec.resources.requests.storage",
                    "storage class \"" + cls + "\" does not allow volumes to grow");
    }
  }
  return Status::Ok();
}

Status StorageAdmission::AdmitDataVolume(const AdmissionRequest& req) {
  if (req.old) {
    if (!SameAt(req.object, req.old, {"spec"})) {
      return FieldForbidden(req, "spec", "a DataVolume's spec cannot change after creation");
    }
    return Status::Ok();
  }
  const json::value& obj = *req.object;
  if (const json::value* reg = Find(obj, {"spec", "source", "registry"})) {
    KUMO_RETURN_IF_ERROR(CheckSource(req, "Image", api::ImageNameOf(GetString(*reg, {"url"})),
                                     "spec.source.registry.url"));
  } else if (const json::value* pvc = Find(obj, {"spec", "source", "pvc"})) {
    KUMO_RETURN_IF_ERROR(CheckSource(req, "PersistentVolumeClaim", GetString(*pvc, {"name"}),
                                     "spec.source.pvc"));
  }
  const json::value* storage = Find(obj, {"spec", "storage"});
  if (!storage) storage = Find(obj, {"spec", "pvc"});
  std::string cls = storage ? GetString(*storage, {"storageClassName"}) : "";
  if (cls.empty() && volumes_.DefaultClass().empty()) {
    return FieldForbidden(req, "spec.storage.storageClassName",
                  "no storage class is named and none is the default");
  }
  if (!cls.empty() && !cache_.Get(Kind("storage.k8s.io", "v1", "storageclasses").Key("", cls))) {
    return NotFound("storageclass \"" + cls + "\" not found; list classes with `kubectl get storageclass`");
  }
  return Status::Ok();
}

Status StorageAdmission::AdmitVm(const AdmissionRequest& req) {
  const json::value& vm = *req.object;
  // Each template must make a valid DataVolume.
  if (const json::value* ts = Find(vm, {"spec", "dataVolumeTemplates"}); ts && ts->is_array()) {
    int i = 0;
    for (const auto& t : ts->get_array()) {
      std::string f = "spec.dataVolumeTemplates[" + std::to_string(i++) + "]";
      json::value dv = json::object{{"apiVersion", "cdi.kubevirt.io/v1beta1"},
                                    {"kind", "DataVolume"},
                                    {"metadata", Find(t, {"metadata"}) ? *Find(t, {"metadata"}) : json::value(json::object())},
                                    {"spec", Find(t, {"spec"}) ? *Find(t, {"spec"}) : json::value(json::object())}};
      EnsureObject(dv, {"metadata"})["namespace"] = req.ns;
      Status st = api::ValidateDataVolume(dv);
      if (!st.ok()) return Status(Code::kInvalid, req.resource.kind + " \"" + req.name + "\" is invalid: " + f + ": " + st.message());
      if (const json::value* reg = Find(dv, {"spec", "source", "registry"})) {
        KUMO_RETURN_IF_ERROR(CheckSource(req, "Image", api::ImageNameOf(GetString(*reg, {"url"})),
                                         f + ".spec.source.registry.url"));
      }
    }
  }
  const std::string strategy = api::RunStrategyOf(vm);
  if (strategy != "Always" && strategy != "RerunOnFailure") return Status::Ok();
  const json::value* spec = Find(vm, {"spec", "template", "spec"});
  if (!spec) return Status::Ok();
  return volumes_.CheckAvailable(req.ns, req.name, *spec);
}

Status StorageAdmission::AdmitVmi(const AdmissionRequest& req) {
  json::value& vmi = *req.object;
  const json::value* spec = Find(vmi, {"spec"});
  if (!spec || api::ClaimsOf(*spec).empty()) return Status::Ok();
  StatusOr<std::vector<api::VolumeDisk>> disks =
      volumes_.Attach(req.ns, req.name, GetString(vmi, {"metadata", "uid"}), *spec, req.dry_run);
  if (!disks.ok()) return disks.status();
  EnsureObject(vmi, {"metadata", "annotations"})[api::kVmiVolumesAnnotation] =
      json::serialize(api::DisksToJson(*disks));
  return Status::Ok();
}

}  // namespace kumo::server
