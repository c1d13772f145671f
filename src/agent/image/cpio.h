// Writes "newc" cpio archives, the format Linux unpacks as an initramfs. Entries are written
// with uid/gid 0 and mtime 0, so the same inputs always give the same bytes.
#pragma once

#include <cstdint>
#include <string>

namespace kumo::agent {

// Builds an archive in memory. Not thread-safe; owned by the caller.
class CpioWriter {
 public:
  // Paths are relative to the archive root ("bin/sh", not "/bin/sh"); parents must be added
  // first (the kernel does not create missing directories).
  void AddDirectory(const std::string& path, uint32_t perm = 0755);
  void AddFile(const std::string& path, const std::string& data, uint32_t perm = 0644);
  void AddSymlink(const std::string& path, const std::string& target);
  void AddCharDevice(const std::string& path, uint32_t major, uint32_t minor, uint32_t perm = 0600);
  // Appends the trailer and returns the archive; the writer is empty afterwards.
  std::string Finish();

 private:
  void AddEntry(const std::string& path, uint32_t mode, const std::string& data,
                uint32_t rdev_major = 0, uint32_t rdev_minor = 0);
  std::string out_;
  uint32_t next_ino_ = 1;
};

}  // namespace kumo::agent
