#include "agent/image_cache.h"

#include <sys/stat.h>

#include <filesystem>
#include <fstream>

#include "common/file_util.h"
#include "common/log.h"
#include "common/random.h"
#include "common/sha256.h"

namespace kumo::agent {

namespace fs = std::filesystem;

namespace {

constexpr size_t kChunk = 4 << 20;  // the largest range the server returns

// "size mtime-ns" of a file; "" when it is missing.
std::string Stamp(const std::string& path) {
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) return "";
  return std::to_string(st.st_size) + " " + std::to_string(st.st_mtim.tv_sec) + "." +
         std::to_string(st.st_mtim.tv_nsec);
}

}  // namespace

ImageCache::ImageCache(client::RestClient& client, std::string dir)
    : client_(client), dir_(std::move(dir)) {
  std::error_code ec;
  fs::create_directories(dir_, ec);
}

std::shared_ptr<std::mutex> ImageCache::LockFor(const std::string& sha256) {
  std::lock_guard lock(mu_);
  auto& m = locks_[sha256];
  if (!m) m = std::make_shared<std::mutex>();
  return m;
}

StatusOr<std::string> ImageCache::Get(const std::string& name, const std::string& sha256,
                                      const std::function<void(const std::string&)>& on_event) {
  if (!IsSha256Hex(sha256)) {
    return NotFound("image \"" + name + "\" has no checksum yet: it is still being uploaded");
  }
  auto lock = LockFor(sha256);
  std::lock_guard guard(*lock);
  const std::string path = dir_ + "/" + sha256;
  const std::string stamp_path = path + ".verified";
  const std::string stamp = Stamp(path);
  if (!stamp.empty()) {
    auto verified = ReadFileToString(stamp_path);
    bool ok = verified.ok() && *verified == stamp;  // unchanged since it was verified
    StatusOr<std::string> got = sha256;
    if (!ok) {
      got = Sha256File(path);
      ok = got.ok() && *got == sha256;
      if (ok) (void)WriteFileAtomic(stamp_path, stamp, 0644);
    }
    if (ok) {
      std::lock_guard lock(mu_);
      images_[sha256] = CachedImage{name, sha256, static_cast<int64_t>(fs::file_size(path))};
      return path;
    }
    std::string what = "the cached copy of image \"" + name + "\" on this node is corrupted (sha256 " +
                       (got.ok() ? *got : got.status().message()) + "); fetching it again";
    spdlog::warn("{}", what);
    if (on_event) on_event(what);
    std::error_code ec;
    fs::remove(path, ec);
    fs::remove(stamp_path, ec);
  }
  KUMO_RETURN_IF_ERROR(Fetch(name, sha256, path));
  const std::string fresh = Stamp(path);
  (void)WriteFileAtomic(stamp_path, fresh, 0644);
  {
    std::lock_guard lock(mu_);
    images_[sha256] = CachedImage{name, sha256, static_cast<int64_t>(fs::file_size(path))};
  }
  if (on_event) on_event("fetched image \"" + name + "\" into the node's cache (sha256 verified)");
  return path;
}

Status ImageCache::Fetch(const std::string& name, const std::string& sha256,
                         const std::string& path) {
  const std::string tmp = path + ".tmp-" + RandomSuffix(8);
  const std::string base = client::ResourcePath("kumo.io", "v1alpha1", "images", "", name, "data");
  spdlog::info("fetching image {} ({}) into {}", name, sha256.substr(0, 12), dir_);
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out) return Internal("cannot write " + tmp);
    for (uint64_t offset = 0;;) {
      auto r = client_.Do("GET", base + "?offset=" + std::to_string(offset) + "&length=" +
                                     std::to_string(kChunk),
                          {}, {}, "application/octet-stream");
      if (!r.ok()) {
        std::error_code ec;
        fs::remove(tmp, ec);
        return r.status();
      }
      if (r->code != 200) {
        std::error_code ec;
        fs::remove(tmp, ec);
        return client::StatusFromResponse(r->code, r->body, r->Header("retry-after"));
      }
      out.write(r->body.data(), static_cast<std::streamsize>(r->body.size()));
      offset += r->body.size();
      if (r->body.size() < kChunk) break;
    }
    out.close();
    if (!out) return Internal("cannot write " + tmp);
  }
  auto got = Sha256File(tmp);
  if (!got.ok() || *got != sha256) {
    std::error_code ec;
    fs::remove(tmp, ec);
    return Internal("image \"" + name + "\" fetched from the server has sha256 " +
                    (got.ok() ? *got : got.status().message()) + ", not " + sha256);
  }
  std::error_code ec;
  fs::rename(tmp, path, ec);
  if (ec) return Internal("cannot put image \"" + name + "\" at " + path + ": " + ec.message());
  return Status::Ok();
}

std::vector<CachedImage> ImageCache::List() const {
  std::lock_guard lock(mu_);
  std::vector<CachedImage> out;
  for (const auto& [sum, image] : images_) out.push_back(image);
  return out;
}

}  // namespace kumo::agent
