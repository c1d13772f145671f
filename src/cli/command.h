// Plumbing shared by the user commands (`kumo vm|ip|image|flavor|node|template|apply|
// completion`): the parsed global flags, the session, the action a parsed command chose, and
// the REST paths of the kinds the CLI works with.
#pragma once

#include <functional>
#include <string>

#include "cli/session.h"
#include "client/rest_client.h"

namespace CLI {
class App;
}

namespace kumo::cli {

// One per process; owned by Run() in cli.cc.
struct Cli {
  GlobalFlags flags;
  Session session{flags};
  std::function<Status()> action;  // set by the callback of the command that was parsed
  std::string command_path;        // "kumo vm create", for usage hints
};

// Makes `cmd` run `fn` when it was parsed. Flags bound by `cmd` are set by then.
void OnRun(CLI::App* cmd, Cli& cli, std::function<Status()> fn);

// Adds an "Examples:" footer to --help.
void Examples(CLI::App* cmd, const std::string& lines);

// The command path of `cmd`, e.g. "kumo vm create".
std::string CommandPath(const CLI::App* cmd);

// REST paths.
std::string VmPath(const std::string& ns, const std::string& name = "");
std::string VmiPath(const std::string& ns, const std::string& name = "");
std::string ImagePath(const std::string& name = "");
std::string FlavorPath(const std::string& name = "");
std::string ReservationPath(const std::string& ns, const std::string& name = "");
std::string NodePath(const std::string& name = "");
std::string EventsPath(const std::string& ns);
std::string ClaimPath(const std::string& ns, const std::string& name = "");
std::string StorageClassPath(const std::string& name = "");

// The items of a list response (empty when absent).
json::array ItemsOf(const json::value& list);

// Writes `text` to stdout (no-op for "").
void Print(const std::string& text);

// The IP of a VMI's first interface ("" when none).
std::string VmiIp(const json::value& vmi);

}  // namespace kumo::cli
