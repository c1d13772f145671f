// The `kumo` command line: parses argv and runs the chosen command.
#pragma once

namespace kumo::cli {

// Returns the process exit code.
int Run(int argc, char** argv);

}  // namespace kumo::cli
