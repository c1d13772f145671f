// Whole-file read and crash-safe write helpers, shared by modules that persist small files
// (PKI material, kubeconfigs, tokens).
#pragma once

#include <sys/types.h>

#include <string>

#include "common/status.h"

namespace kumo {

// Reads the whole file. NotFound when it does not exist, Internal on other I/O errors.
// Thread-safe.
StatusOr<std::string> ReadFileToString(const std::string& path);

// Replaces `path` with `data` atomically: writes a temporary file in the same directory with
// permissions `mode`, fsyncs it, renames it over `path`, then fsyncs the directory. Readers see
// either the old or the new content, never a torn file. Thread-safe for distinct paths.
Status WriteFileAtomic(const std::string& path, const std::string& data, mode_t mode);

// The path of the running binary (/proc/self/exe), for starting more of ourselves.
std::string SelfExecutable();

}  // namespace kumo
