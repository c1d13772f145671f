// KubeVirt's VM subresources at the paths virtctl calls:
//   PUT /apis/subresources.kubevirt.io/v1/namespaces/NS/virtualmachines/NAME/{start,stop,restart,migrate}
// They change spec.runStrategy or queue status.stateChangeRequests, with KubeVirt's rules:
// start on a Halted VM sets Always, stop on Always/RerunOnFailure/Once sets Halted, Manual VMs
// get explicit Start/Stop requests, restart is a Stop of the current instance then a Start.
#pragma once

#include "api/resource.h"
#include "common/clock.h"
#include "http/http_server.h"
#include "server/request_info.h"
#include "store/store.h"

namespace kumo::server {

// Stateless; borrows the store.
class VmSubresources {
 public:
  VmSubresources(store::Store& store, const Clock& clock) : store_(store), clock_(clock) {}
  // Serves a request already parsed as group subresources.kubevirt.io.
  http::Response Serve(const RequestInfo& info, const http::Request& req);
  // The discovery document for subresources.kubevirt.io/v1.
  static std::string ResourceListJson();

 private:
  // PUT .../virtualmachines/NAME/migrate (virtctl migrate): creates a
  // VirtualMachineInstanceMigration for the VM's running instance.
  http::Response Migrate(const RequestInfo& info, const api::ResourceInfo& vmis);

  store::Store& store_;
  const Clock& clock_;
};

}  // namespace kumo::server
