// What every user command shares: the global flags (kubeconfig, context, tenant, output), a
// lazily connected REST client, and how errors become one line on stderr and an exit code.
#pragma once

#include <memory>
#include <string>

#include "cli/output.h"
#include "client/rest_client.h"
#include "common/status.h"

namespace CLI {
class App;
}

namespace kumo::cli {

// Set by the parser; read by commands.
struct GlobalFlags {
  std::string kubeconfig;    // --kubeconfig; default $KUBECONFIG, ~/.kube/config, ~/.kumo/server/
  std::string context;       // --context; default the kubeconfig's current-context
  std::string ns;            // -n/--tenant; default the context's namespace, else "default"
  std::string output;        // -o: "", wide, json, yaml, name
  bool all_tenants = false;  // -A on list commands
};

// Adds --kubeconfig, --context, -n/--tenant/--namespace and -o/--output to `app` (inherited by
// subcommands that are created afterwards through fallthrough).
void AddGlobalFlags(CLI::App& app, GlobalFlags& flags);

// A usage mistake (exit code 2), e.g. conflicting flags. Distinguished from server errors by
// a marker cause.
Status UsageError(std::string message);
bool IsUsageError(const Status& status);

// Prints `Error: <message> (<Reason>)` (usage errors: no reason, and a --help hint) and returns
// the exit code: 2 for usage errors, 1 otherwise, 0 for OK.
int ReportError(const Status& status, const std::string& command_path = "");

// One per process invocation; not thread-safe.
class Session {
 public:
  explicit Session(const GlobalFlags& flags) : flags_(flags) {}

  // The client, connecting on first use. Errors name the kubeconfig that was tried.
  StatusOr<client::RestClient*> Client();
  // The tenant namespace: -n, else the context's namespace, else "default". Loads the
  // kubeconfig when needed; falls back to "default" when there is none.
  std::string Namespace();
  // True when -n was given explicitly.
  bool NamespaceExplicit() const { return !flags_.ns.empty(); }
  // The kubeconfig path that is (or would be) used; "" when none was found.
  std::string KubeconfigPath() const;
  StatusOr<Format> OutputFormat() const { return ParseFormat(flags_.output); }
  const GlobalFlags& flags() const { return flags_; }

 private:
  const GlobalFlags& flags_;
  std::unique_ptr<client::RestClient> client_;
  std::string context_ns_;
  bool loaded_ = false;
};

// `kind "name" not found in tenant "ns"` for NotFound results, keeping other errors as they
// are. `what` is the user's word for the kind: "VM", "image", "flavor", "IP reservation".
Status Explain(const Status& status, const std::string& what, const std::string& name,
               const std::string& ns = "");

// `status` with a hint that ReportError prints after the reason: "...(NotFound); <hint>".
Status WithHint(Status status, const std::string& hint);

// A failure that was already reported (commands on several names report each one): ReportError
// prints nothing more and returns 1.
Status AlreadyReported(Code code);

// `status` printed with `reason` instead of its code's reason, e.g. "(ErrImagePull)".
Status WithReason(Status status, const std::string& reason);

}  // namespace kumo::cli
