// `kumo ip reserve|list|release`: fixed IPs (IPReservation objects) that a tenant keeps
// across VM restarts and deletions, and gives to VMs with `kumo vm create --ip`.
#pragma once

#include "cli/command.h"

namespace CLI {
class App;
}

namespace kumo::cli {

void AddIpCommands(CLI::App& app, Cli& cli);

}  // namespace kumo::cli
