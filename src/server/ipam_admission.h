// Admission checks for addresses, so a user hears at once (not later in a status) that an
// address is outside every pool the tenant may use or already taken: IPReservation creates and
// VMs carrying Calico's fixed-IP annotation.
#pragma once

#include "controller/ipam.h"
#include "server/admission.h"

namespace kumo::server {

class IpamAdmission : public AdmissionPlugin {
 public:
  explicit IpamAdmission(controller::Ipam& ipam) : ipam_(ipam) {}
  std::string name() const override { return "IPAM"; }
  Status Admit(const AdmissionRequest& request) override;

 private:
  controller::Ipam& ipam_;
};

}  // namespace kumo::server
