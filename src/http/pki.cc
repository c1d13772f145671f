#include "http/pki.h"

#include <arpa/inet.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <memory>
#include <optional>
#include <set>
#include <tuple>

#include "common/file_util.h"
#include "http/socket_conn.h"

namespace kumo::pki {
namespace {

namespace fs = std::filesystem;

constexpr int kCaDays = 3650;
constexpr int kServerDays = 730;
constexpr int kClientDays = 365;
// Certificates start an hour in the past so that a client whose clock lags still accepts them.
constexpr long kBackdateSeconds = 3600;
// A serving certificate that expires sooner than this is reissued on start.
constexpr long kRenewBeforeSeconds = 30L * 24 * 3600;
constexpr mode_t kKeyMode = 0600;
constexpr mode_t kCertMode = 0644;

// One deleter for every OpenSSL type used here, so each object is owned by a unique_ptr.
struct OsslFree {
  void operator()(X509* p) const { X509_free(p); }
  void operator()(EVP_PKEY* p) const { EVP_PKEY_free(p); }
  void operator()(BIO* p) const { BIO_free_all(p); }
  void operator()(BIGNUM* p) const { BN_free(p); }
  void operator()(ASN1_STRING* p) const { ASN1_STRING_free(p); }
  void operator()(X509_EXTENSION* p) const { X509_EXTENSION_free(p); }
  void operator()(GENERAL_NAME* p) const { GENERAL_NAME_free(p); }
  void operator()(GENERAL_NAMES* p) const { GENERAL_NAMES_free(p); }
};
template <typename T>
using Ossl = std::unique_ptr<T, OsslFree>;

// Drains OpenSSL's thread-local error queue into the message.
Status OpenSslError(const std::string& what) {
  std::string detail;
  unsigned long e;
  while ((e = ERR_get_error()) != 0) {
    char buf[256];
    ERR_error_string_n(e, buf, sizeof(buf));
    if (!detail.empty()) detail += "; ";
    detail += buf;
  }
  return Internal(what + (detail.empty() ? std::string() : ": " + detail));
}

// A subjectAltName entry in canonical form: IPs as inet_ntop text, DNS names lower-cased.
struct Host {
  bool is_ip = false;
  std::string text;
  std::string ip_bytes;  // 4 or 16 bytes when is_ip
  bool operator<(const Host& o) const { return std::tie(is_ip, text) < std::tie(o.is_ip, o.text); }
};

std::optional<Host> ParseIp(const std::string& s) {
  unsigned char buf[16];
  char text[INET6_ADDRSTRLEN];
  for (int af : {AF_INET, AF_INET6}) {
    if (inet_pton(af, s.c_str(), buf) == 1) {
      size_t len = af == AF_INET ? 4 : 16;
      inet_ntop(af, buf, text, sizeof(text));
      return Host{true, text, std::string(reinterpret_cast<char*>(buf), len)};
    }
  }
  return std::nullopt;
}

StatusOr<Host> NormalizeHost(std::string h) {
  if (h.size() >= 2 && h.front() == '[' && h.back() == ']') h = h.substr(1, h.size() - 2);
  if (auto ip = ParseIp(h)) return *ip;
  bool valid = !h.empty() && h.size() <= 253;
  for (char& c : h) {
    unsigned char u = static_cast<unsigned char>(c);
    if (!(std::isalnum(u) || c == '-' || c == '.' || c == '_' || c == '*')) valid = false;
    c = static_cast<char>(std::tolower(u));
  }
  if (!valid) {
    return BadRequest("host \"" + h +
                      "\" is neither an IP address nor a DNS name; pass names such as "
                      "10.0.0.1, fd00::1 or api.example.com");
  }
  return Host{false, h, {}};
}

StatusOr<std::set<Host>> NormalizeHosts(const std::vector<std::string>& hosts) {
  std::set<Host> out;
  for (const char* d : {"127.0.0.1", "::1", "localhost"}) out.insert(*NormalizeHost(d));
  for (const auto& h : hosts) {
    KUMO_ASSIGN_OR_RETURN(Host n, NormalizeHost(h));
    out.insert(std::move(n));
  }
  return out;
}

// The subjectAltName entries of `cert`, in the same canonical form as NormalizeHost.
std::set<Host> SansOf(X509* cert) {
  std::set<Host> out;
  Ossl<GENERAL_NAMES> names(
      static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(cert, NID_subject_alt_name, nullptr, nullptr)));
  if (!names) return out;
  for (int i = 0; i < sk_GENERAL_NAME_num(names.get()); ++i) {
    const GENERAL_NAME* gn = sk_GENERAL_NAME_value(names.get(), i);
    if (gn->type == GEN_DNS) {
      std::string s(reinterpret_cast<const char*>(ASN1_STRING_get0_data(gn->d.dNSName)),
                    ASN1_STRING_length(gn->d.dNSName));
      std::transform(s.begin(), s.end(), s.begin(),
                     [](unsigned char c) { return std::tolower(c); });
      out.insert(Host{false, s, {}});
    } else if (gn->type == GEN_IPADD) {
      int len = ASN1_STRING_length(gn->d.iPAddress);
      if (len != 4 && len != 16) continue;
      char text[INET6_ADDRSTRLEN];
      inet_ntop(len == 4 ? AF_INET : AF_INET6, ASN1_STRING_get0_data(gn->d.iPAddress), text,
                sizeof(text));
      out.insert(Host{true, text, {}});
    }
  }
  return out;
}

StatusOr<Ossl<GENERAL_NAMES>> BuildSans(const std::set<Host>& hosts) {
  Ossl<GENERAL_NAMES> names(sk_GENERAL_NAME_new_null());
  if (!names) return OpenSslError("allocating subjectAltName");
  for (const Host& h : hosts) {
    Ossl<GENERAL_NAME> gn(GENERAL_NAME_new());
    Ossl<ASN1_STRING> value(h.is_ip ? ASN1_OCTET_STRING_new() : ASN1_IA5STRING_new());
    if (!gn || !value) return OpenSslError("allocating subjectAltName entry");
    const std::string& data = h.is_ip ? h.ip_bytes : h.text;
    if (!ASN1_STRING_set(value.get(), data.data(), static_cast<int>(data.size()))) {
      return OpenSslError("setting subjectAltName entry " + h.text);
    }
    GENERAL_NAME_set0_value(gn.get(), h.is_ip ? GEN_IPADD : GEN_DNS, value.release());
    if (!sk_GENERAL_NAME_push(names.get(), gn.get())) return OpenSslError("adding SAN entry");
    gn.release();
  }
  return names;
}

StatusOr<Ossl<EVP_PKEY>> GenerateKey() {
  Ossl<EVP_PKEY> key(EVP_EC_gen("P-256"));
  if (!key) return OpenSslError("generating an ECDSA P-256 key");
  return key;
}

Status SetRandomSerial(X509* cert) {
  unsigned char buf[16];
  if (RAND_bytes(buf, sizeof(buf)) != 1) return OpenSslError("drawing a random serial number");
  buf[0] &= 0x7f;  // positive
  buf[0] |= 0x40;  // and a full 16 bytes, never a leading zero byte
  Ossl<BIGNUM> bn(BN_bin2bn(buf, sizeof(buf), nullptr));
  if (!bn || !BN_to_ASN1_INTEGER(bn.get(), X509_get_serialNumber(cert))) {
    return OpenSslError("setting the serial number");
  }
  return Status::Ok();
}

Status AddName(X509_NAME* name, const char* field, const std::string& value) {
  if (!X509_NAME_add_entry_by_txt(name, field, MBSTRING_UTF8,
                                  reinterpret_cast<const unsigned char*>(value.c_str()), -1, -1,
                                  0)) {
    return OpenSslError(std::string("setting subject ") + field + "=" + value);
  }
  return Status::Ok();
}

Status AddExtension(X509* cert, X509V3_CTX* ctx, int nid, const char* value) {
  Ossl<X509_EXTENSION> ext(X509V3_EXT_conf_nid(nullptr, ctx, nid, value));
  if (!ext || !X509_add_ext(cert, ext.get(), -1)) {
    return OpenSslError(std::string("adding extension ") + OBJ_nid2sn(nid) + "=" + value);
  }
  return Status::Ok();
}

struct CertSpec {
  std::string common_name;
  std::vector<std::string> organizations;
  int days = 0;
  bool is_ca = false;
  const char* key_usage = nullptr;
  const char* ext_key_usage = nullptr;  // nullptr: no extendedKeyUsage
  std::set<Host> sans;
};

// Builds and signs a certificate for `subject_key`. `issuer` null means self-signed.
StatusOr<Ossl<X509>> BuildCert(const CertSpec& spec, EVP_PKEY* subject_key, X509* issuer,
                               EVP_PKEY* issuer_key) {
  Ossl<X509> cert(X509_new());
  if (!cert) return OpenSslError("allocating a certificate");
  if (!X509_set_version(cert.get(), X509_VERSION_3)) return OpenSslError("setting version");
  KUMO_RETURN_IF_ERROR(SetRandomSerial(cert.get()));
  if (!X509_gmtime_adj(X509_getm_notBefore(cert.get()), -kBackdateSeconds) ||
      !X509_time_adj_ex(X509_getm_notAfter(cert.get()), spec.days, 0, nullptr)) {
    return OpenSslError("setting the validity period");
  }
  X509_NAME* subject = X509_get_subject_name(cert.get());
  for (const auto& org : spec.organizations) KUMO_RETURN_IF_ERROR(AddName(subject, "O", org));
  KUMO_RETURN_IF_ERROR(AddName(subject, "CN", spec.common_name));
  X509_NAME* issuer_name = issuer ? X509_get_subject_name(issuer) : subject;
  if (!X509_set_issuer_name(cert.get(), issuer_name)) return OpenSslError("setting issuer");
  if (!X509_set_pubkey(cert.get(), subject_key)) return OpenSslError("setting public key");

  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, issuer ? issuer : cert.get(), cert.get(), nullptr, nullptr, 0);
  KUMO_RETURN_IF_ERROR(AddExtension(cert.get(), &ctx, NID_basic_constraints,
                                    spec.is_ca ? "critical,CA:TRUE" : "critical,CA:FALSE"));
  KUMO_RETURN_IF_ERROR(AddExtension(cert.get(), &ctx, NID_key_usage, spec.key_usage));
  if (spec.ext_key_usage) {
    KUMO_RETURN_IF_ERROR(AddExtension(cert.get(), &ctx, NID_ext_key_usage, spec.ext_key_usage));
  }
  KUMO_RETURN_IF_ERROR(AddExtension(cert.get(), &ctx, NID_subject_key_identifier, "hash"));
  // RFC 5280 lets a self-signed root omit the authority key identifier.
  if (issuer) {
    KUMO_RETURN_IF_ERROR(
        AddExtension(cert.get(), &ctx, NID_authority_key_identifier, "keyid:always"));
  }
  if (!spec.sans.empty()) {
    KUMO_ASSIGN_OR_RETURN(Ossl<GENERAL_NAMES> names, BuildSans(spec.sans));
    if (!X509_add1_ext_i2d(cert.get(), NID_subject_alt_name, names.get(), 0, X509V3_ADD_DEFAULT)) {
      return OpenSslError("adding subjectAltName");
    }
  }
  if (X509_sign(cert.get(), issuer_key, EVP_sha256()) <= 0) {
    return OpenSslError("signing the certificate for " + spec.common_name);
  }
  return cert;
}

StatusOr<std::string> BioToString(BIO* bio) {
  char* data = nullptr;
  long len = BIO_get_mem_data(bio, &data);
  if (len < 0 || (len > 0 && !data)) return OpenSslError("reading PEM buffer");
  return std::string(data, static_cast<size_t>(len));
}

StatusOr<std::string> CertToPem(X509* cert) {
  Ossl<BIO> bio(BIO_new(BIO_s_mem()));
  if (!bio || !PEM_write_bio_X509(bio.get(), cert)) return OpenSslError("encoding certificate");
  return BioToString(bio.get());
}

StatusOr<std::string> KeyToPem(EVP_PKEY* key) {
  Ossl<BIO> bio(BIO_new(BIO_s_mem()));
  if (!bio || !PEM_write_bio_PrivateKey(bio.get(), key, nullptr, nullptr, 0, nullptr, nullptr)) {
    return OpenSslError("encoding private key");
  }
  return BioToString(bio.get());
}

// Refuses encrypted keys instead of letting OpenSSL prompt on the terminal.
int NoPassword(char*, int, int, void*) { return 0; }

StatusOr<Ossl<X509>> LoadCert(const std::string& path) {
  KUMO_ASSIGN_OR_RETURN(std::string pem, ReadFileToString(path));
  Ossl<BIO> bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  Ossl<X509> cert(bio ? PEM_read_bio_X509(bio.get(), nullptr, NoPassword, nullptr) : nullptr);
  if (!cert) return OpenSslError(path + " does not hold a PEM certificate");
  return cert;
}

StatusOr<Ossl<EVP_PKEY>> LoadKey(const std::string& path) {
  KUMO_ASSIGN_OR_RETURN(std::string pem, ReadFileToString(path));
  Ossl<BIO> bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  Ossl<EVP_PKEY> key(bio ? PEM_read_bio_PrivateKey(bio.get(), nullptr, NoPassword, nullptr)
                         : nullptr);
  if (!key) return OpenSslError(path + " does not hold an unencrypted PEM private key");
  return key;
}

// Writes the key first: if we stop between the two writes, the next start sees a key that
// does not match the certificate and reissues.
Status WritePair(const std::string& cert_path, X509* cert, const std::string& key_path,
                 EVP_PKEY* key) {
  KUMO_ASSIGN_OR_RETURN(std::string key_pem, KeyToPem(key));
  KUMO_ASSIGN_OR_RETURN(std::string cert_pem, CertToPem(cert));
  KUMO_RETURN_IF_ERROR(WriteFileAtomic(key_path, key_pem, kKeyMode));
  return WriteFileAtomic(cert_path, cert_pem, kCertMode);
}

struct Ca {
  Ossl<X509> cert;
  Ossl<EVP_PKEY> key;
};

StatusOr<Ca> LoadCa(const PkiFiles& files) {
  Ca ca;
  KUMO_ASSIGN_OR_RETURN(ca.cert, LoadCert(files.ca_cert));
  KUMO_ASSIGN_OR_RETURN(ca.key, LoadKey(files.ca_key));
  if (X509_check_private_key(ca.cert.get(), ca.key.get()) != 1) {
    ERR_clear_error();
    return Internal("CA key " + files.ca_key + " does not match CA certificate " + files.ca_cert +
                    "; restore the matching pair");
  }
  return ca;
}

Status CreateCa(const PkiFiles& files) {
  KUMO_ASSIGN_OR_RETURN(Ossl<EVP_PKEY> key, GenerateKey());
  CertSpec spec;
  spec.common_name = "kumo-ca";
  spec.days = kCaDays;
  spec.is_ca = true;
  spec.key_usage = "critical,keyCertSign,cRLSign";
  KUMO_ASSIGN_OR_RETURN(Ossl<X509> cert, BuildCert(spec, key.get(), nullptr, key.get()));
  return WritePair(files.ca_cert, cert.get(), files.ca_key, key.get());
}

// Why the serving certificate must be (re)issued, or "" when the one on disk is good.
std::string ServerCertProblem(const PkiFiles& files, const Ca& ca, const std::set<Host>& hosts) {
  auto cert = LoadCert(files.server_cert);
  if (!cert.ok()) return cert.status().message();
  auto key = LoadKey(files.server_key);
  if (!key.ok()) return key.status().message();
  std::string problem;
  if (X509_check_private_key(cert->get(), key->get()) != 1) {
    problem = "key " + files.server_key + " does not match the certificate";
  } else if (X509_verify(cert->get(), X509_get0_pubkey(ca.cert.get())) != 1) {
    problem = "certificate was not signed by the current CA";
  } else {
    time_t soon = time(nullptr) + kRenewBeforeSeconds;
    if (X509_cmp_time(X509_get0_notAfter(cert->get()), &soon) <= 0) {
      problem = "certificate expires within 30 days";
    } else {
      std::set<Host> have = SansOf(cert->get());
      for (const Host& h : hosts) {
        if (!have.count(h)) {
          problem = "certificate does not cover host " + h.text;
          break;
        }
      }
    }
  }
  ERR_clear_error();
  return problem;
}

Status IssueServerCert(const PkiFiles& files, const Ca& ca, const std::set<Host>& hosts) {
  KUMO_ASSIGN_OR_RETURN(Ossl<EVP_PKEY> key, GenerateKey());
  CertSpec spec;
  spec.common_name = "kumo-apiserver";
  spec.days = kServerDays;
  spec.key_usage = "critical,digitalSignature";
  spec.ext_key_usage = "serverAuth";
  spec.sans = hosts;
  KUMO_ASSIGN_OR_RETURN(Ossl<X509> cert, BuildCert(spec, key.get(), ca.cert.get(), ca.key.get()));
  return WritePair(files.server_cert, cert.get(), files.server_key, key.get());
}

}  // namespace

StatusOr<PkiFiles> EnsureServerPki(const std::string& dir, const std::vector<std::string>& hosts) {
  if (dir.empty()) return BadRequest("PKI directory is empty; pass the server's data directory");
  KUMO_ASSIGN_OR_RETURN(std::set<Host> wanted, NormalizeHosts(hosts));
  fs::path pki_dir = fs::path(dir) / "pki";
  std::error_code ec;
  fs::create_directories(pki_dir, ec);
  if (ec) return Internal("cannot create " + pki_dir.string() + ": " + ec.message());
  fs::permissions(pki_dir, fs::perms::owner_all, fs::perm_options::replace, ec);
  if (ec) return Internal("cannot chmod 0700 " + pki_dir.string() + ": " + ec.message());

  PkiFiles files{(pki_dir / "ca.crt").string(), (pki_dir / "ca.key").string(),
                 (pki_dir / "apiserver.crt").string(), (pki_dir / "apiserver.key").string()};
  bool have_cert = fs::exists(files.ca_cert, ec);
  bool have_key = fs::exists(files.ca_key, ec);
  if (!have_cert && !have_key) {
    spdlog::info("creating a new CA in {}", pki_dir.string());
    KUMO_RETURN_IF_ERROR(CreateCa(files));
  } else if (!have_cert || !have_key) {
    return Internal("found " + (have_cert ? files.ca_cert : files.ca_key) + " but not " +
                    (have_cert ? files.ca_key : files.ca_cert) + "; restore it, or delete " +
                    pki_dir.string() +
                    " to create a new CA (every issued certificate will stop working)");
  }
  KUMO_ASSIGN_OR_RETURN(Ca ca, LoadCa(files));
  std::string problem = ServerCertProblem(files, ca, wanted);
  if (!problem.empty()) {
    spdlog::info("issuing serving certificate {}: {}", files.server_cert, problem);
    KUMO_RETURN_IF_ERROR(IssueServerCert(files, ca, wanted));
  }
  return files;
}

StatusOr<SelfSignedCert> EnsureSelfSignedCert(const std::string& dir, const std::string& name,
                                              const std::string& common_name,
                                              const std::vector<std::string>& hosts) {
  KUMO_ASSIGN_OR_RETURN(std::set<Host> wanted, NormalizeHosts(hosts));
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) return Internal("cannot create " + dir + ": " + ec.message());
  SelfSignedCert out{(fs::path(dir) / (name + ".crt")).string(),
                     (fs::path(dir) / (name + ".key")).string(), ""};
  auto cert = LoadCert(out.cert_file);
  auto key = LoadKey(out.key_file);
  bool good = cert.ok() && key.ok() && X509_check_private_key(cert->get(), key->get()) == 1;
  if (good) {
    time_t soon = time(nullptr) + kRenewBeforeSeconds;
    std::set<Host> have = SansOf(cert->get());
    good = X509_cmp_time(X509_get0_notAfter(cert->get()), &soon) > 0 &&
           std::includes(have.begin(), have.end(), wanted.begin(), wanted.end());
  }
  ERR_clear_error();
  if (!good) {
    KUMO_ASSIGN_OR_RETURN(Ossl<EVP_PKEY> new_key, GenerateKey());
    CertSpec spec;
    spec.common_name = common_name;
    spec.days = kServerDays;
    spec.key_usage = "critical,digitalSignature";
    spec.ext_key_usage = "serverAuth";
    spec.sans = wanted;
    KUMO_ASSIGN_OR_RETURN(Ossl<X509> new_cert,
                          BuildCert(spec, new_key.get(), nullptr, new_key.get()));
    KUMO_RETURN_IF_ERROR(WritePair(out.cert_file, new_cert.get(), out.key_file, new_key.get()));
  }
  KUMO_ASSIGN_OR_RETURN(std::string pem, ReadFileToString(out.cert_file));
  out.sha256 = http::CertPemSha256(pem);
  if (out.sha256.empty()) return Internal("cannot read back " + out.cert_file);
  return out;
}

StatusOr<std::pair<std::string, std::string>> IssueClientCert(
    const PkiFiles& files, const std::string& common_name,
    const std::vector<std::string>& organizations) {
  if (common_name.empty()) {
    return BadRequest("client certificate needs a common name (the Kubernetes user name)");
  }
  KUMO_ASSIGN_OR_RETURN(Ca ca, LoadCa(files));
  KUMO_ASSIGN_OR_RETURN(Ossl<EVP_PKEY> key, GenerateKey());
  CertSpec spec;
  spec.common_name = common_name;
  spec.organizations = organizations;
  spec.days = kClientDays;
  spec.key_usage = "critical,digitalSignature";
  spec.ext_key_usage = "clientAuth";
  KUMO_ASSIGN_OR_RETURN(Ossl<X509> cert, BuildCert(spec, key.get(), ca.cert.get(), ca.key.get()));
  KUMO_ASSIGN_OR_RETURN(std::string cert_pem, CertToPem(cert.get()));
  KUMO_ASSIGN_OR_RETURN(std::string key_pem, KeyToPem(key.get()));
  return std::make_pair(std::move(cert_pem), std::move(key_pem));
}

std::string GenerateToken() {
  unsigned char buf[32];
  if (RAND_bytes(buf, sizeof(buf)) != 1) {
    // A predictable token would be a security hole; there is no safe fallback.
    spdlog::critical("{}", OpenSslError("RAND_bytes failed").message());
    std::abort();
  }
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(sizeof(buf) * 2);
  for (unsigned char b : buf) {
    out.push_back(kHex[b >> 4]);
    out.push_back(kHex[b & 0xf]);
  }
  return out;
}

}  // namespace kumo::pki
