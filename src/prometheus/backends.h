#pragma once
// The configured Prometheus-API backends by name: `default` (the `prometheus:` section) and the
// named entries of `backends:`. Code that queries a backend asks this registry for its client; the
// KEDA ad-hoc path also asks which backend a URL names.
//
//   prom::Backends backends;
//   backends.Add("default", "http://prometheus:9090", std::move(client));
//   prom::Client* c = backends.Find(definition.backend);   // "" is the default backend
//
// Filled once before use, then read only: const methods are thread-safe. Copies share the clients.

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "prometheus/client.h"

namespace aa::prom {

class Backends {
 public:
  // The name of the `prometheus:` section's backend, and of "" in Find().
  static constexpr std::string_view kDefault = "default";

  // One backend, `default`, with a client the caller owns (it must outlive every copy); `url` for
  // FindByUrl ("" matches nothing).
  static Backends Single(Client& client, const std::string& url = "");

  // Builds an HTTP client (NewHttpClient) for each of `options`, named by its `name`. Errors as
  // NewHttpClient's, prefixed "backend <name>: "; InvalidArgument for a duplicate name.
  static absl::StatusOr<Backends> Create(const std::vector<ClientOptions>& options);

  // Adds backend `name` at `url` (the configured base URL). InvalidArgument for a duplicate or
  // empty name, or a null client. Call before sharing the registry.
  absl::Status Add(std::string name, const std::string& url, std::shared_ptr<Client> client);
  // As Add(), with a client the caller owns (it must outlive every copy).
  absl::Status AddUnowned(std::string name, const std::string& url, Client& client);

  // The client of backend `name` ("" means `default`), or nullptr when there is none.
  Client* Find(std::string_view name) const;

  // The name of the backend whose URL is `url`, compared normalized: scheme and host in any case,
  // the port with its scheme's default (http 80, https 443), the path without a trailing '/';
  // credentials in `url` are ignored. nullopt when `url` is not a valid http(s) URL or no backend
  // has it.
  std::optional<std::string> FindByUrl(std::string_view url) const;

  // The names, in the order added.
  std::vector<std::string> Names() const;
  size_t size() const { return entries_.size(); }
  bool empty() const { return entries_.empty(); }

 private:
  struct Entry {
    std::string name;
    std::string normalized_url;  // "" when the URL is empty or invalid
    std::shared_ptr<Client> client;
  };
  std::vector<Entry> entries_;
};

// Normalizes a backend URL for comparison (see Backends::FindByUrl): "scheme://host:port/path".
// InvalidArgument when it is not an http(s) URL.
absl::StatusOr<std::string> NormalizeBackendUrl(std::string_view url);

}  // namespace aa::prom
