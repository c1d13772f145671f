// Authentication: who is calling. Bearer tokens and verified client certificates (CN is the
// user, O the groups). What a caller may do is decided afterwards by server/authz.h.
#pragma once

#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "common/status.h"
#include "http/http_server.h"

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
  // Consulted for bearer tokens not added with AddToken (tenant users' tokens, server/tokens.h).
  using TokenResolver = std::function<std::optional<UserInfo>(std::string_view token)>;
  void SetTokenResolver(TokenResolver resolver);
  // The caller's identity; Unauthorized when no valid credential was presented.
  StatusOr<UserInfo> Authenticate(const http::Request& req) const;

 private:
  mutable std::mutex mu_;
  std::map<std::string, UserInfo, std::less<>> tokens_;
  TokenResolver resolver_;
};

}  // namespace kumo::server
