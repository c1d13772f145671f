// `kumo apply -f FILE`: create-or-update any manifest (multi-document YAML or JSON, a List, a
// directory of them, or stdin), like a simple `kubectl apply`: the last applied configuration
// is kept in the kubectl.kubernetes.io/last-applied-configuration annotation and updates are
// three-way JSON merge patches, so kumo and kubectl can take turns applying the same files.
#pragma once

#include <string>
#include <vector>

#include "cli/command.h"

namespace CLI {
class App;
}

namespace kumo::cli {

void AddApplyCommand(CLI::App& app, Cli& cli);

// Splits a YAML stream into its documents (lines that are "---" separate them).
std::vector<std::string> SplitYamlDocuments(const std::string& text);

// The JSON merge patch that takes `current` to `modified`, also deleting what `original` (the
// last applied configuration; null when unknown) had but `modified` dropped. An empty object
// when nothing would change.
json::value ThreeWayMergePatch(const json::value& original, const json::value& modified,
                               const json::value& current);

}  // namespace kumo::cli
