#include "agent/node_endpoint.h"

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <set>
#include <thread>

#include "common/file_util.h"
#include "common/log.h"
#include "http/http_server.h"
#include "http/pki.h"
#include "http/query.h"
#include "http/websocket.h"

namespace kumo::agent {

namespace {

namespace fs = std::filesystem;

// The last `lines` lines of `text` (all of it when lines < 0).
std::string TailLines(const std::string& text, int lines) {
  if (lines < 0) return text;
  size_t pos = text.size();
  if (pos > 0 && text[pos - 1] == '\n') --pos;  // the last line's own newline
  for (int n = 0; n < lines; ++n) {
    size_t nl = pos == 0 ? std::string::npos : text.rfind('\n', pos - 1);
    if (nl == std::string::npos) return text;
    pos = nl;
  }
  return lines == 0 ? "" : text.substr(pos + 1);
}

StatusOr<int> ConnectUnix(const std::string& path) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (path.size() >= sizeof addr.sun_path) return Internal("socket path too long: " + path);
  std::strncpy(addr.sun_path, path.c_str(), sizeof addr.sun_path - 1);
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0 || connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    std::string err = std::strerror(errno);
    if (fd >= 0) close(fd);
    return Status(Code::kUnavailable, "cannot connect to the serial console: " + err);
  }
  return fd;
}

class NodeEndpointImpl final : public NodeEndpoint {
 public:
  NodeEndpointImpl(NodeEndpointOptions options, Runtime& runtime)
      : options_(std::move(options)), runtime_(runtime) {}
  ~NodeEndpointImpl() override { Stop(); }

  Status Init();
  std::string endpoint() const override {
    const std::string& h = options_.advertise_host;
    return (h.find(':') != std::string::npos ? "[" + h + "]" : h) + ":" + std::to_string(port_);
  }
  int port() const override { return port_; }
  const std::string& cert_sha256() const override { return sha256_; }
  void Stop() override {
    if (stop_.exchange(true)) return;
    if (server_) server_->Stop();
  }

 private:
  void Handle(const http::Request& req, http::ResponseWriter& w);
  void ServeConsole(const std::string& key, const VmStatus& vm, const http::Request& req,
                    http::ResponseWriter& w);
  void ServeLog(const VmStatus& vm, const http::Request& req, http::ResponseWriter& w);

  NodeEndpointOptions options_;
  Runtime& runtime_;
  std::unique_ptr<http::HttpServer> server_;
  int port_ = 0;
  std::string sha256_;
  std::atomic<bool> stop_{false};
  std::mutex mu_;
  std::set<std::string> attached_;  // "ns/name" with a console session; guarded by mu_
};

Status NodeEndpointImpl::Init() {
  if (options_.ca_pem.empty()) {
    return BadRequest(
        "the node endpoint needs the cluster CA to verify the API server, and the agent's "
        "kubeconfig has none (certificate-authority-data)");
  }
  const std::string pki = options_.data_dir + "/pki";
  std::error_code ec;
  fs::create_directories(pki, ec);
  const std::string ca_file = pki + "/cluster-ca.crt";
  KUMO_RETURN_IF_ERROR(WriteFileAtomic(ca_file, options_.ca_pem, 0644));
  std::vector<std::string> hosts{"127.0.0.1"};
  if (!options_.advertise_host.empty()) hosts.push_back(options_.advertise_host);
  KUMO_ASSIGN_OR_RETURN(pki::SelfSignedCert cert,
                        pki::EnsureSelfSignedCert(pki, "agent", "kumo-agent", hosts));
  sha256_ = cert.sha256;
  http::ServerOptions so;
  so.host = options_.listen_host;
  so.port = options_.listen_port;
  so.cert_file = cert.cert_file;
  so.key_file = cert.key_file;
  so.client_ca_file = ca_file;
  so.idle_timeout_seconds = 60;
  KUMO_ASSIGN_OR_RETURN(server_, http::HttpServer::Start(so, [this](const http::Request& req,
                                                                   http::ResponseWriter& w) {
                          Handle(req, w);
                        }));
  port_ = server_->port();
  return Status::Ok();
}

void NodeEndpointImpl::Handle(const http::Request& req, http::ResponseWriter& w) {
  if (req.client_cert_cn != api::kApiServerClientName) {
    w.Send(http::ErrorResponse(
        Status(Code::kForbidden, "only the API server may call the node agent")));
    return;
  }
  // /console/NS/NAME or /consolelog/NS/NAME
  std::vector<std::string> parts;
  for (size_t start = 1; start <= req.path.size();) {
    size_t slash = req.path.find('/', start);
    if (slash == std::string::npos) slash = req.path.size();
    parts.push_back(req.path.substr(start, slash - start));
    start = slash + 1;
  }
  if (parts.size() != 3 || (parts[0] != "console" && parts[0] != "consolelog") ||
      parts[1].empty() || parts[2].empty()) {
    w.Send(http::ErrorResponse(NotFound("the node agent has no endpoint " + req.path)));
    return;
  }
  const std::string& ns = parts[1];
  const std::string& name = parts[2];
  VmStatus vm = runtime_.Inspect(ns, name);
  if (parts[0] == "console") {
    if (vm.phase != VmPhase::kRunning || vm.console_socket.empty()) {
      w.Send(http::ErrorResponse(
          NotFound("VM " + ns + "/" + name + " is not running on this node")));
      return;
    }
    ServeConsole(ns + "/" + name, vm, req, w);
  } else {
    if (vm.console_log.empty() || !fs::exists(vm.console_log)) {
      w.Send(http::ErrorResponse(NotFound("VM " + ns + "/" + name + " has no console log here")));
      return;
    }
    ServeLog(vm, req, w);
  }
}

void NodeEndpointImpl::ServeConsole(const std::string& key, const VmStatus& vm,
                                    const http::Request& req, http::ResponseWriter& w) {
  {
    std::lock_guard lock(mu_);
    if (!attached_.insert(key).second) {
      w.Send(http::ErrorResponse(Status(
          Code::kConflict, "the console of VM " + key +
                               " is in use by another session; detach that one first")));
      return;
    }
  }
  auto release = [&] {
    std::lock_guard lock(mu_);
    attached_.erase(key);
  };
  StatusOr<int> fd = ConnectUnix(vm.console_socket);
  if (!fd.ok()) {
    release();
    w.Send(http::ErrorResponse(fd.status()));
    return;
  }
  auto ws = http::AcceptWebSocket(req, w, {std::string(http::kPlainKubevirtProtocol)});
  if (!ws.ok()) {
    close(*fd);
    release();
    w.Send(http::ErrorResponse(ws.status()));
    return;
  }
  spdlog::info("console session for VM {} opened", key);
  http::FdPipe serial(*fd, *fd);
  Status st = http::Splice(**ws, serial, [this] { return stop_.load(); });
  (*ws)->Close(1000, "console closed");
  close(*fd);
  release();
  spdlog::info("console session for VM {} closed{}", key, st.ok() ? "" : ": " + st.message());
}

void NodeEndpointImpl::ServeLog(const VmStatus& vm, const http::Request& req,
                                http::ResponseWriter& w) {
  const http::Query query = http::ParseQuery(req.query);
  int tail = -1;
  if (auto t = query.find("tailLines"); t != query.end() && !t->second.empty()) {
    char* end = nullptr;
    long v = std::strtol(t->second.c_str(), &end, 10);
    if (*end != '\0' || v < 0) {
      w.Send(http::ErrorResponse(BadRequest("tailLines must be a non-negative integer")));
      return;
    }
    tail = static_cast<int>(std::min<long>(v, 1 << 30));
  }
  auto f = query.find("follow");
  const bool follow = f != query.end() && f->second == "true";
  auto text = ReadFileToString(vm.console_log);
  if (!text.ok()) {
    w.Send(http::ErrorResponse(text.status()));
    return;
  }
  std::string first = TailLines(*text, tail);
  if (!follow) {
    http::Response r;
    r.content_type = "text/plain; charset=utf-8";
    r.body = std::move(first);
    w.Send(std::move(r));
    return;
  }
  if (!w.StartStream(200, "text/plain; charset=utf-8", {})) return;
  if (!first.empty() && !w.WriteChunk(first)) return;
  std::streamoff offset = static_cast<std::streamoff>(text->size());
  while (!stop_ && !w.ClientGone()) {
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    std::error_code ec;
    auto size = static_cast<std::streamoff>(fs::file_size(vm.console_log, ec));
    if (ec) break;  // the VM's files were cleaned up
    if (size < offset) offset = 0;
    if (size == offset) continue;
    std::ifstream in(vm.console_log, std::ios::binary);
    in.seekg(offset);
    std::string chunk(static_cast<size_t>(size - offset), '\0');
    in.read(chunk.data(), static_cast<std::streamsize>(chunk.size()));
    chunk.resize(static_cast<size_t>(in.gcount()));
    offset += static_cast<std::streamoff>(chunk.size());
    if (!chunk.empty() && !w.WriteChunk(chunk)) return;
  }
  w.EndStream();
}

}  // namespace

StatusOr<std::unique_ptr<NodeEndpoint>> NodeEndpoint::Start(const NodeEndpointOptions& options,
                                                            Runtime& runtime) {
  auto ep = std::make_unique<NodeEndpointImpl>(options, runtime);
  KUMO_RETURN_IF_ERROR(ep->Init());
  return std::unique_ptr<NodeEndpoint>(std::move(ep));
}

}  // namespace kumo::agent
