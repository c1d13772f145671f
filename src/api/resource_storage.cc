// The storage kinds: core/v1 PersistentVolumeClaim and PersistentVolume, storage.k8s.io/v1
// StorageClass and CDI's DataVolume, with the Table columns kubectl prints for them.
#include "api/columns.h"
#include "api/resource.h"
#include "api/storage.h"
#include "api/validation.h"

namespace kumo::api {

namespace {

Column AccessModesColumn(std::string path_root) {
  return {"Access Modes", "string", "", "Access modes (RWO: ReadWriteOnce).", 0,
          [path_root](const json::value& o, int64_t) {
            return json::value(AccessModesShort(Find(o, {path_root, "accessModes"})));
          }};
}

}  // namespace

ResourceInfo PersistentVolumeClaim() {
  ResourceInfo r{.group = "", .version = "v1", .kind = "PersistentVolumeClaim",
                 .plural = "persistentvolumeclaims", .singular = "persistentvolumeclaim",
                 .namespaced = true, .has_status = true};
  r.short_names = {"pvc"};
  r.selectable_fields = {"status.phase", "spec.storageClassName"};
  r.columns = {NameColumn(),
               PathColumn("Status", "status.phase", "Pending, Bound or Lost."),
               PathColumn("Volume", "spec.volumeName", "The PersistentVolume bound to the claim."),
               PathColumn("Capacity", "status.capacity.storage", "The volume's size."),
               AccessModesColumn("status"),
               PathColumn("StorageClass", "spec.storageClassName", "The storage class."),
               AgeColumn(),
               PathColumn("VolumeMode", "spec.volumeMode", "Filesystem or Block.", 1)};
  r.validate = ValidatePersistentVolumeClaim;
  r.set_defaults = [](json::value& o) {
    json::object& spec = EnsureObject(o, {"spec"});
    if (!spec.contains("volumeMode")) spec["volumeMode"] = "Filesystem";
    EnsureObject(o, {"status"})["phase"] = "Pending";
  };
  return r;
}

ResourceInfo PersistentVolume() {
  ResourceInfo r{.group = "", .version = "v1", .kind = "PersistentVolume",
                 .plural = "persistentvolumes", .singular = "persistentvolume",
                 .namespaced = false, .has_status = true};
  r.short_names = {"pv"};
  r.selectable_fields = {"status.phase", kPvNodeField};
  r.columns = {NameColumn(),
               PathColumn("Capacity", "spec.capacity.storage", "The volume's size."),
               AccessModesColumn("spec"),
               PathColumn("Reclaim Policy", "spec.persistentVolumeReclaimPolicy",
                          "What happens to the data when the claim is deleted."),
               PathColumn("Status", "status.phase", "Available, Bound, Released or Failed."),
               {"Claim", "string", "", "The claim bound to the volume.", 0,
                [](const json::value& o, int64_t) {
                  std::string name = GetString(o, {"spec", "claimRef", "name"});
                  if (name.empty()) return json::value("");
                  return json::value(GetString(o, {"spec", "claimRef", "namespace"}) + "/" + name);
                }},
               PathColumn("StorageClass", "spec.storageClassName", "The storage class."),
               PathColumn("Reason", "status.reason", "Why the volume is in its phase."),
               AgeColumn(),
               PathColumn("Node", kPvNodeField, "The node that holds a local volume.", 1),
               {"Attached To", "string", "", "The VMI that holds the volume.", 1,
                [](const json::value& o, int64_t) {
                  std::string a = GetString(o, {"metadata", "annotations", kAttachedToAnnotation});
                  return json::value(a.substr(0, a.rfind('/') == std::string::npos ? a.size()
                                                                                    : a.rfind('/')));
                }}};
  r.validate = ValidateGenericObject;
  return r;
}

ResourceInfo StorageClass() {
  ResourceInfo r{.group = "storage.k8s.io", .version = "v1", .kind = "StorageClass",
                 .plural = "storageclasses", .singular = "storageclass", .namespaced = false};
  r.short_names = {"sc"};
  r.columns = {{"Name", "string", "name", "The class's name; (default) marks the default class.", 0,
                [](const json::value& o, int64_t) {
                  std::string name = GetString(o, {"metadata", "name"});
                  if (GetString(o, {"metadata", "annotations", kDefaultClassAnnotation}) == "true") {
                    name += " (default)";
                  }
                  return json::value(name);
                }},
               PathColumn("Provisioner", "provisioner", "Who makes the volumes."),
               PathColumn("ReclaimPolicy", "reclaimPolicy", "Delete or Retain."),
               PathColumn("VolumeBindingMode", "volumeBindingMode",
                          "Immediate or WaitForFirstConsumer."),
               PathColumn("AllowVolumeExpansion", "allowVolumeExpansion",
                          "Whether claims may grow."),
               AgeColumn()};
  r.validate = ValidateStorageClass;
  r.set_defaults = [](json::value& o) {
    json::object& obj = o.get_object();
    if (!obj.contains("reclaimPolicy")) obj["reclaimPolicy"] = "Delete";
    if (!obj.contains("volumeBindingMode")) {
      obj["volumeBindingMode"] =
          GetString(o, {"provisioner"}) == kLocalProvisioner ? "WaitForFirstConsumer" : "Immediate";
    }
  };
  return r;
}

ResourceInfo DataVolume() {
  ResourceInfo r{.group = "cdi.kubevirt.io", .version = "v1beta1", .kind = "DataVolume",
                 .plural = "datavolumes", .singular = "datavolume", .namespaced = true,
                 .has_status = true};
  r.short_names = {"dv", "dvs"};
  r.categories = {"all"};
  r.selectable_fields = {"status.phase"};
  r.columns = {NameColumn(),
               PathColumn("Phase", "status.phase", "Pending, Succeeded, Failed, ..."),
               PathColumn("Progress", "status.progress", "How much of the data is copied."),
               {"Restarts", "integer", "", "How often the import restarted.", 0,
                [](const json::value& o, int64_t) {
                  return json::value(GetInt(o, {"status", "restartCount"}, 0));
                }},
               AgeColumn()};
  r.validate = ValidateDataVolume;
  return r;
}

ResourceInfo VolumeSnapshot() {
  ResourceInfo r{.group = kSnapshotGroup, .version = "v1", .kind = "VolumeSnapshot",
                 .plural = "volumesnapshots", .singular = "volumesnapshot", .namespaced = true,
                 .has_status = true};
  r.short_names = {"vs"};
  r.columns = {NameColumn(),
               PathColumn("ReadyToUse", "status.readyToUse", "Whether the copy is made."),
               PathColumn("SourcePVC", "spec.source.persistentVolumeClaimName", "The claim copied."),
               PathColumn("RestoreSize", "status.restoreSize", "The size a restored volume needs."),
               PathColumn("SnapshotContent", "status.boundVolumeSnapshotContentName",
                          "The VolumeSnapshotContent that holds the copy."),
               PathColumn("Error", "status.error.message", "Why the copy is not made yet."),
               AgeColumn()};
  r.validate = ValidateVolumeSnapshot;
  return r;
}

ResourceInfo VolumeSnapshotContent() {
  ResourceInfo r{.group = kSnapshotGroup, .version = "v1", .kind = "VolumeSnapshotContent",
                 .plural = "volumesnapshotcontents", .singular = "volumesnapshotcontent",
                 .namespaced = false, .has_status = true};
  r.short_names = {"vsc", "vscs"};
  r.selectable_fields = {kSnapshotNodeField};
  r.columns = {NameColumn(),
               PathColumn("ReadyToUse", "status.readyToUse", "Whether the copy is made."),
               PathColumn("RestoreSize", "status.restoreSize", "The size a restored volume needs."),
               PathColumn("DeletionPolicy", "spec.deletionPolicy", "Delete or Retain."),
               PathColumn("Driver", "spec.driver", "Where the copy lives."),
               {"VolumeSnapshot", "string", "", "The snapshot it belongs to.", 0,
                [](const json::value& o, int64_t) {
                  return json::value(GetString(o, {"spec", "volumeSnapshotRef", "namespace"}) + "/" +
                                     GetString(o, {"spec", "volumeSnapshotRef", "name"}));
                }},
               PathColumn("Node", kSnapshotNodeField, "The node that holds the copy.", 1),
               AgeColumn()};
  r.validate = ValidateGenericObject;
  return r;
}

}  // namespace kumo::api
