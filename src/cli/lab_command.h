// `kumo lab up|down|status|exec`: the multi-node lab on one machine (src/lab).
#pragma once

#include <string>
#include <vector>

namespace CLI {
class App;
}

namespace kumo::cli {

struct LabFlags {
  std::string data_dir;  // default ~/.kumo-lab
  int nodes = 2;
  int id = 0;
  std::string host;
  std::vector<std::string> command;
};

// Adds `lab` and its verbs; Run dispatches to the parsed one. Returns the exit code, or -1
// when no lab verb was parsed.
void AddLabCommand(CLI::App& app, LabFlags& flags);
int RunLab(CLI::App& app, const LabFlags& flags);

}  // namespace kumo::cli
