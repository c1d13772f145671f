#include "server/tokens.h"

#include "common/sha256.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "server/tenancy.h"

namespace kumo::server {

namespace {
constexpr std::string_view kSecretPrefix = "/registry/core/secrets/";
}  // namespace

std::string TokenSecretName(std::string_view token) {
  return "token-" + Sha256Hex(token).substr(0, 40);
}

json::value TokenSecret(std::string_view token, const std::string& user,
                        const std::string& tenant) {
  return json::object{
      {"apiVersion", "v1"},
      {"kind", "Secret"},
      {"metadata",
       json::object{{"name", TokenSecretName(token)},
                    {"namespace", kSystemNamespace},
                    {"labels", json::object{{kTenantLabel, tenant}}},
                    {"annotations", json::object{{kTokenUserAnnotation, user},
                                                 {kTokenHashAnnotation, Sha256Hex(token)}}}}},
      {"type", kTokenSecretType}};
}

std::optional<UserInfo> TokenResolver::Resolve(std::string_view token) const {
  if (token.size() < 16) return std::nullopt;
  std::string hash = Sha256Hex(token);
  std::string key = std::string(kSecretPrefix) + kSystemNamespace + "/token-" + hash.substr(0, 40);
  std::string stored;
  if (store::CachedPtr obj = cache_.Get(key)) {
    stored = obj->json;
  } else {
    // Just issued and not in the cache yet: read the store. Only for tokens shaped like the ones
    // Kumo issues (64 hex digits), so random garbage costs no store read.
    if (token.size() != 64 ||
        token.find_first_not_of("0123456789abcdef") != std::string_view::npos) {
      return std::nullopt;
    }
    StatusOr<store::KeyValue> kv = store_.Get(key);
    if (!kv.ok()) return std::nullopt;
    stored = std::move(kv->value);
  }
  StatusOr<json::value> secret = ParseJson(stored);
  if (!secret.ok() || GetString(*secret, {"type"}) != kTokenSecretType) return std::nullopt;
  std::string want = GetString(*secret, {"metadata", "annotations", kTokenHashAnnotation});
  std::string user = GetString(*secret, {"metadata", "annotations", kTokenUserAnnotation});
  if (want.size() != hash.size() || user.empty() ||
      CRYPTO_memcmp(want.data(), hash.data(), hash.size()) != 0) {
    return std::nullopt;
  }
  if (!GetString(*secret, {"metadata", "deletionTimestamp"}).empty()) return std::nullopt;
  UserInfo info{user, {kTenantUsersGroup, "system:authenticated"}};
  // The tenant the token was issued for: its roles hold there only (TenantInfo::RoleOf).
  std::string tenant = GetString(*secret, {"metadata", "labels", kTenantLabel});
  if (!tenant.empty()) info.groups.push_back(kTenantGroupPrefix + tenant);
  return info;
}

}  // namespace kumo::server
