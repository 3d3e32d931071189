#include "prometheus/backends.h"

#include <utility>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "net/url.h"

namespace aa::prom {

absl::StatusOr<std::string> NormalizeBackendUrl(std::string_view url) {
  absl::StatusOr<net::Url> parsed = net::ParseUrl(url);
  if (!parsed.ok()) return parsed.status();
  return absl::StrCat(parsed->scheme(), "://", absl::AsciiStrToLower(parsed->host), ":",
                      parsed->port, parsed->path);
}

Backends Backends::Single(Client& client, const std::string& url) {
  Backends backends;
  (void)backends.AddUnowned(std::string(kDefault), url, client);
  return backends;
}

absl::StatusOr<Backends> Backends::Create(const std::vector<ClientOptions>& options) {
  Backends backends;
  for (const ClientOptions& o : options) {
    absl::StatusOr<std::unique_ptr<Client>> client = NewHttpClient(o);
    if (!client.ok()) {
      return absl::Status(client.status().code(),
                          absl::StrCat("backend ", o.name, ": ", client.status().message()));
    }
    absl::Status added = backends.Add(o.name, o.url, std::shared_ptr<Client>(*std::move(client)));
    if (!added.ok()) return added;
  }
  return backends;
}

absl::Status Backends::Add(std::string name, const std::string& url,
                           std::shared_ptr<Client> client) {
  if (name.empty()) return absl::InvalidArgumentError("a backend needs a name");
  if (client == nullptr)
    return absl::InvalidArgumentError(absl::StrCat("backend ", name, ": no client"));
  if (Find(name) != nullptr) {
    return absl::InvalidArgumentError(absl::StrCat("backend ", name, ": duplicate name"));
  }
  absl::StatusOr<std::string> normalized = NormalizeBackendUrl(url);
  entries_.push_back(
      Entry{std::move(name), normalized.ok() ? *std::move(normalized) : "", std::move(client)});
  return absl::OkStatus();
}

absl::Status Backends::AddUnowned(std::string name, const std::string& url, Client& client) {
  return Add(std::move(name), url, std::shared_ptr<Client>(&client, [](Client*) {}));
}

Client* Backends::Find(std::string_view name) const {
  if (name.empty()) name = kDefault;
  for (const Entry& e : entries_) {
    if (e.name == name) return e.client.get();
  }
  return nullptr;
}

std::optional<std::string> Backends::FindByUrl(std::string_view url) const {
  absl::StatusOr<std::string> normalized = NormalizeBackendUrl(url);
  if (!normalized.ok()) return std::nullopt;
  for (const Entry& e : entries_) {
    if (!e.normalized_url.empty() && e.normalized_url == *normalized) return e.name;
  }
  return std::nullopt;
}

std::vector<std::string> Backends::Names() const {
  std::vector<std::string> names;
  names.reserve(entries_.size());
  for (const Entry& e : entries_) names.push_back(e.name);
  return names;
}

}  // namespace aa::prom
