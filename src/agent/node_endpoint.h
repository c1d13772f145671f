// The node agent's own HTTPS endpoint, which the API server calls to reach VMs on this node
// (as kube-apiserver calls the kubelet, and virt-api calls virt-handler):
//   GET /console/NS/NAME      WebSocket ("plain.kubevirt.io") joined to the VM's serial console;
//                             one session per VM at a time (409 while another is attached)
//   GET /consolelog/NS/NAME   the serial console log as text; ?tailLines=N, ?follow=true
// Only the API server may call it: a client certificate from the cluster CA with
// CN kumo-apiserver. The serving certificate is self-signed and kept in the data dir; its
// SHA-256 is published on the Node so that the server pins it.
#pragma once

#include <memory>
#include <string>

#include "agent/runtime/runtime.h"
#include "api/kubevirt.h"
#include "common/status.h"

namespace kumo::agent {


struct NodeEndpointOptions {
  std::string listen_host = "0.0.0.0";
  int listen_port = 10250;           // 0: any free port
  std::string advertise_host;        // the address the API server dials
  std::string data_dir;              // holds pki/agent.crt and agent.key
  std::string ca_pem;                // the cluster CA, which signs the API server's certificate
};

// Thread-safe; Stop() (or destruction) ends open console sessions.
class NodeEndpoint {
 public:
  virtual ~NodeEndpoint() = default;
  // Borrows `runtime`, which must outlive the endpoint.
  static StatusOr<std::unique_ptr<NodeEndpoint>> Start(const NodeEndpointOptions& options,
                                                       Runtime& runtime);
  // "host:port" for api::kAgentEndpointAnnotation.
  virtual std::string endpoint() const = 0;
  virtual int port() const = 0;
  virtual const std::string& cert_sha256() const = 0;
  virtual void Stop() = 0;
};

}  // namespace kumo::agent
