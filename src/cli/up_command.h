// `kumo up`: everything on this host — API server, node agent, the tiny image and a demo VM —
// then a short message on how to use it. Runs until SIGINT or SIGTERM.
#pragma once

#include <string>

namespace CLI {
class App;
}

namespace kumo::cli {

struct UpFlags {
  std::string data_dir;  // default $HOME/.kumo
  std::string listen = "127.0.0.1:6443";
  std::string accel = "auto";
  bool no_demo = false;
  bool keep_vms = false;
  bool exit_when_ready = false;  // for scripts and tests: stop after the demo VM booted
};

CLI::App* AddUpCommand(CLI::App& app, UpFlags& flags);
int RunUp(const UpFlags& flags);

}  // namespace kumo::cli
