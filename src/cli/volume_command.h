// `kumo volume create|list|resize|delete|classes`: persistent volumes (PersistentVolumeClaims)
// that keep their data across VM stops, restarts and migrations, attached to VMs with
// `kumo vm create --volume` or booted from with `kumo vm create --persistent`.
#pragma once

#include "cli/command.h"

namespace CLI {
class App;
}

namespace kumo::cli {

void AddVolumeCommands(CLI::App& app, Cli& cli);

}  // namespace kumo::cli
