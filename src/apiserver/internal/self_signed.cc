#include "apiserver/internal/self_signed.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <memory>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/strings.h"

namespace aa::apiserver {
namespace {

struct Free {
  void operator()(EVP_PKEY* p) const { EVP_PKEY_free(p); }
  void operator()(X509* p) const { X509_free(p); }
  void operator()(X509_EXTENSION* p) const { X509_EXTENSION_free(p); }
  void operator()(BIO* p) const { BIO_free(p); }
};
template <typename T>
using Ptr = std::unique_ptr<T, Free>;

absl::Status OpenSslError(const char* what) {
  return absl::InternalError(absl::StrCat("self-signed certificate: ", what, " failed"));
}

bool IsIp(const std::string& s) {
  unsigned char buf[16];
  return inet_pton(AF_INET, s.c_str(), buf) == 1 || inet_pton(AF_INET6, s.c_str(), buf) == 1;
}

absl::Status AddExtension(X509* cert, int nid, const std::string& value) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, cert, cert, nullptr, nullptr, 0);
  Ptr<X509_EXTENSION> ext(X509V3_EXT_conf_nid(nullptr, &ctx, nid, value.c_str()));
  if (!ext || X509_add_ext(cert, ext.get(), -1) != 1) return OpenSslError("adding an extension");
  return absl::OkStatus();
}

absl::Status WritePem(const std::string& path, mode_t mode, bool key, EVP_PKEY* pkey, X509* cert) {
  Ptr<BIO> bio(BIO_new(BIO_s_mem()));
  if (!bio) return OpenSslError("BIO_new");
  int ok = key ? PEM_write_bio_PrivateKey(bio.get(), pkey, nullptr, nullptr, 0, nullptr, nullptr)
               : PEM_write_bio_X509(bio.get(), cert);
  if (ok != 1) return OpenSslError("PEM encoding");
  char* data = nullptr;
  long len = BIO_get_mem_data(bio.get(), &data);
  // Created with its mode (never readable by others, not even for a moment: --cert-dir may be a
  // shared directory), and chmod for a file that existed before.
  const int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
  FILE* f = fd < 0 ? nullptr : fdopen(fd, "wb");
  if (f == nullptr) {
    if (fd >= 0) close(fd);
    return absl::InternalError(absl::StrCat("cannot write ", path));
  }
  fchmod(fd, mode);
  bool written = std::fwrite(data, 1, static_cast<size_t>(len), f) == static_cast<size_t>(len);
  written = std::fclose(f) == 0 && written;
  if (!written) return absl::InternalError(absl::StrCat("cannot write ", path));
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<CertificateFiles> WriteSelfSignedCertificate(const std::string& dir,
                                                            const std::vector<std::string>& sans,
                                                            absl::Time now,
                                                            std::string_view base_name) {
  if (sans.empty()) return absl::InvalidArgumentError("self-signed certificate: no SANs");
  Ptr<EVP_PKEY> pkey(EVP_EC_gen("P-256"));
  if (!pkey) return OpenSslError("EVP_EC_gen(P-256)");
  Ptr<X509> cert(X509_new());
  if (!cert) return OpenSslError("X509_new");
  X509_set_version(cert.get(), 2);  // v3
  ASN1_INTEGER_set_int64(X509_get_serialNumber(cert.get()), absl::ToUnixNanos(now) & 0x7fffffff);
  const time_t start = absl::ToTimeT(now - absl::Hours(1));
  const time_t end = absl::ToTimeT(now + absl::Hours(24 * 365));
  if (!ASN1_TIME_set(X509_getm_notBefore(cert.get()), start) ||
      !ASN1_TIME_set(X509_getm_notAfter(cert.get()), end)) {
    return OpenSslError("setting the validity");
  }
  X509_NAME* name = X509_get_subject_name(cert.get());
  X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>("autoscale-adapter"), -1, -1,
                             0);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>(sans[0].c_str()), -1, -1, 0);
  if (X509_set_issuer_name(cert.get(), name) != 1) return OpenSslError("X509_set_issuer_name");
  if (X509_set_pubkey(cert.get(), pkey.get()) != 1) return OpenSslError("X509_set_pubkey");
  std::vector<std::string> entries;
  for (const std::string& san : sans) {
    if (san.find_first_of(",\n") != std::string::npos) {
      return absl::InvalidArgumentError(absl::StrCat("invalid subjectAltName \"", san, "\""));
    }
    entries.push_back(absl::StrCat(IsIp(san) ? "IP:" : "DNS:", san));
  }
  if (auto s = AddExtension(cert.get(), NID_subject_alt_name, absl::StrJoin(entries, ","));
      !s.ok()) {
    return s;
  }
  if (auto s = AddExtension(cert.get(), NID_basic_constraints, "critical,CA:FALSE"); !s.ok()) {
    return s;
  }
  if (auto s = AddExtension(cert.get(), NID_key_usage, "critical,digitalSignature"); !s.ok()) {
    return s;
  }
  if (auto s = AddExtension(cert.get(), NID_ext_key_usage, "serverAuth"); !s.ok()) return s;
  if (X509_sign(cert.get(), pkey.get(), EVP_sha256()) <= 0) return OpenSslError("X509_sign");

  CertificateFiles files{absl::StrCat(dir, "/", ToAbsl(base_name), ".crt"),
                         absl::StrCat(dir, "/", ToAbsl(base_name), ".key")};
  if (auto s = WritePem(files.key_file, 0600, true, pkey.get(), nullptr); !s.ok()) return s;
  if (auto s = WritePem(files.cert_file, 0644, false, nullptr, cert.get()); !s.ok()) return s;
  return files;
}

}  // namespace aa::apiserver
