// The bytes of uploaded Images, kept by the server so every node can fetch them (as Glance keeps
// images for Nova's per-node cache):
//   PUT .../images/NAME/data?offset=N          a chunk (at most 2 MiB) at offset N; offset 0
//                                               starts over (cluster admins)
//   PUT .../images/NAME/data?commit=SHA256     checks the upload's sha256, keeps it under that
//                                               digest and marks the Image Ready (admins)
//   GET .../images/NAME/data?offset=N&length=M a range of the committed bytes (at most 4 MiB;
//                                               anyone who may read Images: admins, nodes, users)
// The Image must name `spec.source.upload: {}`. Blobs live under DIR/blobs/<sha256>, uploads in
// progress under DIR/uploads/NAME.part.
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "http/http_server.h"
#include "server/request_info.h"
#include "store/store.h"

namespace kumo::server {

inline constexpr size_t kImageChunkBytes = 2 << 20;     // largest upload chunk
inline constexpr size_t kImageReadBytes = 4 << 20;      // largest range a GET returns

// Thread-safe; borrows the store.
class ImageData {
 public:
  ImageData(store::Store& store, std::string dir);
  static bool Handles(const RequestInfo& info) {
    return info.group == "kumo.io" && info.resource == "images" && info.subresource == "data";
  }
  http::Response Serve(const RequestInfo& info, const Query& query, const http::Request& req);

 private:
  http::Response Append(const std::string& name, const Query& query, const http::Request& req);
  http::Response Commit(const std::string& name, const std::string& sha256);
  http::Response Read(const std::string& name, const Query& query);
  std::shared_ptr<std::mutex> LockFor(const std::string& name);

  store::Store& store_;
  const std::string dir_;
  std::mutex mu_;
  std::map<std::string, std::shared_ptr<std::mutex>> locks_;
};

}  // namespace kumo::server
