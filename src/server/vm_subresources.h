// KubeVirt's VM subresources at the paths virtctl calls:
//   PUT /apis/subresources.kubevirt.io/v1/namespaces/NS/virtualmachines/NAME/{start,stop,restart}
// They change spec.runStrategy or queue status.stateChangeRequests, with KubeVirt's rules:
// start on a Halted VM sets Always, stop on Always/RerunOnFailure/Once sets Halted, Manual VMs
// get explicit Start/Stop requests, restart is a Stop of the current instance then a Start.
#pragma once

#include "common/clock.h"
#include "http/http_server.h"
#include "server/request_info.h"
#include "store/store.h"

namespace kumo::server {

// Stateless; borrows the store.
class VmSubresources {
 public:
  explicit VmSubresources(store::Store& store) : store_(store) {}
  // Serves a request already parsed as group subresources.kubevirt.io.
  http::Response Serve(const RequestInfo& info, const http::Request& req);
  // The discovery document for subresources.kubevirt.io/v1.
  static std::string ResourceListJson();

 private:
  store::Store& store_;
};

}  // namespace kumo::server
