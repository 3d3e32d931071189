#include "auth/x509.h"

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>

#include "absl/strings/str_cat.h"
#include "common/file.h"
#include "common/strings.h"

namespace aa::auth {
namespace {

struct X509Free {
  void operator()(X509* x) const { X509_free(x); }
};
using X509Ptr = std::unique_ptr<X509, X509Free>;
struct StackFree {
  void operator()(STACK_OF(X509) * s) const { sk_X509_pop_free(s, X509_free); }
};
using X509StackPtr = std::unique_ptr<STACK_OF(X509), StackFree>;

// Every certificate of a PEM text, in order. InvalidArgument when there is none or one is
// malformed.
absl::StatusOr<std::vector<X509Ptr>> ParsePemCertificates(std::string_view pem,
                                                          std::string_view source) {
  std::vector<X509Ptr> certs;
  BIO* bio = BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()));
  if (bio == nullptr) return absl::InternalError("BIO_new_mem_buf failed");
  ERR_clear_error();
  while (true) {
    X509* x = PEM_read_bio_X509(bio, nullptr, nullptr, nullptr);
    if (x == nullptr) break;
    certs.emplace_back(x);
  }
  unsigned long err = ERR_peek_last_error();
  BIO_free(bio);
  bool clean_end =
      err == 0 || (ERR_GET_LIB(err) == ERR_LIB_PEM && ERR_GET_REASON(err) == PEM_R_NO_START_LINE);
  ERR_clear_error();
  if (!clean_end) {
    return absl::InvalidArgumentError(absl::StrCat(
        ToAbsl(source), ": malformed PEM certificate after ", certs.size(), " good one(s)"));
  }
  if (certs.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat(ToAbsl(source), ": no PEM certificate (\"-----BEGIN CERTIFICATE-----\")"));
  }
  return certs;
}

std::string NameEntryUtf8(X509_NAME_ENTRY* entry) {
  unsigned char* utf8 = nullptr;
  int len = ASN1_STRING_to_UTF8(&utf8, X509_NAME_ENTRY_get_data(entry));
  if (len < 0) return "";
  std::string out(reinterpret_cast<char*>(utf8), static_cast<size_t>(len));
  OPENSSL_free(utf8);
  return out;
}

CertIdentity IdentityOf(X509* leaf) {
  CertIdentity id;
  X509_NAME* subject = X509_get_subject_name(leaf);
  int cn = X509_NAME_get_index_by_NID(subject, NID_commonName, -1);
  if (cn >= 0) id.common_name = NameEntryUtf8(X509_NAME_get_entry(subject, cn));
  for (int i = X509_NAME_get_index_by_NID(subject, NID_organizationName, -1); i >= 0;
       i = X509_NAME_get_index_by_NID(subject, NID_organizationName, i)) {
    id.organizations.push_back(NameEntryUtf8(X509_NAME_get_entry(subject, i)));
  }
  return id;
}

}  // namespace

struct CaPool::Impl {
  X509_STORE* store = nullptr;
  size_t count = 0;
  ~Impl() { X509_STORE_free(store); }

  absl::StatusOr<CertIdentity> Verify(X509* leaf, STACK_OF(X509) * intermediates,
                                      absl::Time now) const {
    X509_STORE_CTX* ctx = X509_STORE_CTX_new();
    if (ctx == nullptr) return absl::InternalError("X509_STORE_CTX_new failed");
    if (X509_STORE_CTX_init(ctx, store, leaf, intermediates) != 1) {
      X509_STORE_CTX_free(ctx);
      return absl::InternalError("X509_STORE_CTX_init failed");
    }
    X509_STORE_CTX_set_purpose(ctx, X509_PURPOSE_SSL_CLIENT);
    X509_VERIFY_PARAM* param = X509_STORE_CTX_get0_param(ctx);
    X509_VERIFY_PARAM_set_time(param, absl::ToTimeT(now));
    // Like Go's x509.Verify: any certificate of the pool is an anchor, self-signed or not.
    X509_VERIFY_PARAM_set_flags(param, X509_V_FLAG_PARTIAL_CHAIN);
    int ok = X509_verify_cert(ctx);
    int err = X509_STORE_CTX_get_error(ctx);
    X509_STORE_CTX_free(ctx);
    ERR_clear_error();
    if (ok != 1) {
      return absl::UnauthenticatedError(
          absl::StrCat("client certificate does not verify: ", X509_verify_cert_error_string(err)));
    }
    return IdentityOf(leaf);
  }
};

CaPool::CaPool(std::unique_ptr<Impl> impl, std::string source)
    : impl_(std::move(impl)), source_(std::move(source)) {}
CaPool::~CaPool() = default;

size_t CaPool::size() const { return impl_->count; }

absl::StatusOr<std::shared_ptr<const CaPool>> CaPool::FromPem(std::string_view pem,
                                                              std::string_view source) {
  auto certs = ParsePemCertificates(pem, source);
  if (!certs.ok()) return certs.status();
  auto impl = std::make_unique<Impl>();
  impl->store = X509_STORE_new();
  if (impl->store == nullptr) return absl::InternalError("X509_STORE_new failed");
  for (auto& c : *certs) {
    // Duplicates in a bundle are harmless; X509_STORE_add_cert ignores them in OpenSSL 3.
    if (X509_STORE_add_cert(impl->store, c.get()) != 1) {
      ERR_clear_error();
      return absl::InvalidArgumentError(
          absl::StrCat(ToAbsl(source), ": cannot add a CA certificate to the pool"));
    }
    ++impl->count;
  }
  return std::shared_ptr<const CaPool>(new CaPool(std::move(impl), std::string(source)));
}

absl::StatusOr<std::shared_ptr<const CaPool>> CaPool::FromFile(const std::string& path) {
  auto pem = ReadFile(path);
  if (!pem.ok()) return absl::NotFoundError(absl::StrCat("cannot read CA file ", path));
  return FromPem(*pem, path);
}

absl::StatusOr<CertIdentity> CaPool::VerifyPeer(const ssl_st* ssl, absl::Time now) const {
  if (ssl == nullptr) return absl::NotFoundError("no TLS connection");
  X509* leaf = SSL_get0_peer_certificate(ssl);
  if (leaf == nullptr) return absl::NotFoundError("no client certificate");
  // On the server side the peer chain excludes the leaf: exactly the untrusted intermediates.
  return impl_->Verify(leaf, SSL_get_peer_cert_chain(ssl), now);
}

absl::StatusOr<CertIdentity> CaPool::VerifyPem(std::string_view chain_pem, absl::Time now) const {
  auto certs = ParsePemCertificates(chain_pem, "client certificate");
  if (!certs.ok()) return certs.status();
  X509StackPtr intermediates(sk_X509_new_null());
  for (size_t i = 1; i < certs->size(); ++i) sk_X509_push(intermediates.get(), (*certs)[i].get());
  auto result = impl_->Verify((*certs)[0].get(), intermediates.get(), now);
  // The stack does not own the certificates (the vector does).
  while (sk_X509_num(intermediates.get()) > 0) sk_X509_pop(intermediates.get());
  return result;
}

}  // namespace aa::auth
