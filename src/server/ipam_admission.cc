#include "server/ipam_admission.h"

#include "controller/vm_controller.h"

namespace kumo::server {

namespace {

Status CheckAddress(controller::Ipam& ipam, const std::string& address, const std::string& ns,
                    const std::string& vm, const std::string& reservation) {
  auto pool = ipam.PoolOf(address, ns);
  if (!pool.ok()) return pool.status();
  auto cur = ipam.Get(address);
  if (!cur) return Status::Ok();
  if (cur->ns == ns && !vm.empty() && cur->vm == vm) return Status::Ok();
  if (cur->ns == ns && !reservation.empty() && cur->reservation == reservation &&
      (cur->vm.empty() || cur->vm == vm)) {
    return Status::Ok();
  }
  if (cur->ns != ns) return Conflict("address " + address + " is already in use by another tenant");
  if (!cur->vm.empty()) return Conflict("address " + address + " is already in use by VM " + ns + "/" + cur->vm);
  if (!vm.empty() && cur->reservation.size()) {
    // A VM may use a reserved address of its own tenant; the VM controller links them.
    return Status::Ok();
  }
  return Conflict("address " + address + " is already reserved by " + ns + "/" + cur->reservation);
}

}  // namespace

Status IpamAdmission::Admit(const AdmissionRequest& req) {
  if (!req.object || (req.verb != "create" && req.verb != "update" && req.verb != "patch")) {
    return Status::Ok();
  }
  const json::value& obj = *req.object;
  if (req.resource.kind == "IPReservation") {
    std::string name = GetString(obj, {"metadata", "name"});
    if (const json::value* addrs = Find(obj, {"spec", "addresses"}); addrs && addrs->is_array()) {
      for (const auto& a : addrs->get_array()) {
        if (!a.is_string()) continue;
        KUMO_RETURN_IF_ERROR(CheckAddress(ipam_, std::string(a.get_string()), req.ns, "", name));
      }
      if (req.verb != "create") return Status::Ok();
    }
    if (const json::value* count = Find(obj, {"spec", "count"}); count && count->is_int64()) {
      std::string pool_name = GetString(obj, {"spec", "pool"});
      auto pools = ipam_.PoolsFor(req.ns, pool_name);
      if (!pools.ok()) return pools.status();
      if (pools->empty()) {
        return Forbidden("tenant " + req.ns + " may use no IP pool; ask an operator to create one");
      }
      int64_t free = 0;
      for (const auto& p : *pools) {
        int64_t size = p.prefix == 32 ? 1 : (int64_t{1} << (32 - p.prefix));
        if (p.prefix <= 30) size -= 2;
        free += std::max<int64_t>(0, size - ipam_.CountInPool(p.name));
      }
      if (free < count->get_int64()) {
        return Status(Code::kInvalid, "cannot reserve " + std::to_string(count->get_int64()) +
                                          " addresses: only " + std::to_string(free) +
                                          " are free in the pools of tenant " + req.ns);
      }
    }
  }
  if (req.resource.kind == "VirtualMachine") {
    // A named reservation must exist: a VM taking its address from one claims no address of
    // its own in the quota.
    const std::string named = api::VmReservation(obj);
    if (!named.empty() && !ipam_.ReservationExists(req.ns, named)) {
      return Invalid("IP reservation \"" + named + "\" not found in " + req.ns +
                         "; create it first (`kumo ip reserve`) or drop the annotation",
                     {{"FieldValueNotFound", "Not found: \"" + named + "\"",
                       std::string("metadata.annotations[") +
                           controller::kIpReservationAnnotation + "]"}});
    }
    std::string calico = GetString(obj, {"spec", "template", "metadata", "annotations",
                                         controller::kCalicoIpAddrs});
    if (!calico.empty()) {
      auto list = ParseJson(calico);
      if (!list.ok() || !list->is_array() || list->get_array().size() != 1 || !list->get_array()[0].is_string()) {
        return Invalid(std::string("annotation ") + controller::kCalicoIpAddrs +
                           " must be a JSON list with exactly one IPv4 address, e.g. [\"10.10.0.5\"]",
                       {{"FieldValueInvalid", "must be a JSON list with one address",
                         std::string("spec.template.metadata.annotations[") + controller::kCalicoIpAddrs + "]"}});
      }
      std::string address(list->get_array()[0].get_string());
      KUMO_RETURN_IF_ERROR(CheckAddress(ipam_, address, req.ns,
                                        GetString(obj, {"metadata", "name"}), named));
      if (!named.empty()) {
        auto cur = ipam_.Get(address);
        if (!cur || cur->ns != req.ns || cur->reservation != named) {
          return Invalid("address " + address + " is not held by IP reservation \"" + named +
                             "\"; name the reservation that holds it, or no reservation",
                         {{"FieldValueInvalid", "not in reservation " + named,
                           std::string("spec.template.metadata.annotations[") +
                               controller::kCalicoIpAddrs + "]"}});
        }
      }
    }
  }
  return Status::Ok();
}

}  // namespace kumo::server
