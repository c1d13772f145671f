// Persistent volumes: what admission, the volume controller, the scheduler and the agent read
// off PersistentVolumeClaims, PersistentVolumes and StorageClasses, and the description of a
// VM's volumes that the server writes on a VMI for its node (the node acts on nothing else).
//
// The model, as Kubernetes spells it: a tenant's PersistentVolumeClaim asks for a size in a
// StorageClass; the server binds it at once to a PersistentVolume ("pvc-<uid>") that records
// where the data lives (spec.csi: driver local.kumo.io or shared-dir.kumo.io) and which VMI
// holds it. The data is one qcow2 file named after the PV, created by the node that first runs
// a VM on it. A volume is attached to at most one VMI at a time.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/json.h"
#include "common/status.h"

namespace kumo::api {

// StorageClass provisioners.
// A qcow2 file under the agent's data directory on one node; the VM is pinned to that node.
inline constexpr char kLocalProvisioner[] = "kumo.io/local";
// A qcow2 file in a directory every node mounts at parameters.path (NFS, CephFS, ...): a VM on
// it can restart and live-migrate to any node.
inline constexpr char kSharedDirProvisioner[] = "kumo.io/shared-dir";
inline constexpr char kLocalDriver[] = "local.kumo.io";
inline constexpr char kSharedDirDriver[] = "shared-dir.kumo.io";

inline constexpr char kDefaultClassAnnotation[] = "storageclass.kubernetes.io/is-default-class";
// Keeps a claim that a VMI still holds (Kubernetes' spelling).
inline constexpr char kPvcProtectionFinalizer[] = "kubernetes.io/pvc-protection";
// Keeps a released PV until a node has removed its data.
inline constexpr char kVolumeCleanupFinalizer[] = "kumo.io/volume-cleanup";

// On a PV, written by the server only: the VMI that holds the volume, "<ns>/<name>/<uid>".
inline constexpr char kAttachedToAnnotation[] = "kumo.io/attached-to";
// On a PV, written by the server only: a node has created the volume's data. From then on a
// missing file is an error, never a reason to make a fresh disk.
inline constexpr char kPopulatedAnnotation[] = "kumo.io/populated";
// On a VMI, written by the server only: the JSON list of VolumeDisk its node runs.
inline constexpr char kVmiVolumesAnnotation[] = "kumo.io/volumes";
// The PV field naming the node that holds a local volume (or last ran a shared one, and
// removes its data when it is released); agents watch the PVs selected on it.
inline constexpr char kPvNodeField[] = "spec.csi.volumeAttributes.node";
// Largest volume a claim may ask for.
inline constexpr int64_t kMaxVolumeBytes = 64LL << 40;

// One reference from a VMI spec to a claim: a persistentVolumeClaim volume, or a dataVolume
// volume (CDI names a DataVolume's claim after the DataVolume).
struct ClaimRef {
  std::string volume;  // the VMI's volume name
  std::string claim;   // the PersistentVolumeClaim's name
};
// The claims a VMI spec (or a VM's spec.template.spec) names, in volume order.
std::vector<ClaimRef> ClaimsOf(const json::value& vmi_spec);

// spec.resources.requests.storage of a claim (or a DataVolume's storage spec) in bytes,
// rounded up to whole MiB. Invalid when missing, not a quantity, not positive or too big.
StatusOr<int64_t> RequestedStorage(const json::value& spec);

// The PV a claim is bound to: "pvc-<uid>", as Kubernetes' provisioners name them.
std::string PvNameFor(const json::value& pvc);

// "RWO" for ReadWriteOnce etc., comma-joined, as kubectl prints access modes.
std::string AccessModesShort(const json::value* modes);

// What a node needs to run one volume of a VMI.
struct VolumeDisk {
  std::string volume;    // the VMI's volume (and disk) name
  std::string claim;     // the PersistentVolumeClaim
  std::string pv;        // the PersistentVolume; the data file is "<pv>.qcow2"
  std::string driver;    // kLocalDriver or kSharedDirDriver
  std::string location;  // shared-dir: the directory every node mounts; local: ""
  int64_t size_bytes = 0;
  bool populated = false;  // the file exists (see kPopulatedAnnotation)
  // Where a new volume's data comes from (read only while !populated): "blank", "image" or
  // "clone" (of another volume of the same namespace).
  std::string source = "blank";
  std::string image_path, image_format;                // source "image"
  // An uploaded Image (no path on the nodes): the node fetches it by checksum into its cache.
  std::string image_name, image_checksum;
  std::string clone_pv, clone_driver, clone_location;  // source "clone"
};
json::value DisksToJson(const std::vector<VolumeDisk>& disks);
// The disks in a VMI's kumo.io/volumes annotation (none when absent). Invalid when malformed.
StatusOr<std::vector<VolumeDisk>> DisksOf(const json::value& vmi);

// True for names Kumo gives PVs ("pvc-" and a uid) and snapshot contents ("snapcontent-" and a
// uid): safe as a file name on a node.
bool ValidPvName(std::string_view name);

// An attachment (kAttachedToAnnotation on a PV, "<ns>/<name>/<uid>/<unix seconds>"): the VMI
// and when it was attached.
struct AttachRecord {
  std::string ns, name, uid;
  int64_t at = 0;  // unix seconds
};
// nullopt for a snapshot's hold or a malformed value.
std::optional<AttachRecord> ParseAttach(const std::string& annotation);

// Snapshots (snapshot.storage.k8s.io/v1, as Kubernetes spells them): a tenant's VolumeSnapshot
// of a claim is bound to a cluster-scoped VolumeSnapshotContent "snapcontent-<uid>" that records
// where the copy lives (the source volume's driver, directory and node); the node makes the copy
// "<content>.qcow2" next to the volume while no VM runs on it.
inline constexpr char kSnapshotGroup[] = "snapshot.storage.k8s.io";
// The VolumeSnapshotContent field naming the node that makes (and later removes) the copy.
inline constexpr char kSnapshotNodeField[] = "spec.nodeName";
// The value of kAttachedToAnnotation while a snapshot copies a volume.
inline constexpr char kSnapshotHolderPrefix[] = "volumesnapshotcontent:";

}  // namespace kumo::api
