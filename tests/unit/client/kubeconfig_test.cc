#include "client/kubeconfig.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>

#include "common/file_util.h"

namespace kumo::client {
namespace {

namespace fs = std::filesystem;

constexpr char kKubectl[] = "/usr/bin/kubectl";

struct OsslFree {
  void operator()(X509* p) const { X509_free(p); }
  void operator()(EVP_PKEY* p) const { EVP_PKEY_free(p); }
  void operator()(BIO* p) const { BIO_free_all(p); }
};

std::string BioText(BIO* bio) {
  char* data = nullptr;
  long len = BIO_get_mem_data(bio, &data);
  return std::string(data, static_cast<size_t>(len));
}

// A real self-signed certificate and key, so kubectl's own PEM and key-pair checks apply.
std::pair<std::string, std::string> SelfSignedPair() {
  std::unique_ptr<EVP_PKEY, OsslFree> key(EVP_EC_gen("P-256"));
  std::unique_ptr<X509, OsslFree> cert(X509_new());
  X509_set_version(cert.get(), X509_VERSION_3);
  ASN1_INTEGER_set(X509_get_serialNumber(cert.get()), 1);
  X509_gmtime_adj(X509_getm_notBefore(cert.get()), 0);
  X509_gmtime_adj(X509_getm_notAfter(cert.get()), 3600);
  X509_NAME* name = X509_get_subject_name(cert.get());
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8,
                             reinterpret_cast<const unsigned char*>("test"), -1, -1, 0);
  X509_set_issuer_name(cert.get(), name);
  X509_set_pubkey(cert.get(), key.get());
  X509_sign(cert.get(), key.get(), EVP_sha256());
  std::unique_ptr<BIO, OsslFree> cb(BIO_new(BIO_s_mem())), kb(BIO_new(BIO_s_mem()));
  PEM_write_bio_X509(cb.get(), cert.get());
  PEM_write_bio_PrivateKey(kb.get(), key.get(), nullptr, nullptr, 0, nullptr, nullptr);
  return {BioText(cb.get()), BioText(kb.get())};
}

// Runs a shell command and returns what it printed on stdout.
std::string RunCommand(const std::string& cmd) {
  std::string out;
  FILE* p = popen(cmd.c_str(), "r");
  if (!p) return out;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof(buf), p)) > 0) out.append(buf, n);
  pclose(p);
  return out;
}

class KubeconfigTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = (fs::temp_directory_path() / "kumo-kubeconfig-XXXXXX").string();
    ASSERT_NE(mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::string Write(const std::string& name, const std::string& data) {
    std::string path = (fs::path(dir_) / name).string();
    Status st = WriteFileAtomic(path, data, 0600);
    EXPECT_TRUE(st.ok()) << st.ToString();
    return path;
  }

  std::string Kubectl(const std::string& kubeconfig, const std::string& args) {
    return RunCommand(std::string(kKubectl) + " --kubeconfig '" + kubeconfig + "' --cache-dir '" +
                      dir_ + "/cache' " + args + " 2>&1");
  }

  std::string dir_;
};

TEST_F(KubeconfigTest, TokenConfigRoundTrips) {
  Kubeconfig in;
  in.server = "https://127.0.0.1:6443";
  in.ca_pem = SelfSignedPair().first;
  in.token = "0123";  // looks like a number; must stay a string
  in.context_name = "lab";
  in.namespace_ = "team-a";
  std::string path = Write("config", RenderKubeconfig(in));

  auto out = LoadKubeconfig(path, "");
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  EXPECT_EQ(out->server, in.server);
  EXPECT_EQ(out->ca_pem, in.ca_pem);
  EXPECT_EQ(out->token, "0123");
  EXPECT_EQ(out->context_name, "lab");
  EXPECT_EQ(out->namespace_, "team-a");
  EXPECT_FALSE(out->insecure_skip_tls_verify);
  EXPECT_TRUE(out->client_cert_pem.empty());
}

TEST_F(KubeconfigTest, ClientCertConfigRoundTrips) {
  auto [cert, key] = SelfSignedPair();
  Kubeconfig in;
  in.server = "https://[::1]:6443";
  in.ca_pem = cert;
  in.client_cert_pem = cert;
  in.client_key_pem = key;
  std::string path = Write("config", RenderKubeconfig(in));

  auto out = LoadKubeconfig(path, "kumo");
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  EXPECT_EQ(out->server, in.server);
  EXPECT_EQ(out->client_cert_pem, cert);
  EXPECT_EQ(out->client_key_pem, key);
  EXPECT_TRUE(out->token.empty());
  EXPECT_TRUE(out->namespace_.empty());
}

TEST_F(KubeconfigTest, InsecureOmitsCa) {
  Kubeconfig in;
  in.server = "https://127.0.0.1:6443";
  in.ca_pem = "ignored";
  in.insecure_skip_tls_verify = true;
  std::string yaml = RenderKubeconfig(in);
  EXPECT_EQ(yaml.find("certificate-authority"), std::string::npos) << yaml;
  auto out = LoadKubeconfig(Write("config", yaml), "");
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  EXPECT_TRUE(out->insecure_skip_tls_verify);
  EXPECT_TRUE(out->ca_pem.empty());
}

TEST_F(KubeconfigTest, ReadsFilePathsRelativeToKubeconfig) {
  fs::create_directories(fs::path(dir_) / "certs");
  Write("certs/ca.crt", "CA PEM\n");
  Write("certs/me.crt", "CERT PEM\n");
  Write("certs/me.key", "KEY PEM\n");
  Write("token", "secret-token\n");
  std::string path = Write("config", R"(apiVersion: v1
kind: Config
clusters:
- name: c1
  cluster:
    server: https://10.1.2.3:6443
    certificate-authority: certs/ca.crt
users:
- name: u1
  user:
    client-certificate: certs/me.crt
    client-key: certs/me.key
    tokenFile: token
contexts:
- name: first
  context: {cluster: c1, user: u1}
- name: second
  context: {cluster: c1, user: u1, namespace: ns2}
current-context: first
)");
  auto out = LoadKubeconfig(path, "second");
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  EXPECT_EQ(out->server, "https://10.1.2.3:6443");
  EXPECT_EQ(out->ca_pem, "CA PEM\n");
  EXPECT_EQ(out->client_cert_pem, "CERT PEM\n");
  EXPECT_EQ(out->client_key_pem, "KEY PEM\n");
  EXPECT_EQ(out->token, "secret-token");
  EXPECT_EQ(out->context_name, "second");
  EXPECT_EQ(out->namespace_, "ns2");
}

TEST_F(KubeconfigTest, ErrorsNameTheFileAndWhatIsMissing) {
  auto missing = LoadKubeconfig(dir_ + "/nope", "");
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().code(), Code::kNotFound);
  EXPECT_NE(missing.status().message().find(dir_ + "/nope"), std::string::npos);

  std::string bad_yaml = Write("bad", "clusters: [unclosed\n");
  auto parse = LoadKubeconfig(bad_yaml, "");
  ASSERT_FALSE(parse.ok());
  EXPECT_NE(parse.status().message().find(bad_yaml), std::string::npos);

  Kubeconfig in;
  in.server = "https://127.0.0.1:6443";
  std::string good = Write("config", RenderKubeconfig(in));
  auto no_ctx = LoadKubeconfig(good, "elsewhere");
  ASSERT_FALSE(no_ctx.ok());
  EXPECT_NE(no_ctx.status().message().find("elsewhere"), std::string::npos);
  EXPECT_NE(no_ctx.status().message().find(good), std::string::npos);

  std::string no_server = Write("noserver", R"(apiVersion: v1
kind: Config
clusters: [{name: c, cluster: {}}]
contexts: [{name: x, context: {cluster: c}}]
current-context: x
)");
  auto st = LoadKubeconfig(no_server, "");
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.status().message().find("server"), std::string::npos) << st.status().message();

  std::string missing_ca = Write("missingca", R"(apiVersion: v1
kind: Config
clusters: [{name: c, cluster: {server: "https://x:1", certificate-authority: gone.crt}}]
contexts: [{name: x, context: {cluster: c}}]
current-context: x
)");
  auto ca = LoadKubeconfig(missing_ca, "");
  ASSERT_FALSE(ca.ok());
  EXPECT_NE(ca.status().message().find("gone.crt"), std::string::npos) << ca.status().message();
}

TEST_F(KubeconfigTest, StockKubectlReadsRenderedConfig) {
  if (access(kKubectl, X_OK) != 0) GTEST_SKIP() << "kubectl is not installed";
  Kubeconfig in;
  in.server = "https://127.0.0.1:6443";
  in.ca_pem = SelfSignedPair().first;
  in.token = "0123";
  in.namespace_ = "team-a";
  std::string path = Write("config", RenderKubeconfig(in));

  EXPECT_EQ(Kubectl(path, "config view --raw -o jsonpath='{.clusters[0].cluster.server}'"),
            "https://127.0.0.1:6443");
  EXPECT_EQ(Kubectl(path, "config view --raw -o jsonpath='{.users[0].user.token}'"), "0123");
  EXPECT_EQ(Kubectl(path, "config view --minify -o jsonpath='{..namespace}'"), "team-a");
  EXPECT_EQ(Kubectl(path, "config current-context"), "kumo\n");
}

// kubectl parses the CA and the client key pair before it connects, so a refused connection
// from a loopback port that does not listen proves it accepted every credential.
TEST_F(KubeconfigTest, StockKubectlAcceptsCredentials) {
  if (access(kKubectl, X_OK) != 0) GTEST_SKIP() << "kubectl is not installed";
  // Bound but never listening: connections to it are refused, and no one else can take it.
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_GE(fd, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  socklen_t len = sizeof(addr);
  ASSERT_EQ(getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len), 0);

  auto [cert, key] = SelfSignedPair();
  Kubeconfig in;
  in.server = "https://127.0.0.1:" + std::to_string(ntohs(addr.sin_port));
  in.ca_pem = cert;
  in.client_cert_pem = cert;
  in.client_key_pem = key;
  std::string path = Write("config", RenderKubeconfig(in));
  std::string out = Kubectl(path, "get --raw /version --request-timeout=10s");
  EXPECT_NE(out.find("refused"), std::string::npos) << out;

  // Control: a broken key is rejected before any connection is tried.
  in.client_key_pem = "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n";
  std::string broken = Write("broken", RenderKubeconfig(in));
  out = Kubectl(broken, "get --raw /version --request-timeout=10s");
  EXPECT_EQ(out.find("refused"), std::string::npos) << out;
  close(fd);
}

}  // namespace
}  // namespace kumo::client
