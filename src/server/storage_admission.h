// Admission for storage: defaults a claim's storage class, checks that what a claim or
// DataVolume names exists in the caller's namespace, keeps a claim's class, modes and source
// fixed and lets its size only grow (where the class allows it); refuses a VM whose volumes
// another VM holds, and attaches the volumes of a VMI that a user creates directly (the VM
// controller attaches those of VMs itself).
#pragma once

#include "controller/volumes.h"
#include "server/admission.h"
#include "store/watch_cache.h"

namespace kumo::server {

// Thread-safe; borrows `volumes` and `cache`.
class StorageAdmission : public AdmissionPlugin {
 public:
  StorageAdmission(controller::Volumes& volumes, const store::WatchCache& cache)
      : volumes_(volumes), cache_(cache) {}
  std::string name() const override { return "Storage"; }
  Status Admit(const AdmissionRequest& request) override;

 private:
  Status AdmitClaim(const AdmissionRequest& req);
  Status AdmitDataVolume(const AdmissionRequest& req);
  Status AdmitVm(const AdmissionRequest& req);
  Status AdmitVmi(const AdmissionRequest& req);
  // NotFound unless the claim or Image a data source names exists.
  Status CheckSource(const AdmissionRequest& req, const std::string& kind, const std::string& name,
                     const std::string& field);

  controller::Volumes& volumes_;
  const store::WatchCache& cache_;
};

}  // namespace kumo::server
