#include "server/vm_console.h"

#include "api/kubevirt.h"
#include "api/object.h"
#include "api/resource.h"
#include "client/http/http_client.h"
#include "common/log.h"
#include "http/websocket.h"
#include "server/responses.h"

namespace kumo::server {

namespace {


StatusOr<json::value> GetObject(store::Store& store, const char* group, const char* plural,
                                const std::string& ns, const std::string& name) {
  const api::ResourceInfo* r = api::DefaultRegistry().Find(group, "v1", plural);
  auto kv = store.Get(r->Key(ns, name));
  if (!kv.ok()) {
    if (kv.status().code() == Code::kNotFound) return ObjectNotFound(plural, group, name);
    return kv.status();
  }
  return api::ParseStored(kv->value, kv->mod_revision);
}

// Forwards the agent's error response (a Status body) to the user, or explains that the agent
// could not be reached.
http::Response AgentError(int status, std::string body, const std::string& node) {
  if (status == 0) {
    return StatusResponse(Status(Code::kUnavailable, "cannot reach the agent of node " + node +
                                                         ": " + body));
  }
  http::Response r;
  r.status = status;
  r.body = std::move(body);
  return r;
}

}  // namespace

bool VmConsole::Handles(const RequestInfo& info) {
  return info.resource == "virtualmachineinstances" &&
         (info.subresource == "console" || info.subresource == "consolelog");
}

void VmConsole::Serve(const RequestInfo& info, const Query& query, const http::Request& req,
                      http::ResponseWriter& writer) {
  StatusDetails details{info.name, "kubevirt.io", "virtualmachineinstances"};
  auto fail = [&](const Status& st) { writer.Send(StatusResponse(st, details)); };
  if (req.method != "GET") {
    return fail(Status(Code::kMethodNotAllowed, info.subresource + " is read with GET"));
  }
  const bool console = info.subresource == "console";
  if (console && !http::IsWebSocketRequest(req)) {
    return fail(BadRequest("the console is a WebSocket: connect with Upgrade: websocket "
                           "(virtctl console, kumo vm console)"));
  }
  if (credentials_.cert_pem.empty()) {
    return fail(Status(Code::kUnavailable,
                       "consoles need the server's PKI to reach node agents; this server runs "
                       "without TLS"));
  }
  auto vmi = GetObject(store_, "kubevirt.io", "virtualmachineinstances", info.namespace_, info.name);
  if (!vmi.ok()) return fail(vmi.status());
  const std::string phase = GetString(*vmi, {"status", "phase"});
  const std::string node = GetString(*vmi, {"status", "nodeName"});
  if (node.empty() || (console && phase != "Running")) {
    return fail(Status(Code::kConflict, "VMI \"" + info.name + "\" is " +
                                            (phase.empty() ? "Pending" : phase) +
                                            ", not running; its console is not available"));
  }
  auto node_obj = GetObject(store_, "", "nodes", "", node);
  if (!node_obj.ok()) return fail(node_obj.status());
  const std::string endpoint = GetString(*node_obj, {"metadata", "annotations", api::kAgentEndpointAnnotation});
  const std::string pin = GetString(*node_obj, {"metadata", "annotations", api::kAgentCertAnnotation});
  if (endpoint.empty() || pin.empty()) {
    return fail(Status(Code::kUnavailable, "node " + node +
                                               " publishes no agent endpoint (an older agent, or "
                                               "one whose kubeconfig has no CA)"));
  }
  client::HttpClientOptions o;
  o.url = "https://" + endpoint;
  o.pinned_cert_sha256 = pin;
  o.client_cert_pem = credentials_.cert_pem;
  o.client_key_pem = credentials_.key_pem;
  o.timeout_seconds = 10;
  o.max_idle_connections = 0;
  auto agent = client::HttpClient::New(o);
  if (!agent.ok()) return fail(agent.status());
  const std::string target = "/" + info.subresource + "/" + info.namespace_ + "/" + info.name +
                             (req.query.empty() ? "" : "?" + req.query);
  client::HttpRequest areq;
  areq.target = target;

  if (!console) {
    auto f = query.find("follow");
    const bool follow = f != query.end() && f->second == "true";
    if (!follow) {
      auto resp = (*agent)->Send(areq);
      if (!resp.ok()) return writer.Send(AgentError(0, resp.status().message(), node));
      if (resp->status != 200) return writer.Send(AgentError(resp->status, resp->body, node));
      http::Response r;
      r.content_type = "text/plain; charset=utf-8";
      r.body = std::move(resp->body);
      return writer.Send(std::move(r));
    }
    bool started = false;
    std::atomic<bool> cancel{false};
    auto on_line = [&](std::string_view line) {
      if (!started) {
        started = writer.StartStream(200, "text/plain; charset=utf-8", {});
        if (!started) return false;
      }
      return writer.WriteChunk(std::string(line) + "\n") && !stopping_.load();
    };
    auto resp = (*agent)->Stream(areq, on_line, &cancel);
    if (!resp.ok() && !started) return writer.Send(AgentError(0, resp.status().message(), node));
    if (resp.ok() && resp->status != 200 && !started) {
      return writer.Send(AgentError(resp->status, resp->body, node));
    }
    if (!started) writer.StartStream(200, "text/plain; charset=utf-8", {});
    writer.EndStream();
    return;
  }

  auto dial = (*agent)->OpenWebSocket(areq, {std::string(http::kPlainKubevirtProtocol)});
  if (!dial.ok()) return writer.Send(AgentError(0, dial.status().message(), node));
  if (!dial->socket) return writer.Send(AgentError(dial->status, dial->body, node));
  auto user = http::AcceptWebSocket(req, writer, {std::string(http::kPlainKubevirtProtocol)});
  if (!user.ok()) return fail(user.status());
  spdlog::info("console of VMI {}/{} on node {} opened from {}", info.namespace_, info.name, node,
               req.remote_addr);
  Status st = http::Splice(**user, *dial->socket, [this] { return stopping_.load(); });
  (*user)->Close(1000, "console closed");
  dial->socket->Close(1000, "console closed");
  spdlog::info("console of VMI {}/{} closed{}", info.namespace_, info.name,
               st.ok() ? "" : ": " + st.message());
}

}  // namespace kumo::server
