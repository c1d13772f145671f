// `kumo vm ...`: create (from flags, templates and flavors), list, show, start, stop, restart,
// delete, console, log and ssh.
#pragma once

#include "cli/command.h"

namespace CLI {
class App;
}

namespace kumo::cli {

// Adds the `vm` noun and its verbs to `app`.
void AddVmCommands(CLI::App& app, Cli& cli);

// Pieces of AddVmCommands, defined in vm_create.cc and vm_console.cc.
void AddVmCreateCommand(CLI::App& vm, Cli& cli);
void AddVmConsoleCommands(CLI::App& vm, Cli& cli);

// --wait of create and start: progress on stderr until the VM runs, then (when it has a
// routable IP) until the IP answers; prints the IP on stdout. A non-routable IP (no network
// yet, QEMU user-mode) skips the reachability check with a note.
Status WaitAndReach(client::RestClient& client, const std::string& ns, const std::string& name,
                    int timeout_seconds);

}  // namespace kumo::cli
