// Bearer tokens of tenant users, kept server-side so they survive restarts: one Secret of type
// kumo.io/token per token in the kumo-system namespace, holding the user name and the token's
// SHA-256 (never the token itself). The Secret's name is derived from the hash, so a lookup is
// one read of the watch cache. `kumo tenant add-user` creates them; deleting the Secret revokes
// the token.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "common/json.h"
#include "server/auth.h"
#include "store/store.h"
#include "store/watch_cache.h"

namespace kumo::server {

inline constexpr char kTokenSecretType[] = "kumo.io/token";
inline constexpr char kTokenUserAnnotation[] = "kumo.io/user";
inline constexpr char kTokenHashAnnotation[] = "kumo.io/token-sha256";
// Group every tenant user's token carries besides system:authenticated.
inline constexpr char kTenantUsersGroup[] = "kumo:tenant-users";

// Name of the Secret that records `token`: "token-" + the first 40 hex digits of its hash.
std::string TokenSecretName(std::string_view token);
// The Secret (kumo-system namespace) recording `token` for `user`, labelled with `tenant` so it
// is removed with the tenant.
json::value TokenSecret(std::string_view token, const std::string& user, const std::string& tenant);

// Thread-safe; borrows the store and its cache, which must outlive it.
class TokenResolver {
 public:
  TokenResolver(store::Store& store, const store::WatchCache& cache)
      : store_(store), cache_(cache) {}
  // The user a token stands for, or nullopt when no Secret records it.
  std::optional<UserInfo> Resolve(std::string_view token) const;

 private:
  store::Store& store_;
  const store::WatchCache& cache_;
};

}  // namespace kumo::server
