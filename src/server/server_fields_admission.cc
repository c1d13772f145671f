#include "server/server_fields_admission.h"

#include "api/kubevirt.h"

namespace kumo::server {

namespace {

Status Refuse(const AdmissionRequest& req, std::string field, std::string detail) {
  std::string msg = req.resource.kind + " \"" + req.name + "\" is invalid: " + field + ": " +
                    "Forbidden: " + detail;
  return Invalid(std::move(msg), {{"FieldValueForbidden", "Forbidden: " + detail, field}});
}

// The VirtualMachine ownerReferences of a VMI, as written.
json::array VmOwners(const json::value* vmi) {
  json::array out;
  const json::value* refs = vmi ? Find(*vmi, {"metadata", "ownerReferences"}) : nullptr;
  if (!refs || !refs->is_array()) return out;
  for (const auto& r : refs->get_array()) {
    if (GetString(r, {"kind"}) == "VirtualMachine") out.push_back(r);
  }
  return out;
}

}  // namespace

Status ServerFieldsAdmission::Admit(const AdmissionRequest& req) {
  if (!req.object || (req.verb != "create" && req.verb != "update" && req.verb != "patch")) {
    return Status::Ok();
  }
  const std::string& kind = req.resource.kind;
  const json::value* old = req.verb == "create" ? nullptr : req.old;
  if (kind == "VirtualMachine") {
    if (!SameAt(req.object, old,
                {"spec", "template", "metadata", "annotations", api::kVmiIpAnnotation})) {
      return Refuse(req,
                    std::string("spec.template.metadata.annotations[") + api::kVmiIpAnnotation +
                        "]",
                    "the address is assigned by IPAM; ask for one with an IPReservation "
                    "(annotation kumo.io/ip-reservation) or Calico's "
                    "cni.projectcalico.org/ipAddrs");
    }
    return Status::Ok();
  }
  if (kind != "VirtualMachineInstance") return Status::Ok();
  if (!SameAt(req.object, old, {"metadata", "annotations", api::kVmiIpAnnotation})) {
    return Refuse(req, std::string("metadata.annotations[") + api::kVmiIpAnnotation + "]",
                  "the address is assigned by IPAM when a VirtualMachine starts; run the "
                  "instance through a VirtualMachine to get one");
  }
  json::array owners = VmOwners(req.object);
  if (owners != VmOwners(old)) {
    return Refuse(req, "metadata.ownerReferences",
                  "only the VM controller makes a VirtualMachine the owner of an instance");
  }
  if (old && req.subresource.empty()) {
    if (!SameAt(req.object, old, {"spec"})) {
      return Refuse(req, "spec",
                    "a VirtualMachineInstance's spec cannot change after creation; change its "
                    "VirtualMachine and restart it, or delete and create the instance");
    }
  }
  return Status::Ok();
}

}  // namespace kumo::server
