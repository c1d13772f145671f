#include "cli/session.h"

#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cstdlib>
#include <iostream>

#include "client/kubeconfig.h"

namespace kumo::cli {

namespace {

constexpr char kUsageMarker[] = "kumo.cli/usage";
constexpr char kHintMarker[] = "kumo.cli/hint";
constexpr char kReasonMarker[] = "kumo.cli/reason";
constexpr char kReportedMarker[] = "kumo.cli/reported";

Status WithCause(const Status& status, const char* marker, const std::string& text) {
  std::vector<Cause> causes = status.causes();
  causes.push_back(Cause{marker, text, ""});
  Status out(status.code(), status.message(), std::move(causes));
  if (status.retry_after_seconds() > 0) out.set_retry_after(status.retry_after_seconds());
  return out;
}

bool Exists(const std::string& path) { return !path.empty() && access(path.c_str(), R_OK) == 0; }

std::string Home() {
  const char* home = std::getenv("HOME");
  return home ? home : "/root";
}

}  // namespace

void AddGlobalFlags(CLI::App& app, GlobalFlags& flags) {
  app.fallthrough();
  app.add_option("--kubeconfig", flags.kubeconfig,
                 "Kubeconfig to use (default: $KUBECONFIG, ~/.kube/config, then the one `kumo "
                 "up` writes in ~/.kumo/server)")
      ->group("Global options");
  app.add_option("--context", flags.context, "Kubeconfig context (default: its current-context)")
      ->group("Global options");
  app.add_option("-n,--tenant,--namespace", flags.ns,
                 "Tenant (namespace) to work in (default: the context's namespace, else default)")
      ->group("Global options");
  app.add_option("-o,--output", flags.output,
                 "Output format: table (default), wide, json, yaml or name")
      ->check(CLI::IsMember({"", "table", "wide", "json", "yaml", "name"}))
      ->group("Global options");
}

Status UsageError(std::string message) {
  return Status(Code::kBadRequest, std::move(message), {Cause{kUsageMarker, "", ""}});
}

bool IsUsageError(const Status& status) {
  for (const auto& c : status.causes()) {
    if (c.reason == kUsageMarker) return true;
  }
  return false;
}

int ReportError(const Status& status, const std::string& command_path) {
  if (status.ok()) return 0;
  if (IsUsageError(status)) {
    std::cerr << "Error: " << status.message() << "\n";
    if (!command_path.empty()) std::cerr << "Run '" << command_path << " --help' for usage.\n";
    return 2;
  }
  for (const auto& c : status.causes()) {
    if (c.reason == kReportedMarker) return 1;
  }
  std::string message = status.message();
  while (!message.empty() && (message.back() == '\n' || message.back() == '.')) message.pop_back();
  // A server message sometimes spans lines (causes); keep the error on one line.
  for (auto& c : message) {
    if (c == '\n') c = ' ';
  }
  std::string hint, reason = ReasonOf(status.code());
  for (const auto& c : status.causes()) {
    if (c.reason == kHintMarker) hint = c.message;
    if (c.reason == kReasonMarker) reason = c.message;
  }
  std::cerr << "Error: " << message << " (" << reason << ")" << (hint.empty() ? "" : "; " + hint)
            << "\n";
  return 1;
}

std::string Session::KubeconfigPath() const {
  if (!flags_.kubeconfig.empty()) return flags_.kubeconfig;
  if (const char* env = std::getenv("KUBECONFIG"); env && *env) {
    std::string list = env;
    size_t start = 0;
    while (start <= list.size()) {
      size_t colon = list.find(':', start);
      std::string p =
          list.substr(start, colon == std::string::npos ? std::string::npos : colon - start);
      if (Exists(p)) return p;
      if (colon == std::string::npos) break;
      start = colon + 1;
    }
  }
  for (const std::string& p :
       {Home() + "/.kube/config", Home() + "/.kumo/server/kubeconfig.yaml"}) {
    if (Exists(p)) return p;
  }
  return "";
}

StatusOr<client::RestClient*> Session::Client() {
  if (client_) return client_.get();
  std::string path = KubeconfigPath();
  if (path.empty()) {
    return Status(Code::kBadRequest,
                  "no kubeconfig found; pass --kubeconfig, set KUBECONFIG, or start Kumo with "
                  "`kumo up`");
  }
  StatusOr<client::Kubeconfig> loaded = client::LoadKubeconfig(path, flags_.context);
  if (!loaded.ok() && loaded.status().code() == Code::kNotFound &&
      loaded.status().message().find("kubeconfig") == std::string::npos) {
    return Status(Code::kNotFound,
                  "kubeconfig " + path + " does not exist; pass --kubeconfig or set KUBECONFIG");
  }
  if (!loaded.ok()) return loaded.status();
  client::Kubeconfig kc = std::move(*loaded);
  KUMO_ASSIGN_OR_RETURN(client::RestConfig rc, client::RestConfigFromKubeconfig(kc));
  KUMO_ASSIGN_OR_RETURN(client_, client::RestClient::New(rc));
  context_ns_ = kc.namespace_;
  loaded_ = true;
  return client_.get();
}

std::string Session::Namespace() {
  if (!flags_.ns.empty()) return flags_.ns;
  if (!loaded_) {
    loaded_ = true;
    std::string path = KubeconfigPath();
    if (!path.empty()) {
      if (auto kc = client::LoadKubeconfig(path, flags_.context); kc.ok())
        context_ns_ = kc->namespace_;
    }
  }
  return context_ns_.empty() ? "default" : context_ns_;
}

Status Explain(const Status& status, const std::string& what, const std::string& name,
               const std::string& ns) {
  if (status.code() != Code::kNotFound) return status;
  std::string msg = what + " \"" + name + "\" not found";
  if (!ns.empty()) msg += " in tenant \"" + ns + "\"";
  return Status(Code::kNotFound, msg);
}

Status WithHint(Status status, const std::string& hint) {
  return WithCause(status, kHintMarker, hint);
}

Status AlreadyReported(Code code) {
  return Status(code == Code::kOk ? Code::kInternal : code, "reported",
                {Cause{kReportedMarker, "", ""}});
}

Status WithReason(Status status, const std::string& reason) {
  return WithCause(status, kReasonMarker, reason);
}

}  // namespace kumo::cli
