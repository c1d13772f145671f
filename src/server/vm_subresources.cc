#include "server/vm_subresources.h"

#include "api/object.h"
#include "api/kubevirt.h"
#include "api/resource.h"
#include "common/random.h"
#include "server/responses.h"

namespace kumo::server {

namespace {

void SetStrategy(json::value& vm, const std::string& strategy) {
  json::object& spec = EnsureObject(vm, {"spec"});
  spec.erase("running");
  spec["runStrategy"] = strategy;
}

void AddRequests(json::value& vm, std::initializer_list<json::object> requests) {
  json::object& st = EnsureObject(vm, {"status"});
  json::value& reqs = st["stateChangeRequests"];
  if (!reqs.is_array()) reqs = json::array();
  for (const auto& r : requests) reqs.get_array().push_back(r);
}

}  // namespace

http::Response VmSubresources::Migrate(const RequestInfo& info, const api::ResourceInfo& vmis) {
  StatusDetails details{info.name, "kubevirt.io", "virtualmachines"};
  auto vmi_kv = store_.Get(vmis.Key(info.namespace_, info.name));
  if (!vmi_kv.ok()) {
    return StatusResponse(vmi_kv.status().code() == Code::kNotFound
                              ? Conflict("VM \"" + info.name + "\" is not running; only a "
                                         "running VM migrates")
                              : vmi_kv.status(),
                          details);
  }
  const api::ResourceInfo* migrations =
      api::DefaultRegistry().Find("kubevirt.io", "v1", "virtualmachineinstancemigrations");
  const std::string name = info.name + "-migration-" + RandomSuffix(5);
  json::value mig = json::object{
      {"apiVersion", "kubevirt.io/v1"},
      {"kind", "VirtualMachineInstanceMigration"},
      {"metadata", json::object{{"name", name},
                                {"namespace", info.namespace_},
                                {"uid", NewUid()},
                                {"creationTimestamp", FormatTime(clock_.NowUnixSeconds())},
                                {"generation", 1},
                                {"labels", json::object{{"kubevirt.io/vmi-name", info.name}}}}},
      {"spec", json::object{{"vmiName", info.name}}}};
  auto created = store_.Create(migrations->Key(info.namespace_, name), api::SerializeForStore(mig));
  if (!created.ok()) return StatusResponse(created.status(), details);
  return JsonResponse(202, "{}");
}

std::string VmSubresources::ResourceListJson() {
  json::array resources;
  for (const char* sub : {"start", "stop", "restart", "migrate"}) {
    resources.push_back(json::object{{"name", std::string("virtualmachines/") + sub},
                                     {"singularName", ""},
                                     {"namespaced", true},
                                     {"kind", "VirtualMachine"},
                                     {"verbs", json::array{"update"}}});
  }
  for (const char* sub : {"console", "consolelog"}) {
    resources.push_back(json::object{{"name", std::string("virtualmachineinstances/") + sub},
                                     {"singularName", ""},
                                     {"namespaced", true},
                                     {"kind", "VirtualMachineInstance"},
                                     {"verbs", json::array{"get"}}});
  }
  return json::serialize(json::object{{"kind", "APIResourceList"},
                                      {"apiVersion", "v1"},
                                      {"groupVersion", "subresources.kubevirt.io/v1"},
                                      {"resources", resources}});
}

http::Response VmSubresources::Serve(const RequestInfo& info, const http::Request& req) {
  StatusDetails details{info.name, "kubevirt.io", "virtualmachines"};
  const std::string& action = info.subresource;
  if (info.resource != "virtualmachines" || info.name.empty() || info.namespace_.empty() ||
      (action != "start" && action != "stop" && action != "restart" && action != "migrate")) {
    return StatusResponse(NotFound("the server could not find the requested resource"), details);
  }
  if (req.method != "PUT") {
    return StatusResponse(Status(Code::kMethodNotAllowed, action + " is called with PUT"), details);
  }
  const auto& reg = api::DefaultRegistry();
  const api::ResourceInfo* vms = reg.Find("kubevirt.io", "v1", "virtualmachines");
  const api::ResourceInfo* vmis = reg.Find("kubevirt.io", "v1", "virtualmachineinstances");
  std::string vm_key = vms->Key(info.namespace_, info.name);
  if (action == "migrate") return Migrate(info, *vmis);

  auto result = store::GuaranteedUpdate(store_, vm_key, [&](const store::KeyValue& cur) -> StatusOr<std::string> {
    KUMO_ASSIGN_OR_RETURN(json::value vm, api::ParseStored(cur.value, cur.mod_revision));
    if (!GetString(vm, {"metadata", "deletionTimestamp"}).empty()) {
      return Conflict("VirtualMachine \"" + info.name + "\" is being deleted");
    }
    std::string vmi_uid, phase;
    bool active = false;
    if (auto vmi_kv = store_.Get(vmis->Key(info.namespace_, info.name)); vmi_kv.ok()) {
      auto vmi = api::ParseStored(vmi_kv->value, vmi_kv->mod_revision);
      if (vmi.ok() && GetString(*vmi, {"metadata", "deletionTimestamp"}).empty()) {
        vmi_uid = GetString(*vmi, {"metadata", "uid"});
        phase = GetString(*vmi, {"status", "phase"});
        active = phase != "Succeeded" && phase != "Failed";
      }
    }
    const std::string strategy = api::RunStrategyOf(vm);
    if (action == "start") {
      if (active) return Conflict("VM is already running");
      if (strategy == "Halted") SetStrategy(vm, "Always");
      else if (strategy == "Always") AddRequests(vm, {json::object{{"action", "Start"}}});
      else AddRequests(vm, {json::object{{"action", "Start"}}});
    } else if (action == "stop") {
      if (strategy == "Halted" && !active) return Conflict("VM is not running");
      if (strategy == "Manual") {
        if (!active && vmi_uid.empty()) return Conflict("VM is not running");
        AddRequests(vm, {json::object{{"action", "Stop"}, {"uid", vmi_uid}}});
      } else {
        SetStrategy(vm, "Halted");
      }
    } else {  // restart
      if (vmi_uid.empty()) return Conflict("VM is not running; use start");
      if (strategy == "Halted") return Conflict("VM is halted; use start");
      AddRequests(vm, {json::object{{"action", "Stop"}, {"uid", vmi_uid}},
                       json::object{{"action", "Start"}}});
    }
    return api::SerializeForStore(vm);
  });
  if (!result.ok()) {
    Status st = result.status();
    if (st.code() == Code::kNotFound) st = ObjectNotFound("virtualmachines", "kubevirt.io", info.name);
    return StatusResponse(st, details);
  }
  return JsonResponse(202, "{}");
}

}  // namespace kumo::server
