#include "controller/vm_controller.h"

#include "controller/objects.h"

#include "api/vm_size.h"

#include "api/object.h"
#include "api/kubevirt.h"
#include "api/storage.h"
#include "api/resource.h"
#include "common/log.h"
#include "common/random.h"
#include "controller/node_lifecycle.h"

namespace kumo::controller {

namespace {

const api::ResourceInfo& Vms() {
  return *api::DefaultRegistry().Find("kubevirt.io", "v1", "virtualmachines");
}
const api::ResourceInfo& Vmis() {
  return *api::DefaultRegistry().Find("kubevirt.io", "v1", "virtualmachineinstances");
}

// "/registry/kubevirt.io/virtualmachineinstances/ns/name" -> the VM key of the same name.
std::string VmKeyOfVmi(const std::string& vmi_key) {
  return Vms().KeyPrefix() + vmi_key.substr(Vmis().KeyPrefix().size());
}

std::string ConditionField(const json::value& obj, std::string_view type, std::string_view field) {
  const json::value* conds = Find(obj, {"status", "conditions"});
  if (!conds || !conds->is_array()) return "";
  for (const auto& c : conds->get_array()) {
    if (GetString(c, {"type"}) == type) return GetString(c, {field});
  }
  return "";
}

}  // namespace

VmController::VmController(store::Store& store, store::WatchCache& cache, EventRecorder& events,
                           const Clock& clock, VmControllerOptions options)
    : store_(store), cache_(cache), events_(events), clock_(clock), options_(options),
      ipam_(store, cache), volumes_(store, cache) {
  std::vector<Controller::Watch> watches = {
      {Vms().KeyPrefix(), [](const store::CachedObject& o) { return std::vector<std::string>{o.key}; }},
      {Vmis().KeyPrefix(),
       [](const store::CachedObject& o) { return std::vector<std::string>{VmKeyOfVmi(o.key)}; }},
  };
  controller_ = std::make_unique<Controller>(
      "vm-controller", cache_, std::move(watches),
      [this](const std::string& key) { return Reconcile(key); }, /*workers=*/2);
}

VmController::~VmController() { Stop(); }
void VmController::Start() { controller_->Start(); }
void VmController::Stop() { controller_->Stop(); }

Status VmController::CreateVmi(const json::value& vm) {
  std::string ns = GetString(vm, {"metadata", "namespace"});
  std::string name = GetString(vm, {"metadata", "name"});
  const json::value* tmpl = Find(vm, {"spec", "template"});
  json::value spec = tmpl && Find(*tmpl, {"spec"}) ? *Find(*tmpl, {"spec"}) : json::value(json::object());
  // Instancetype: the flavor's vCPUs and memory fill the domain, as KubeVirt expands them.
  std::string it_name = GetString(vm, {"spec", "instancetype", "name"});
  if (!it_name.empty()) {
    const api::ResourceInfo* its =
        api::DefaultRegistry().Find("instancetype.kubevirt.io", "v1beta1", "virtualmachineclusterinstancetypes");
    KUMO_ASSIGN_OR_RETURN(auto it, Load(store_, its->Key("", it_name)));
    if (!it) {
      return NotFound("VirtualMachineClusterInstancetype \"" + it_name +
                      "\" not found; list flavors with `kubectl get vmcis`");
    }
    api::ApplyInstancetype(spec, *it);
  }
  // The VM's DataVolumes (and their claims) first: its volumes name them.
  KUMO_RETURN_IF_ERROR(EnsureDataVolumes(vm));
  const std::string uid = NewUid();
  // Attaching decides, before the instance exists, that no other VM holds its volumes.
  KUMO_ASSIGN_OR_RETURN(std::vector<api::VolumeDisk> disks,
                        volumes_.Attach(ns, name, uid, spec, /*dry_run=*/false));
  json::object meta{{"name", name},
                    {"namespace", ns},
                    {"uid", uid},
                    {"creationTimestamp", FormatTime(clock_.NowUnixSeconds())},
                    {"generation", 1},
                    {"finalizers", json::array{kVmiCleanupFinalizer}},
                    {"ownerReferences",
                     json::array{json::object{{"apiVersion", "kubevirt.io/v1"},
                                              {"kind", "VirtualMachine"},
                                              {"name", name},
                                              {"uid", GetString(vm, {"metadata", "uid"})},
                                              {"controller", true},
                                              {"blockOwnerDeletion", true}}}}};
  json::object labels;
  if (tmpl) {
    if (const json::value* l = Find(*tmpl, {"metadata", "labels"}); l && l->is_object()) labels = l->get_object();
    if (const json::value* a = Find(*tmpl, {"metadata", "annotations"}); a && a->is_object()) {
      json::object annotations = a->get_object();
      // The address is IPAM's to give (below), never the template's.
      annotations.erase(api::kVmiIpAnnotation);
      annotations.erase(api::kVmiVolumesAnnotation);  // where volumes live is the server's to say
      meta["annotations"] = std::move(annotations);
    }
  }
  labels["vm.kubevirt.io/name"] = name;
  meta["labels"] = std::move(labels);

  // The VM's address: Calico's fixed-IP annotation, a named reservation, or the pools.
  std::string fixed, reservation = api::VmReservation(vm);
  if (tmpl) {
    std::string calico = GetString(*tmpl, {"metadata", "annotations", kCalicoIpAddrs});
    if (!calico.empty()) {
      auto list = ParseJson(calico);
      if (!list.ok() || !list->is_array() || list->get_array().size() != 1 ||
          !list->get_array()[0].is_string()) {
        return Status(Code::kInvalid, std::string(kCalicoIpAddrs) +
                                          " must be a JSON list with one address, e.g. '[\"10.0.0.5\"]'");
      }
      fixed = std::string(list->get_array()[0].get_string());
    }
  }
  KUMO_ASSIGN_OR_RETURN(std::optional<std::string> ip, ipam_.AddressForVm(ns, name, fixed, reservation));
  if (ip) {
    json::value& ann = meta["annotations"];
    if (!ann.is_object()) ann = json::object();
    ann.get_object()[kVmiIpAnnotation] = *ip;
  }
  if (!disks.empty()) {
    json::value& ann = meta["annotations"];
    if (!ann.is_object()) ann = json::object();
    ann.get_object()[api::kVmiVolumesAnnotation] = json::serialize(api::DisksToJson(disks));
  }
  json::value vmi = json::object{{"apiVersion", "kubevirt.io/v1"},
                                 {"kind", "VirtualMachineInstance"},
                                 {"metadata", std::move(meta)},
                                 {"spec", std::move(spec)},
                                 {"status", json::object{{"phase", "Pending"}}}};
  auto kv = store_.Create(Vmis().Key(ns, name), api::SerializeForStore(vmi));
  if (!kv.ok() && kv.status().code() != Code::kAlreadyExists) return kv.status();
  if (kv.ok()) {
    events_.Record(vm, "Normal", "SuccessfulCreate", "Started the virtual machine by creating the new virtual machine instance " + name);
  }
  return Status::Ok();
}

Status VmController::EnsureDataVolumes(const json::value& vm) {
  const json::value* ts = Find(vm, {"spec", "dataVolumeTemplates"});
  if (!ts || !ts->is_array()) return Status::Ok();
  const std::string ns = GetString(vm, {"metadata", "namespace"});
  const api::ResourceInfo& dvs = Resource("cdi.kubevirt.io", "v1beta1", "datavolumes");
  const api::ResourceInfo& pvcs = Resource("", "v1", "persistentvolumeclaims");
  for (const auto& t : ts->get_array()) {
    const std::string name = GetString(t, {"metadata", "name"});
    if (cache_.Get(dvs.Key(ns, name)) && cache_.Get(pvcs.Key(ns, name))) continue;
    KUMO_RETURN_IF_ERROR(volumes_.EnsureDataVolume(ns, t, &vm));
  }
  return Status::Ok();
}

Status VmController::DeleteVmi(const json::value& vmi) {
  std::string key = Vmis().Key(GetString(vmi, {"metadata", "namespace"}), GetString(vmi, {"metadata", "name"}));
  std::string node = GetString(vmi, {"status", "nodeName"});
  // Whether an agent will stop the VM and release the VMI: its node exists and is reachable.
  bool node_exists = false;
  if (!node.empty()) {
    const api::ResourceInfo* nodes = api::DefaultRegistry().Find("", "v1", "nodes");
    if (auto kv = store_.Get(nodes->Key("", node)); kv.ok()) {
      auto parsed = api::ParseStored(kv->value, kv->mod_revision);
      node_exists = !parsed.ok() || !NodeUnreachable(*parsed);
    }
  }
  std::string uid = GetString(vmi, {"metadata", "uid"});
  auto res = store::GuaranteedUpdate(store_, key, [&](const store::KeyValue& cur) -> StatusOr<std::string> {
    KUMO_ASSIGN_OR_RETURN(json::value obj, api::ParseStored(cur.value, cur.mod_revision));
    if (GetString(obj, {"metadata", "uid"}) != uid) return NotFound("replaced");
    if (Terminating(obj) && node_exists) return Status(Code::kAlreadyExists, "already terminating");
    EnsureObject(obj, {"metadata"})["deletionTimestamp"] = FormatTime(clock_.NowUnixSeconds());
    if (!node_exists) obj.get_object()["metadata"].get_object().erase("finalizers");
    return api::SerializeForStore(obj);
  });
  if (!res.ok()) {
    if (res.status().code() == Code::kNotFound || res.status().code() == Code::kAlreadyExists) return Status::Ok();
    return res.status();
  }
  // Nobody runs it (never scheduled, or its node is gone): remove it now.
  if (!node_exists) {
    auto del = store_.Delete(key, res->mod_revision);
    if (!del.ok() && del.status().code() != Code::kNotFound && del.status().code() != Code::kConflict) {
      return del.status();
    }
  }
  return Status::Ok();
}

Status VmController::PopStateChangeRequest(const std::string& key) {
  auto res = store::GuaranteedUpdate(store_, key, [&](const store::KeyValue& cur) -> StatusOr<std::string> {
    KUMO_ASSIGN_OR_RETURN(json::value obj, api::ParseStored(cur.value, cur.mod_revision));
    json::value* reqs = Find(obj, {"status", "stateChangeRequests"});
    if (reqs && reqs->is_array() && !reqs->get_array().empty()) {
      reqs->get_array().erase(reqs->get_array().begin());
      if (reqs->get_array().empty()) obj.at("status").as_object().erase("stateChangeRequests");
    }
    return api::SerializeForStore(obj);
  });
  return res.ok() || res.status().code() == Code::kNotFound ? Status::Ok() : res.status();
}

StatusOr<Result> VmController::Reconcile(const std::string& key) {
  const std::string rest = key.substr(Vms().KeyPrefix().size());
  const std::string vmi_key = Vmis().KeyPrefix() + rest;
  KUMO_ASSIGN_OR_RETURN(auto vm, Load(store_, key));
  KUMO_ASSIGN_OR_RETURN(auto vmi, Load(store_, vmi_key));

  if (!vm) {
    // The VM is gone: its instance goes too.
    {
      std::lock_guard lock(mu_);
      backoff_.erase(key);
    }
    if (vmi && !api::VmOwnerUid(*vmi).empty() && !Terminating(*vmi)) KUMO_RETURN_IF_ERROR(DeleteVmi(*vmi));
    // Its addresses go back to the pool, unless a reservation keeps them.
    size_t slash = rest.find('/');
    // Its DataVolumes go with it (the volume controller deletes them; their claims follow).
    KUMO_RETURN_IF_ERROR(ipam_.ReleaseVm(rest.substr(0, slash), rest.substr(slash + 1)));
    return Result{};
  }
  std::string vm_uid = GetString(*vm, {"metadata", "uid"});
  if (vmi && api::VmOwnerUid(*vmi) != vm_uid && !api::VmOwnerUid(*vmi).empty()) {
    // Left over from an earlier VM of the same name.
    if (!Terminating(*vmi)) KUMO_RETURN_IF_ERROR(DeleteVmi(*vmi));
    return Result{std::chrono::milliseconds(500)};
  }
  if (Terminating(*vm)) {
    if (vmi && !Terminating(*vmi)) KUMO_RETURN_IF_ERROR(DeleteVmi(*vmi));
    KUMO_RETURN_IF_ERROR(UpdateStatus(key, *vm, vmi ? &*vmi : nullptr, false, ""));
    return Result{};
  }

  // A VM's DataVolumes exist whether it runs or not, as KubeVirt makes them (the volume
  // controller deletes those whose template is gone).
  if (Status st = EnsureDataVolumes(*vm); !st.ok()) {
    events_.Record(*vm, "Warning", "FailedCreate", "cannot create its DataVolumes: " + st.message());
  }
  const int64_t now_us = clock_.NowMonotonicMicros();
  const bool active = vmi && !Terminating(*vmi);
  const std::string phase = vmi ? GetString(*vmi, {"status", "phase"}) : "";
  const bool finished = active && (phase == "Succeeded" || phase == "Failed");
  std::string failure;
  Result result;

  // Crash bookkeeping: a VMI that stayed up long enough resets the count.
  if (active && phase == "Running") {
    int64_t since = ParseTime(GetString(*vmi, {"status", "startTime"}));
    if (since > 0 && clock_.NowUnixSeconds() - since > options_.stable_after.count()) {
      std::lock_guard lock(mu_);
      backoff_.erase(key);
    }
  }
  auto backing_off = [&] {
    std::lock_guard lock(mu_);
    auto it = backoff_.find(key);
    return it != backoff_.end() && it->second.not_before_us > now_us;
  };
  auto note_failure = [&] {
    std::lock_guard lock(mu_);
    Backoff& b = backoff_[key];
    ++b.failures;
    int64_t delay_s = 0;
    if (b.failures > 1) {
      delay_s = options_.backoff_base.count() << std::min(b.failures - 2, 16);
      delay_s = std::min<int64_t>(delay_s, options_.backoff_max.count());
    }
    b.not_before_us = now_us + delay_s * 1000000;
    return delay_s;
  };
  auto create = [&]() -> Status {
    if (backing_off()) {
      std::lock_guard lock(mu_);
      result.requeue_after = std::chrono::milliseconds(
          std::max<int64_t>(1, (backoff_[key].not_before_us - now_us) / 1000) + 50);
      return Status::Ok();
    }
    Status st = CreateVmi(*vm);
    if (st.code() == Code::kNotFound || st.code() == Code::kConflict || st.code() == Code::kInvalid ||
        st.code() == Code::kUnavailable || st.code() == Code::kForbidden) {
      failure = st.message();
      events_.Record(*vm, "Warning", "FailedCreate", st.message());
      result.requeue_after = std::chrono::seconds(10);
      return Status::Ok();
    }
    return st;
  };

  const json::value* reqs = Find(*vm, {"status", "stateChangeRequests"});
  if (reqs && reqs->is_array() && !reqs->get_array().empty()) {
    const json::value& req = reqs->get_array()[0];
    std::string action = GetString(req, {"action"});
    std::string uid = GetString(req, {"uid"});
    if (action == "Stop") {
      if (active && (uid.empty() || uid == GetString(*vmi, {"metadata", "uid"}))) {
        KUMO_RETURN_IF_ERROR(DeleteVmi(*vmi));
        return Result{std::chrono::milliseconds(500)};
      }
      if (!vmi || uid.empty() || uid != GetString(*vmi, {"metadata", "uid"})) {
        KUMO_RETURN_IF_ERROR(PopStateChangeRequest(key));
      }
      return Result{std::chrono::milliseconds(200)};
    }
    if (action == "Start") {
      if (!vmi) {
        {
          std::lock_guard lock(mu_);
          backoff_.erase(key);  // an explicit start clears the back-off
        }
        KUMO_RETURN_IF_ERROR(create());
        KUMO_RETURN_IF_ERROR(PopStateChangeRequest(key));
      } else if (finished) {
        KUMO_RETURN_IF_ERROR(DeleteVmi(*vmi));
        return Result{std::chrono::milliseconds(200)};
      } else if (active) {
        KUMO_RETURN_IF_ERROR(PopStateChangeRequest(key));
      }
      return Result{std::chrono::milliseconds(200)};
    }
    KUMO_RETURN_IF_ERROR(PopStateChangeRequest(key));  // unknown action
  }

  const std::string strategy = api::RunStrategyOf(*vm);
  if (strategy == "Halted") {
    if (active) KUMO_RETURN_IF_ERROR(DeleteVmi(*vmi));
  } else if (strategy == "Always" || strategy == "RerunOnFailure") {
    if (!vmi) {
      KUMO_RETURN_IF_ERROR(create());
    } else if (finished && (strategy == "Always" || phase == "Failed")) {
      int64_t delay = phase == "Failed" ? note_failure() : 0;
      if (phase == "Failed") {
        events_.Record(*vm, "Warning", "Restarting",
                       delay > 0 ? "The instance failed; restarting in " + std::to_string(delay) + "s"
                                 : "The instance failed; restarting it");
      }
      KUMO_RETURN_IF_ERROR(DeleteVmi(*vmi));
      result.requeue_after = std::chrono::milliseconds(delay * 1000 + 200);
    }
  } else if (strategy == "Once") {
    if (!vmi && !Find(*vm, {"status", "created"})) KUMO_RETURN_IF_ERROR(create());
  }
  // Manual: only start/stop/restart requests change anything.

  // Re-read the VMI: the steps above may have created or deleted it.
  KUMO_ASSIGN_OR_RETURN(vmi, Load(store_, vmi_key));
  KUMO_RETURN_IF_ERROR(UpdateStatus(key, *vm, vmi ? &*vmi : nullptr, backing_off(), failure));
  return result;
}

Status VmController::UpdateStatus(const std::string& key, const json::value& vm,
                                  const json::value* vmi, bool backing_off,
                                  const std::string& failure) {
  std::string printable;
  bool ready = false;
  std::string phase = vmi ? GetString(*vmi, {"status", "phase"}) : "";
  if (Terminating(vm)) {
    printable = "Terminating";
  } else if (!vmi) {
    printable = backing_off ? "CrashLoopBackOff" : "Stopped";
  } else if (Terminating(*vmi)) {
    printable = "Stopping";
  } else if (phase == "Running") {
    printable = "Running";
    ready = ConditionField(*vmi, "Ready", "status") == "True";
  } else if (phase == "Succeeded" || phase == "Failed") {
    printable = backing_off ? "CrashLoopBackOff" : "Stopped";
  } else if (ConditionField(*vmi, "PodScheduled", "reason") == "Unschedulable") {
    printable = "ErrorUnschedulable";
  } else {
    std::string reason = ConditionField(*vmi, "Ready", "reason");
    if (reason == "ErrImagePull" || reason == "ImagePullBackOff") printable = reason;
    else printable = "Starting";
  }
  if (!failure.empty()) printable = "Stopped";

  auto res = store::GuaranteedUpdate(store_, key, [&](const store::KeyValue& cur) -> StatusOr<std::string> {
    KUMO_ASSIGN_OR_RETURN(json::value obj, api::ParseStored(cur.value, cur.mod_revision));
    json::value before = obj;
    json::object& st = EnsureObject(obj, {"status"});
    st["printableStatus"] = printable;
    st["ready"] = ready;
    if (vmi) st["created"] = true;
    else st.erase("created");
    const json::value* gen = Find(obj, {"metadata", "generation"});
    if (gen) st["observedGeneration"] = *gen;
    json::array conds;
    json::object rc{{"type", "Ready"}, {"status", ready ? "True" : "False"}, {"lastProbeTime", nullptr}};
    if (!ready) rc["reason"] = vmi ? (phase.empty() ? "Pending" : phase) : "VMINotExists";
    if (!ready && vmi && !ConditionField(*vmi, "Ready", "message").empty()) {
      rc["message"] = ConditionField(*vmi, "Ready", "message");
    } else if (!ready && vmi && !ConditionField(*vmi, "PodScheduled", "message").empty()) {
      rc["message"] = ConditionField(*vmi, "PodScheduled", "message");
    } else if (!ready && !vmi) {
      rc["message"] = "VMI does not exist";
    }
    std::string old_ready_status = ConditionField(obj, "Ready", "status");
    rc["lastTransitionTime"] = old_ready_status == (ready ? "True" : "False") && !ConditionField(obj, "Ready", "lastTransitionTime").empty()
                                   ? ConditionField(obj, "Ready", "lastTransitionTime")
                                   : FormatTime(clock_.NowUnixSeconds());
    conds.push_back(std::move(rc));
    if (!failure.empty()) {
      conds.push_back(json::object{{"type", "Failure"}, {"status", "True"}, {"reason", "FailedCreate"},
                                   {"message", failure}, {"lastProbeTime", nullptr},
                                   {"lastTransitionTime", FormatTime(clock_.NowUnixSeconds())}});
    }
    st["conditions"] = std::move(conds);
    if (obj == before) return Status(Code::kAlreadyExists, "unchanged");
    return api::SerializeForStore(obj);
  });
  if (!res.ok() && res.status().code() != Code::kAlreadyExists && res.status().code() != Code::kNotFound) {
    return res.status();
  }
  return Status::Ok();
}

}  // namespace kumo::controller
