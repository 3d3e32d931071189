#include "kube/config.h"

#include <yaml-cpp/yaml.h>

#include <cstdlib>
#include <exception>
#include <fstream>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "common/file.h"
#include "common/status_macros.h"
#include "common/strings.h"

namespace aa::kube {
namespace {

bool FileExists(const std::string& path) { return std::ifstream(path).good(); }

std::string JoinPath(std::string_view dir, const std::string& path) {
  if (path.empty() || path.front() == '/' || dir.empty()) return path;
  return absl::StrCat(ToAbsl(dir), "/", path);
}

// Finds the entry named `name` in a kubeconfig list ("clusters", "contexts", "users") and returns
// its `field` map.
absl::StatusOr<YAML::Node> FindNamed(const YAML::Node& root, const char* list, const char* field,
                                     const std::string& name, std::string_view where) {
  YAML::Node items = root[list];
  if (items && items.IsSequence()) {
    for (const auto& item : items) {
      if (!item.IsMap()) continue;
      YAML::Node n = item["name"];
      if (n && n.IsScalar() && n.as<std::string>() == name) {
        YAML::Node value = item[field];
        if (!value || value.IsNull()) return YAML::Node(YAML::NodeType::Map);
        if (!value.IsMap()) {
          return absl::InvalidArgumentError(absl::StrCat(ToAbsl(where), ": ", list, "[name=", name,
                                                         "].", field, " must be a map"));
        }
        return value;
      }
    }
  }
  return absl::InvalidArgumentError(
      absl::StrCat(ToAbsl(where), ": no entry named \"", name, "\" in ", list));
}

absl::StatusOr<std::string> Str(const YAML::Node& map, const char* key, std::string_view where) {
  YAML::Node n = map[key];
  if (!n || n.IsNull()) return std::string();
  if (!n.IsScalar()) {
    return absl::InvalidArgumentError(absl::StrCat(ToAbsl(where), ".", key, " must be a string"));
  }
  return n.as<std::string>();
}

absl::StatusOr<std::string> Base64(const YAML::Node& map, const char* key, std::string_view where) {
  AA_ASSIGN_OR_RETURN(std::string encoded, Str(map, key, where));
  if (encoded.empty()) return std::string();
  std::string decoded;
  if (!absl::Base64Unescape(encoded, &decoded) || decoded.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat(ToAbsl(where), ".", key, " is not valid base64"));
  }
  return decoded;
}

absl::StatusOr<ClientConfig> ParseKubeconfigNode(const YAML::Node& root, std::string_view dir,
                                                 std::string_view context, std::string_view where) {
  if (!root.IsMap()) return absl::InvalidArgumentError(absl::StrCat(ToAbsl(where), ": not a map"));
  std::string context_name(context);
  if (context_name.empty()) {
    AA_ASSIGN_OR_RETURN(context_name, Str(root, "current-context", where));
    if (context_name.empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat(ToAbsl(where), ": no current-context and no context given"));
    }
  }
  AA_ASSIGN_OR_RETURN(YAML::Node ctx, FindNamed(root, "contexts", "context", context_name, where));
  std::string ctx_where =
      absl::StrCat(ToAbsl(where), ": contexts[name=", context_name, "].context");
  AA_ASSIGN_OR_RETURN(std::string cluster_name, Str(ctx, "cluster", ctx_where));
  AA_ASSIGN_OR_RETURN(std::string user_name, Str(ctx, "user", ctx_where));
  AA_ASSIGN_OR_RETURN(std::string ns, Str(ctx, "namespace", ctx_where));
  if (cluster_name.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(ctx_where, ".cluster is not set"));
  }

  ClientConfig config;
  config.source = absl::StrCat("kubeconfig ", ToAbsl(where), " (context ", context_name, ")");
  if (!ns.empty()) config.default_namespace = ns;

  AA_ASSIGN_OR_RETURN(YAML::Node cluster,
                      FindNamed(root, "clusters", "cluster", cluster_name, where));
  std::string cl_where = absl::StrCat(ToAbsl(where), ": clusters[name=", cluster_name, "].cluster");
  AA_ASSIGN_OR_RETURN(config.server, Str(cluster, "server", cl_where));
  if (config.server.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(cl_where, ".server is not set"));
  }
  AA_ASSIGN_OR_RETURN(config.ca_pem, Base64(cluster, "certificate-authority-data", cl_where));
  AA_ASSIGN_OR_RETURN(std::string ca_file, Str(cluster, "certificate-authority", cl_where));
  config.ca_file = JoinPath(dir, ca_file);
  AA_ASSIGN_OR_RETURN(config.tls_server_name, Str(cluster, "tls-server-name", cl_where));
  if (YAML::Node proxy = cluster["proxy-url"]; proxy && !proxy.IsNull()) {
    config.unapplied_fields.push_back(absl::StrCat(cl_where, ".proxy-url"));
  }
  if (YAML::Node skip = cluster["insecure-skip-tls-verify"]; skip && !skip.IsNull()) {
    std::string v = skip.IsScalar() ? absl::AsciiStrToLower(skip.as<std::string>()) : "";
    if (v == "true") {
      config.insecure_skip_tls_verify = true;
    } else if (v != "false") {
      return absl::InvalidArgumentError(
          absl::StrCat(cl_where, ".insecure-skip-tls-verify must be true or false"));
    }
  }

  if (!user_name.empty()) {
    AA_ASSIGN_OR_RETURN(YAML::Node user, FindNamed(root, "users", "user", user_name, where));
    std::string u_where = absl::StrCat(ToAbsl(where), ": users[name=", user_name, "].user");
    AA_ASSIGN_OR_RETURN(config.client_cert_pem, Base64(user, "client-certificate-data", u_where));
    AA_ASSIGN_OR_RETURN(config.client_key_pem, Base64(user, "client-key-data", u_where));
    AA_ASSIGN_OR_RETURN(std::string cert_file, Str(user, "client-certificate", u_where));
    AA_ASSIGN_OR_RETURN(std::string key_file, Str(user, "client-key", u_where));
    config.client_cert_file = JoinPath(dir, cert_file);
    config.client_key_file = JoinPath(dir, key_file);
    AA_ASSIGN_OR_RETURN(config.token, Str(user, "token", u_where));
    AA_ASSIGN_OR_RETURN(std::string token_file, Str(user, "tokenFile", u_where));
    config.token_file = JoinPath(dir, token_file);
    AA_ASSIGN_OR_RETURN(config.username, Str(user, "username", u_where));
    AA_ASSIGN_OR_RETURN(config.password, Str(user, "password", u_where));
    for (const char* key :
         {"exec", "auth-provider", "as", "as-uid", "as-groups", "as-user-extra"}) {
      if (YAML::Node n = user[key]; n && !n.IsNull()) {
        config.unapplied_fields.push_back(absl::StrCat(u_where, ".", key));
      }
    }
    bool has_cert = !config.client_cert_pem.empty() || !config.client_cert_file.empty();
    bool has_key = !config.client_key_pem.empty() || !config.client_key_file.empty();
    if (has_cert != has_key) {
      return absl::InvalidArgumentError(absl::StrCat(
          u_where, ": client-certificate(-data) and client-key(-data) must be set together"));
    }
    bool has_token = !config.token.empty() || !config.token_file.empty();
    if (!has_cert && !has_token && (user["exec"] || user["auth-provider"])) {
      return absl::InvalidArgumentError(
          absl::StrCat(u_where,
                       ": exec and auth-provider credentials are not supported; use a "
                       "token, tokenFile or a client certificate"));
    }
  }
  return config;
}

}  // namespace

std::optional<std::string> ProcessEnv(std::string_view name) {
  const char* v = std::getenv(std::string(name).c_str());
  if (v == nullptr) return std::nullopt;
  return std::string(v);
}

bool InCluster(const InClusterPaths& paths, const EnvLookup& env) {
  auto host = env("KUBERNETES_SERVICE_HOST");
  auto port = env("KUBERNETES_SERVICE_PORT");
  return host.has_value() && !host->empty() && port.has_value() && !port->empty() &&
         FileExists(paths.token_file);
}

absl::StatusOr<ClientConfig> InClusterConfig(const InClusterPaths& paths, const EnvLookup& env) {
  auto host = env("KUBERNETES_SERVICE_HOST");
  auto port = env("KUBERNETES_SERVICE_PORT");
  if (!host.has_value() || host->empty() || !port.has_value() || port->empty()) {
    return absl::FailedPreconditionError(
        "not running in a cluster: KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT must be "
        "set");
  }
  int port_number = 0;
  if (!absl::SimpleAtoi(*port, &port_number) || port_number <= 0 || port_number > 65535) {
    return absl::InvalidArgumentError(
        absl::StrCat("KUBERNETES_SERVICE_PORT: not a port number: \"", *port, "\""));
  }
  for (char c : *host) {
    if (c == '/' || c == '@' || c == '[' || c == ']' ||
        absl::ascii_isspace(static_cast<unsigned char>(c))) {
      return absl::InvalidArgumentError(
          absl::StrCat("KUBERNETES_SERVICE_HOST: not a host: \"", *host, "\""));
    }
  }
  if (!ReadFile(paths.token_file).ok()) {
    return absl::FailedPreconditionError(absl::StrCat(
        "in-cluster config: cannot read the service account token ", paths.token_file));
  }
  ClientConfig config;
  bool v6 = host->find(':') != std::string::npos;
  config.server = absl::StrCat("https://", v6 ? "[" : "", *host, v6 ? "]" : "", ":", port_number);
  config.token_file = paths.token_file;
  if (FileExists(paths.ca_file)) config.ca_file = paths.ca_file;
  if (auto ns = ReadFile(paths.namespace_file); ns.ok()) {
    std::string trimmed(absl::StripAsciiWhitespace(*ns));
    if (!trimmed.empty()) config.default_namespace = trimmed;
  }
  config.source = "in-cluster";
  return config;
}

absl::StatusOr<ClientConfig> ParseKubeconfig(std::string_view text, std::string_view dir,
                                             std::string_view context,
                                             std::string_view name_for_errors) {
  YAML::Node root;
  try {
    root = YAML::Load(std::string(text));
  } catch (const std::exception& e) {
    return absl::InvalidArgumentError(
        absl::StrCat(ToAbsl(name_for_errors), ": not valid YAML: ", e.what()));
  }
  try {
    return ParseKubeconfigNode(root, dir, context, name_for_errors);
  } catch (const std::exception& e) {
    return absl::InvalidArgumentError(absl::StrCat(ToAbsl(name_for_errors), ": ", e.what()));
  }
}

absl::StatusOr<ClientConfig> LoadKubeconfig(std::string_view path, std::string_view context) {
  std::string p(path);
  auto text = ReadFile(p);
  if (!text.ok()) {
    return absl::NotFoundError(absl::StrCat("kubeconfig: cannot read ", p));
  }
  std::string dir;
  if (auto slash = p.rfind('/'); slash != std::string::npos) dir = p.substr(0, slash);
  return ParseKubeconfig(*text, dir, context, p);
}

absl::StatusOr<std::optional<ClientConfig>> ResolveClientConfig(std::string_view kubeconfig,
                                                                std::string_view context,
                                                                const InClusterPaths& paths,
                                                                const EnvLookup& env) {
  if (!kubeconfig.empty()) {
    AA_ASSIGN_OR_RETURN(ClientConfig config, LoadKubeconfig(kubeconfig, context));
    return std::optional<ClientConfig>(std::move(config));
  }
  if (!context.empty()) {
    return absl::InvalidArgumentError("a kubeconfig context was given without a kubeconfig file");
  }
  if (!InCluster(paths, env)) return std::optional<ClientConfig>();
  AA_ASSIGN_OR_RETURN(ClientConfig config, InClusterConfig(paths, env));
  return std::optional<ClientConfig>(std::move(config));
}

}  // namespace aa::kube
