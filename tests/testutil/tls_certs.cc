#include "testutil/tls_certs.h"

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <fstream>
#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace aa::testutil {
namespace {

struct Free {
  void operator()(EVP_PKEY* p) const { EVP_PKEY_free(p); }
  void operator()(X509* p) const { X509_free(p); }
  void operator()(BIO* p) const { BIO_free(p); }
  void operator()(X509_EXTENSION* p) const { X509_EXTENSION_free(p); }
};
using PkeyPtr = std::unique_ptr<EVP_PKEY, Free>;
using X509Ptr = std::unique_ptr<X509, Free>;
using BioPtr = std::unique_ptr<BIO, Free>;
using ExtPtr = std::unique_ptr<X509_EXTENSION, Free>;

absl::Status OpenSslError(std::string_view what) {
  unsigned long e = ERR_get_error();
  char buf[256] = "unknown error";
  if (e != 0) ERR_error_string_n(e, buf, sizeof buf);
  ERR_clear_error();
  return absl::InternalError(absl::StrCat("tls_certs: ", std::string(what), ": ", buf));
}

absl::StatusOr<PkeyPtr> NewKey() {
  PkeyPtr key(EVP_EC_gen("P-256"));
  if (!key) return OpenSslError("EVP_EC_gen");
  return key;
}

std::string BioToString(BIO* bio) {
  char* data = nullptr;
  long n = BIO_get_mem_data(bio, &data);
  return std::string(data, static_cast<size_t>(n));
}

absl::StatusOr<std::string> CertPem(X509* cert) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (!bio || PEM_write_bio_X509(bio.get(), cert) != 1) return OpenSslError("PEM_write_bio_X509");
  return BioToString(bio.get());
}

absl::StatusOr<std::string> KeyPem(EVP_PKEY* key) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (!bio ||
      PEM_write_bio_PrivateKey(bio.get(), key, nullptr, nullptr, 0, nullptr, nullptr) != 1) {
    return OpenSslError("PEM_write_bio_PrivateKey");
  }
  return BioToString(bio.get());
}

absl::StatusOr<X509Ptr> LoadCert(const std::string& pem) {
  BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  X509Ptr cert(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
  if (!cert) return OpenSslError("PEM_read_bio_X509");
  return cert;
}

absl::StatusOr<PkeyPtr> LoadKey(const std::string& pem) {
  BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  PkeyPtr key(PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr));
  if (!key) return OpenSslError("PEM_read_bio_PrivateKey");
  return key;
}

absl::Status WriteFile(const std::string& path, const std::string& contents) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << contents;
  out.close();
  if (!out) return absl::UnavailableError(absl::StrCat("tls_certs: cannot write ", path));
  return absl::OkStatus();
}

absl::Status AddExt(X509* cert, X509* issuer, int nid, const std::string& value) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
  ExtPtr ext(X509V3_EXT_conf_nid(nullptr, &ctx, nid, value.c_str()));
  if (!ext) return OpenSslError(absl::StrCat("extension ", OBJ_nid2sn(nid), "=", value));
  if (X509_add_ext(cert, ext.get(), -1) != 1) return OpenSslError("X509_add_ext");
  return absl::OkStatus();
}

absl::Status AddName(X509_NAME* name, const char* field, const std::string& value) {
  if (X509_NAME_add_entry_by_txt(name, field, MBSTRING_UTF8,
                                 reinterpret_cast<const unsigned char*>(value.data()),
                                 static_cast<int>(value.size()), -1, 0) != 1) {
    return OpenSslError(absl::StrCat("subject ", field));
  }
  return absl::OkStatus();
}

// Builds and signs one certificate. `issuer`/`issuer_key` null: self-signed with `key`.
absl::StatusOr<X509Ptr> MakeCert(EVP_PKEY* key, X509* issuer, EVP_PKEY* issuer_key,
                                 const CertSpec& spec, bool is_ca) {
  X509Ptr cert(X509_new());
  if (!cert) return OpenSslError("X509_new");
  X509_set_version(cert.get(), X509_VERSION_3);
  // Random 64-bit positive serial: certificates from different runs never collide in a verifier's
  // cache.
  unsigned char serial_bytes[8];
  if (RAND_bytes(serial_bytes, sizeof serial_bytes) != 1) return OpenSslError("RAND_bytes");
  serial_bytes[0] &= 0x7f;
  BIGNUM* bn = BN_bin2bn(serial_bytes, sizeof serial_bytes, nullptr);
  if (bn == nullptr || BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(cert.get())) == nullptr) {
    BN_free(bn);
    return OpenSslError("serial");
  }
  BN_free(bn);
  long not_before = spec.expired ? -2 * 86400 : -3600;
  long not_after = spec.expired ? -86400 : static_cast<long>(absl::ToInt64Seconds(spec.validity));
  if (X509_gmtime_adj(X509_getm_notBefore(cert.get()), not_before) == nullptr ||
      X509_gmtime_adj(X509_getm_notAfter(cert.get()), not_after) == nullptr) {
    return OpenSslError("validity");
  }
  X509_NAME* subject = X509_get_subject_name(cert.get());
  for (const auto& o : spec.organizations) {
    if (auto s = AddName(subject, "O", o); !s.ok()) return s;
  }
  if (!spec.common_name.empty()) {
    if (auto s = AddName(subject, "CN", spec.common_name); !s.ok()) return s;
  }
  X509* signer_cert = issuer != nullptr ? issuer : cert.get();
  EVP_PKEY* signer_key = issuer_key != nullptr ? issuer_key : key;
  if (X509_set_issuer_name(cert.get(), X509_get_subject_name(signer_cert)) != 1)
    return OpenSslError("issuer");
  if (X509_set_pubkey(cert.get(), key) != 1) return OpenSslError("X509_set_pubkey");

  if (is_ca) {
    if (auto s = AddExt(cert.get(), signer_cert, NID_basic_constraints, "critical,CA:TRUE");
        !s.ok())
      return s;
    if (auto s = AddExt(cert.get(), signer_cert, NID_key_usage, "critical,keyCertSign,cRLSign");
        !s.ok())
      return s;
  } else {
    if (auto s = AddExt(cert.get(), signer_cert, NID_basic_constraints, "critical,CA:FALSE");
        !s.ok())
      return s;
    if (auto s = AddExt(cert.get(), signer_cert, NID_key_usage,
                        "critical,digitalSignature,keyEncipherment");
        !s.ok()) {
      return s;
    }
    std::vector<std::string> eku;
    if (spec.server_auth) eku.push_back("serverAuth");
    if (spec.client_auth) eku.push_back("clientAuth");
    if (!eku.empty()) {
      if (auto s = AddExt(cert.get(), signer_cert, NID_ext_key_usage, absl::StrJoin(eku, ","));
          !s.ok())
        return s;
    }
    std::vector<std::string> sans;
    for (const auto& d : spec.dns_names) sans.push_back(absl::StrCat("DNS:", d));
    for (const auto& ip : spec.ip_addresses) sans.push_back(absl::StrCat("IP:", ip));
    if (!sans.empty()) {
      if (auto s = AddExt(cert.get(), signer_cert, NID_subject_alt_name, absl::StrJoin(sans, ","));
          !s.ok()) {
        return s;
      }
    }
  }
  if (auto s = AddExt(cert.get(), signer_cert, NID_subject_key_identifier, "hash"); !s.ok())
    return s;
  if (issuer != nullptr) {
    if (auto s = AddExt(cert.get(), signer_cert, NID_authority_key_identifier, "keyid:always");
        !s.ok())
      return s;
  }
  if (X509_sign(cert.get(), signer_key, EVP_sha256()) == 0) return OpenSslError("X509_sign");
  return cert;
}

absl::StatusOr<CertFiles> Write(std::string_view dir, std::string_view name, X509* cert,
                                EVP_PKEY* key) {
  CertFiles files;
  files.cert_file = absl::StrCat(std::string(dir), "/", std::string(name), ".crt");
  files.key_file = absl::StrCat(std::string(dir), "/", std::string(name), ".key");
  auto cert_pem = CertPem(cert);
  if (!cert_pem.ok()) return cert_pem.status();
  auto key_pem = KeyPem(key);
  if (!key_pem.ok()) return key_pem.status();
  files.cert_pem = *std::move(cert_pem);
  files.key_pem = *std::move(key_pem);
  if (auto s = WriteFile(files.cert_file, files.cert_pem); !s.ok()) return s;
  if (auto s = WriteFile(files.key_file, files.key_pem); !s.ok()) return s;
  return files;
}

}  // namespace

absl::StatusOr<TestCa> TestCa::Create(std::string_view dir, std::string_view name,
                                      std::string_view common_name) {
  auto key = NewKey();
  if (!key.ok()) return key.status();
  CertSpec spec;
  spec.common_name = std::string(common_name);
  spec.validity = absl::Hours(24 * 7);
  auto cert = MakeCert(key->get(), nullptr, nullptr, spec, /*is_ca=*/true);
  if (!cert.ok()) return cert.status();
  auto files = Write(dir, name, cert->get(), key->get());
  if (!files.ok()) return files.status();
  return TestCa(*std::move(files));
}

absl::StatusOr<CertFiles> TestCa::Issue(std::string_view dir, std::string_view name,
                                        const CertSpec& spec) const {
  auto ca_cert = LoadCert(files_.cert_pem);
  if (!ca_cert.ok()) return ca_cert.status();
  auto ca_key = LoadKey(files_.key_pem);
  if (!ca_key.ok()) return ca_key.status();
  auto key = NewKey();
  if (!key.ok()) return key.status();
  auto cert = MakeCert(key->get(), ca_cert->get(), ca_key->get(), spec, /*is_ca=*/false);
  if (!cert.ok()) return cert.status();
  return Write(dir, name, cert->get(), key->get());
}

absl::StatusOr<CertFiles> TestCa::IssueServer(std::string_view dir, std::string_view name,
                                              const std::vector<std::string>& dns_names,
                                              bool expired) const {
  CertSpec spec;
  spec.common_name = "localhost";
  spec.dns_names = {"localhost"};
  spec.dns_names.insert(spec.dns_names.end(), dns_names.begin(), dns_names.end());
  spec.ip_addresses = {"127.0.0.1", "::1"};
  spec.server_auth = true;
  spec.expired = expired;
  return Issue(dir, name, spec);
}

absl::StatusOr<CertFiles> TestCa::IssueClient(std::string_view dir, std::string_view name,
                                              std::string_view common_name,
                                              const std::vector<std::string>& organizations,
                                              bool expired) const {
  CertSpec spec;
  spec.common_name = std::string(common_name);
  spec.organizations = organizations;
  spec.client_auth = true;
  spec.expired = expired;
  return Issue(dir, name, spec);
}

}  // namespace aa::testutil
