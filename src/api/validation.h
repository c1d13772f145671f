// Validation of objects on create and update. Each returns OK or Invalid with one Cause per
// problem; messages name the field and say what is wrong, as Kubernetes' field errors do.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/json.h"
#include "common/status.h"

namespace kumo::api {

// Node labels under this prefix are set by admins only (a node's own identity may not add,
// change or remove them); a Tenant's dedicated-node selector must use them.
inline constexpr char kNodeRestrictionPrefix[] = "node-restriction.kumo.io/";

// "" when `name` is a DNS-1123 label (RFC 1123: lower-case alphanumerics and '-', at most 63
// characters, starting and ending alphanumeric); otherwise the reason.
std::string CheckDnsLabel(std::string_view name);
// Same for a DNS-1123 subdomain (labels joined by '.', at most 253 characters).
std::string CheckDnsSubdomain(std::string_view name);

// metadata (name as a DNS subdomain, labels and annotations as string maps) for any kind.
Status ValidateGenericObject(const json::value& obj);
// kubevirt.io/v1 VirtualMachine: name as a DNS label, runStrategy/running, template domain
// (cpu, memory, resources), disks matched to volumes, interfaces matched to networks.
Status ValidateVirtualMachine(const json::value& obj);
// kubevirt.io/v1 VirtualMachineInstance: the same checks on spec as a VM template.
Status ValidateVirtualMachineInstance(const json::value& obj);
// VirtualMachineInstanceMigration: spec.vmiName is required.
Status ValidateMigration(const json::value& obj);
// instancetype.kubevirt.io VirtualMachineClusterInstancetype: spec.cpu.guest, spec.memory.guest.
Status ValidateInstancetype(const json::value& obj);

// kumo.io/v1alpha1 Image: spec.format (qcow2, raw) and exactly one spec.source
// (file, url, builtin).
Status ValidateImage(const json::value& obj);

// kumo.io/v1alpha1 IPPool: spec.cidr an IPv4 CIDR (prefix 8..32), namespaces a string list.
Status ValidateIPPool(const json::value& obj);
// kumo.io/v1alpha1 IPReservation: spec.addresses (IPv4 list) or spec.count (1..256), not both.
Status ValidateIPReservation(const json::value& obj);

// kumo.io/v1alpha1 Tenant: the name becomes the tenant's namespace (a DNS label, not a system
// namespace); spec.quota counts and memory, spec.nodeSelector (keys under
// kNodeRestrictionPrefix), spec.ipPools, spec.members
// (user and role admin|member|viewer, users unique and not system:*), spec.apiShare (1..100).
Status ValidateTenant(const json::value& obj);

// core/v1 PersistentVolumeClaim: accessModes, resources.requests.storage (up to 64Ti),
// volumeMode, and a dataSource of kind PersistentVolumeClaim, VolumeSnapshot or kumo.io Image
// in the namespace.
Status ValidatePersistentVolumeClaim(const json::value& obj);
// storage.k8s.io/v1 StorageClass: a Kumo provisioner (kumo.io/local, kumo.io/shared-dir with
// parameters.path), reclaimPolicy, volumeBindingMode, allowVolumeExpansion.
Status ValidateStorageClass(const json::value& obj);
// cdi.kubevirt.io/v1beta1 DataVolume: one source (blank, registry naming an Image, pvc of the
// same namespace) and spec.storage (or spec.pvc) with a size.
Status ValidateDataVolume(const json::value& obj);
// snapshot.storage.k8s.io/v1 VolumeSnapshot: spec.source.persistentVolumeClaimName.
Status ValidateVolumeSnapshot(const json::value& obj);

// Collects field errors and turns them into one Invalid status.
class FieldErrors {
 public:
  void Required(std::string field, std::string detail = "");
  void InvalidValue(std::string field, const std::string& value, std::string detail);
  void NotSupported(std::string field, const std::string& value,
                    const std::vector<std::string>& supported);
  void TypeInvalid(std::string field, std::string detail);
  void Duplicate(std::string field, const std::string& value);
  void Add(Cause cause) { causes_.push_back(std::move(cause)); }
  const std::vector<Cause>& causes() const { return causes_; }
  bool empty() const { return causes_.empty(); }
  // OK when empty; otherwise Invalid: `Kind "name" is invalid: <causes>`.
  Status ToStatus(std::string_view kind, std::string_view name) const;

 private:
  std::vector<Cause> causes_;
};

}  // namespace kumo::api
