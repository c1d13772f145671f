// The read-mostly nouns: `kumo flavor list|show` (VirtualMachineClusterInstancetypes),
// `kumo node list|show` and `kumo template list|show`.
#pragma once

#include "cli/command.h"

namespace CLI {
class App;
}

namespace kumo::cli {

void AddFlavorCommands(CLI::App& app, Cli& cli);
void AddNodeCommands(CLI::App& app, Cli& cli);
void AddTemplateCommands(CLI::App& app, Cli& cli);

}  // namespace kumo::cli
