// `kumo tenant create|list|show|delete|add-user|remove-user`: tenants (kumo.io/v1alpha1
// Tenant), their quotas and members. add-user issues a bearer token (recorded server-side as a
// hash, see server/tokens.h) and writes a kubeconfig for it, scoped to the tenant's namespace.
// These are cluster-admin commands: they need the admin kubeconfig.
#pragma once

#include "cli/command.h"

namespace CLI {
class App;
}

namespace kumo::cli {

void AddTenantCommands(CLI::App& app, Cli& cli);

}  // namespace kumo::cli
