// Fields only the server's own controllers write. Controllers write the store directly, so
// every request that reaches admission comes from an API caller (tenant, node or admin), and
// none of them may set or change what a node agent acts on without IPAM or the scheduler
// having decided it:
// - a VMI's address annotation (kumo.io/ip), on VMIs and in VM templates;
// - a VMI's VirtualMachine ownerReference (which also decides how quota counts it);
// - a VMI's spec after creation (immutable, as in KubeVirt: what quota counted and the
//   scheduler placed is what runs).
#pragma once

#include "server/admission.h"

namespace kumo::server {

// Stateless; thread-safe.
class ServerFieldsAdmission : public AdmissionPlugin {
 public:
  std::string name() const override { return "ServerOwnedFields"; }
  Status Admit(const AdmissionRequest& request) override;
};

}  // namespace kumo::server
