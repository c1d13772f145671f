#include "server/auth.h"

#include <openssl/crypto.h>

namespace kumo::server {

void Authenticator::AddToken(const std::string& token, UserInfo user) {
  std::lock_guard lock(mu_);
  tokens_[token] = std::move(user);
}

void Authenticator::SetTokenResolver(TokenResolver resolver) {
  std::lock_guard lock(mu_);
  resolver_ = std::move(resolver);
}

StatusOr<UserInfo> Authenticator::Authenticate(const http::Request& req) const {
  std::string auth = req.Header("authorization");
  constexpr std::string_view kBearer = "Bearer ";
  if (auth.size() > kBearer.size() && auth.compare(0, kBearer.size(), kBearer) == 0) {
    std::string_view token = std::string_view(auth).substr(kBearer.size());
    TokenResolver resolver;
    {
      std::lock_guard lock(mu_);
      // Compare in constant time against each token so timing reveals nothing.
      const UserInfo* found = nullptr;
      for (const auto& [t, user] : tokens_) {
        if (t.size() == token.size() && CRYPTO_memcmp(t.data(), token.data(), t.size()) == 0) {
          found = &user;
        }
      }
      if (found) return *found;
      resolver = resolver_;
    }
    if (resolver) {
      if (std::optional<UserInfo> user = resolver(token)) return *std::move(user);
    }
    return Status(Code::kUnauthorized, "Unauthorized: the bearer token is not valid");
  }
  if (!req.client_cert_cn.empty()) {
    return UserInfo{req.client_cert_cn, req.client_cert_orgs};
  }
  return Status(Code::kUnauthorized,
                "Unauthorized: send a bearer token or a client certificate (use the kubeconfig "
                "written by `kumo server`)");
}

}  // namespace kumo::server
