// Tenant quota arithmetic, kept pure so it is unit-tested without a server: what one object
// claims (a VirtualMachine, a standalone VirtualMachineInstance, an IPReservation), adding
// claims up, and the check Kubernetes' ResourceQuota admission makes, with its message
// ("exceeded quota: NAME, requested: vcpus=2, used: vcpus=4, limited: vcpus=4").
//
// A VM claims its vCPUs, guest memory plus the per-VM host overhead (api::VmSize, the size the
// scheduler and the agent use too),
// one VM and one address whether it runs or not: a stopped VM keeps its claim, so starting it
// never fails on quota. A VM naming a reservation (annotation kumo.io/ip-reservation) takes its
// address from that reservation and claims none of its own. An IPReservation claims one
// reservation and its addresses (spec.addresses or spec.count).
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <utility>

#include "common/json.h"
#include "common/status.h"

namespace kumo::server {

// Amounts of the quota resources. In a quota, kUnlimited (-1) means no limit. Value type.
struct Amounts {
  int64_t vcpus = 0;
  int64_t memory = 0;  // bytes
  int64_t vms = 0;
  int64_t ips = 0;
  int64_t reservations = 0;
  int64_t volumes = 0;  // PersistentVolumeClaims (and DataVolumes standing for one)
  int64_t storage = 0;  // bytes the volumes ask for

  Amounts& operator+=(const Amounts& o);
  Amounts& operator-=(const Amounts& o);
  bool operator==(const Amounts& o) const = default;
};

inline constexpr int64_t kUnlimited = -1;

// A tenant's spec.quota; unset resources are unlimited.
struct Quota {
  Amounts limits{kUnlimited, kUnlimited, kUnlimited, kUnlimited,
                 kUnlimited, kUnlimited, kUnlimited};
  // True when any resource is limited.
  bool Any() const;
};

// Reads spec.quota ({vcpus, memory, vms, ips, reservations, volumes, storage}); malformed entries are unlimited
// (validation rejects them before they are stored).
Quota ParseQuota(const json::value* quota);

// A cluster instancetype object by name; NotFound when absent.
using FlavorLookup = std::function<StatusOr<json::value>(const std::string& name)>;

// What a VirtualMachine claims (see above). Invalid when its size cannot be read.
StatusOr<Amounts> ClaimOfVm(const json::value& vm, const FlavorLookup& flavors);
// What a VirtualMachineInstance that no VM owns claims: the same as a VM.
StatusOr<Amounts> ClaimOfVmi(const json::value& vmi);
// What an IPReservation claims.
Amounts ClaimOfReservation(const json::value& reservation);
// What a PersistentVolumeClaim or a DataVolume claims: one volume and its size; nothing when a
// DataVolume (or a VM) owns it, since its owner counts it. Invalid when the size is unreadable.
StatusOr<Amounts> ClaimOfVolume(const json::value& claim_or_data_volume);
// What a VolumeSnapshot claims: the storage its source claim asks for (nothing while the
// source claim, which may be null, is unknown).
Amounts ClaimOfSnapshot(const json::value* source_claim);

// OK when replacing `old_claim` by `new_claim` keeps every resource that grows within `quota`,
// given `used` (which includes `old_claim`). Otherwise Forbidden:
// "exceeded quota: <quota_name>, requested: memory=1200Mi, used: memory=3Gi, limited: memory=4Gi".
Status CheckQuota(const std::string& quota_name, const Quota& quota, const Amounts& used,
                  const Amounts& old_claim, const Amounts& new_claim);

// Memory as Kubernetes prints quantities: "4Gi", "1200Mi", "1500Ki", else bytes.
std::string FormatMemory(int64_t bytes);
// {"vcpus": 4, "memory": "1200Mi", "vms": 2, "ips": 2, "reservations": 0}.
json::object AmountsToJson(const Amounts& amounts);

}  // namespace kumo::server
