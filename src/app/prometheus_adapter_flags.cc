#include "app/prometheus_adapter_flags.h"

#include <set>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "auth/tls_policy.h"
#include "common/file.h"
#include "common/status_macros.h"
#include "common/strings.h"

namespace aa::app {
namespace {

constexpr char kLogs[] =
    "logs always go to stderr, one record a line: --log-format (json or logfmt) and --log-level";
constexpr char kAudit[] =
    "no audit log here: kube-apiserver's audit log records every request it proxies to this "
    "adapter";
constexpr char kProfiling[] = "no profiling endpoints here";
constexpr char kTokenCache[] =
    "TokenReviews are cached (an authenticated token for an hour) and bounded by "
    "--token-reviews-per-second and --reviews-in-flight";
constexpr char kAccessCache[] =
    "SubjectAccessReviews are cached and bounded by --access-reviews-per-second and "
    "--reviews-in-flight";
constexpr char kAuthLookup[] =
    "the CAs come from --client-ca-file and --requestheader-client-ca-file, else from ConfigMap "
    "kube-system/extension-apiserver-authentication when the Kubernetes API is reachable (read in "
    "the background and followed while running)";

}  // namespace

const std::vector<IgnoredFlag>& IgnoredFlags() {
  static const std::vector<IgnoredFlag> flags = {
      // klog (prometheus-adapter's logs.AddFlags)
      {"logtostderr", true, kLogs},
      {"alsologtostderr", true, kLogs},
      {"log-dir", false, kLogs},
      {"log-file", false, kLogs},
      {"log-file-max-size", false, kLogs},
      {"log-flush-frequency", false, "each record is written at once"},
      {"skip-headers", true, kLogs},
      {"skip-log-headers", true, kLogs},
      {"add-dir-header", true, kLogs},
      {"one-output", true, kLogs},
      {"stderrthreshold", false, kLogs},
      {"log-backtrace-at", false, kLogs},
      {"vmodule", false, "one level for every record: --log-level (or --v)"},
      // The generic API server: serving
      {"tls-sni-cert-key", false,
       "one serving certificate: --tls-cert-file and --tls-private-key-file (reloaded when the "
       "files change)"},
      {"http2-max-streams-per-connection", false,
       "the HTTPS port speaks HTTP/1.1, bounded by --max-connections and --max-queued-requests"},
      {"permit-port-sharing", true, "each port is bound by one process"},
      {"permit-address-sharing", true, "each port is bound by one process"},
      // authentication and authorization
      {"authentication-skip-lookup", true, kAuthLookup},
      {"authentication-tolerate-lookup-failure", true, kAuthLookup},
      {"authentication-token-webhook-cache-ttl", false, kTokenCache},
      {"authorization-webhook-cache-authorized-ttl", false, kAccessCache},
      {"authorization-webhook-cache-unauthorized-ttl", false, kAccessCache},
      {"authorization-always-allow-paths", false,
       "/healthz, /livez and /readyz need no credentials; /metrics is on the plain-HTTP port "
       "(--http-listen)"},
      {"requestheader-uid-headers", false,
       "the front proxy's user and groups come from --requestheader-username-headers and "
       "--requestheader-group-headers; a UID is not used"},
      // audit
      {"audit-policy-file", false, kAudit},
      {"audit-log-path", false, kAudit},
      {"audit-log-maxage", false, kAudit},
      {"audit-log-maxbackup", false, kAudit},
      {"audit-log-maxsize", false, kAudit},
      {"audit-log-format", false, kAudit},
      {"audit-log-compress", true, kAudit},
      {"audit-log-mode", false, kAudit},
      {"audit-log-version", false, kAudit},
      {"audit-log-batch-buffer-size", false, kAudit},
      {"audit-log-batch-max-size", false, kAudit},
      {"audit-log-batch-max-wait", false, kAudit},
      {"audit-log-batch-throttle-enable", true, kAudit},
      {"audit-log-batch-throttle-qps", false, kAudit},
      {"audit-log-batch-throttle-burst", false, kAudit},
      {"audit-log-truncate-enabled", true, kAudit},
      {"audit-log-truncate-max-batch-size", false, kAudit},
      {"audit-log-truncate-max-event-size", false, kAudit},
      {"audit-webhook-config-file", false, kAudit},
      {"audit-webhook-initial-backoff", false, kAudit},
      {"audit-webhook-mode", false, kAudit},
      {"audit-webhook-version", false, kAudit},
      {"audit-webhook-batch-buffer-size", false, kAudit},
      {"audit-webhook-batch-max-size", false, kAudit},
      {"audit-webhook-batch-max-wait", false, kAudit},
      {"audit-webhook-batch-throttle-enable", true, kAudit},
      {"audit-webhook-batch-throttle-qps", false, kAudit},
      {"audit-webhook-batch-throttle-burst", false, kAudit},
      {"audit-webhook-truncate-enabled", true, kAudit},
      {"audit-webhook-truncate-max-batch-size", false, kAudit},
      {"audit-webhook-truncate-max-event-size", false, kAudit},
      // features
      {"profiling", true, kProfiling},
      {"contention-profiling", true, kProfiling},
      {"debug-socket-path", false, kProfiling},
      // custom-metrics-apiserver's AdapterBase, and old prometheus-adapter releases
      {"discovery-interval", false,
       "resources come from a built-in table and the rules' overrides; there is no API discovery "
       "to refresh"},
      {"rate-interval", false,
       "rate windows are written in the queries (metricsQuery, preset.window)"},
  };
  return flags;
}

CommandLineWithoutIgnored DropIgnoredFlags(const std::vector<std::string>& args,
                                           const FlagLookup& registered) {
  CommandLineWithoutIgnored out;
  size_t i = 0;
  if (!args.empty()) out.args.push_back(args[i++]);
  for (; i < args.size(); ++i) {
    const std::string& arg = args[i];
    if (arg == "--") {
      out.args.insert(out.args.end(), args.begin() + static_cast<ptrdiff_t>(i), args.end());
      break;
    }
    out.args.push_back(arg);
    if (arg.size() < 2 || arg[0] != '-') continue;
    const size_t start = arg[1] == '-' ? 2 : 1;
    const size_t eq = arg.find('=');
    const std::string name =
        arg.substr(start, eq == std::string::npos ? std::string::npos : eq - start);
    const std::string dashed = absl::StrReplaceAll(name, {{"_", "-"}});
    const IgnoredFlag* ignored = nullptr;
    for (const IgnoredFlag& f : IgnoredFlags()) {
      if (f.name == dashed) ignored = &f;
    }
    if (ignored == nullptr) {
      // One of the program's own flags: its separate value is no flag, whatever it looks like.
      std::optional<FlagKind> kind = registered(absl::StrReplaceAll(name, {{"-", "_"}}));
      if (kind.has_value() && !kind->is_bool && eq == std::string::npos && i + 1 < args.size()) {
        out.args.push_back(args[++i]);
      }
      continue;
    }
    out.args.pop_back();
    out.dropped.push_back({absl::StrCat("--", dashed), std::string(ignored->instead)});
    if (!ignored->is_bool && eq == std::string::npos) ++i;  // its value
  }
  return out;
}

absl::StatusOr<std::string> LogLevelForVerbosity(int verbosity) {
  if (verbosity < 0) {
    return absl::InvalidArgumentError(absl::StrCat("--v=", verbosity, ": want 0 or more"));
  }
  return verbosity >= 4 ? "debug" : "info";
}

absl::StatusOr<std::string> SecurePortListen(std::string_view bind_address, int port) {
  if (port < 0 || port > 65535) {
    return absl::InvalidArgumentError(
        absl::StrCat("--secure-port=", port, ": want 0..65535 (0 picks a free port)"));
  }
  if (bind_address.empty() || bind_address == "0.0.0.0") return absl::StrCat(":", port);
  if (bind_address.find_first_of("[]/") != std::string_view::npos) {
    return absl::InvalidArgumentError(absl::StrCat("--bind-address=", ToAbsl(bind_address),
                                                   ": want an IP address without a port"));
  }
  const bool v6 = bind_address.find(':') != std::string_view::npos;
  return absl::StrCat(v6 ? "[" : "", ToAbsl(bind_address), v6 ? "]" : "", ":", port);
}

absl::StatusOr<std::map<std::string, std::string>> ParsePrometheusHeaders(
    const std::vector<std::string>& values) {
  std::map<std::string, std::string> headers;
  std::set<std::string> seen;
  for (const std::string& v : values) {
    const size_t eq = v.find('=');
    const std::string name = eq == std::string::npos ? "" : v.substr(0, eq);
    if (eq == std::string::npos || name.empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat("--prometheus-header=", v, ": want Name=Value"));
    }
    if (!seen.insert(absl::AsciiStrToLower(name)).second) {
      return absl::InvalidArgumentError(
          absl::StrCat("--prometheus-header: header ", name, " given twice"));
    }
    headers[name] = v.substr(eq + 1);
  }
  return headers;
}

CipherSuites DropInsecureCipherSuites(const std::vector<std::string>& names) {
  CipherSuites out;
  for (const std::string& name : names) {
    std::string_view reason = auth::InsecureCipherSuiteReason(name);
    if (reason.empty()) {
      out.kept.push_back(name);
    } else {
      out.dropped.push_back(absl::StrCat(name, " (", ToAbsl(reason), ")"));
    }
  }
  return out;
}

absl::Status ApplyPrometheusAuthConfig(const std::string& path, PrivateTempDir& secrets,
                                       prom::ClientOptions* options) {
  auto loaded = kube::LoadKubeconfig(path);
  if (!loaded.ok()) {
    return absl::Status(loaded.status().code(),
                        absl::StrCat("--prometheus-auth-config: ", loaded.status().message()));
  }
  const kube::ClientConfig& k = *loaded;
  if (!k.unapplied_fields.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--prometheus-auth-config: not supported for Prometheus: ",
        absl::StrJoin(k.unapplied_fields, ", "),
        " (use certificate-authority, client-certificate/client-key, token, tokenFile or "
        "username/password)"));
  }
  const bool has_token = !k.token.empty() || !k.token_file.empty();
  if (has_token && !k.username.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("--prometheus-auth-config: ", path,
                     ": the user has both a token and username/password; keep one"));
  }
  // Inline secrets go to files only this process's user can read; what the kubeconfig does not
  // set keeps the value it had (the config file's).
  auto apply = [&](const std::string& data, std::string_view name, const std::string& file,
                   std::string* out) -> absl::Status {
    if (!data.empty()) {
      AA_ASSIGN_OR_RETURN(*out, secrets.WriteFile(name, data));
    } else if (!file.empty()) {
      *out = file;
    }
    return absl::OkStatus();
  };
  prom::TlsOptions& tls = options->tls;
  AA_RETURN_IF_ERROR(apply(k.ca_pem, "ca.crt", k.ca_file, &tls.ca_file));
  AA_RETURN_IF_ERROR(apply(k.client_cert_pem, "client.crt", k.client_cert_file, &tls.cert_file));
  AA_RETURN_IF_ERROR(apply(k.client_key_pem, "client.key", k.client_key_file, &tls.key_file));
  if (!k.tls_server_name.empty()) tls.server_name = k.tls_server_name;
  if (k.insecure_skip_tls_verify) tls.insecure_skip_verify = true;
  // tokenFile wins over an inline token, as client-go reads them.
  if (!k.token_file.empty()) {
    options->bearer_token_file = k.token_file;
  } else if (!k.token.empty()) {
    AA_ASSIGN_OR_RETURN(options->bearer_token_file, secrets.WriteFile("token", k.token));
  }
  if (!k.username.empty()) {
    options->basic_auth_username = k.username;
    options->basic_auth_password = k.password;
  }
  return absl::OkStatus();
}

absl::Status ApplyInClusterPrometheusAuth(const kube::InClusterPaths& paths,
                                          prom::ClientOptions* options) {
  if (!ReadFile(paths.token_file).ok()) {
    return absl::FailedPreconditionError(
        absl::StrCat("--prometheus-auth-incluster: cannot read the service account token ",
                     paths.token_file, " (not running in a pod?)"));
  }
  options->bearer_token_file = paths.token_file;
  if (ReadFile(paths.ca_file).ok()) options->tls.ca_file = paths.ca_file;
  return absl::OkStatus();
}

}  // namespace aa::app
