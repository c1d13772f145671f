// The "tiny" VM image: Debian's kernel plus a busybox initramfs on a bootable FAT disk, built
// on the node from Debian packages alone (no network besides the apt mirror). It boots in
// seconds under TCG, takes its address by DHCP, honours a cloud-init NoCloud seed (hostname,
// #! user-data), serves a one-line HTTP page on port 80 and offers a shell on the serial
// console. Used by `kumo up`, the lab and the tests as the default VM image.
#pragma once

#include <cstdint>
#include <functional>
#include <string>

#include "common/status.h"

namespace kumo::agent {

struct TinyImage {
  std::string disk_path;  // out_dir/tiny.qcow2
  std::string format;     // "qcow2"
  int64_t size_bytes = 0;
  std::string sha256;  // hex of the qcow2 file
};

// Builds out_dir/tiny.qcow2 (and out_dir/tiny.json, its manifest). The Debian kernel package
// is resolved with apt-cache, fetched with `apt-get download` and unpacked into cache_dir once;
// busybox comes from the host's busybox-static (or its package). Idempotent: when the manifest
// matches the inputs the existing image is returned at once; the output is byte-for-byte
// reproducible. `progress` receives one-line human messages (may be null). Serialised with
// file locks, so concurrent callers (parallel tests) are safe. Returns Unavailable when a tool
// or the kernel package cannot be found.
StatusOr<TinyImage> BuildTinyImage(const std::string& out_dir, const std::string& cache_dir,
                                   const std::function<void(const std::string&)>& progress);

}  // namespace kumo::agent
