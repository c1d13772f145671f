// Runs helper programs (qemu-img, mkfs.vfat, QEMU itself) as child processes without a shell:
// argv is passed as-is, output is captured or redirected to files, and a timeout kills the child
// by its pid. Used by the runtime and the image builder.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "common/status.h"

namespace kumo::agent {

struct RunOptions {
  int timeout_ms = 60000;  // the child is killed (SIGKILL, by pid) after this long
  std::string cwd;         // "" = inherit
  // When set, the stream goes to this file (created/truncated, mode 0644) instead of being
  // captured in ProcessResult. "/dev/null" discards it.
  std::string stdout_path;
  std::string stderr_path;
  // Extra environment variables (NAME, value), added to or replacing the parent's.
  std::vector<std::pair<std::string, std::string>> env;
};

struct ProcessResult {
  int exit_code = -1;   // -1 when killed by a signal
  int term_signal = 0;  // the signal that ended it, if any
  bool timed_out = false;
  std::string out;  // captured stdout (unless redirected)
  std::string err;  // captured stderr (unless redirected)
  bool ok() const { return exit_code == 0 && !timed_out; }
};

// Runs argv[0] (looked up in PATH plus the sbin directories) and waits for it to exit.
// Fails only when the program cannot be started; a non-zero exit is reported in the result.
// The child gets no file descriptors of ours besides 0-2 (stdin is /dev/null), default signal
// dispositions and its own process group. Thread-safe.
StatusOr<ProcessResult> RunProcess(const std::vector<std::string>& argv,
                                   const RunOptions& options = {});

// RunProcess that also turns a non-zero exit into Internal, whose message names the program
// and carries its stderr (or stdout when stderr is empty).
StatusOr<ProcessResult> RunChecked(const std::vector<std::string>& argv,
                                   const RunOptions& options = {});

// Absolute path of a program found in PATH, /usr/sbin, /sbin, /usr/bin or /bin; "" if absent.
std::string FindProgram(const std::string& name);

// Trims trailing whitespace and keeps at most the last `max_bytes` bytes of a program's output,
// for error messages.
std::string TrimOutput(const std::string& text, size_t max_bytes = 2000);

}  // namespace kumo::agent
