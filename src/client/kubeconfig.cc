#include "client/kubeconfig.h"

#include <openssl/evp.h>
#include <yaml-cpp/yaml.h>

#include <cctype>
#include <filesystem>
#include <optional>

#include "common/base64.h"
#include "common/file_util.h"

namespace kumo::client {
namespace {

namespace fs = std::filesystem;

// Every free-form value is double-quoted: yaml-cpp would emit "123" or "true" plain, and
// kubectl would then read a number or a bool where it expects a string.
void Emit(YAML::Emitter& out, const char* key, const std::string& value) {
  out << YAML::Key << key << YAML::Value << YAML::DoubleQuoted << value;
}

// Optional string field of a map node; "" when absent or null.
std::string Field(const YAML::Node& map, const char* key) {
  const YAML::Node n = map[key];
  if (!n || n.IsNull()) return "";
  return n.as<std::string>();
}

// The `field` sub-map of the entry named `name` in the list `list_key` of the document.
StatusOr<YAML::Node> FindNamed(const YAML::Node& doc, const char* list_key, const char* field,
                               const std::string& name, const std::string& path) {
  const YAML::Node list = doc[list_key];
  if (list && list.IsSequence()) {
    for (const YAML::Node& entry : list) {
      if (entry.IsMap() && Field(entry, "name") == name) {
        const YAML::Node sub = entry[field];
        if (!sub || !sub.IsMap()) {
          return BadRequest("kubeconfig " + path + ": " + list_key + " entry \"" + name +
                            "\" has no " + field + " map");
        }
        return sub;
      }
    }
  }
  return NotFound("kubeconfig " + path + ": no entry named \"" + name + "\" in " + list_key);
}

class Loader {
 public:
  explicit Loader(std::string path) : path_(std::move(path)) {
    dir_ = fs::path(path_).parent_path();
    if (dir_.empty()) dir_ = ".";
  }

  // PEM (or token) text from `data_key` (base64) or else from the file named by `file_key`.
  StatusOr<std::string> DataOrFile(const YAML::Node& map, const std::string& where,
                                   const char* data_key, const char* file_key) {
    std::string data = Field(map, data_key);
    if (!data.empty()) {
      auto decoded = Base64Decode(data);
      if (!decoded) {
        return BadRequest("kubeconfig " + path_ + ": " + where + "." + data_key +
                          " is not valid base64");
      }
      return *decoded;
    }
    return FromFile(map, where, file_key);
  }

  StatusOr<std::string> FromFile(const YAML::Node& map, const std::string& where,
                                 const char* file_key) {
    std::string file = Field(map, file_key);
    if (file.empty()) return std::string();
    fs::path p(file);
    if (p.is_relative()) p = dir_ / p;
    auto content = ReadFileToString(p.string());
    if (!content.ok()) {
      return Status(content.status().code(), "kubeconfig " + path_ + ": " + where + "." + file_key +
                                                 ": " + content.status().message());
    }
    return content;
  }

  StatusOr<Kubeconfig> Load(const std::string& context) {
    KUMO_ASSIGN_OR_RETURN(std::string text, ReadFileToString(path_));
    YAML::Node doc = YAML::Load(text);
    if (!doc.IsMap()) return BadRequest("kubeconfig " + path_ + " is not a YAML map");
    Kubeconfig kc;
    kc.context_name = context.empty() ? Field(doc, "current-context") : context;
    if (kc.context_name.empty()) {
      return BadRequest("kubeconfig " + path_ + " has no current-context; name the context to use");
    }
    KUMO_ASSIGN_OR_RETURN(YAML::Node ctx,
                          FindNamed(doc, "contexts", "context", kc.context_name, path_));
    std::string cluster_name = Field(ctx, "cluster");
    std::string user_name = Field(ctx, "user");
    kc.namespace_ = Field(ctx, "namespace");
    if (cluster_name.empty()) {
      return BadRequest("kubeconfig " + path_ + ": context \"" + kc.context_name +
                        "\" names no cluster");
    }
    KUMO_ASSIGN_OR_RETURN(YAML::Node cluster,
                          FindNamed(doc, "clusters", "cluster", cluster_name, path_));
    kc.server = Field(cluster, "server");
    if (kc.server.empty()) {
      return BadRequest("kubeconfig " + path_ + ": cluster \"" + cluster_name + "\" has no server");
    }
    const YAML::Node insecure = cluster["insecure-skip-tls-verify"];
    kc.insecure_skip_tls_verify = insecure && !insecure.IsNull() && insecure.as<bool>();
    std::string where = "cluster \"" + cluster_name + "\"";
    KUMO_ASSIGN_OR_RETURN(kc.ca_pem, DataOrFile(cluster, where, "certificate-authority-data",
                                                "certificate-authority"));
    // A context without a user is valid (anonymous access).
    if (user_name.empty()) return kc;
    KUMO_ASSIGN_OR_RETURN(YAML::Node user, FindNamed(doc, "users", "user", user_name, path_));
    where = "user \"" + user_name + "\"";
    kc.token = Field(user, "token");
    if (kc.token.empty()) {
      KUMO_ASSIGN_OR_RETURN(std::string token, FromFile(user, where, "tokenFile"));
      // Token files usually end in a newline that is not part of the token.
      while (!token.empty() && std::isspace(static_cast<unsigned char>(token.back()))) {
        token.pop_back();
      }
      kc.token = std::move(token);
    }
    KUMO_ASSIGN_OR_RETURN(kc.client_cert_pem,
                          DataOrFile(user, where, "client-certificate-data", "client-certificate"));
    KUMO_ASSIGN_OR_RETURN(kc.client_key_pem,
                          DataOrFile(user, where, "client-key-data", "client-key"));
    if (kc.client_cert_pem.empty() != kc.client_key_pem.empty()) {
      return BadRequest(
          "kubeconfig " + path_ + ": " + where + " has a client " +
          (kc.client_cert_pem.empty() ? "key but no certificate" : "certificate but no key"));
    }
    return kc;
  }

 private:
  std::string path_;
  fs::path dir_;
};

}  // namespace

std::string RenderKubeconfig(const Kubeconfig& config) {
  const std::string name = config.context_name.empty() ? "kumo" : config.context_name;
  YAML::Emitter out;
  out << YAML::BeginMap;
  out << YAML::Key << "apiVersion" << YAML::Value << "v1";
  out << YAML::Key << "kind" << YAML::Value << "Config";

  out << YAML::Key << "clusters" << YAML::Value << YAML::BeginSeq << YAML::BeginMap;
  Emit(out, "name", name);
  out << YAML::Key << "cluster" << YAML::Value << YAML::BeginMap;
  Emit(out, "server", config.server);
  if (config.insecure_skip_tls_verify) {
    out << YAML::Key << "insecure-skip-tls-verify" << YAML::Value << true;
  } else if (!config.ca_pem.empty()) {
    Emit(out, "certificate-authority-data", Base64Encode(config.ca_pem));
  }
  out << YAML::EndMap << YAML::EndMap << YAML::EndSeq;

  out << YAML::Key << "users" << YAML::Value << YAML::BeginSeq << YAML::BeginMap;
  Emit(out, "name", name);
  out << YAML::Key << "user" << YAML::Value << YAML::BeginMap;
  if (!config.token.empty()) Emit(out, "token", config.token);
  if (!config.client_cert_pem.empty()) {
    Emit(out, "client-certificate-data", Base64Encode(config.client_cert_pem));
  }
  if (!config.client_key_pem.empty()) {
    Emit(out, "client-key-data", Base64Encode(config.client_key_pem));
  }
  out << YAML::EndMap << YAML::EndMap << YAML::EndSeq;

  out << YAML::Key << "contexts" << YAML::Value << YAML::BeginSeq << YAML::BeginMap;
  Emit(out, "name", name);
  out << YAML::Key << "context" << YAML::Value << YAML::BeginMap;
  Emit(out, "cluster", name);
  Emit(out, "user", name);
  if (!config.namespace_.empty()) Emit(out, "namespace", config.namespace_);
  out << YAML::EndMap << YAML::EndMap << YAML::EndSeq;

  Emit(out, "current-context", name);
  out << YAML::Key << "preferences" << YAML::Value << YAML::BeginMap << YAML::EndMap;
  out << YAML::EndMap;
  return std::string(out.c_str()) + "\n";
}

StatusOr<Kubeconfig> LoadKubeconfig(const std::string& path, const std::string& context) {
  try {
    return Loader(path).Load(context);
  } catch (const YAML::Exception& e) {
    return BadRequest("kubeconfig " + path + " is not valid: " + e.what());
  } catch (const std::exception& e) {
    return Internal("reading kubeconfig " + path + ": " + e.what());
  }
}

}  // namespace kumo::client
