// The node's cache of uploaded Images (spec.source.upload), as Nova caches Glance images: the
// first VM on this node that boots from (or fills a volume with) an image fetches its bytes from
// the API server into DIR/<sha256>, checks the sha256 and only then uses the file. A cached file
// is checked again whenever its size or modification time changed since it was last verified
// (DIR/<sha256>.verified), so a corrupted copy is found and fetched again before a VM uses it.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "client/rest_client.h"
#include "common/status.h"

namespace kumo::agent {

struct CachedImage {
  std::string name;
  std::string sha256;
  int64_t size = 0;
};

// Thread-safe: fetches of one image are serialized, of different images run in parallel.
// Borrows the client.
class ImageCache {
 public:
  ImageCache(client::RestClient& client, std::string dir);

  // The local file holding Image `name` whose bytes have `sha256` (from the Image's status),
  // verified. Fetches it when missing or when the cached copy does not match. `on_event` (may
  // be null) hears what happened ("fetched ...", "corrupted ...") for the VM's events.
  StatusOr<std::string> Get(const std::string& name, const std::string& sha256,
                            const std::function<void(const std::string&)>& on_event = nullptr);

  // What the cache holds (for the Node's status.images).
  std::vector<CachedImage> List() const;

 private:
  Status Fetch(const std::string& name, const std::string& sha256, const std::string& path);
  std::shared_ptr<std::mutex> LockFor(const std::string& sha256);

  client::RestClient& client_;
  const std::string dir_;
  mutable std::mutex mu_;  // guards the members below
  std::map<std::string, std::shared_ptr<std::mutex>> locks_;
  std::map<std::string, CachedImage> images_;  // by sha256: those verified by this process
};

}  // namespace kumo::agent
