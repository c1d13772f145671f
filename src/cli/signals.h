// Signal handling for long-running commands: block SIGINT/SIGTERM in every thread (call before
// starting threads), then wait for one in the main thread.
#pragma once

#include <signal.h>

namespace kumo::cli {

sigset_t BlockStopSignals();
int WaitForStopSignal(const sigset_t& set);

}  // namespace kumo::cli
