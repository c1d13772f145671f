// `kumo node-kubeconfig NAME --data-dir DIR --out FILE`: a kubeconfig for one node agent with
// its own identity, a client certificate (CN system:node:NAME, O system:nodes) signed by the
// server's CA. With it the agent may change only its own Node and Lease and the VMIs bound to
// it. Runs on the server host: it needs the CA key under DATA_DIR/pki.
#pragma once

#include "cli/command.h"

namespace CLI {
class App;
}

namespace kumo::cli {

void AddNodeCredentialsCommand(CLI::App& app, Cli& cli);

}  // namespace kumo::cli
