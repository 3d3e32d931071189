#pragma once
// prometheus-adapter's command line, understood here: what the flags its Deployment and Helm chart
// pass (its own, those of the Kubernetes generic API server it is built on, klog's) mean for this
// adapter. adapter_main.cc defines the flags that have a meaning (--secure-port, --cert-dir,
// --prometheus-auth-config...) and maps them with these helpers; the flags with no meaning here
// are taken out of the command line before parsing (DropIgnoredFlags), each with a warning naming
// what does it here, so "change the image, keep the args" starts. Library
// aa_prometheus_adapter_flags.

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "common/file.h"
#include "common/flag_names.h"
#include "kube/config.h"
#include "prometheus/client.h"

namespace aa::app {

// A flag of prometheus-adapter's with no meaning here.
struct IgnoredFlag {
  std::string_view name;     // dash form, e.g. "audit-log-path"
  bool is_bool = false;      // never takes the next argument as its value
  std::string_view instead;  // what does it here, for the warning
};
// Every such flag: klog's output flags (--logtostderr, --log-dir...), the generic API server's
// audit, profiling and webhook-cache flags, --discovery-interval, --rate-interval...
const std::vector<IgnoredFlag>& IgnoredFlags();

struct DroppedFlag {
  std::string flag;     // dash form with its leading "--", without the value: "--logtostderr"
  std::string instead;  // IgnoredFlag::instead
};
struct CommandLineWithoutIgnored {
  std::vector<std::string> args;  // args[0] and the rest, in order, without the ignored flags
  std::vector<DroppedFlag> dropped;
};
// Takes the ignored flags out of `args` (args[0] is the program): written with dashes or
// underscores (klog's own spelling, --log_dir), with one or two leading dashes, as --name=value or,
// for those that take a value, --name value. `registered` knows the program's own flags, so the
// value of one of them (--config --logtostderr) is never mistaken for a flag. Nothing after "--"
// is touched.
CommandLineWithoutIgnored DropIgnoredFlags(const std::vector<std::string>& args,
                                           const FlagLookup& registered);

// klog's verbosity (--v=N) as a log level: 0 to 3 info, 4 and more debug (klog's V(4) is
// debug-level detail). InvalidArgument for a negative N.
absl::StatusOr<std::string> LogLevelForVerbosity(int verbosity);

// --bind-address and --secure-port as a listen address: "" and 0.0.0.0 -> ":port" (every IPv4
// address), an IPv6 address (:: included) -> "[addr]:port", anything else "addr:port". Port 0
// picks a free one (the Kubernetes API server refuses 0). InvalidArgument naming the flag for a
// port outside 0..65535 or a bind address with a port or brackets.
absl::StatusOr<std::string> SecurePortListen(std::string_view bind_address, int port);

// The values of the repeatable --prometheus-header Name=Value as headers. InvalidArgument naming
// the flag and the value for a value without '=', an empty name, or a name given twice (any case).
absl::StatusOr<std::map<std::string, std::string>> ParsePrometheusHeaders(
    const std::vector<std::string>& values);

// --tls-cipher-suites with the suites Kubernetes knows but this port never offers (CBC, RSA key
// exchange, RC4, 3DES; auth::InsecureCipherSuiteReason) taken out: prometheus-adapter's
// Deployment lists 15 suites, 9 of them such. Unknown names stay (auth::ParseTlsPolicy refuses
// them by name).
struct CipherSuites {
  std::vector<std::string> kept;
  std::vector<std::string> dropped;  // "NAME (reason)"
};
CipherSuites DropInsecureCipherSuites(const std::vector<std::string>& names);

// --prometheus-auth-config: the TLS and credentials of a kubeconfig's current context, applied to
// the Prometheus client as prometheus-adapter applies them to its transport (the cluster's server
// is not used: --prometheus-url says where Prometheus is): certificate-authority(-data) ->
// tls.ca_file, insecure-skip-tls-verify, tls-server-name, client-certificate(-data) and
// client-key(-data) -> tls.cert_file/key_file, token and tokenFile -> bearer_token_file (tokenFile
// re-read on every request), username/password -> basic auth; what it does not set stays as it
// was. Inline data (the -data keys, an
// inline token) is written to `secrets` (a private directory, files mode 0600), never elsewhere.
// Errors name the file and the field: InvalidArgument for what the kubeconfig loader refuses, for
// fields it does not apply (exec, auth-provider, impersonation, proxy-url), and for a token
// together with username/password; NotFound for an unreadable file.
absl::Status ApplyPrometheusAuthConfig(const std::string& path, PrivateTempDir& secrets,
                                       prom::ClientOptions* options);

// --prometheus-auth-incluster: the pod's service account token (re-read on every request, so
// rotation works) and CA, as prometheus-adapter's in-cluster transport. FailedPrecondition when
// the token file cannot be read (not in a pod).
absl::Status ApplyInClusterPrometheusAuth(const kube::InClusterPaths& paths,
                                          prom::ClientOptions* options);

}  // namespace aa::app
