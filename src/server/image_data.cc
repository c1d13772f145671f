#include "server/image_data.h"

#include <filesystem>
#include <fstream>

#include "api/object.h"
#include "api/resource.h"
#include "api/validation.h"
#include "common/json.h"
#include "common/log.h"
#include "common/sha256.h"
#include "server/responses.h"

namespace kumo::server {

namespace fs = std::filesystem;

namespace {

const api::ResourceInfo& Images() {
  return *api::DefaultRegistry().Find("kumo.io", "v1alpha1", "images");
}

StatusOr<uint64_t> NumberParam(const Query& query, const char* key, bool required) {
  auto it = query.find(key);
  if (it == query.end()) {
    if (required) return BadRequest(std::string("the query parameter ") + key + " is required");
    return uint64_t{0};
  }
  const std::string& v = it->second;
  if (v.empty() || v.size() > 19 || v.find_first_not_of("0123456789") != std::string::npos) {
    return BadRequest(std::string(key) + " must be a non-negative integer, got \"" + v + "\"");
  }
  return std::stoull(v);
}

http::Response Error(const Status& st) { return StatusResponse(st); }

}  // namespace

ImageData::ImageData(store::Store& store, std::string dir) : store_(store), dir_(std::move(dir)) {
  std::error_code ec;
  fs::create_directories(dir_ + "/blobs", ec);
  fs::create_directories(dir_ + "/uploads", ec);
}

std::shared_ptr<std::mutex> ImageData::LockFor(const std::string& name) {
  std::lock_guard lock(mu_);
  auto& m = locks_[name];
  if (!m) m = std::make_shared<std::mutex>();
  return m;
}

http::Response ImageData::Serve(const RequestInfo& info, const Query& query,
                                const http::Request& req) {
  // The name is a validated object name; it becomes a file name below.
  if (info.name.empty() || !api::CheckDnsSubdomain(info.name).empty()) {
    return Error(BadRequest("invalid image name \"" + info.name + "\""));
  }
  auto kv = store_.Get(Images().Key("", info.name));
  if (!kv.ok()) return Error(kv.status().code() == Code::kNotFound
                                 ? NotFound("images.kumo.io \"" + info.name + "\" not found")
                                 : kv.status());
  auto image = ParseJson(kv->value);
  if (!image.ok()) return Error(image.status());
  if (!Find(*image, {"spec", "source", "upload"})) {
    return Error(Status(Code::kBadRequest, "image \"" + info.name +
                                               "\" is not an uploaded image (spec.source.upload); "
                                               "its nodes read it at status.path"));
  }
  if (info.verb == "get") return Read(info.name, query);
  if (info.verb == "update") {
    auto commit = query.find("commit");
    if (commit != query.end()) return Commit(info.name, commit->second);
    return Append(info.name, query, req);
  }
  return Error(Status(Code::kMethodNotAllowed, "images/data takes GET and PUT"));
}

http::Response ImageData::Append(const std::string& name, const Query& query,
                                 const http::Request& req) {
  auto offset = NumberParam(query, "offset", true);
  if (!offset.ok()) return Error(offset.status());
  if (req.body.size() > kImageChunkBytes) {
    return Error(Status(Code::kRequestEntityTooLarge,
                        "send the image in chunks of at most " + std::to_string(kImageChunkBytes) + " bytes"));
  }
  auto lock = LockFor(name);
  std::lock_guard guard(*lock);
  const std::string part = dir_ + "/uploads/" + name + ".part";
  std::error_code ec;
  uint64_t have = *offset == 0 ? 0 : (fs::exists(part, ec) ? fs::file_size(part, ec) : 0);
  if (*offset != have) {
    return Error(Status(Code::kConflict, "the upload of image \"" + name + "\" has " +
                                             std::to_string(have) + " bytes; send offset " +
                                             std::to_string(have) + " (or 0 to start over)"));
  }
  std::ofstream out(part, *offset == 0 ? std::ios::binary | std::ios::trunc
                                       : std::ios::binary | std::ios::app);
  out.write(req.body.data(), static_cast<std::streamsize>(req.body.size()));
  out.close();
  if (!out) return Error(Internal("cannot write " + part));
  return JsonResponse(200, ToJson(json::object{{"received", have + req.body.size()}}));
}

http::Response ImageData::Commit(const std::string& name, const std::string& sha256) {
  if (!IsSha256Hex(sha256)) return Error(BadRequest("commit must be the upload's sha256 in lower-case hex"));
  auto lock = LockFor(name);
  std::lock_guard guard(*lock);
  const std::string part = dir_ + "/uploads/" + name + ".part";
  std::error_code ec;
  if (!fs::exists(part, ec)) {
    return Error(Status(Code::kConflict, "nothing was uploaded for image \"" + name + "\""));
  }
  auto got = Sha256File(part);
  if (!got.ok()) return Error(got.status());
  if (*got != sha256) {
    fs::remove(part, ec);
    return Error(Status(Code::kInvalid, "the upload of image \"" + name + "\" has sha256 " + *got +
                                            ", not " + sha256 + "; upload it again"));
  }
  const int64_t size = static_cast<int64_t>(fs::file_size(part, ec));
  fs::rename(part, dir_ + "/blobs/" + sha256, ec);
  if (ec) return Error(Internal("cannot keep the upload: " + ec.message()));
  auto res = store::GuaranteedUpdate(store_, Images().Key("", name),
                                     [&](const store::KeyValue& cur) -> StatusOr<std::string> {
                                       KUMO_ASSIGN_OR_RETURN(json::value obj, ParseJson(cur.value));
                                       json::object& st = EnsureObject(obj, {"status"});
                                       st["phase"] = "Ready";
                                       st["checksum"] = "sha256:" + sha256;
                                       st["size"] = size;
                                       st.erase("path");
                                       st["message"] = "uploaded; nodes fetch it into their cache";
                                       return api::SerializeForStore(obj);
                                     });
  if (!res.ok()) return Error(res.status());
  spdlog::info("image {} uploaded: {} bytes, sha256 {}", name, size, sha256);
  return JsonResponse(200, ToJson(json::object{{"checksum", sha256}, {"size", size}}));
}

http::Response ImageData::Read(const std::string& name, const Query& query) {
  auto kv = store_.Get(Images().Key("", name));
  auto image = kv.ok() ? ParseJson(kv->value) : StatusOr<json::value>(kv.status());
  if (!image.ok()) return Error(image.status());
  std::string sum = GetString(*image, {"status", "checksum"});
  if (sum.starts_with("sha256:")) sum = sum.substr(7);
  if (GetString(*image, {"status", "phase"}) != "Ready" || !IsSha256Hex(sum)) {
    return Error(NotFound("image \"" + name + "\" has not been uploaded yet"));
  }
  auto offset = NumberParam(query, "offset", false);
  auto length = NumberParam(query, "length", false);
  if (!offset.ok()) return Error(offset.status());
  if (!length.ok()) return Error(length.status());
  uint64_t want = *length == 0 ? kImageReadBytes : std::min<uint64_t>(*length, kImageReadBytes);
  const std::string blob = dir_ + "/blobs/" + sum;
  std::ifstream in(blob, std::ios::binary);
  if (!in) return Error(Internal("the bytes of image \"" + name + "\" are missing on the server"));
  in.seekg(static_cast<std::streamoff>(*offset));
  http::Response r;
  r.status = 200;
  r.content_type = "application/octet-stream";
  r.body.resize(want);
  in.read(r.body.data(), static_cast<std::streamsize>(want));
  r.body.resize(static_cast<size_t>(std::max<std::streamsize>(0, in.gcount())));
  return r;
}

}  // namespace kumo::server
