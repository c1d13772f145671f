#include "controller/volume_controller.h"

#include "api/object.h"
#include "api/storage.h"
#include "common/clock.h"
#include "common/log.h"
#include "controller/objects.h"

namespace kumo::controller {

namespace {

const api::ResourceInfo& Pvcs() { return Resource("", "v1", "persistentvolumeclaims"); }
const api::ResourceInfo& Pvs() { return Resource("", "v1", "persistentvolumes"); }
const api::ResourceInfo& Dvs() { return Resource("cdi.kubevirt.io", "v1beta1", "datavolumes"); }
const api::ResourceInfo& Vmis() { return Resource("kubevirt.io", "v1", "virtualmachineinstances"); }
const api::ResourceInfo& Vms() { return Resource("kubevirt.io", "v1", "virtualmachines"); }

// The DataVolume keys a VM's dataVolumeTemplates name (a deleted VM's last state included).
std::vector<std::string> DvKeysOfVm(const store::CachedObject& o) {
  std::vector<std::string> keys;
  if (o.json.find("dataVolumeTemplates") == std::string::npos) return keys;
  StatusOr<json::value> vm = ParseJson(o.json);
  const json::value* ts = vm.ok() ? Find(*vm, {"spec", "dataVolumeTemplates"}) : nullptr;
  if (!ts || !ts->is_array()) return keys;
  const std::string ns = GetString(*vm, {"metadata", "namespace"});
  for (const auto& t : ts->get_array()) keys.push_back(Dvs().Key(ns, GetString(t, {"metadata", "name"})));
  return keys;
}

// True while the VM that owns DataVolume `dv` (if a VM does) exists and still has its template.
bool OwnerVmWantsIt(const store::WatchCache& cache, const json::value& dv) {
  const json::value* refs = Find(dv, {"metadata", "ownerReferences"});
  for (const auto& r : refs && refs->is_array() ? refs->get_array() : json::array()) {
    if (GetString(r, {"kind"}) != "VirtualMachine") continue;
    store::CachedPtr o = cache.Get(Vms().Key(GetString(dv, {"metadata", "namespace"}), GetString(r, {"name"})));
    StatusOr<json::value> vm = o ? ParseJson(o->json) : StatusOr<json::value>(NotFound(""));
    if (!vm.ok() || GetString(*vm, {"metadata", "uid"}) != GetString(r, {"uid"})) return false;
    const json::value* ts = Find(*vm, {"spec", "dataVolumeTemplates"});
    for (const auto& t : ts && ts->is_array() ? ts->get_array() : json::array()) {
      if (GetString(t, {"metadata", "name"}) == GetString(dv, {"metadata", "name"})) return true;
    }
    return false;
  }
  return true;  // not a VM's
}

constexpr std::chrono::milliseconds kHeldRetry{2000};

// "<ns>/<name>" of a namespaced key under `r`.
std::string RestOf(const std::string& key, const api::ResourceInfo& r) {
  return key.substr(r.KeyPrefix().size());
}

// The PV keys a VMI's volumes annotation names (cheap for VMIs without volumes).
std::vector<std::string> PvKeysOfVmi(const store::CachedObject& o) {
  std::vector<std::string> keys;
  if (o.json.find(api::kVmiVolumesAnnotation) == std::string::npos) return keys;
  StatusOr<json::value> vmi = ParseJson(o.json);
  if (!vmi.ok()) return keys;
  StatusOr<std::vector<api::VolumeDisk>> disks = api::DisksOf(*vmi);
  if (!disks.ok()) return keys;
  for (const auto& d : *disks) keys.push_back(Pvs().Key("", d.pv));
  return keys;
}

// True when the VMI reports the claim's volume made (status.volumeStatus phase Ready).
bool ReportsReady(const json::value& vmi, const std::string& claim) {
  const json::value* vs = Find(vmi, {"status", "volumeStatus"});
  if (!vs || !vs->is_array()) return false;
  for (const auto& v : vs->get_array()) {
    if (GetString(v, {"persistentVolumeClaimInfo", "claimName"}) == claim &&
        GetString(v, {"phase"}) == "Ready") {
      return true;
    }
  }
  return false;
}

}  // namespace

VolumeController::VolumeController(store::Store& store, store::WatchCache& cache,
                                   EventRecorder& events)
    : store_(store), cache_(cache), events_(events), volumes_(store, cache) {
  auto self = [](const store::CachedObject& o) { return std::vector<std::string>{o.key}; };
  std::vector<Controller::Watch> watches = {
      {Pvcs().KeyPrefix(), self},
      // A volume's changes (populated) reach its claim's DataVolume.
      {Pvs().KeyPrefix(),
       [](const store::CachedObject& o) {
         std::vector<std::string> keys{o.key};
         StatusOr<json::value> pv = ParseJson(o.json);
         if (pv.ok()) {
           std::string ns = GetString(*pv, {"spec", "claimRef", "namespace"});
           std::string name = GetString(*pv, {"spec", "claimRef", "name"});
           if (!ns.empty() && !name.empty()) keys.push_back(Dvs().Key(ns, name));
         }
         return keys;
       }},
      {Dvs().KeyPrefix(),
       [](const store::CachedObject& o) {
         // A DataVolume's claim has its name: both follow each other.
         return std::vector<std::string>{o.key, Pvcs().KeyPrefix() + RestOf(o.key, Dvs())};
       }},
      {Vmis().KeyPrefix(), PvKeysOfVmi},
      // A VM's DataVolumes go with it, and with their template (found at the next resync).
      {Vms().KeyPrefix(), DvKeysOfVm},
  };
  // Claims also wake their DataVolume (its phase follows the claim's).
  watches[0].keys = [](const store::CachedObject& o) {
    return std::vector<std::string>{o.key, Dvs().KeyPrefix() + RestOf(o.key, Pvcs())};
  };
  controller_ = std::make_unique<Controller>(
      "volume-controller", cache_, std::move(watches),
      [this](const std::string& key) { return Reconcile(key); }, /*workers=*/2);
}

VolumeController::~VolumeController() { Stop(); }
void VolumeController::Start() { controller_->Start(); }
void VolumeController::Stop() { controller_->Stop(); }

StatusOr<Result> VolumeController::Reconcile(const std::string& key) {
  if (key.starts_with(Pvcs().KeyPrefix())) return ReconcileClaim(key);
  if (key.starts_with(Pvs().KeyPrefix())) return ReconcileVolume(key);
  if (key.starts_with(Dvs().KeyPrefix())) return ReconcileDataVolume(key);
  return Result{};
}

StatusOr<Result> VolumeController::ReconcileClaim(const std::string& key) {
  KUMO_ASSIGN_OR_RETURN(auto pvc, Load(store_, key));
  if (!pvc) return Result{};
  const std::string rest = RestOf(key, Pvcs());
  const std::string ns = rest.substr(0, rest.find('/'));
  const std::string name = rest.substr(rest.find('/') + 1);
  const std::string pv_name = GetString(*pvc, {"spec", "volumeName"});
  if (Terminating(*pvc)) {
    // pvc-protection: the claim goes once no VMI holds its volume.
    if (!pv_name.empty()) {
      KUMO_ASSIGN_OR_RETURN(auto pv, Load(store_, Pvs().Key("", pv_name)));
      if (pv && !volumes_.HolderOf(*pv).empty()) return Result{kHeldRetry};
    }
    KUMO_RETURN_IF_ERROR(Mutate(store_, key, [](json::value& obj) {
      RemoveFinalizer(obj, api::kPvcProtectionFinalizer);
      return Status::Ok();
    }));
    KUMO_RETURN_IF_ERROR(DeleteObject(store_, key));
    if (!pv_name.empty()) controller_->Enqueue(Pvs().Key("", pv_name));
    return Result{};
  }
  if (pv_name.empty()) {
    StatusOr<json::value> bound = volumes_.EnsureBound(ns, name);
    if (!bound.ok()) {
      events_.Record(*pvc, "Warning", "ProvisioningFailed", bound.status().message());
      return Result{std::chrono::seconds(10)};
    }
    events_.Record(*bound, "Normal", "ProvisioningSucceeded",
                   "Successfully provisioned volume " + GetString(*bound, {"spec", "volumeName"}));
    return Result{};
  }
  // A grown claim grows its volume (the node grows the file when the VM next starts).
  const json::value* want = Find(*pvc, {"spec", "resources", "requests", "storage"});
  if (want && GetString(*pvc, {"status", "capacity", "storage"}) != GetString(*want, {})) {
    KUMO_RETURN_IF_ERROR(Mutate(store_, Pvs().Key("", pv_name), [&](json::value& obj) {
      EnsureObject(obj, {"spec", "capacity"})["storage"] = *want;
      return Status::Ok();
    }));
    KUMO_RETURN_IF_ERROR(Mutate(store_, key, [&](json::value& obj) {
      EnsureObject(obj, {"status", "capacity"})["storage"] = *want;
      return Status::Ok();
    }));
    events_.Record(*pvc, "Normal", "VolumeResizeSuccessful",
                   "The volume grows to " + GetString(*want, {}) +
                       " (the disk grows when its VM next starts)");
  }
  return Result{};
}

StatusOr<Result> VolumeController::ReconcileVolume(const std::string& key) {
  KUMO_ASSIGN_OR_RETURN(auto pv, Load(store_, key));
  if (!pv) return Result{};
  const std::string attached = GetString(*pv, {"metadata", "annotations", api::kAttachedToAnnotation});
  const bool populated =
      GetString(*pv, {"metadata", "annotations", api::kPopulatedAnnotation}) == "true";
  const std::string claim = GetString(*pv, {"spec", "claimRef", "name"});
  const std::string claim_ns = GetString(*pv, {"spec", "claimRef", "namespace"});

  // The node made the data: from now on a missing file is an error, never a fresh disk.
  if (std::optional<AttachRecord> r = ParseAttach(attached); !populated && r) {
    store::CachedPtr vmi = cache_.Get(Vmis().Key(r->ns, r->name));
    StatusOr<json::value> parsed = vmi ? ParseJson(vmi->json) : StatusOr<json::value>(NotFound(""));
    if (parsed.ok() && GetString(*parsed, {"metadata", "uid"}) == r->uid &&
        ReportsReady(*parsed, claim)) {
      KUMO_RETURN_IF_ERROR(Mutate(store_, key, [](json::value& obj) {
        EnsureObject(obj, {"metadata", "annotations"})[api::kPopulatedAnnotation] = "true";
        return Status::Ok();
      }));
      return Result{};
    }
  }
  // The holder is gone: the volume is free again.
  if (!attached.empty() && volumes_.HolderOf(*pv).empty()) {
    KUMO_RETURN_IF_ERROR(Mutate(store_, key, [&](json::value& obj) -> Status {
      if (GetString(obj, {"metadata", "annotations", api::kAttachedToAnnotation}) != attached) {
        return Status::Ok();
      }
      obj.get_object()["metadata"].get_object()["annotations"].get_object().erase(api::kAttachedToAnnotation);
      return Status::Ok();
    }));
  }
  // Released: the claim is gone (or replaced by a new one of the same name).
  store::CachedPtr pvc = cache_.Get(Pvcs().Key(claim_ns, claim));
  bool claim_alive = false;
  if (pvc) {
    StatusOr<json::value> parsed = ParseJson(pvc->json);
    claim_alive = !parsed.ok() || GetString(*parsed, {"metadata", "uid"}) ==
                                      GetString(*pv, {"spec", "claimRef", "uid"});
  }
  if (claim_alive) return Result{};
  // The claim is gone but a VM still runs on the volume: it is released once that VM stops.
  if (!volumes_.HolderOf(*pv).empty()) return Result{kHeldRetry};
  if (!Terminating(*pv) && GetString(*pv, {"status", "phase"}) != "Released") {
    KUMO_RETURN_IF_ERROR(Mutate(store_, key, [](json::value& obj) {
      EnsureObject(obj, {"status"})["phase"] = "Released";
      return Status::Ok();
    }));
  }
  if (GetString(*pv, {"spec", "persistentVolumeReclaimPolicy"}) == "Retain") return Result{};
  // Delete: a node removes the data and then the finalizer; data nobody made needs no node.
  if (!populated || api::FieldValue(*pv, api::kPvNodeField).empty()) {
    KUMO_RETURN_IF_ERROR(Mutate(store_, key, [](json::value& obj) {
      RemoveFinalizer(obj, api::kVolumeCleanupFinalizer);
      return Status::Ok();
    }));
  }
  KUMO_RETURN_IF_ERROR(DeleteObject(store_, key));
  return Result{};
}

StatusOr<Result> VolumeController::ReconcileDataVolume(const std::string& key) {
  const std::string rest = RestOf(key, Dvs());
  const std::string ns = rest.substr(0, rest.find('/'));
  KUMO_ASSIGN_OR_RETURN(auto dv, Load(store_, key));
  const std::string pvc_key = Pvcs().KeyPrefix() + rest;
  if (!dv) {
    // The claim goes with its DataVolume (garbage collection by owner).
    KUMO_ASSIGN_OR_RETURN(auto pvc, Load(store_, pvc_key));
    const json::value* refs = pvc ? Find(*pvc, {"metadata", "ownerReferences"}) : nullptr;
    if (refs && refs->is_array()) {
      for (const auto& r : refs->get_array()) {
        if (GetString(r, {"kind"}) == "DataVolume" && !Terminating(*pvc)) {
          KUMO_RETURN_IF_ERROR(DeleteObject(store_, pvc_key));
        }
      }
    }
    return Result{};
  }
  if (Terminating(*dv)) return Result{};
  // A VM's DataVolume counts against quota through the VM's template: without it, it goes.
  if (!OwnerVmWantsIt(cache_, *dv)) {
    KUMO_RETURN_IF_ERROR(DeleteObject(store_, key));
    return Result{};
  }
  Status st = volumes_.EnsureDataVolume(ns, *dv, nullptr);
  std::string phase = "Pending", progress = "N/A", message;
  if (!st.ok()) {
    phase = "Failed";
    message = st.message();
  } else {
    KUMO_ASSIGN_OR_RETURN(auto pvc, Load(store_, pvc_key));
    std::string pv_name = pvc ? GetString(*pvc, {"spec", "volumeName"}) : "";
    if (!pv_name.empty()) {
      store::CachedPtr pv = cache_.Get(Pvs().Key("", pv_name));
      bool populated = pv && pv->json.find(std::string("\"") + api::kPopulatedAnnotation + "\":\"true\"") != std::string::npos;
      phase = populated ? "Succeeded" : "WaitForFirstConsumer";
      progress = populated ? "100.0%" : "N/A";
      message = populated ? "The volume's data is in place"
                          : "The data is written on the node of the first VM that uses the volume";
    }
  }
  Status written = Mutate(store_, key, [&](json::value& obj) -> Status {
    json::object& status = EnsureObject(obj, {"status"});
    if (GetString(obj, {"status", "phase"}) == phase && GetString(obj, {"status", "progress"}) == progress) {
      return Status(Code::kAlreadyExists, "unchanged");
    }
    status["phase"] = phase;
    status["progress"] = progress;
    status["claimName"] = GetString(obj, {"metadata", "name"});
    json::object cond{{"type", "Ready"}, {"status", phase == "Succeeded" ? "True" : "False"},
                      {"reason", phase}, {"message", message},
                      {"lastTransitionTime", FormatTime(RealClock::Get().NowUnixSeconds())}};
    status["conditions"] = json::array{std::move(cond)};
    return Status::Ok();
  });
  if (!written.ok() && written.code() != Code::kAlreadyExists && written.code() != Code::kNotFound) {
    return written;
  }
  if (phase == "Failed") return Result{std::chrono::seconds(10)};
  return Result{};
}

}  // namespace kumo::controller
