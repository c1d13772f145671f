// Component schemas of the storage kinds (core/v1 PersistentVolumeClaim and PersistentVolume,
// storage.k8s.io/v1 StorageClass, CDI's DataVolume, snapshot.storage.k8s.io/v1 VolumeSnapshot
// and VolumeSnapshotContent), for `kubectl explain` and kubectl's client-side validation.
#include "api/openapi_schemas.h"

namespace kumo::api::openapi {

namespace {

json::object Resources() {
  return Object("The size the volume asks for.",
                {{"requests", QuantityMap("storage: the volume's size, e.g. 10Gi (at most 64Ti).")},
                 {"limits", QuantityMap("Ignored for volumes.")}});
}

json::object AccessModes() {
  return StringArray(
      "ReadWriteOnce, ReadWriteOncePod, ReadWriteMany or ReadOnlyMany. Kumo attaches a volume "
      "to one VM at a time whatever the mode.");
}

json::object TypedReference(std::string_view what) {
  return Object(what, {{"apiGroup", String("kumo.io for an Image, snapshot.storage.k8s.io for a "
                                           "VolumeSnapshot, empty for a PersistentVolumeClaim.")},
                       {"kind", String("Image, VolumeSnapshot or PersistentVolumeClaim.")},
                       {"name", String("Its name (in the claim's namespace, or the Image catalog).")},
                       {"namespace", String("Must be the claim's own namespace when set.")}},
                {"kind", "name"});
}

void AddClaim(json::object& out) {
  const std::string spec = SchemaName("", "v1", "PersistentVolumeClaimSpec");
  out[spec] = Object(
      "What the claim asks for. Class, access modes, volume mode and source are fixed once "
      "created; the size may only grow.",
      {{"accessModes", AccessModes()},
       {"resources", Resources()},
       {"storageClassName", String("The StorageClass; the default class when left out.")},
       {"volumeMode", Enum("Filesystem (the default) or Block.", {"Filesystem", "Block"})},
       {"volumeName", String("The PersistentVolume the server bound the claim to (read-only).")},
       {"dataSource", TypedReference("What to fill a new volume with.")},
       {"dataSourceRef", TypedReference("What to fill a new volume with (preferred spelling).")}});
  const std::string status = SchemaName("", "v1", "PersistentVolumeClaimStatus");
  out[status] = Object("The claim's binding.",
                       {{"phase", Enum("Pending, Bound or Lost.", {"Pending", "Bound", "Lost"})},
                        {"capacity", QuantityMap("storage: the volume's size.")},
                        {"accessModes", AccessModes()}});
  out[SchemaName("", "v1", "PersistentVolumeClaim")] = KindSchema(
      "", "v1", "PersistentVolumeClaim",
      "A tenant's persistent volume: a disk that keeps its data across VM stops, restarts, "
      "migrations and node failures (see docs/storage.md).",
      {{"spec", RefField(spec, "What the claim asks for.")},
       {"status", RefField(status, "The claim's binding.")}});
}

void AddVolume(json::object& out) {
  const std::string csi = SchemaName("", "v1", "CSIPersistentVolumeSource");
  out[csi] = Object("Where a Kumo volume's data lives.",
                    {{"driver", String("local.kumo.io or shared-dir.kumo.io.")},
                     {"volumeHandle", String("The volume's name, also its file name.")},
                     {"volumeAttributes",
                      StringMap("node: the node that holds a local volume (or last ran a shared "
                                "one); location: the shared directory.")}});
  out[SchemaName("", "v1", "PersistentVolume")] = KindSchema(
      "", "v1", "PersistentVolume",
      "A volume the server made for a claim (cluster admins only).",
      {{"spec", Object("The volume.",
                       {{"capacity", QuantityMap("storage: the volume's size.")},
                        {"accessModes", AccessModes()},
                        {"persistentVolumeReclaimPolicy", Enum("Delete or Retain.", {"Delete", "Retain"})},
                        {"storageClassName", String("The claim's class.")},
                        {"volumeMode", String("Filesystem or Block.")},
                        {"claimRef", FreeForm("The claim bound to the volume.")},
                        {"csi", RefField(csi, "Where the data lives.")},
                        {"nodeAffinity", FreeForm("The node a local volume is pinned to.")}})},
       {"status", Object("The volume's phase.",
                         {{"phase", String("Bound, Released or Failed.")},
                          {"reason", String("Why it is in its phase.")}})}});
}

void AddClass(json::object& out) {
  out[SchemaName("storage.k8s.io", "v1", "StorageClass")] = KindSchema(
      "storage.k8s.io", "v1", "StorageClass",
      "A kind of storage claims can ask for. The annotation "
      "storageclass.kubernetes.io/is-default-class=true marks the default.",
      {{"provisioner", String("kumo.io/local (a file on one node; the VM stays there) or "
                              "kumo.io/shared-dir (a directory every node mounts).")},
       {"parameters", StringMap("path: the shared directory (kumo.io/shared-dir).")},
       {"reclaimPolicy", Enum("What happens to the data of a deleted claim.", {"Delete", "Retain"})},
       {"volumeBindingMode",
        Enum("WaitForFirstConsumer: a local volume goes where its first VM runs.",
             {"Immediate", "WaitForFirstConsumer"})},
       {"allowVolumeExpansion", Boolean("Whether claims of the class may grow.")}},
      {"provisioner"});
}

void AddDataVolume(json::object& out) {
  const std::string storage = SchemaName("cdi.kubevirt.io", "v1beta1", "StorageSpec");
  out[storage] = Object("The claim made for the DataVolume.",
                        {{"accessModes", AccessModes()},
                         {"resources", Resources()},
                         {"storageClassName", String("The StorageClass; the default when left out.")},
                         {"volumeMode", String("Filesystem or Block.")}});
  const std::string source = SchemaName("cdi.kubevirt.io", "v1beta1", "DataVolumeSource");
  out[source] = Object(
      "Exactly one source.",
      {{"blank", FreeForm("An empty volume: {}.")},
       {"registry", Object("A Kumo Image, named as a containerDisk is: the URL's last path "
                           "segment without tag.",
                           {{"url", String("e.g. docker://quay.io/containerdisks/fedora:39 is the "
                                           "Image fedora.")}})},
       {"pvc", Object("A copy of a claim of the same namespace.",
                      {{"name", String("The claim.")},
                       {"namespace", String("Must be the DataVolume's own namespace.")}})}});
  const std::string spec = SchemaName("cdi.kubevirt.io", "v1beta1", "DataVolumeSpec");
  out[spec] = Object("What the DataVolume fills and how big it is.",
                     {{"source", RefField(source, "Where the data comes from.")},
                      {"storage", RefField(storage, "The claim to make.")},
                      {"pvc", RefField(storage, "The claim to make (older spelling).")}});
  out[SchemaName("cdi.kubevirt.io", "v1beta1", "DataVolume")] = KindSchema(
      "cdi.kubevirt.io", "v1beta1", "DataVolume",
      "CDI's way to make a filled claim of the same name; Kumo writes the data on the node of "
      "the first VM that uses it.",
      {{"spec", RefField(spec, "What to fill and how big.")},
       {"status", Object("Progress.",
                         {{"phase", String("Pending, WaitForFirstConsumer, Succeeded or Failed.")},
                          {"progress", String("How much is copied.")},
                          {"claimName", String("The claim.")}})}});
}

void AddSnapshots(json::object& out) {
  out[SchemaName("snapshot.storage.k8s.io", "v1", "VolumeSnapshot")] = KindSchema(
      "snapshot.storage.k8s.io", "v1", "VolumeSnapshot",
      "A copy of a claim's volume at one moment, taken while no VM runs on it; a claim with "
      "dataSourceRef kind VolumeSnapshot restores it.",
      {{"spec", Object("What to copy.",
                       {{"source", Object("The claim to copy.",
                                          {{"persistentVolumeClaimName", String("The claim.")}})},
                        {"volumeSnapshotClassName", String("Ignored.")}})},
       {"status", Object("The copy.",
                         {{"readyToUse", Boolean("True once the copy is made.")},
                          {"restoreSize", Quantity("The size a restored claim needs.")},
                          {"boundVolumeSnapshotContentName", String("Where the copy is described.")},
                          {"creationTime", DateTime("When the copy was made.")},
                          {"error", Object("Why the copy is not made yet.",
                                           {{"message", String("The reason.")}})}})}});
  out[SchemaName("snapshot.storage.k8s.io", "v1", "VolumeSnapshotContent")] = KindSchema(
      "snapshot.storage.k8s.io", "v1", "VolumeSnapshotContent",
      "Where a snapshot's copy lives and which node makes it (cluster admins only).",
      {{"spec", FreeForm("volumeSnapshotRef, source.volumeHandle, driver, location, nodeName, "
                         "deletionPolicy.")},
       {"status", FreeForm("readyToUse, restoreSize, creationTime, error.")}});
}

}  // namespace

void AddStorageSchemas(json::object& out) {
  AddClaim(out);
  AddVolume(out);
  AddClass(out);
  AddDataVolume(out);
  AddSnapshots(out);
}

}  // namespace kumo::api::openapi
