#include "controller/snapshot_controller.h"

#include "api/object.h"
#include "api/storage.h"
#include "common/clock.h"
#include "common/log.h"
#include "common/random.h"
#include "controller/objects.h"

namespace kumo::controller {

namespace {

const api::ResourceInfo& Snapshots() { return Resource(api::kSnapshotGroup, "v1", "volumesnapshots"); }
const api::ResourceInfo& Contents() {
  return Resource(api::kSnapshotGroup, "v1", "volumesnapshotcontents");
}
const api::ResourceInfo& Pvcs() { return Resource("", "v1", "persistentvolumeclaims"); }
const api::ResourceInfo& Pvs() { return Resource("", "v1", "persistentvolumes"); }

constexpr std::chrono::seconds kWaitRetry{3};
// Keeps a snapshot while claims restored from it wait for their data (Kubernetes' spelling).
constexpr char kSourceProtectionFinalizer[] =
    "snapshot.storage.kubernetes.io/volumesnapshot-as-source-protection";

std::string ContentNameFor(const json::value& vs) {
  return "snapcontent-" + GetString(vs, {"metadata", "uid"});
}

}  // namespace

SnapshotController::SnapshotController(store::Store& store, store::WatchCache& cache,
                                       EventRecorder& events)
    : store_(store), cache_(cache), events_(events), volumes_(store, cache) {
  std::vector<Controller::Watch> watches = {
      {Snapshots().KeyPrefix(),
       [](const store::CachedObject& o) { return std::vector<std::string>{o.key}; }},
      // A content changes (the node made the copy): it and its snapshot.
      {Contents().KeyPrefix(),
       [](const store::CachedObject& o) {
         std::vector<std::string> keys{o.key};
         StatusOr<json::value> vsc = ParseJson(o.json);
         if (vsc.ok()) {
           std::string ns = GetString(*vsc, {"spec", "volumeSnapshotRef", "namespace"});
           std::string name = GetString(*vsc, {"spec", "volumeSnapshotRef", "name"});
           if (!ns.empty() && !name.empty()) keys.push_back(Snapshots().Key(ns, name));
         }
         return keys;
       }},
  };
  // A restored claim filled (its volume populated) may let a deleted snapshot go: the periodic
  // resync and kWaitRetry notice it.
  controller_ = std::make_unique<Controller>(
      "snapshot-controller", cache_, std::move(watches),
      [this](const std::string& key) { return Reconcile(key); }, /*workers=*/1);
}

SnapshotController::~SnapshotController() { Stop(); }
void SnapshotController::Start() { controller_->Start(); }
void SnapshotController::Stop() { controller_->Stop(); }

StatusOr<Result> SnapshotController::Reconcile(const std::string& key) {
  if (key.starts_with(Snapshots().KeyPrefix())) return ReconcileSnapshot(key);
  if (key.starts_with(Contents().KeyPrefix())) return ReconcileContent(key);
  return Result{};
}

Status SnapshotController::SetStatus(const std::string& key, json::object fields) {
  Status st = Mutate(store_, key, [&](json::value& vs) -> Status {
    json::value before = vs;
    json::object& status = EnsureObject(vs, {"status"});
    for (auto& kv : fields) {
      if (kv.value().is_null()) status.erase(kv.key());
      else status[kv.key()] = kv.value();
    }
    if (vs == before) return Status(Code::kAlreadyExists, "unchanged");
    return Status::Ok();
  });
  return st.code() == Code::kAlreadyExists || st.code() == Code::kNotFound ? Status::Ok() : st;
}

bool SnapshotController::RestoresPending(const std::string& ns, const std::string& snapshot) {
  for (const auto& o : cache_.List(Pvcs().KeyPrefix() + ns + "/", "", 0, nullptr).items) {
    if (o->json.find("VolumeSnapshot") == std::string::npos) continue;
    StatusOr<json::value> pvc = ParseJson(o->json);
    if (!pvc.ok() || Terminating(*pvc)) continue;
    bool restores = false;
    for (auto field : {"dataSourceRef", "dataSource"}) {
      const json::value* ds = Find(*pvc, {"spec", field});
      restores |= ds && GetString(*ds, {"kind"}) == "VolumeSnapshot" &&
                  GetString(*ds, {"name"}) == snapshot;
    }
    if (!restores) continue;
    const std::string pv_name = GetString(*pvc, {"spec", "volumeName"});
    store::CachedPtr pv = pv_name.empty() ? nullptr : cache_.Get(Pvs().Key("", pv_name));
    if (!pv || pv->json.find(std::string("\"") + api::kPopulatedAnnotation + "\":\"true\"") ==
                   std::string::npos) {
      return true;
    }
  }
  return false;
}

StatusOr<Result> SnapshotController::ReconcileSnapshot(const std::string& key) {
  KUMO_ASSIGN_OR_RETURN(auto vs, Load(store_, key));
  if (!vs) return Result{};
  const std::string rest = key.substr(Snapshots().KeyPrefix().size());
  const std::string ns = rest.substr(0, rest.find('/'));
  if (Terminating(*vs)) {
    // Claims restored from it that no VM has filled yet still need its copy.
    if (RestoresPending(ns, GetString(*vs, {"metadata", "name"}))) return Result{kWaitRetry};
    KUMO_RETURN_IF_ERROR(Mutate(store_, key, [](json::value& obj) {
      RemoveFinalizer(obj, kSourceProtectionFinalizer);
      return Status::Ok();
    }));
    KUMO_RETURN_IF_ERROR(DeleteObject(store_, key));
    return Result{};  // its content follows (ReconcileContent)
  }
  if (!HasFinalizer(*vs, kSourceProtectionFinalizer)) {
    KUMO_RETURN_IF_ERROR(Mutate(store_, key, [](json::value& obj) {
      AddFinalizer(obj, kSourceProtectionFinalizer);
      return Status::Ok();
    }));
  }
  const std::string content = ContentNameFor(*vs);
  const std::string content_key = Contents().Key("", content);
  KUMO_ASSIGN_OR_RETURN(auto vsc, Load(store_, content_key));
  if (vsc) {
    const bool ready = GetBool(*vsc, {"status", "readyToUse"});
    if (ready) {
      // The copy is made: the volume is free again.
      const std::string pv_key = Pvs().Key("", GetString(*vsc, {"spec", "source", "volumeHandle"}));
      Status st = Mutate(store_, pv_key, [&](json::value& pv) -> Status {
        if (GetString(pv, {"metadata", "annotations", api::kAttachedToAnnotation}) !=
            api::kSnapshotHolderPrefix + content) {
          return Status(Code::kAlreadyExists, "not ours");
        }
        pv.get_object()["metadata"].get_object()["annotations"].get_object().erase(api::kAttachedToAnnotation);
        return Status::Ok();
      });
      if (!st.ok() && st.code() != Code::kAlreadyExists && st.code() != Code::kNotFound) return st;
    }
    json::object fields{{"boundVolumeSnapshotContentName", content},
                        {"readyToUse", ready},
                        {"restoreSize", GetString(*vsc, {"status", "restoreSize"})},
                        {"error", nullptr}};
    if (ready) fields["creationTime"] = GetString(*vsc, {"status", "creationTime"});
    KUMO_RETURN_IF_ERROR(SetStatus(key, std::move(fields)));
    return Result{};
  }

  // No content yet: hold the source volume and describe the copy.
  const std::string claim = GetString(*vs, {"spec", "source", "persistentVolumeClaimName"});
  auto wait = [&](const std::string& why) -> StatusOr<Result> {
    KUMO_RETURN_IF_ERROR(SetStatus(key, json::object{{"readyToUse", false},
                                                     {"error", json::object{{"message", why}}}}));
    return Result{kWaitRetry};
  };
  StatusOr<json::value> pvc = volumes_.EnsureBound(ns, claim);
  if (!pvc.ok()) return wait(pvc.status().message());
  const std::string pv_key = Pvs().Key("", GetString(*pvc, {"spec", "volumeName"}));
  KUMO_ASSIGN_OR_RETURN(auto pv, Load(store_, pv_key));
  if (!pv) return wait("the volume of claim " + claim + " is gone");
  const bool populated =
      GetString(*pv, {"metadata", "annotations", api::kPopulatedAnnotation}) == "true";
  const std::string node = api::FieldValue(*pv, api::kPvNodeField);
  const bool empty = !populated || node.empty();
  const json::value* request = Find(*pvc, {"spec", "resources", "requests", "storage"});
  const std::string size = request ? GetString(*request, {}) : "";
  if (!empty) {
    std::string holder = volumes_.HolderOf(*pv);
    if (!holder.empty()) {
      return wait("the volume is in use by " + holder +
                  "; the copy is taken when it stops (online snapshots are not built yet)");
    }
    Status held = Mutate(store_, pv_key, [&](json::value& obj) -> Status {
      if (!volumes_.HolderOf(obj).empty()) return Status(Code::kConflict, "taken meanwhile");
      EnsureObject(obj, {"metadata", "annotations"})[api::kAttachedToAnnotation] =
          api::kSnapshotHolderPrefix + content;
      return Status::Ok();
    });
    if (held.code() == Code::kConflict) return Result{kWaitRetry};
    KUMO_RETURN_IF_ERROR(held);
  }
  json::object meta{{"name", content},
                    {"uid", NewUid()},
                    {"creationTimestamp", FormatTime(RealClock::Get().NowUnixSeconds())}};
  if (!empty) meta["finalizers"] = json::array{api::kVolumeCleanupFinalizer};
  json::object status;
  if (empty) {
    status = json::object{{"readyToUse", true}, {"empty", true}, {"restoreSize", size},
                          {"creationTime", FormatTime(RealClock::Get().NowUnixSeconds())}};
  }
  json::value obj = json::object{
      {"apiVersion", "snapshot.storage.k8s.io/v1"},
      {"kind", "VolumeSnapshotContent"},
      {"metadata", std::move(meta)},
      {"spec", json::object{{"volumeSnapshotRef",
                             json::object{{"kind", "VolumeSnapshot"},
                                          {"namespace", ns},
                                          {"name", GetString(*vs, {"metadata", "name"})},
                                          {"uid", GetString(*vs, {"metadata", "uid"})}}},
                            {"source", json::object{{"volumeHandle", GetString(*pv, {"metadata", "name"})}}},
                            {"driver", GetString(*pv, {"spec", "csi", "driver"})},
                            {"location", GetString(*pv, {"spec", "csi", "volumeAttributes", "location"})},
                            {"nodeName", node},
                            {"deletionPolicy", "Delete"},
                            {"restoreSize", size}}},
      {"status", std::move(status)}};
  auto created = store_.Create(content_key, api::SerializeForStore(obj));
  if (!created.ok() && created.status().code() != Code::kAlreadyExists) return created.status();
  events_.Record(*vs, "Normal", "CreatingSnapshot",
                 empty ? "The volume holds no data yet: the snapshot is empty"
                       : "Node " + node + " copies volume " + GetString(*pv, {"metadata", "name"}));
  KUMO_RETURN_IF_ERROR(SetStatus(key, json::object{{"boundVolumeSnapshotContentName", content},
                                                   {"readyToUse", empty},
                                                   {"restoreSize", size},
                                                   {"error", nullptr}}));
  return Result{};
}

StatusOr<Result> SnapshotController::ReconcileContent(const std::string& key) {
  KUMO_ASSIGN_OR_RETURN(auto vsc, Load(store_, key));
  if (!vsc) return Result{};
  const std::string ns = GetString(*vsc, {"spec", "volumeSnapshotRef", "namespace"});
  const std::string name = GetString(*vsc, {"spec", "volumeSnapshotRef", "name"});
  store::CachedPtr vs = cache_.Get(Snapshots().Key(ns, name));
  bool alive = false;
  if (vs) {
    StatusOr<json::value> parsed = ParseJson(vs->json);
    alive = parsed.ok() &&
            GetString(*parsed, {"metadata", "uid"}) == GetString(*vsc, {"spec", "volumeSnapshotRef", "uid"});
  }
  if (alive) return Result{};
  // Its snapshot is gone: the node removes the copy (and then the cleanup finalizer), unless
  // there is no copy to remove (empty, or a node that never got one and never will).
  const bool ready = GetBool(*vsc, {"status", "readyToUse"});
  const bool has_node = !GetString(*vsc, {"spec", "nodeName"}).empty();
  const bool copying = !ready && has_node;  // the node removes it when it sees the deletion
  const bool copied = ready && has_node && !GetBool(*vsc, {"status", "empty"});
  if (!copying && !copied) {
    KUMO_RETURN_IF_ERROR(Mutate(store_, key, [](json::value& obj) {
      RemoveFinalizer(obj, api::kVolumeCleanupFinalizer);
      return Status::Ok();
    }));
  }
  KUMO_RETURN_IF_ERROR(DeleteObject(store_, key));
  return Result{};
}

}  // namespace kumo::controller
