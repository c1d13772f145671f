#include "agent/image/cpio.h"

#include <sys/stat.h>

#include <cstdio>

namespace kumo::agent {
namespace {

void Pad4(std::string* s) {
  while (s->size() % 4 != 0) s->push_back('\0');
}

}  // namespace

void CpioWriter::AddEntry(const std::string& path, uint32_t mode, const std::string& data,
                          uint32_t rdev_major, uint32_t rdev_minor) {
  const bool is_dir = S_ISDIR(mode);
  const uint32_t fields[13] = {
      next_ino_++,                             // ino
      mode,                                    // mode
      0,                                       // uid
      0,                                       // gid
      is_dir ? 2u : 1u,                        // nlink
      0,                                       // mtime
      static_cast<uint32_t>(data.size()),      // filesize
      0,                                       // devmajor
      0,                                       // devminor
      rdev_major,                              // rdevmajor
      rdev_minor,                              // rdevminor
      static_cast<uint32_t>(path.size() + 1),  // namesize, with the NUL
      0,                                       // check
  };
  char hex[9];
  out_ += "070701";
  for (uint32_t f : fields) {
    snprintf(hex, sizeof hex, "%08X", f);
    out_.append(hex, 8);
  }
  out_ += path;
  out_.push_back('\0');
  Pad4(&out_);
  out_ += data;
  Pad4(&out_);
}

void CpioWriter::AddDirectory(const std::string& path, uint32_t perm) {
  AddEntry(path, S_IFDIR | (perm & 07777), "");
}

void CpioWriter::AddFile(const std::string& path, const std::string& data, uint32_t perm) {
  AddEntry(path, S_IFREG | (perm & 07777), data);
}

void CpioWriter::AddSymlink(const std::string& path, const std::string& target) {
  AddEntry(path, S_IFLNK | 0777, target);
}

void CpioWriter::AddCharDevice(const std::string& path, uint32_t major, uint32_t minor,
                               uint32_t perm) {
  AddEntry(path, S_IFCHR | (perm & 07777), "", major, minor);
}

std::string CpioWriter::Finish() {
  next_ino_ = 0;
  AddEntry("TRAILER!!!", 0, "");
  std::string out;
  out.swap(out_);
  next_ino_ = 1;
  return out;
}

}  // namespace kumo::agent
