#include "http/pki.h"

#include <gtest/gtest.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <sys/stat.h>

#include <cstdlib>
#include <filesystem>
#include <memory>
#include <set>
#include <string>

#include "common/file_util.h"

namespace kumo::pki {
namespace {

namespace fs = std::filesystem;

struct X509Free {
  void operator()(X509* p) const { X509_free(p); }
  void operator()(EVP_PKEY* p) const { EVP_PKEY_free(p); }
  void operator()(X509_STORE* p) const { X509_STORE_free(p); }
  void operator()(X509_STORE_CTX* p) const { X509_STORE_CTX_free(p); }
  void operator()(BIO* p) const { BIO_free_all(p); }
};
using CertPtr = std::unique_ptr<X509, X509Free>;
using KeyPtr = std::unique_ptr<EVP_PKEY, X509Free>;

std::string Slurp(const std::string& path) {
  auto s = ReadFileToString(path);
  EXPECT_TRUE(s.ok()) << s.status().ToString();
  return s.ok() ? *s : std::string();
}

CertPtr ParseCert(const std::string& pem) {
  std::unique_ptr<BIO, X509Free> bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  return CertPtr(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
}

KeyPtr ParseKey(const std::string& pem) {
  std::unique_ptr<BIO, X509Free> bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  return KeyPtr(PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr));
}

// Full chain verification as a TLS peer would do it, for the given purpose.
bool Verifies(X509* ca, X509* leaf, int purpose) {
  std::unique_ptr<X509_STORE, X509Free> store(X509_STORE_new());
  X509_STORE_add_cert(store.get(), ca);
  std::unique_ptr<X509_STORE_CTX, X509Free> ctx(X509_STORE_CTX_new());
  X509_STORE_CTX_init(ctx.get(), store.get(), leaf, nullptr);
  X509_STORE_CTX_set_purpose(ctx.get(), purpose);
  int ok = X509_verify_cert(ctx.get());
  if (ok != 1) {
    ADD_FAILURE() << "verify: "
                  << X509_verify_cert_error_string(X509_STORE_CTX_get_error(ctx.get()));
  }
  return ok == 1;
}

std::string Subject(X509* cert, int nid) {
  X509_NAME* name = X509_get_subject_name(cert);
  int i = X509_NAME_get_index_by_NID(name, nid, -1);
  if (i < 0) return "";
  ASN1_STRING* s = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, i));
  return std::string(reinterpret_cast<const char*>(ASN1_STRING_get0_data(s)),
                     ASN1_STRING_length(s));
}

int DaysLeft(X509* cert) {
  int days = 0, secs = 0;
  ASN1_TIME_diff(&days, &secs, nullptr, X509_get0_notAfter(cert));
  return days;
}

bool CoversIp(X509* cert, const char* ip) { return X509_check_ip_asc(cert, ip, 0) == 1; }
bool CoversDns(X509* cert, const char* host) {
  return X509_check_host(cert, host, 0,
                         X509_CHECK_FLAG_NO_WILDCARDS | X509_CHECK_FLAG_NEVER_CHECK_SUBJECT,
                         nullptr) == 1;
}

class PkiTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = (fs::temp_directory_path() / "kumo-pki-XXXXXX").string();
    ASSERT_NE(mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override { fs::remove_all(dir_); }

  PkiFiles Ensure(const std::vector<std::string>& hosts) {
    auto files = EnsureServerPki(dir_, hosts);
    EXPECT_TRUE(files.ok()) << files.status().ToString();
    return files.ok() ? *files : PkiFiles{};
  }

  std::string dir_;
};

TEST_F(PkiTest, CaVerifiesServingCertWithAllHosts) {
  PkiFiles files = Ensure({"10.0.0.5", "[fd00::7]", "api.example.com"});
  EXPECT_EQ(files.ca_cert, dir_ + "/pki/ca.crt");

  CertPtr ca = ParseCert(Slurp(files.ca_cert));
  CertPtr server = ParseCert(Slurp(files.server_cert));
  ASSERT_TRUE(ca && server);
  EXPECT_TRUE(Verifies(ca.get(), server.get(), X509_PURPOSE_SSL_SERVER));
  // The serving certificate must not be usable as a CA.
  EXPECT_EQ(X509_check_ca(server.get()), 0);
  EXPECT_EQ(X509_check_ca(ca.get()), 1);

  EXPECT_EQ(Subject(ca.get(), NID_commonName), "kumo-ca");
  EXPECT_EQ(Subject(server.get(), NID_commonName), "kumo-apiserver");
  EXPECT_GT(DaysLeft(ca.get()), 3600);
  EXPECT_GT(DaysLeft(server.get()), 700);
  EXPECT_LT(DaysLeft(server.get()), 740);
  EXPECT_EQ(EVP_PKEY_get_bits(X509_get0_pubkey(server.get())), 256);

  EXPECT_TRUE(CoversIp(server.get(), "10.0.0.5"));
  EXPECT_TRUE(CoversIp(server.get(), "fd00::7"));
  EXPECT_TRUE(CoversIp(server.get(), "127.0.0.1"));
  EXPECT_TRUE(CoversIp(server.get(), "::1"));
  EXPECT_TRUE(CoversDns(server.get(), "api.example.com"));
  EXPECT_TRUE(CoversDns(server.get(), "localhost"));
  EXPECT_FALSE(CoversDns(server.get(), "other.example.com"));
  EXPECT_FALSE(CoversIp(server.get(), "10.0.0.6"));
  // IP literals are IP entries, not DNS names.
  EXPECT_FALSE(CoversDns(server.get(), "10.0.0.5"));

  KeyPtr server_key = ParseKey(Slurp(files.server_key));
  ASSERT_TRUE(server_key);
  EXPECT_EQ(X509_check_private_key(server.get(), server_key.get()), 1);

  struct stat st;
  ASSERT_EQ(stat(files.ca_key.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600);
  ASSERT_EQ(stat(files.server_key.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600);
}

TEST_F(PkiTest, SecondCallReusesFiles) {
  PkiFiles first = Ensure({"api.example.com", "10.0.0.5"});
  std::string ca = Slurp(first.ca_cert), ca_key = Slurp(first.ca_key);
  std::string cert = Slurp(first.server_cert), key = Slurp(first.server_key);

  // Same hosts in another order and case: nothing to change.
  PkiFiles second = Ensure({"10.0.0.5", "API.example.com"});
  EXPECT_EQ(Slurp(second.ca_cert), ca);
  EXPECT_EQ(Slurp(second.ca_key), ca_key);
  EXPECT_EQ(Slurp(second.server_cert), cert);
  EXPECT_EQ(Slurp(second.server_key), key);
}

TEST_F(PkiTest, NewHostReissuesOnlyServingCert) {
  PkiFiles first = Ensure({"api.example.com"});
  std::string ca = Slurp(first.ca_cert), ca_key = Slurp(first.ca_key);
  std::string cert = Slurp(first.server_cert);

  PkiFiles second = Ensure({"api.example.com", "192.168.7.1"});
  EXPECT_EQ(Slurp(second.ca_cert), ca);
  EXPECT_EQ(Slurp(second.ca_key), ca_key);
  std::string reissued = Slurp(second.server_cert);
  EXPECT_NE(reissued, cert);

  CertPtr ca_x = ParseCert(ca);
  CertPtr server = ParseCert(reissued);
  ASSERT_TRUE(ca_x && server);
  EXPECT_TRUE(Verifies(ca_x.get(), server.get(), X509_PURPOSE_SSL_SERVER));
  EXPECT_TRUE(CoversIp(server.get(), "192.168.7.1"));
  EXPECT_TRUE(CoversDns(server.get(), "api.example.com"));
  KeyPtr key = ParseKey(Slurp(second.server_key));
  ASSERT_TRUE(key);
  EXPECT_EQ(X509_check_private_key(server.get(), key.get()), 1);
}

TEST_F(PkiTest, MissingServingCertIsReissued) {
  PkiFiles first = Ensure({});
  std::string ca = Slurp(first.ca_cert);
  fs::remove(first.server_cert);
  PkiFiles second = Ensure({});
  EXPECT_EQ(Slurp(second.ca_cert), ca);
  CertPtr ca_x = ParseCert(ca);
  CertPtr server = ParseCert(Slurp(second.server_cert));
  ASSERT_TRUE(ca_x && server);
  EXPECT_TRUE(Verifies(ca_x.get(), server.get(), X509_PURPOSE_SSL_SERVER));
}

TEST_F(PkiTest, CaCertWithoutKeyIsAnError) {
  PkiFiles files = Ensure({});
  fs::remove(files.ca_key);
  auto again = EnsureServerPki(dir_, {});
  ASSERT_FALSE(again.ok());
  EXPECT_NE(again.status().message().find("ca.key"), std::string::npos) << again.status().message();
}

TEST_F(PkiTest, RejectsHostThatIsNeitherIpNorName) {
  auto files = EnsureServerPki(dir_, {"not a host!"});
  ASSERT_FALSE(files.ok());
  EXPECT_EQ(files.status().code(), Code::kBadRequest);
  EXPECT_NE(files.status().message().find("not a host!"), std::string::npos);
}

TEST_F(PkiTest, ClientCertCarriesUserAndGroups) {
  PkiFiles files = Ensure({});
  auto pair = IssueClientCert(files, "system:node:worker-1", {"system:nodes", "kumo:agents"});
  ASSERT_TRUE(pair.ok()) << pair.status().ToString();
  CertPtr cert = ParseCert(pair->first);
  KeyPtr key = ParseKey(pair->second);
  CertPtr ca = ParseCert(Slurp(files.ca_cert));
  ASSERT_TRUE(cert && key && ca);
  EXPECT_EQ(X509_check_private_key(cert.get(), key.get()), 1);
  EXPECT_TRUE(Verifies(ca.get(), cert.get(), X509_PURPOSE_SSL_CLIENT));

  EXPECT_EQ(Subject(cert.get(), NID_commonName), "system:node:worker-1");
  std::set<std::string> orgs;
  X509_NAME* name = X509_get_subject_name(cert.get());
  for (int i = -1; (i = X509_NAME_get_index_by_NID(name, NID_organizationName, i)) >= 0;) {
    ASN1_STRING* s = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, i));
    orgs.insert(std::string(reinterpret_cast<const char*>(ASN1_STRING_get0_data(s)),
                            ASN1_STRING_length(s)));
  }
  EXPECT_EQ(orgs, (std::set<std::string>{"system:nodes", "kumo:agents"}));

  // A client certificate must not pass as a serving certificate.
  std::unique_ptr<X509_STORE, X509Free> store(X509_STORE_new());
  X509_STORE_add_cert(store.get(), ca.get());
  std::unique_ptr<X509_STORE_CTX, X509Free> ctx(X509_STORE_CTX_new());
  X509_STORE_CTX_init(ctx.get(), store.get(), cert.get(), nullptr);
  X509_STORE_CTX_set_purpose(ctx.get(), X509_PURPOSE_SSL_SERVER);
  EXPECT_NE(X509_verify_cert(ctx.get()), 1);
}

TEST_F(PkiTest, ClientCertNeedsCa) {
  PkiFiles missing{dir_ + "/nope.crt", dir_ + "/nope.key", "", ""};
  auto pair = IssueClientCert(missing, "alice", {});
  ASSERT_FALSE(pair.ok());
  EXPECT_NE(pair.status().message().find("nope.crt"), std::string::npos);
}

TEST(GenerateTokenTest, IsLongRandomHex) {
  std::string a = GenerateToken(), b = GenerateToken();
  EXPECT_EQ(a.size(), 64u);
  EXPECT_EQ(a.find_first_not_of("0123456789abcdef"), std::string::npos);
  EXPECT_NE(a, b);
}

}  // namespace
}  // namespace kumo::pki
