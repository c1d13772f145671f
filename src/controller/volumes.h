// Binding claims to volumes and attaching volumes to VMIs (see api/storage.h for the model).
// The one place that decides which VMI holds a volume: the VM controller calls Attach before
// it creates a VMI, admission calls it for VMIs that users create, and the scheduler reads
// LocalNodeOf. A volume is held by at most one VMI; the hold ends only when that VMI object is
// gone, that is when its node has stopped QEMU and released it (or the node was declared lost).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "api/storage.h"
#include "common/clock.h"
#include "common/json.h"
#include "common/status.h"
#include "store/store.h"
#include "store/watch_cache.h"

namespace kumo::controller {

using api::AttachRecord;
using api::ParseAttach;

// Thread-safe; borrows the store and cache.
class Volumes {
 public:
  Volumes(store::Store& store, const store::WatchCache& cache,
          const Clock& clock = RealClock::Get())
      : store_(store), cache_(cache), clock_(clock) {}

  // The default StorageClass's name ("" when there is none): the one annotated
  // storageclass.kubernetes.io/is-default-class=true (the oldest name wins a tie).
  std::string DefaultClass() const;

  // Creates the DataVolume (when `owner_vm` is set: from a VM's dataVolumeTemplates, owned by
  // that VM) unless it exists, and the claim CDI would make for it.
  Status EnsureDataVolume(const std::string& ns, const json::value& dv, const json::value* owner_vm);
  // The claim a DataVolume stands for, as CDI makes it: same name, owned by the DataVolume.
  json::value ClaimForDataVolume(const json::value& dv) const;

  // Binds the claim to its PersistentVolume, creating the PV when needed (a no-op for a bound
  // claim). Returns the bound claim. NotFound for a missing claim or storage class.
  StatusOr<json::value> EnsureBound(const std::string& ns, const std::string& claim);

  // Attaches every volume the VMI spec names to the VMI `name` (uid `uid`) and returns what
  // its node runs (for api::kVmiVolumesAnnotation). NotFound when a claim is missing;
  // Conflict, naming the holder, when another VMI holds one. With `dry_run` nothing is written.
  StatusOr<std::vector<api::VolumeDisk>> Attach(const std::string& ns, const std::string& name,
                                                const std::string& uid,
                                                const json::value& vmi_spec, bool dry_run);

  // Who holds the PV now: "VirtualMachineInstance <ns>/<name>", or "VolumeSnapshotContent <name>
  // ..." while a snapshot copies it; "" when nobody does (never attached, or the holder is gone).
  std::string HolderOf(const json::value& pv) const;

  // The ready VolumeSnapshotContent of VolumeSnapshot `snapshot` in `ns`; NotFound when the
  // snapshot is missing, Unavailable while its copy is not made yet.
  StatusOr<json::value> SnapshotContentOf(const std::string& ns, const std::string& snapshot) const;

  // Conflict when a claim the VM's template names is held by a VMI other than the VM's own:
  // starting the VM would fail. NotFound when a claim is missing.
  Status CheckAvailable(const std::string& ns, const std::string& vm_name,
                        const json::value& vmi_spec) const;

  // Nodes a VMI may run on because of its volumes: the node of a placed local volume, or
  // nullopt when any node will do. Invalid when two local volumes sit on different nodes.
  StatusOr<std::optional<std::string>> RequiredNode(const json::value& vmi) const;
  // Records `node` as the node that holds (local) or last ran (shared) each volume of the VMI.
  // Conflict for a local volume on another node, unless `moved` (a live migration took it).
  Status PlaceVolumes(const json::value& vmi, const std::string& node, bool moved = false);

 private:
  StatusOr<api::VolumeDisk> DiskFor(const std::string& ns, const api::ClaimRef& ref,
                                    const json::value& pvc, const json::value& pv);

  store::Store& store_;
  const store::WatchCache& cache_;
  const Clock& clock_;
};

}  // namespace kumo::controller
