#include "auth/trust_config.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "nlohmann/json.hpp"

namespace aa::auth {
namespace {

constexpr char kConfigMapName[] = "configmap kube-system/extension-apiserver-authentication";

// A JSON-encoded list of strings, as kube-apiserver writes them ("[\"front-proxy-client\"]").
absl::StatusOr<std::vector<std::string>> JsonList(const std::string& text, const std::string& key) {
  nlohmann::json j = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  auto bad = [&] {
    return absl::InvalidArgumentError(absl::StrCat(
        kConfigMapName, " key ", key, ": want a JSON list of strings, got \"", text, "\""));
  };
  if (j.is_discarded() || !(j.is_array() || j.is_null())) return bad();
  std::vector<std::string> out;
  if (j.is_null()) return out;
  for (const auto& v : j) {
    if (!v.is_string()) return bad();
    out.push_back(v.get<std::string>());
  }
  return out;
}

const std::string* Get(const std::map<std::string, std::string>* m, const std::string& key) {
  if (m == nullptr) return nullptr;
  auto it = m->find(key);
  return it == m->end() || it->second.empty() ? nullptr : &it->second;
}

}  // namespace

absl::StatusOr<TrustConfig> BuildTrustConfig(const TrustFlags& flags,
                                             const std::map<std::string, std::string>* configmap) {
  TrustConfig trust;
  if (!flags.client_ca_file.empty()) {
    auto pool = CaPool::FromFile(flags.client_ca_file);
    if (!pool.ok()) return pool.status();
    trust.client_ca = *pool;
  } else if (const std::string* pem = Get(configmap, "client-ca-file")) {
    auto pool = CaPool::FromPem(*pem, absl::StrCat(kConfigMapName, " key client-ca-file"));
    if (!pool.ok()) return pool.status();
    trust.client_ca = *pool;
  }

  RequestHeaderConfig rh;
  auto list = [&](const std::vector<std::string>& flag, const std::string& key,
                  std::vector<std::string>* out) -> absl::Status {
    if (!flag.empty()) {
      *out = flag;
      return absl::OkStatus();
    }
    if (flags.requestheader_client_ca_file.empty()) {
      if (const std::string* text = Get(configmap, key)) {
        auto parsed = JsonList(*text, key);
        if (!parsed.ok()) return parsed.status();
        if (!parsed->empty()) *out = *parsed;
      }
    }
    return absl::OkStatus();
  };
  if (!flags.requestheader_client_ca_file.empty()) {
    auto pool = CaPool::FromFile(flags.requestheader_client_ca_file);
    if (!pool.ok()) return pool.status();
    rh.client_ca = *pool;
    rh.allowed_names = flags.requestheader_allowed_names;
  } else if (const std::string* pem = Get(configmap, "requestheader-client-ca-file")) {
    auto pool =
        CaPool::FromPem(*pem, absl::StrCat(kConfigMapName, " key requestheader-client-ca-file"));
    if (!pool.ok()) return pool.status();
    rh.client_ca = *pool;
    if (auto s = list(flags.requestheader_allowed_names, "requestheader-allowed-names",
                      &rh.allowed_names);
        !s.ok()) {
      return s;
    }
  }
  if (rh.client_ca) {
    for (auto [flag, key, out] :
         {std::tuple{&flags.requestheader_username_headers, "requestheader-username-headers",
                     &rh.username_headers},
          std::tuple{&flags.requestheader_group_headers, "requestheader-group-headers",
                     &rh.group_headers},
          std::tuple{&flags.requestheader_extra_headers_prefix,
                     "requestheader-extra-headers-prefix", &rh.extra_headers_prefixes}}) {
      if (auto s = list(*flag, key, out); !s.ok()) return s;
    }
    trust.request_header = rh;
  }
  return trust;
}

bool FlagsCoverEverything(const TrustFlags& flags) {
  return !flags.client_ca_file.empty() && !flags.requestheader_client_ca_file.empty();
}

std::string DescribeTrust(const TrustConfig& trust) {
  std::string out = trust.client_ca ? absl::StrCat("client CA: ", trust.client_ca->source(), " (",
                                                   trust.client_ca->size(), " certificate(s))")
                                    : std::string("client CA: none");
  if (trust.request_header) {
    const auto& rh = *trust.request_header;
    absl::StrAppend(&out, "; front proxy CA: ", rh.client_ca->source(), " (", rh.client_ca->size(),
                    " certificate(s)), allowed names [", absl::StrJoin(rh.allowed_names, ","),
                    "], user headers [", absl::StrJoin(rh.username_headers, ","),
                    "], group headers [", absl::StrJoin(rh.group_headers, ","),
                    "], extra prefixes [", absl::StrJoin(rh.extra_headers_prefixes, ","), "]");
  } else {
    absl::StrAppend(&out, "; front proxy: none (X-Remote-* headers never trusted)");
  }
  return out;
}

}  // namespace aa::auth
