#include "auth/serving_tls.h"

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <sys/stat.h>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "common/file.h"
#include "common/log.h"

namespace aa::auth {
namespace {

absl::StatusOr<std::string> ReadFile(const std::string& path, const char* what) {
  auto text = aa::ReadFile(path);
  if (!text.ok()) return absl::InvalidArgumentError(absl::StrCat("cannot read ", what, " ", path));
  return text;
}

// inode, size and modification/change times of both files; "" parts for missing files.
std::string FilesIdentity(const std::string& a, const std::string& b) {
  std::string out;
  for (const std::string* p : {&a, &b}) {
    struct stat st;
    if (stat(p->c_str(), &st) != 0) {
      absl::StrAppend(&out, "missing;");
      continue;
    }
    absl::StrAppend(&out, st.st_dev, ":", st.st_ino, ":", st.st_size, ":", st.st_mtim.tv_sec, ".",
                    st.st_mtim.tv_nsec, ":", st.st_ctim.tv_sec, ".", st.st_ctim.tv_nsec, ";");
  }
  return out;
}

std::string OpenSslError() {
  unsigned long e = ERR_get_error();
  ERR_clear_error();
  if (e == 0) return "unknown error";
  char buf[256];
  ERR_error_string_n(e, buf, sizeof(buf));
  return buf;
}

}  // namespace

struct ServingCertificate::Pair {
  X509* leaf = nullptr;
  STACK_OF(X509) * chain = nullptr;  // intermediates after the leaf
  EVP_PKEY* key = nullptr;
  std::string fingerprint;
  ~Pair() {
    X509_free(leaf);
    sk_X509_pop_free(chain, X509_free);
    EVP_PKEY_free(key);
  }

  // Never puts key material into the error text.
  static absl::StatusOr<std::shared_ptr<const Pair>> Read(const std::string& cert_file,
                                                          const std::string& key_file) {
    auto cert_pem = ReadFile(cert_file, "TLS certificate");
    if (!cert_pem.ok()) return cert_pem.status();
    auto key_pem = ReadFile(key_file, "TLS key");
    if (!key_pem.ok()) return key_pem.status();
    auto pair = std::make_shared<Pair>();
    pair->chain = sk_X509_new_null();
    ERR_clear_error();
    BIO* bio = BIO_new_mem_buf(cert_pem->data(), static_cast<int>(cert_pem->size()));
    while (X509* x = PEM_read_bio_X509(bio, nullptr, nullptr, nullptr)) {
      if (pair->leaf == nullptr) {
        pair->leaf = x;
      } else {
        sk_X509_push(pair->chain, x);
      }
    }
    BIO_free(bio);
    ERR_clear_error();
    if (pair->leaf == nullptr) {
      return absl::InvalidArgumentError(
          absl::StrCat("TLS certificate ", cert_file, ": no PEM certificate in it"));
    }
    bio = BIO_new_mem_buf(key_pem->data(), static_cast<int>(key_pem->size()));
    pair->key = PEM_read_bio_PrivateKey(bio, nullptr, nullptr, nullptr);
    BIO_free(bio);
    if (pair->key == nullptr) {
      ERR_clear_error();
      return absl::InvalidArgumentError(
          absl::StrCat("TLS key ", key_file, ": no unencrypted PEM private key in it"));
    }
    if (X509_check_private_key(pair->leaf, pair->key) != 1) {
      ERR_clear_error();
      return absl::InvalidArgumentError(
          absl::StrCat("TLS key ", key_file, " does not match the certificate ", cert_file));
    }
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    if (X509_digest(pair->leaf, EVP_sha256(), md, &len) == 1) {
      pair->fingerprint =
          absl::BytesToHexString(absl::string_view(reinterpret_cast<const char*>(md), len));
    }
    return std::shared_ptr<const Pair>(std::move(pair));
  }
};

ServingCertificate::ServingCertificate(std::string cert_file, std::string key_file, Clock& clock,
                                       absl::Duration check_interval)
    : cert_file_(std::move(cert_file)),
      key_file_(std::move(key_file)),
      clock_(clock),
      check_interval_(check_interval) {}

ServingCertificate::~ServingCertificate() = default;

absl::StatusOr<std::unique_ptr<ServingCertificate>> ServingCertificate::Load(
    std::string cert_file, std::string key_file, Clock& clock, absl::Duration check_interval) {
  std::unique_ptr<ServingCertificate> c(
      new ServingCertificate(std::move(cert_file), std::move(key_file), clock, check_interval));
  std::string identity = FilesIdentity(c->cert_file_, c->key_file_);
  auto pair = Pair::Read(c->cert_file_, c->key_file_);
  if (!pair.ok()) return pair.status();
  {
    absl::MutexLock lock(&c->mu_);
    c->pair_ = *std::move(pair);
    c->files_identity_ = identity;
    c->last_check_ = clock.Now();
  }
  return c;
}

absl::StatusOr<bool> ServingCertificate::ReloadIfChanged() {
  absl::MutexLock lock(&mu_);
  last_check_ = clock_.Now();
  std::string identity = FilesIdentity(cert_file_, key_file_);
  if (identity == files_identity_) return false;
  auto pair = Pair::Read(cert_file_, key_file_);
  if (!pair.ok()) {
    if (identity != failed_identity_) {
      LogWarn("serving certificate changed but cannot be loaded; still serving the previous one",
              {{"cert", cert_file_}, {"error", pair.status()}});
    }
    failed_identity_ = identity;
    return pair.status();
  }
  pair_ = *std::move(pair);
  files_identity_ = identity;
  failed_identity_.clear();
  ++reloads_;
  LogInfo("reloaded the serving certificate",
          {{"cert", cert_file_}, {"sha256", pair_->fingerprint}});
  return true;
}

std::shared_ptr<const ServingCertificate::Pair> ServingCertificate::Current() {
  {
    absl::MutexLock lock(&mu_);
    if (clock_.Now() - last_check_ < check_interval_) return pair_;
  }
  (void)ReloadIfChanged();  // errors are logged once per changed file state
  absl::MutexLock lock(&mu_);
  return pair_;
}

std::string ServingCertificate::Fingerprint() const {
  absl::MutexLock lock(&mu_);
  return pair_->fingerprint;
}

int ServingCertificate::reloads() const {
  absl::MutexLock lock(&mu_);
  return reloads_;
}

int ServingCertificate::CertCallback(ssl_st* ssl, void* arg) {
  auto* self = static_cast<ServingCertificate*>(arg);
  std::shared_ptr<const Pair> pair = self->Current();
  // SSL_use_cert_and_key takes its own references; the pair may be replaced right after.
  if (SSL_use_cert_and_key(ssl, pair->leaf, pair->key, pair->chain, 1) != 1) {
    ERR_clear_error();
    return 0;
  }
  return 1;
}

absl::Status ServingCertificate::ConfigureContext(ssl_ctx_st* ctx) {
  if (SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) != 1) {
    return absl::InternalError(absl::StrCat("cannot require TLS 1.2: ", OpenSslError()));
  }
  SSL_CTX_set_options(
      ctx, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE);
  SSL_CTX_set_cert_cb(ctx, &ServingCertificate::CertCallback, this);
  // Ask for a client certificate without requiring one. The chain is verified per request against
  // the CA that applies (client CA or front-proxy CA, both replaceable at run time), so the
  // handshake accepts any chain; the client still proves it holds the key (CertificateVerify).
  SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, nullptr);
  SSL_CTX_set_cert_verify_callback(
      ctx, [](X509_STORE_CTX*, void*) { return 1; }, nullptr);
  static constexpr unsigned char kSessionContext[] = "autoscale-adapter";
  SSL_CTX_set_session_id_context(ctx, kSessionContext, sizeof(kSessionContext) - 1);
  return absl::OkStatus();
}

}  // namespace aa::auth
