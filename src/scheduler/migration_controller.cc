#include "scheduler/migration_controller.h"

#include "api/storage.h"

#include "api/object.h"
#include "api/kubevirt.h"
#include "api/resource.h"
#include "common/log.h"
#include "scheduler/scheduler.h"

namespace kumo::scheduler {

namespace {

const api::ResourceInfo& Kind(const char* plural) {
  return *api::DefaultRegistry().Find("kubevirt.io", "v1", plural);
}
const api::ResourceInfo& Vmis() { return Kind("virtualmachineinstances"); }
const api::ResourceInfo& Migrations() { return Kind("virtualmachineinstancemigrations"); }

bool Done(const std::string& phase) { return phase == "Succeeded" || phase == "Failed"; }


}  // namespace

MigrationController::MigrationController(store::Store& store, store::WatchCache& cache,
                                         SchedulingCache& nodes,
                                         controller::EventRecorder& events, const Clock& clock,
                                         MigrationOptions options)
    : store_(store), cache_(cache), nodes_(nodes), events_(events), clock_(clock), options_(options),
      volumes_(store, cache) {
  std::vector<controller::Controller::Watch> watches = {
      {Migrations().KeyPrefix(),
       [](const store::CachedObject& o) { return std::vector<std::string>{o.key}; }},
      // A VMI's progress concerns the migrations of that VMI in its namespace.
      {Vmis().KeyPrefix(),
       [this](const store::CachedObject& o) {
         std::vector<std::string> keys;
         const std::string ns = o.Field("metadata.namespace");
         const std::string name = o.Field("metadata.name");
         if (o.json.find("\"migrationState\"") == std::string::npos) return keys;
         for (const auto& m : cache_.List(Migrations().KeyPrefix() + ns + "/", "", 0, nullptr).items) {
           auto parsed = ParseJson(m->json);
           if (parsed.ok() && GetString(*parsed, {"spec", "vmiName"}) == name) keys.push_back(m->key);
         }
         return keys;
       }},
  };
  controller_ = std::make_unique<controller::Controller>(
      "migration-controller", cache_, std::move(watches),
      [this](const std::string& key) { return Reconcile(key); }, /*workers=*/1);
}

MigrationController::~MigrationController() { Stop(); }
void MigrationController::Start() { controller_->Start(); }
void MigrationController::Stop() { controller_->Stop(); }

Status MigrationController::SetPhase(const std::string& key, const std::string& phase,
                                     const std::string& message,
                                     const json::value* migration_state) {
  const std::string now = FormatTime(clock_.NowUnixSeconds());
  auto res = store::GuaranteedUpdate(store_, key, [&](const store::KeyValue& cur) -> StatusOr<std::string> {
    KUMO_ASSIGN_OR_RETURN(json::value m, api::ParseStored(cur.value, cur.mod_revision));
    json::object& st = EnsureObject(m, {"status"});
    const json::value before = m;
    if (GetString(m, {"status", "phase"}) != phase) {
      json::value& stamps = st["phaseTransitionTimestamps"];
      if (!stamps.is_array()) stamps = json::array();
      stamps.get_array().push_back(json::object{{"phase", phase}, {"phaseTransitionTimestamp", now}});
    }
    st["phase"] = phase;
    if (migration_state) st["migrationState"] = *migration_state;
    if (!message.empty()) {
      st["conditions"] = json::array{json::object{{"type", phase == "Failed" ? "Failed" : "Progressing"},
                                                  {"status", "True"},
                                                  {"message", message},
                                                  {"lastTransitionTime", now}}};
    }
    if (m == before) return Status(Code::kAlreadyExists, "unchanged");
    return api::SerializeForStore(m);
  });
  if (!res.ok() && res.status().code() != Code::kAlreadyExists &&
      res.status().code() != Code::kNotFound) {
    return res.status();
  }
  return Status::Ok();
}

StatusOr<controller::Result> MigrationController::Reconcile(const std::string& key) {
  auto kv = store_.Get(key);
  if (!kv.ok()) {
    if (kv.status().code() == Code::kNotFound) return controller::Result{};
    return kv.status();
  }
  KUMO_ASSIGN_OR_RETURN(json::value mig, api::ParseStored(kv->value, kv->mod_revision));
  const std::string phase = GetString(mig, {"status", "phase"});
  if (Done(phase) || !GetString(mig, {"metadata", "deletionTimestamp"}).empty()) {
    return controller::Result{};
  }
  const std::string ns = GetString(mig, {"metadata", "namespace"});
  const std::string uid = GetString(mig, {"metadata", "uid"});
  const std::string vmi_name = GetString(mig, {"spec", "vmiName"});
  auto fail = [&](const std::string& message) -> StatusOr<controller::Result> {
    KUMO_RETURN_IF_ERROR(SetPhase(key, "Failed", message, nullptr));
    events_.Record(mig, "Warning", "FailedMigration", message);
    return controller::Result{};
  };
  const std::string vmi_key = Vmis().Key(ns, vmi_name);
  auto vmi_kv = store_.Get(vmi_key);
  if (!vmi_kv.ok()) {
    if (vmi_kv.status().code() != Code::kNotFound) return vmi_kv.status();
    return fail("VMI \"" + vmi_name + "\" does not exist");
  }
  KUMO_ASSIGN_OR_RETURN(json::value vmi, api::ParseStored(vmi_kv->value, vmi_kv->mod_revision));
  const json::value* ms = Find(vmi, {"status", "migrationState"});
  const bool mine = ms && GetString(*ms, {"migrationUid"}) == uid;

  if (mine) {
    if (GetBool(*ms, {"completed"})) {
      // The volumes are on (local: moved to) the node that runs the VM now.
      Status placed = volumes_.PlaceVolumes(vmi, GetString(*ms, {"targetNode"}), /*moved=*/true);
      if (!placed.ok()) {
        spdlog::warn("volumes of {}/{}: {}", ns, vmi_name, placed.ToString());
        return placed;  // retried: the volumes must name the node that has them
      }
      KUMO_RETURN_IF_ERROR(SetPhase(key, "Succeeded", "", ms));
      events_.Record(vmi, "Normal", "Migrated",
                     "The VMI migrated live from " + GetString(*ms, {"sourceNode"}) + " to " +
                         GetString(*ms, {"targetNode"}));
      return controller::Result{};
    }
    if (GetBool(*ms, {"failed"})) {
      KUMO_RETURN_IF_ERROR(SetPhase(key, "Failed", GetString(*ms, {"failureReason"}), ms));
      events_.Record(mig, "Warning", "FailedMigration",
                     "The migration failed: " + GetString(*ms, {"failureReason"}) +
                         "; the VMI keeps running on " + GetString(*ms, {"sourceNode"}));
      return controller::Result{};
    }
    int64_t started = ParseTime(GetString(*ms, {"startTimestamp"}));
    if (started > 0 && clock_.NowUnixSeconds() - started > options_.timeout.count()) {
      const std::string reason =
          "timed out after " + std::to_string(options_.timeout.count()) + "s";
      auto res = store::GuaranteedUpdate(store_, vmi_key, [&](const store::KeyValue& cur) -> StatusOr<std::string> {
        KUMO_ASSIGN_OR_RETURN(json::value v, api::ParseStored(cur.value, cur.mod_revision));
        json::value* cur_ms = Find(v, {"status", "migrationState"});
        if (!cur_ms || GetString(*cur_ms, {"migrationUid"}) != uid || !api::MigrationActive(cur_ms)) {
          return Status(Code::kAlreadyExists, "moved on");
        }
        cur_ms->get_object()["failed"] = true;
        cur_ms->get_object()["failureReason"] = reason;
        cur_ms->get_object()["endTimestamp"] = FormatTime(clock_.NowUnixSeconds());
        return api::SerializeForStore(v);
      });
      if (!res.ok() && res.status().code() != Code::kAlreadyExists) return res.status();
      return controller::Result{std::chrono::milliseconds(200)};
    }
    if (!GetString(*ms, {"targetNodeAddress"}).empty()) {
      KUMO_RETURN_IF_ERROR(SetPhase(key, "TargetReady", "", ms));
    }
    return controller::Result{std::chrono::seconds(1)};
  }

  if (!phase.empty() && phase != "Pending") {
    return fail("VMI \"" + vmi_name + "\" changed during the migration");
  }
  const std::string source = GetString(vmi, {"status", "nodeName"});
  if (GetString(vmi, {"status", "phase"}) != "Running" || source.empty() ||
      !GetString(vmi, {"metadata", "deletionTimestamp"}).empty()) {
    return fail("VMI \"" + vmi_name + "\" is not running; only a running VMI migrates");
  }
  if (api::MigrationActive(ms)) {  // another migration of this VMI is under way: wait for it
    KUMO_RETURN_IF_ERROR(SetPhase(key, "Pending", "waiting for another migration of the VMI", nullptr));
    return controller::Result{std::chrono::seconds(2)};
  }
  StatusOr<Request> request = RequestForVmi(vmi, options_.placement);
  if (!request.ok()) return fail(request.status().message());
  // Local volumes move with the VM (copied like its overlay); shared ones stay where they are.
  if (StatusOr<std::vector<api::VolumeDisk>> disks = api::DisksOf(vmi); !disks.ok()) {
    return fail(disks.status().message());
  }
  // The plan must count every VMI bound so far, including those bound a moment ago.
  KUMO_RETURN_IF_ERROR(nodes_.Sync(std::chrono::seconds(5)));
  StatusOr<std::string> target = nodes_.Pick(*request, source);
  if (!target.ok()) return fail("no other node can run the VMI: " + target.status().message());

  json::value plan = json::object{{"migrationUid", uid},
                                  {"sourceNode", source},
                                  {"targetNode", *target},
                                  {"mode", "PreCopy"},
                                  {"startTimestamp", FormatTime(clock_.NowUnixSeconds())}};
  const std::string vmi_uid = GetString(vmi, {"metadata", "uid"});
  auto res = store::GuaranteedUpdate(store_, vmi_key, [&](const store::KeyValue& cur) -> StatusOr<std::string> {
    KUMO_ASSIGN_OR_RETURN(json::value v, api::ParseStored(cur.value, cur.mod_revision));
    if (GetString(v, {"metadata", "uid"}) != vmi_uid || GetString(v, {"status", "nodeName"}) != source ||
        api::MigrationActive(Find(v, {"status", "migrationState"}))) {
      return Conflict("the VMI changed");
    }
    EnsureObject(v, {"status"})["migrationState"] = plan;
    return api::SerializeForStore(v);
  });
  if (!res.ok()) {
    if (res.status().code() == Code::kConflict) return controller::Result{std::chrono::milliseconds(500)};
    return res.status();
  }
  KUMO_RETURN_IF_ERROR(SetPhase(key, "Scheduled", "", &plan));
  spdlog::info("migrating VMI {}/{} from {} to {}", ns, vmi_name, source, *target);
  events_.Record(mig, "Normal", "Migrating",
                 "Migrating VMI " + vmi_name + " from " + source + " to " + *target);
  return controller::Result{std::chrono::seconds(1)};
}

}  // namespace kumo::scheduler
