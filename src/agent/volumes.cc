#include "agent/volumes.h"

#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

#include "agent/runtime/subprocess.h"
#include "common/log.h"
#include "common/random.h"

namespace kumo::agent {

namespace fs = std::filesystem;

namespace {

constexpr int kQemuImgMs = 30 * 60 * 1000;  // a copy of a big image takes a while

bool SafeDir(const std::string& dir) {
  return !dir.empty() && dir[0] == '/' && dir.find("/../") == std::string::npos &&
         !dir.ends_with("/..") && dir.find(',') == std::string::npos &&
         dir.find('\n') == std::string::npos;
}

// Grows `path` to `size` bytes when it is smaller; Invalid when it is larger than `size`
// and `must_fit`.
Status Grow(const std::string& path, int64_t size, const std::string& what) {
  KUMO_ASSIGN_OR_RETURN(int64_t have, VirtualSize(path));
  if (have >= size) return Status::Ok();
  spdlog::info("growing {} from {} to {} MiB", what, have >> 20, size >> 20);
  return RunChecked({"qemu-img", "resize", "-q", "-f", "qcow2", path, std::to_string(size)},
                    {.timeout_ms = kQemuImgMs})
      .status();
}

// Makes the file of a volume nobody has written yet.
Status Create(const api::VolumeDisk& d, const std::string& path, const std::string& volume_dir) {
  std::error_code ec;
  fs::create_directories(fs::path(path).parent_path(), ec);
  if (ec) return Internal("cannot create " + fs::path(path).parent_path().string() + ": " + ec.message());
  const std::string tmp = path + ".tmp-" + RandomSuffix(8);
  Status st;
  if (d.source == "image") {
    std::vector<std::string> argv = {"qemu-img", "convert", "-q", "-O", "qcow2"};
    if (!d.image_format.empty()) argv.insert(argv.end(), {"-f", d.image_format});
    argv.insert(argv.end(), {d.image_path, tmp});
    st = RunChecked(argv, {.timeout_ms = kQemuImgMs}).status();
    if (st.ok()) {
      StatusOr<int64_t> have = VirtualSize(tmp);
      if (!have.ok()) st = have.status();
      else if (*have > d.size_bytes) {
        st = Status(Code::kInvalid, "image " + d.image_path + " is " + std::to_string(*have >> 20) +
                                        " MiB, larger than volume " + d.claim + " (" +
                                        std::to_string(d.size_bytes >> 20) +
                                        " MiB); ask for a bigger volume");
      }
    }
  } else if (d.source == "clone") {
    api::VolumeDisk src = d;
    src.pv = d.clone_pv;
    src.driver = d.clone_driver;
    src.location = d.clone_location;
    StatusOr<std::string> src_path = VolumePath(src, volume_dir);
    if (!src_path.ok()) return src_path.status();
    // -U: the source may be open in a running VM; the copy is then crash-consistent.
    st = RunChecked({"qemu-img", "convert", "-q", "-U", "-f", "qcow2", "-O", "qcow2", *src_path, tmp},
                    {.timeout_ms = kQemuImgMs})
             .status();
    if (st.ok()) {
      StatusOr<int64_t> have = VirtualSize(tmp);
      if (!have.ok()) st = have.status();
      else if (*have > d.size_bytes) {
        st = Status(Code::kInvalid, "the source of volume " + d.claim + " is bigger (" +
                                        std::to_string(*have >> 20) + " MiB) than the volume");
      }
    }
  } else {
    st = RunChecked({"qemu-img", "create", "-q", "-f", "qcow2", tmp, std::to_string(d.size_bytes)},
                    {.timeout_ms = kQemuImgMs})
             .status();
  }
  if (st.ok()) st = Grow(tmp, d.size_bytes, "new volume " + d.claim);
  if (st.ok()) {
    // link() never replaces: a file made meanwhile (by an earlier attempt) wins.
    if (::link(tmp.c_str(), path.c_str()) != 0 && errno != EEXIST) {
      st = Internal("cannot put volume " + d.claim + " at " + path + ": " + std::strerror(errno));
    }
  }
  fs::remove(tmp, ec);
  return st;
}

}  // namespace

StatusOr<std::string> VolumePath(const api::VolumeDisk& d, const std::string& volume_dir) {
  if (!api::ValidPvName(d.pv)) return Status(Code::kInvalid, "invalid volume name \"" + d.pv + "\"");
  if (d.driver == api::kLocalDriver) {
    if (!SafeDir(volume_dir)) return Status(Code::kInvalid, "invalid volume directory " + volume_dir);
    return volume_dir + "/" + d.pv + ".qcow2";
  }
  if (d.driver == api::kSharedDirDriver) {
    if (!SafeDir(d.location)) {
      return Status(Code::kInvalid, "volume " + d.pv + ": invalid shared directory \"" + d.location + "\"");
    }
    return d.location + "/" + d.pv + ".qcow2";
  }
  return Status(Code::kInvalid, "volume " + d.pv + ": unknown driver \"" + d.driver + "\"");
}

StatusOr<int64_t> VirtualSize(const std::string& path) {
  KUMO_ASSIGN_OR_RETURN(ProcessResult r,
                        RunChecked({"qemu-img", "info", "-U", "--output=json", path}, {.timeout_ms = 60000}));
  StatusOr<json::value> info = ParseJson(r.out);
  if (!info.ok()) return Internal("qemu-img info " + path + ": " + info.status().message());
  int64_t size = GetInt(*info, {"virtual-size"}, -1);
  if (size < 0) return Internal("qemu-img info " + path + " shows no virtual size");
  return size;
}

StatusOr<std::vector<VolumeFile>> PrepareVolumes(const std::vector<api::VolumeDisk>& disks,
                                                 const std::string& volume_dir, bool incoming) {
  std::vector<VolumeFile> files;
  for (const auto& d : disks) {
    KUMO_ASSIGN_OR_RETURN(std::string path, VolumePath(d, volume_dir));
    std::error_code ec;
    if (incoming && d.driver == api::kLocalDriver) {
      // Anything here is a stale copy (the volume lives on the source node until the move).
      fs::remove(path, ec);
      api::VolumeDisk blank = d;
      blank.source = "blank";
      KUMO_RETURN_IF_ERROR(Create(blank, path, volume_dir));
      files.push_back(VolumeFile{d.volume, path, false});
      continue;
    }
    if (!fs::exists(path, ec)) {
      if (d.populated) {
        return Status(Code::kUnavailable,
                      "volume " + d.volume + " (claim " + d.claim + ") holds data, but its file " +
                          path + " is missing on this node; the VM does not start on an empty "
                          "disk (is the storage mounted?)");
      }
      spdlog::info("making volume {} (claim {}, {} MiB, from {}) at {}", d.pv, d.claim,
                   d.size_bytes >> 20, d.source, path);
      KUMO_RETURN_IF_ERROR(Create(d, path, volume_dir));
    } else {
      KUMO_RETURN_IF_ERROR(Grow(path, d.size_bytes, "volume " + d.claim));
    }
    files.push_back(VolumeFile{d.volume, path, d.driver != api::kLocalDriver});
  }
  return files;
}

StatusOr<int64_t> CopyVolume(const api::VolumeDisk& from, const api::VolumeDisk& to,
                             const std::string& volume_dir) {
  KUMO_ASSIGN_OR_RETURN(std::string src, VolumePath(from, volume_dir));
  KUMO_ASSIGN_OR_RETURN(std::string dst, VolumePath(to, volume_dir));
  std::error_code ec;
  if (!fs::exists(dst, ec)) {
    if (!fs::exists(src, ec)) return Status(Code::kUnavailable, "volume file " + src + " is missing");
    const std::string tmp = dst + ".tmp-" + RandomSuffix(8);
    Status st = RunChecked({"qemu-img", "convert", "-q", "-f", "qcow2", "-O", "qcow2", src, tmp},
                           {.timeout_ms = kQemuImgMs})
                    .status();
    if (st.ok() && ::link(tmp.c_str(), dst.c_str()) != 0 && errno != EEXIST) {
      st = Internal("cannot put the copy at " + dst + ": " + std::strerror(errno));
    }
    fs::remove(tmp, ec);
    KUMO_RETURN_IF_ERROR(st);
    spdlog::info("copied volume {} to {}", from.pv, dst);
  }
  return VirtualSize(dst);
}

Status RemoveVolume(const api::VolumeDisk& d, const std::string& volume_dir) {
  KUMO_ASSIGN_OR_RETURN(std::string path, VolumePath(d, volume_dir));
  std::error_code ec;
  fs::remove(path, ec);
  if (ec) return Internal("cannot remove " + path + ": " + ec.message());
  spdlog::info("removed volume {} ({})", d.pv, path);
  return Status::Ok();
}

}  // namespace kumo::agent
