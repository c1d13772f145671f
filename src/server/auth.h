// Authentication: who is calling. Bearer tokens and verified client certificates.
// Authorization beyond "authenticated users are cluster admins" comes with tenants.
#pragma once

#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "common/status.h"
#include "server/http/http_server.h"

namespace kumo::server {

struct UserInfo {
  std::string name;
  std::vector<std::string> groups;
};

// Thread-safe.
class Authenticator {
 public:
  // Adds a bearer token for `user`.
  void AddToken(const std::string& token, UserInfo user);
  // The caller's identity; Unauthorized when no valid credential was presented.
  StatusOr<UserInfo> Authenticate(const http::Request& req) const;

 private:
  mutable std::mutex mu_;
  std::map<std::string, UserInfo, std::less<>> tokens_;
};

}  // namespace kumo::server
