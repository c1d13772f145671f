// `kumo hollow`: runs many simulated nodes in one process (agent/hollow.h) until SIGINT or
// SIGTERM, for measuring the control plane at a real cloud's size (bench/scale).
#pragma once

namespace CLI {
class App;
}

namespace kumo::cli {

struct Cli;
void AddHollowCommand(CLI::App& app, Cli& cli);

}  // namespace kumo::cli
