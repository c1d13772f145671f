#include "server/server_fields_admission.h"

#include "api/kubevirt.h"
#include "api/storage.h"

namespace kumo::server {

namespace {


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

// The ownerReferences of `obj` to a kind the server's controllers own objects by.
json::array OwnersOfKind(const json::value* obj, std::string_view kind) {
  json::array out;
  const json::value* refs = obj ? Find(*obj, {"metadata", "ownerReferences"}) : nullptr;
  if (!refs || !refs->is_array()) return out;
  for (const auto& r : refs->get_array()) {
    if (GetString(r, {"kind"}) == kind) out.push_back(r);
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
      return FieldForbidden(req,
                    std::string("spec.template.metadata.annotations[") + api::kVmiIpAnnotation +
                        "]",
                    "the address is assigned by IPAM; ask for one with an IPReservation "
                    "(annotation kumo.io/ip-reservation) or Calico's "
                    "cni.projectcalico.org/ipAddrs");
    }
    if (!SameAt(req.object, old,
                {"spec", "template", "metadata", "annotations", api::kVmiVolumesAnnotation})) {
      return FieldForbidden(req,
                    std::string("spec.template.metadata.annotations[") +
                        api::kVmiVolumesAnnotation + "]",
                    "the server writes where a VM's volumes live; name claims in the template's "
                    "volumes");
    }
    return Status::Ok();
  }
  if (kind == "PersistentVolumeClaim" || kind == "DataVolume") {
    if (kind == "PersistentVolumeClaim" && req.subresource.empty() &&
        !SameAt(req.object, old, {"spec", "volumeName"})) {
      return FieldForbidden(req, "spec.volumeName",
                    "the server binds a claim to its volume; name a source with "
                    "spec.dataSourceRef to copy another claim's data");
    }
    // A claim of a DataVolume (or a DataVolume of a VM) counts against quota with its owner:
    // only the controllers make that link.
    const char* owner_kind = kind == "DataVolume" ? "VirtualMachine" : "DataVolume";
    if (OwnersOfKind(req.object, owner_kind) != OwnersOfKind(old, owner_kind)) {
      return FieldForbidden(req, "metadata.ownerReferences",
                    std::string("only Kumo's controllers make a ") + owner_kind + " the owner of a " +
                        kind);
    }
    return Status::Ok();
  }
  if (kind != "VirtualMachineInstance") return Status::Ok();
  if (!SameAt(req.object, old, {"metadata", "annotations", api::kVmiVolumesAnnotation})) {
    return FieldForbidden(req, std::string("metadata.annotations[") + api::kVmiVolumesAnnotation + "]",
                  "the server writes where a VM's volumes live; name claims in spec.volumes");
  }
  if (!SameAt(req.object, old, {"metadata", "annotations", api::kVmiIpAnnotation})) {
    return FieldForbidden(req, std::string("metadata.annotations[") + api::kVmiIpAnnotation + "]",
                  "the address is assigned by IPAM when a VirtualMachine starts; run the "
                  "instance through a VirtualMachine to get one");
  }
  json::array owners = VmOwners(req.object);
  if (owners != VmOwners(old)) {
    return FieldForbidden(req, "metadata.ownerReferences",
                  "only the VM controller makes a VirtualMachine the owner of an instance");
  }
  if (old && req.subresource.empty()) {
    if (!SameAt(req.object, old, {"spec"})) {
      return FieldForbidden(req, "spec",
                    "a VirtualMachineInstance's spec cannot change after creation; change its "
                    "VirtualMachine and restart it, or delete and create the instance");
    }
  }
  return Status::Ok();
}

}  // namespace kumo::server
