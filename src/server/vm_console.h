// The serial console of a running VMI, at the paths virtctl uses, proxied to the node agent
// that runs it (see agent/node_endpoint.h):
//   GET /apis/subresources.kubevirt.io/v1/namespaces/NS/virtualmachineinstances/NAME/console
//       a WebSocket ("plain.kubevirt.io": binary frames carry the raw serial bytes)
//   GET .../virtualmachineinstances/NAME/consolelog[?tailLines=N][&follow=true]
//       the console log as text (a Kumo addition; KubeVirt exposes it as a pod log)
// The server dials the agent at the Node's kumo.io/agent-endpoint, pins its certificate to
// kumo.io/agent-cert-sha256 and authenticates with a client certificate from the cluster CA.
#pragma once

#include <atomic>
#include <string>

#include "http/http_server.h"
#include "server/request_info.h"
#include "store/store.h"

namespace kumo::server {

// Credentials the server presents to node agents.
struct AgentCredentials {
  std::string cert_pem, key_pem;  // empty: no PKI (plain HTTP server), consoles unavailable
};

// Thread-safe; borrows the store and the stop flag.
class VmConsole {
 public:
  VmConsole(store::Store& store, AgentCredentials credentials, const std::atomic<bool>& stopping)
      : store_(store), credentials_(std::move(credentials)), stopping_(stopping) {}
  // True for the subresources served here.
  static bool Handles(const RequestInfo& info);
  void Serve(const RequestInfo& info, const Query& query, const http::Request& req,
             http::ResponseWriter& writer);

 private:
  store::Store& store_;
  const AgentCredentials credentials_;
  const std::atomic<bool>& stopping_;
};

}  // namespace kumo::server
