// Validation of the storage kinds: PersistentVolumeClaim, StorageClass, DataVolume.
#include <algorithm>

#include "api/storage.h"
#include "api/validation.h"
#include "api/validation_util.h"

namespace kumo::api {

namespace {

bool OneOf(const std::string& v, const std::vector<std::string>& allowed) {
  return std::find(allowed.begin(), allowed.end(), v) != allowed.end();
}

// resources.requests.storage under `spec` (a claim's spec or a DataVolume's storage/pvc).
void CheckStorageRequest(const json::value& spec, const std::string& prefix, FieldErrors& errs) {
  StatusOr<int64_t> size = RequestedStorage(spec);
  if (!size.ok()) {
    const json::value* q = Find(spec, {"resources", "requests", "storage"});
    if (!q) errs.Required(prefix + ".resources.requests.storage", "the volume's size, e.g. \"10Gi\"");
    else errs.InvalidValue(prefix + ".resources.requests.storage",
                           q->is_string() ? std::string(q->get_string()) : json::serialize(*q),
                           size.status().message());
  }
}

void CheckAccessModes(const json::value& spec, const std::string& prefix, bool required,
                      FieldErrors& errs) {
  static const std::vector<std::string> kModes = {"ReadWriteOnce", "ReadWriteOncePod",
                                                  "ReadWriteMany", "ReadOnlyMany"};
  const json::value* modes = Find(spec, {"accessModes"});
  if (!modes || (modes->is_array() && modes->get_array().empty())) {
    if (required) errs.Required(prefix + ".accessModes", "at least one, e.g. [ReadWriteOnce]");
    return;
  }
  if (!modes->is_array()) {
    errs.TypeInvalid(prefix + ".accessModes", "must be a list such as [ReadWriteOnce]");
    return;
  }
  int i = 0;
  for (const auto& m : modes->get_array()) {
    std::string f = prefix + ".accessModes[" + std::to_string(i++) + "]";
    std::string v = m.is_string() ? std::string(m.get_string()) : json::serialize(m);
    if (!OneOf(v, kModes)) errs.NotSupported(f, v, kModes);
  }
}

void CheckVolumeMode(const json::value& spec, const std::string& prefix, FieldErrors& errs) {
  std::string mode = GetString(spec, {"volumeMode"});
  if (!mode.empty() && !OneOf(mode, {"Filesystem", "Block"})) {
    errs.NotSupported(prefix + ".volumeMode", mode, {"Filesystem", "Block"});
  }
}

}  // namespace

Status ValidatePersistentVolumeClaim(const json::value& obj) {
  FieldErrors errs;
  CheckMetadata(obj, /*label_name=*/false, errs);
  const json::value* spec = Find(obj, {"spec"});
  if (!spec || !spec->is_object()) {
    errs.Required("spec");
    return errs.ToStatus(KindOf(obj), GetString(obj, {"metadata", "name"}));
  }
  CheckAccessModes(*spec, "spec", /*required=*/true, errs);
  CheckStorageRequest(*spec, "spec", errs);
  CheckVolumeMode(*spec, "spec", errs);
  for (auto field : {"dataSource", "dataSourceRef"}) {
    const json::value* ds = Find(*spec, {field});
    if (!ds || ds->is_null()) continue;
    std::string f = std::string("spec.") + field;
    std::string kind = GetString(*ds, {"kind"});
    std::string group = GetString(*ds, {"apiGroup"});
    if (GetString(*ds, {"name"}).empty()) errs.Required(f + ".name");
    if (kind == "PersistentVolumeClaim" && group.empty()) {
    } else if (kind == "Image" && group == "kumo.io") {
    } else if (kind == "VolumeSnapshot" && group == kSnapshotGroup) {
    } else {
      errs.NotSupported(f + ".kind", (group.empty() ? "" : group + "/") + kind,
                        {"PersistentVolumeClaim", "kumo.io/Image",
                         "snapshot.storage.k8s.io/VolumeSnapshot"});
    }
    if (!GetString(*ds, {"namespace"}).empty() &&
        GetString(*ds, {"namespace"}) != GetString(obj, {"metadata", "namespace"})) {
      errs.InvalidValue(f + ".namespace", GetString(*ds, {"namespace"}),
                        "a volume can only be made from a source in its own namespace");
    }
  }
  return errs.ToStatus(KindOf(obj), GetString(obj, {"metadata", "name"}));
}

Status ValidateStorageClass(const json::value& obj) {
  FieldErrors errs;
  CheckMetadata(obj, /*label_name=*/false, errs);
  std::string provisioner = GetString(obj, {"provisioner"});
  if (provisioner.empty()) {
    errs.Required("provisioner", std::string(kLocalProvisioner) + " or " + kSharedDirProvisioner);
  } else if (!OneOf(provisioner, {kLocalProvisioner, kSharedDirProvisioner})) {
    errs.NotSupported("provisioner", provisioner, {kLocalProvisioner, kSharedDirProvisioner});
  }
  const json::value* params = Find(obj, {"parameters"});
  if (params && !params->is_null()) {
    if (!params->is_object()) errs.TypeInvalid("parameters", "must be a map of strings");
    else for (const auto& kv : params->get_object()) {
      if (!kv.value().is_string()) {
        errs.TypeInvalid("parameters[" + std::string(kv.key()) + "]", "values must be strings");
      }
    }
  }
  if (provisioner == kSharedDirProvisioner) {
    std::string path = GetString(obj, {"parameters", "path"});
    if (path.empty()) {
      errs.Required("parameters.path", "the directory every node mounts the shared storage at");
    } else if (path[0] != '/' || path.find("/../") != std::string::npos ||
               path.ends_with("/..") || path.find('\n') != std::string::npos ||
               path.find(',') != std::string::npos) {
      errs.InvalidValue("parameters.path", path,
                        "must be an absolute directory without '..' or ','");
    }
  }
  std::string reclaim = GetString(obj, {"reclaimPolicy"});
  if (!reclaim.empty() && !OneOf(reclaim, {"Delete", "Retain"})) {
    errs.NotSupported("reclaimPolicy", reclaim, {"Delete", "Retain"});
  }
  std::string binding = GetString(obj, {"volumeBindingMode"});
  if (!binding.empty() && !OneOf(binding, {"Immediate", "WaitForFirstConsumer"})) {
    errs.NotSupported("volumeBindingMode", binding, {"Immediate", "WaitForFirstConsumer"});
  }
  const json::value* expand = Find(obj, {"allowVolumeExpansion"});
  if (expand && !expand->is_null() && !expand->is_bool()) {
    errs.TypeInvalid("allowVolumeExpansion", "must be true or false");
  }
  return errs.ToStatus(KindOf(obj), GetString(obj, {"metadata", "name"}));
}

Status ValidateDataVolume(const json::value& obj) {
  FieldErrors errs;
  CheckMetadata(obj, /*label_name=*/false, errs);
  const json::value* spec = Find(obj, {"spec"});
  if (!spec || !spec->is_object()) {
    errs.Required("spec");
    return errs.ToStatus(KindOf(obj), GetString(obj, {"metadata", "name"}));
  }
  const json::value* source = Find(*spec, {"source"});
  std::vector<std::string> kinds;
  if (source && source->is_object()) {
    for (const auto& kv : source->get_object()) kinds.push_back(std::string(kv.key()));
  }
  if (kinds.size() != 1) {
    errs.Required("spec.source", "exactly one of blank, registry (an Image) or pvc (a clone)");
  } else if (kinds[0] == "registry") {
    if (GetString(*source, {"registry", "url"}).empty()) {
      errs.Required("spec.source.registry.url", "e.g. docker://kumo/tiny (names the Image tiny)");
    }
  } else if (kinds[0] == "pvc") {
    if (GetString(*source, {"pvc", "name"}).empty()) errs.Required("spec.source.pvc.name");
    std::string ns = GetString(*source, {"pvc", "namespace"});
    if (!ns.empty() && ns != GetString(obj, {"metadata", "namespace"})) {
      errs.InvalidValue("spec.source.pvc.namespace", ns,
                        "a volume can only be cloned from its own namespace");
    }
  } else if (kinds[0] != "blank") {
    errs.NotSupported("spec.source", kinds[0], {"blank", "registry", "pvc"});
  }
  const json::value* storage = Find(*spec, {"storage"});
  const char* storage_field = "spec.storage";
  if (!storage) {
    storage = Find(*spec, {"pvc"});
    storage_field = "spec.pvc";
  }
  if (!storage || !storage->is_object()) {
    errs.Required("spec.storage", "the volume's size: storage.resources.requests.storage");
  } else {
    CheckAccessModes(*storage, storage_field, /*required=*/false, errs);
    CheckStorageRequest(*storage, storage_field, errs);
    CheckVolumeMode(*storage, storage_field, errs);
  }
  return errs.ToStatus(KindOf(obj), GetString(obj, {"metadata", "name"}));
}

Status ValidateVolumeSnapshot(const json::value& obj) {
  FieldErrors errs;
  CheckMetadata(obj, /*label_name=*/false, errs);
  if (GetString(obj, {"spec", "source", "persistentVolumeClaimName"}).empty()) {
    if (Find(obj, {"spec", "source", "volumeSnapshotContentName"})) {
      errs.NotSupported("spec.source", "volumeSnapshotContentName", {"persistentVolumeClaimName"});
    } else {
      errs.Required("spec.source.persistentVolumeClaimName", "the claim to copy");
    }
  }
  return errs.ToStatus(KindOf(obj), GetString(obj, {"metadata", "name"}));
}

}  // namespace kumo::api
