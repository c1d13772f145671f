// `kumo completion bash|zsh`: shell completion scripts generated from the command tree itself
// (nouns, verbs, flags), completing VM, image, flavor, template, IP reservation and node names
// by asking the server (`kumo <noun> list -o name`) with the kubeconfig, context and tenant
// already typed on the line.
#pragma once

#include <string>

#include "cli/command.h"

namespace CLI {
class App;
}

namespace kumo::cli {

// Adds `completion` to `app`; the scripts cover every command registered on `app` by the time
// the command runs.
void AddCompletionCommand(CLI::App& app, Cli& cli);

// The bash script for the commands of `root`.
std::string BashCompletion(const CLI::App& root);

}  // namespace kumo::cli
