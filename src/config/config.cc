#include "config/config.h"

#include <yaml-cpp/eventhandler.h>
#include <yaml-cpp/yaml.h>

#include <cerrno>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <exception>
#include <fstream>
#include <initializer_list>
#include <limits>
#include <set>
#include <sstream>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/duration.h"
#include "common/enum_names.h"
#include "common/status_macros.h"
#include "common/strings.h"
#include "config/go_template.h"
#include "config/internal/presets.h"
#include "config/internal/syntax.h"
#include "prometheus/backends.h"
#include "re2/re2.h"

namespace aa::config {
namespace {

using internal::QuoteForMessage;

constexpr size_t kMaxConfigBytes = 1 << 20;
constexpr int64_t kMaxRetries = 10;

// Builds error statuses in the one message shape: "<source>: <path>: <problem>[ (got <value>)]".
class Errors {
 public:
  explicit Errors(std::string source) : source_(std::move(source)) {}

  const std::string& source() const { return source_; }
  // The YAML text, to find where a block scalar's content starts.
  void set_text(std::string_view text) { text_ = text; }

  // The 1-based line of `node` in the file, plus `line_in_value - 1` lines into its value (for a
  // block scalar, whose content starts on the line after its `|` or `>`). 0 when unknown.
  int LineOf(const YAML::Node& node, int line_in_value = 1) const {
    const YAML::Mark mark = node.Mark();
    if (mark.is_null()) return 0;
    int line = mark.line + line_in_value;
    if (mark.pos >= 0 && static_cast<size_t>(mark.pos) < text_.size() &&
        (text_[mark.pos] == '|' || text_[mark.pos] == '>')) {
      ++line;
    }
    return line;
  }

  absl::Status At(std::string_view path, std::string_view problem) const {
    if (path.empty())
      return absl::InvalidArgumentError(absl::StrCat(source_, ": ", ToAbsl(problem)));
    return absl::InvalidArgumentError(
        absl::StrCat(source_, ": ", ToAbsl(path), ": ", ToAbsl(problem)));
  }
  // With the offending text value.
  absl::Status AtValue(std::string_view path, std::string_view problem,
                       std::string_view value) const {
    return At(path, absl::StrCat(ToAbsl(problem), " (got \"", QuoteForMessage(value), "\")"));
  }
  // With the offending YAML node: its text when it is a scalar, else its kind.
  absl::Status AtNode(std::string_view path, std::string_view problem,
                      const YAML::Node& node) const {
    switch (node.Type()) {
      case YAML::NodeType::Scalar:
        return AtValue(path, problem, node.Scalar());
      case YAML::NodeType::Sequence:
        return At(path, absl::StrCat(ToAbsl(problem), " (got a list)"));
      case YAML::NodeType::Map:
        return At(path, absl::StrCat(ToAbsl(problem), " (got a map)"));
      default:
        return At(path, absl::StrCat(ToAbsl(problem), " (got null)"));
    }
  }

 private:
  std::string source_;
  std::string_view text_;
};

std::string JoinPath(std::string_view parent, std::string_view key) {
  if (parent.empty()) return std::string(key);
  return absl::StrCat(ToAbsl(parent), ".", ToAbsl(key));
}

bool IsSet(const YAML::Node& node) { return node.IsDefined() && !node.IsNull(); }

// A YAML map checked against the keys one object accepts, with typed readers that leave the output
// untouched when the key is absent or null.
class MapView {
 public:
  // `first_key`, when not empty, is accepted too (listed first in messages): a map that has the
  // keys of another plus one, as a `backends:` entry has those of `prometheus:` plus `name`.
  static absl::StatusOr<MapView> Open(const Errors& errors, const YAML::Node& node,
                                      std::string path,
                                      std::initializer_list<std::string_view> known,
                                      std::string_view first_key = {}) {
    MapView view(errors, std::move(path));
    if (!IsSet(node)) return view;
    if (!node.IsMap()) return errors.AtNode(view.path_, "expected a map", node);
    // yaml-cpp's iterators yield temporaries: copy the nodes out (they are handles).
    for (auto it = node.begin(); it != node.end(); ++it) {
      const YAML::Node key_node = it->first;
      const YAML::Node value_node = it->second;
      if (!key_node.IsScalar())
        return errors.AtNode(view.path_, "map keys must be strings", key_node);
      std::string key = key_node.Scalar();
      std::string key_path = JoinPath(view.path_, QuoteForMessage(key));
      bool is_known = !first_key.empty() && first_key == key;
      for (std::string_view k : known) is_known = is_known || k == key;
      if (!is_known) {
        std::vector<std::string> names;
        if (!first_key.empty()) names.emplace_back(first_key);
        names.insert(names.end(), known.begin(), known.end());
        return errors.At(
            key_path, absl::StrCat("unknown field; expected one of: ", absl::StrJoin(names, ", ")));
      }
      for (const auto& [seen, unused] : view.entries_) {
        if (seen == key) return errors.At(key_path, "duplicate key");
      }
      view.entries_.emplace_back(std::move(key), value_node);
    }
    return view;
  }

  const std::string& path() const { return path_; }
  std::string Path(std::string_view key) const { return JoinPath(path_, key); }

  // The node under `key`, or an undefined/null node.
  YAML::Node Get(std::string_view key) const {
    for (const auto& [k, v] : entries_) {
      if (k == key) return v;
    }
    return YAML::Node(YAML::NodeType::Null);
  }
  bool Has(std::string_view key) const { return IsSet(Get(key)); }

  // An error at `key` showing the value as written, or `fallback` (the default in effect) when it
  // is not set.
  absl::Status ErrorAt(std::string_view key, std::string_view problem,
                       std::string_view fallback) const {
    YAML::Node n = Get(key);
    if (IsSet(n)) return errors_->AtNode(Path(key), problem, n);
    return errors_->AtValue(Path(key), problem, fallback);
  }

  absl::Status String(std::string_view key, std::string* out) const {
    YAML::Node n = Get(key);
    if (!IsSet(n)) return absl::OkStatus();
    if (!n.IsScalar()) return errors_->AtNode(Path(key), "expected a string", n);
    *out = n.Scalar();
    return absl::OkStatus();
  }

  absl::Status Bool(std::string_view key, bool* out) const {
    YAML::Node n = Get(key);
    if (!IsSet(n)) return absl::OkStatus();
    if (n.IsScalar() && n.Tag() != "!") {
      const std::string& s = n.Scalar();
      if (s == "true" || s == "True" || s == "TRUE") {
        *out = true;
        return absl::OkStatus();
      }
      if (s == "false" || s == "False" || s == "FALSE") {
        *out = false;
        return absl::OkStatus();
      }
    }
    return errors_->AtNode(Path(key), "expected true or false", n);
  }

  absl::Status Int(std::string_view key, int64_t min, int64_t max, int64_t* out) const {
    YAML::Node n = Get(key);
    if (!IsSet(n)) return absl::OkStatus();
    int64_t value = 0;
    if (!n.IsScalar() || n.Tag() == "!" || !absl::SimpleAtoi(n.Scalar(), &value)) {
      return errors_->AtNode(Path(key), "expected an integer", n);
    }
    if (value < min || value > max) {
      return errors_->AtNode(Path(key), absl::StrCat("must be between ", min, " and ", max), n);
    }
    *out = value;
    return absl::OkStatus();
  }

  // A finite number, for which `ok` holds; `requirement` says what ok means ("must be > 0").
  template <typename Pred>
  absl::Status Number(std::string_view key, Pred ok, std::string_view requirement,
                      std::optional<double>* out) const {
    YAML::Node n = Get(key);
    if (!IsSet(n)) return absl::OkStatus();
    double value = 0;
    if (!n.IsScalar() || n.Tag() == "!" || !absl::SimpleAtod(n.Scalar(), &value)) {
      return errors_->AtNode(Path(key), "expected a number", n);
    }
    if (!std::isfinite(value) || !ok(value)) return errors_->AtNode(Path(key), requirement, n);
    *out = value;
    return absl::OkStatus();
  }

  absl::Status Duration(std::string_view key, absl::Duration* out) const {
    YAML::Node n = Get(key);
    if (!IsSet(n)) return absl::OkStatus();
    if (!n.IsScalar()) return errors_->AtNode(Path(key), "expected a duration", n);
    absl::StatusOr<absl::Duration> d = ParseGoDuration(n.Scalar());
    if (!d.ok())
      return errors_->AtNode(Path(key), "not a duration (write it like 5s, 1m30s or 250ms)", n);
    *out = *d;
    return absl::OkStatus();
  }

  absl::Status StringList(std::string_view key, std::vector<std::string>* out) const {
    YAML::Node n = Get(key);
    if (!IsSet(n)) return absl::OkStatus();
    if (!n.IsSequence()) return errors_->AtNode(Path(key), "expected a list of strings", n);
    out->clear();
    for (size_t i = 0; i < n.size(); ++i) {
      const YAML::Node item = n[i];
      if (!item.IsScalar())
        return errors_->AtNode(absl::StrCat(Path(key), "[", i, "]"), "expected a string", item);
      out->push_back(item.Scalar());
    }
    return absl::OkStatus();
  }

  absl::Status StringMap(std::string_view key, std::map<std::string, std::string>* out) const {
    YAML::Node n = Get(key);
    if (!IsSet(n)) return absl::OkStatus();
    if (!n.IsMap()) return errors_->AtNode(Path(key), "expected a map of strings", n);
    out->clear();
    for (auto it = n.begin(); it != n.end(); ++it) {
      const YAML::Node key_node = it->first;
      const YAML::Node value_node = it->second;
      if (!key_node.IsScalar()) {
        return errors_->AtNode(Path(key), "map keys must be strings", key_node);
      }
      const std::string& k = key_node.Scalar();
      std::string item_path = JoinPath(Path(key), QuoteForMessage(k));
      // Values may be secrets (custom auth headers): never echo them.
      if (!value_node.IsScalar()) return errors_->At(item_path, "expected a string");
      if (!out->emplace(k, value_node.Scalar()).second)
        return errors_->At(item_path, "duplicate key");
    }
    return absl::OkStatus();
  }

 private:
  MapView(const Errors& errors, std::string path) : errors_(&errors), path_(std::move(path)) {}

  const Errors* errors_;
  std::string path_;
  std::vector<std::pair<std::string, YAML::Node>> entries_;
};

// Checks on prometheus options that hold whether they came from YAML or from flags.
// `path` is where they were written: "prometheus" or "backends[2]".
absl::Status ValidatePrometheus(const Errors& errors, std::string_view path,
                                const prom::ClientOptions& o, bool require_url) {
  auto at = [path](std::string_view key) { return JoinPath(path, key); };
  if (o.url.empty()) {
    if (require_url) {
      return errors.At(at("url"), "required: set it in the configuration or with --prometheus-url");
    }
  } else if (std::string problem = internal::UrlProblem(o.url); !problem.empty()) {
    return errors.AtValue(at("url"), problem, o.url);
  }
  for (const auto& [name, value] : o.headers) {
    std::string header_path = at(absl::StrCat("headers.", QuoteForMessage(name)));
    if (!internal::IsHttpToken(name)) return errors.At(header_path, "not a valid HTTP header name");
    if (value.find_first_of(std::string_view("\r\n\0", 3)) != std::string::npos) {
      return errors.At(header_path, "header values must not contain CR, LF or NUL");
    }
    if (absl::EqualsIgnoreCase(name, "Authorization") &&
        (!o.bearer_token_file.empty() || !o.basic_auth_username.empty())) {
      return errors.At(header_path,
                       "conflicts with bearerTokenFile/basicAuth, which set Authorization");
    }
  }
  const bool has_basic = !o.basic_auth_username.empty() || !o.basic_auth_password.empty() ||
                         !o.basic_auth_password_file.empty();
  if (!o.bearer_token_file.empty() && has_basic) {
    return errors.At(at("bearerTokenFile"), "set either bearerTokenFile or basicAuth, not both");
  }
  if (!o.basic_auth_password.empty() && !o.basic_auth_password_file.empty()) {
    return errors.At(at("basicAuth.passwordFile"), "set either password or passwordFile, not both");
  }
  if (has_basic && o.basic_auth_username.empty()) {
    return errors.At(at("basicAuth.username"), "required when basicAuth is set");
  }
  if (!o.tls.key_file.empty() && o.tls.cert_file.empty()) {
    return errors.AtValue(at("tls.keyFile"), "needs tls.certFile", o.tls.key_file);
  }
  if (!o.tls.cert_file.empty() && o.tls.key_file.empty()) {
    return errors.AtValue(at("tls.certFile"), "needs tls.keyFile", o.tls.cert_file);
  }
  if (o.timeout <= absl::ZeroDuration()) {
    return errors.AtValue(at("timeout"), "must be positive", FormatGoDuration(o.timeout));
  }
  if (o.max_retries < 0 || o.max_retries > kMaxRetries) {
    return errors.AtValue(at("maxRetries"), absl::StrCat("must be between 0 and ", kMaxRetries),
                          absl::StrCat(o.max_retries));
  }
  if (o.retry_backoff < absl::ZeroDuration()) {
    return errors.AtValue(at("retryBackoff"), "must not be negative",
                          FormatGoDuration(o.retry_backoff));
  }
  if (o.method != "auto" && o.method != "GET" && o.method != "POST") {
    return errors.AtValue(at("method"), "must be auto, GET or POST", o.method);
  }
  if (o.max_response_bytes < 1)
    return errors.AtValue(at("maxResponseBytes"), "must be at least 1", "0");
  return absl::OkStatus();
}

// Reads the `prometheus:` section (`path` "prometheus", `name` null) or one `backends:` entry at
// `path`: the same keys plus `name`, read into *name.
absl::Status ReadPrometheus(const Errors& errors, const YAML::Node& node, const std::string& path,
                            std::string* name, prom::ClientOptions* o) {
  AA_ASSIGN_OR_RETURN(
      MapView m, MapView::Open(errors, node, path,
                               {"url", "headers", "bearerTokenFile", "basicAuth", "tls", "timeout",
                                "maxRetries", "retryBackoff", "method", "postThresholdBytes",
                                "maxResponseBytes", "acceptWarnings"},
                               name != nullptr ? "name" : ""));
  if (name != nullptr) {
    AA_RETURN_IF_ERROR(m.String("name", name));
    if (!m.Has("name")) return errors.At(m.Path("name"), "required");
    if (!internal::IsNamespaceName(*name)) {
      return errors.AtValue(m.Path("name"),
                            "must be a DNS-1123 label (a-z, 0-9 and '-', at most 63 characters)",
                            *name);
    }
  }
  AA_RETURN_IF_ERROR(m.String("url", &o->url));
  AA_RETURN_IF_ERROR(m.StringMap("headers", &o->headers));
  AA_RETURN_IF_ERROR(m.String("bearerTokenFile", &o->bearer_token_file));
  {
    AA_ASSIGN_OR_RETURN(MapView b, MapView::Open(errors, m.Get("basicAuth"), m.Path("basicAuth"),
                                                 {"username", "password", "passwordFile"}));
    AA_RETURN_IF_ERROR(b.String("username", &o->basic_auth_username));
    AA_RETURN_IF_ERROR(b.String("password", &o->basic_auth_password));
    AA_RETURN_IF_ERROR(b.String("passwordFile", &o->basic_auth_password_file));
    if (m.Has("basicAuth") && o->basic_auth_username.empty()) {
      return errors.At(b.Path("username"), "required when basicAuth is set");
    }
  }
  {
    AA_ASSIGN_OR_RETURN(MapView t, MapView::Open(errors, m.Get("tls"), m.Path("tls"),
                                                 {"caFile", "certFile", "keyFile", "serverName",
                                                  "insecureSkipVerify"}));
    AA_RETURN_IF_ERROR(t.String("caFile", &o->tls.ca_file));
    AA_RETURN_IF_ERROR(t.String("certFile", &o->tls.cert_file));
    AA_RETURN_IF_ERROR(t.String("keyFile", &o->tls.key_file));
    AA_RETURN_IF_ERROR(t.String("serverName", &o->tls.server_name));
    AA_RETURN_IF_ERROR(t.Bool("insecureSkipVerify", &o->tls.insecure_skip_verify));
  }
  AA_RETURN_IF_ERROR(m.Duration("timeout", &o->timeout));
  if (m.Has("timeout") && o->timeout <= absl::ZeroDuration()) {
    return errors.AtNode(m.Path("timeout"), "must be positive", m.Get("timeout"));
  }
  int64_t retries = o->max_retries;
  AA_RETURN_IF_ERROR(m.Int("maxRetries", 0, kMaxRetries, &retries));
  o->max_retries = static_cast<int>(retries);
  AA_RETURN_IF_ERROR(m.Duration("retryBackoff", &o->retry_backoff));
  if (m.Has("method")) {
    std::string method;
    AA_RETURN_IF_ERROR(m.String("method", &method));
    std::string upper = absl::AsciiStrToUpper(method);
    if (upper == "AUTO") {
      o->method = "auto";
    } else if (upper == "GET" || upper == "POST") {
      o->method = upper;
    } else {
      return errors.AtValue(m.Path("method"), "must be auto, GET or POST", method);
    }
  }
  int64_t post_threshold = static_cast<int64_t>(o->post_threshold_bytes);
  AA_RETURN_IF_ERROR(m.Int("postThresholdBytes", 0, int64_t{1} << 30, &post_threshold));
  o->post_threshold_bytes = static_cast<size_t>(post_threshold);
  int64_t max_response = static_cast<int64_t>(o->max_response_bytes);
  AA_RETURN_IF_ERROR(m.Int("maxResponseBytes", 1, int64_t{1} << 40, &max_response));
  o->max_response_bytes = static_cast<size_t>(max_response);
  AA_RETURN_IF_ERROR(m.Bool("acceptWarnings", &o->accept_warnings));
  return ValidatePrometheus(errors, path, *o, /*require_url=*/false);
}

// `backends:`: named entries with the keys of `prometheus:`. An entry named default is the default
// backend (only without a `prometheus:` section); the others go to config->backends.
absl::Status ReadBackends(const Errors& errors, const YAML::Node& node, bool has_prometheus,
                          Config* config) {
  if (!IsSet(node)) return absl::OkStatus();
  if (!node.IsSequence()) return errors.AtNode("backends", "expected a list of backends", node);
  std::map<std::string, size_t> index_by_name;
  for (size_t i = 0; i < node.size(); ++i) {
    const std::string path = absl::StrCat("backends[", i, "]");
    const YAML::Node entry = node[i];
    if (!IsSet(entry)) return errors.At(path, "expected a backend (a map), got null");
    prom::ClientOptions options;
    std::string name;
    AA_RETURN_IF_ERROR(ReadPrometheus(errors, entry, path, &name, &options));
    const std::string name_path = JoinPath(path, "name");
    auto [it, inserted] = index_by_name.emplace(name, i);
    if (!inserted) {
      return errors.AtValue(
          name_path,
          absl::StrCat("duplicate backend name, first defined at backends[", it->second, "]"),
          name);
    }
    options.name = name;
    if (name == prom::Backends::kDefault) {
      if (has_prometheus) {
        return errors.AtValue(name_path,
                              "the prometheus: section is the backend named default; rename this "
                              "one or move it there",
                              name);
      }
      config->prometheus = std::move(options);
      config->prometheus_path = path;
      continue;
    }
    if (options.url.empty()) return errors.At(JoinPath(path, "url"), "required");
    config->backends.push_back(BackendConfig{path, std::move(options)});
  }
  return absl::OkStatus();
}

// Reads `backend` of the map at `m` into *out ("default" when absent), checking that it names a
// configured backend.
absl::Status ReadBackendName(const Errors& errors, const MapView& m, const Config& config,
                             std::string* out) {
  std::string name(prom::Backends::kDefault);
  AA_RETURN_IF_ERROR(m.String("backend", &name));
  if (!config.HasBackend(name)) {
    std::vector<std::string> names;
    for (const prom::ClientOptions& o : config.BackendOptions()) names.push_back(o.name);
    return errors.AtValue(m.Path("backend"),
                          absl::StrCat("unknown backend; configured: ", absl::StrJoin(names, ", ")),
                          name);
  }
  *out = std::move(name);
  return absl::OkStatus();
}

absl::Status ReadSampling(const Errors& errors, const YAML::Node& node, SamplingConfig* s) {
  AA_ASSIGN_OR_RETURN(
      MapView m,
      MapView::Open(errors, node, "sampling",
                    {"interval", "maxAge", "demandTTL", "firstSampleTimeout", "waitForFirstSample",
                     "warmNamespaces", "checkNamespaces", "namespaceCheckInterval", "maxNamespaces",
                     "newNamespacesPerSecond", "newNamespaceBurst", "maxNamespacesPerQuery",
                     "maxMatcherBytes", "wholeClusterPercent", "maxConcurrentQueries"}));
  AA_RETURN_IF_ERROR(m.Duration("interval", &s->interval));
  AA_RETURN_IF_ERROR(m.Duration("maxAge", &s->max_age));
  AA_RETURN_IF_ERROR(m.Duration("demandTTL", &s->demand_ttl));
  AA_RETURN_IF_ERROR(m.Duration("firstSampleTimeout", &s->first_sample_timeout));
  AA_RETURN_IF_ERROR(m.Bool("waitForFirstSample", &s->wait_for_first_sample));
  AA_RETURN_IF_ERROR(m.StringList("warmNamespaces", &s->warm_namespaces));
  AA_RETURN_IF_ERROR(m.Bool("checkNamespaces", &s->check_namespaces));
  AA_RETURN_IF_ERROR(m.Duration("namespaceCheckInterval", &s->namespace_check_interval));
  constexpr int64_t kMaxInt = int64_t{1} << 30;
  AA_RETURN_IF_ERROR(m.Int("maxNamespaces", 1, kMaxInt, &s->max_namespaces));
  AA_RETURN_IF_ERROR(m.Int("newNamespacesPerSecond", 1, kMaxInt, &s->new_namespaces_per_second));
  AA_RETURN_IF_ERROR(m.Int("newNamespaceBurst", 1, kMaxInt, &s->new_namespace_burst));
  AA_RETURN_IF_ERROR(m.Int("maxNamespacesPerQuery", 1, kMaxInt, &s->max_namespaces_per_query));
  AA_RETURN_IF_ERROR(m.Int("maxMatcherBytes", 64, kMaxInt, &s->max_matcher_bytes));
  AA_RETURN_IF_ERROR(m.Int("wholeClusterPercent", 0, 100, &s->whole_cluster_percent));
  AA_RETURN_IF_ERROR(m.Int("maxConcurrentQueries", 1, 64, &s->max_concurrent_queries));
  if (s->namespace_check_interval < absl::Seconds(1)) {
    return m.ErrorAt("namespaceCheckInterval", "must be at least 1s",
                     FormatGoDuration(s->namespace_check_interval));
  }
  if (s->interval < absl::Seconds(1)) {
    return m.ErrorAt("interval", "must be at least 1s", FormatGoDuration(s->interval));
  }
  // A round's values are evaluated at the interval's boundary and replaced one interval (plus
  // the round's delay) later, so they are up to about one interval old just before the next
  // round: a maxAge of one interval would refuse them as stale once per interval.
  if (s->max_age < 2 * s->interval) {
    return m.ErrorAt(
        "maxAge",
        absl::StrCat("must be at least twice sampling.interval (2 x ",
                     FormatGoDuration(s->interval),
                     "): values are up to one interval old when a round replaces them"),
        FormatGoDuration(s->max_age));
  }
  if (s->demand_ttl < s->interval) {
    return m.ErrorAt(
        "demandTTL",
        absl::StrCat("must be at least sampling.interval (", FormatGoDuration(s->interval), ")"),
        FormatGoDuration(s->demand_ttl));
  }
  if (s->first_sample_timeout <= absl::ZeroDuration()) {
    return m.ErrorAt("firstSampleTimeout", "must be positive",
                     FormatGoDuration(s->first_sample_timeout));
  }
  std::set<std::string> seen;
  for (size_t i = 0; i < s->warm_namespaces.size(); ++i) {
    const std::string& ns = s->warm_namespaces[i];
    std::string path = absl::StrCat(m.Path("warmNamespaces"), "[", i, "]");
    if (!internal::IsNamespaceName(ns)) {
      return errors.AtValue(path, "not a Kubernetes namespace name (lowercase DNS label)", ns);
    }
    if (!seen.insert(ns).second) return errors.AtValue(path, "duplicate namespace", ns);
  }
  return absl::OkStatus();
}

absl::Status CheckTemplate(const Errors& errors, const std::string& path, const std::string& tmpl) {
  std::string problem = internal::TemplateProblem(tmpl);
  if (!problem.empty()) return errors.AtValue(path, problem, tmpl);
  return absl::OkStatus();
}

absl::Status ReadKeda(const Errors& errors, const YAML::Node& node, KedaConfig* k) {
  AA_ASSIGN_OR_RETURN(
      MapView m,
      MapView::Open(errors, node, "keda", {"listen", "insecure", "tls", "limits", "adhocQueries"}));
  AA_RETURN_IF_ERROR(m.String("listen", &k->listen));
  AA_RETURN_IF_ERROR(m.Bool("insecure", &k->insecure));
  AA_ASSIGN_OR_RETURN(MapView t,
                      MapView::Open(errors, m.Get("tls"), m.Path("tls"),
                                    {"certFile", "keyFile", "clientCAFile", "clientNames"}));
  AA_RETURN_IF_ERROR(t.String("certFile", &k->tls_cert_file));
  AA_RETURN_IF_ERROR(t.String("keyFile", &k->tls_key_file));
  AA_RETURN_IF_ERROR(t.String("clientCAFile", &k->client_ca_file));
  AA_RETURN_IF_ERROR(t.StringList("clientNames", &k->client_names));
  AA_ASSIGN_OR_RETURN(
      MapView l, MapView::Open(errors, m.Get("limits"), m.Path("limits"),
                               {"maxStreams", "maxStreamsPerClient",
                                "maxConcurrentStreamsPerConnection", "maxReceiveMessageBytes",
                                "minPingInterval", "maxPingStrikes", "maxConnectionIdle",
                                "maxConnectionAge", "maxConnectionAgeGrace", "handshakeTimeout"}));
  constexpr int64_t kIntMax = std::numeric_limits<int32_t>::max();
  AA_RETURN_IF_ERROR(l.Int("maxStreams", 1, kIntMax, &k->max_streams));
  AA_RETURN_IF_ERROR(l.Int("maxStreamsPerClient", 1, kIntMax, &k->max_streams_per_client));
  AA_RETURN_IF_ERROR(l.Int("maxConcurrentStreamsPerConnection", 1, kIntMax,
                           &k->max_concurrent_streams_per_connection));
  AA_RETURN_IF_ERROR(l.Int("maxReceiveMessageBytes", 256, 4 << 20, &k->max_receive_message_bytes));
  AA_RETURN_IF_ERROR(l.Int("maxPingStrikes", 1, kIntMax, &k->max_ping_strikes));
  for (auto [key, out] :
       {std::pair<std::string_view, absl::Duration*>{"minPingInterval", &k->min_ping_interval},
        {"maxConnectionIdle", &k->max_connection_idle},
        {"maxConnectionAge", &k->max_connection_age},
        {"maxConnectionAgeGrace", &k->max_connection_age_grace},
        {"handshakeTimeout", &k->handshake_timeout}}) {
    AA_RETURN_IF_ERROR(l.Duration(key, out));
    if (*out < absl::Milliseconds(1)) {
      return l.ErrorAt(key, "must be at least 1ms", FormatGoDuration(*out));
    }
  }
  AA_ASSIGN_OR_RETURN(MapView a,
                      MapView::Open(errors, m.Get("adhocQueries"), m.Path("adhocQueries"),
                                    {"enabled", "max", "allowlist"}));
  AA_RETURN_IF_ERROR(a.Bool("enabled", &k->adhoc_queries.enabled));
  AA_RETURN_IF_ERROR(a.Int("max", 1, kIntMax, &k->adhoc_queries.max));
  AA_RETURN_IF_ERROR(a.StringList("allowlist", &k->adhoc_queries.allowlist));
  for (size_t i = 0; i < k->adhoc_queries.allowlist.size(); ++i) {
    const std::string& regex = k->adhoc_queries.allowlist[i];
    RE2 re(regex, RE2::Quiet);
    if (!re.ok()) {
      return errors.AtValue(absl::StrCat(a.Path("allowlist"), "[", i, "]"),
                            absl::StrCat("invalid RE2 regex: ", re.error()), regex);
    }
  }
  for (size_t i = 0; i < k->client_names.size(); ++i) {
    if (k->client_names[i].empty()) {
      return errors.At(absl::StrCat(t.Path("clientNames"), "[", i, "]"), "empty name");
    }
  }
  if (!k->client_names.empty() && k->client_ca_file.empty()) {
    return errors.At(t.Path("clientNames"), "allowed client names need clientCAFile (mutual TLS)");
  }
  if (k->tls_cert_file.empty() != k->tls_key_file.empty()) {
    return errors.At(t.Path(k->tls_cert_file.empty() ? "certFile" : "keyFile"),
                     "certFile and keyFile go together");
  }
  if (!k->client_ca_file.empty() && k->tls_cert_file.empty()) {
    return errors.At(t.Path("clientCAFile"), "mutual TLS needs certFile and keyFile");
  }
  return absl::OkStatus();
}

absl::Status ReadPodLabels(const Errors& errors, const YAML::Node& node, const Config& config,
                           PodLabelsConfig* p) {
  AA_ASSIGN_OR_RETURN(MapView m,
                      MapView::Open(errors, node, "podLabels", {"enabled", "query", "backend"}));
  AA_RETURN_IF_ERROR(m.Bool("enabled", &p->enabled));
  AA_RETURN_IF_ERROR(ReadBackendName(errors, m, config, &p->backend));
  AA_RETURN_IF_ERROR(m.String("query", &p->query));
  return CheckTemplate(errors, m.Path("query"), p->query);
}

absl::Status ReadObjectWatch(const Errors& errors, const YAML::Node& node, ObjectWatchConfig* o) {
  AA_ASSIGN_OR_RETURN(MapView m, MapView::Open(errors, node, "objectWatch",
                                               {"maxResources", "maxObjects", "firstListWait",
                                                "maxStaleness", "listPageSize"}));
  AA_RETURN_IF_ERROR(m.Int("maxResources", 0, 1000, &o->max_resources));
  AA_RETURN_IF_ERROR(m.Int("maxObjects", 1, 10000000, &o->max_objects));
  AA_RETURN_IF_ERROR(m.Duration("firstListWait", &o->first_list_wait));
  AA_RETURN_IF_ERROR(m.Duration("maxStaleness", &o->max_staleness));
  AA_RETURN_IF_ERROR(m.Int("listPageSize", 1, 10000, &o->list_page_size));
  if (o->first_list_wait < absl::ZeroDuration() || o->first_list_wait > absl::Minutes(1)) {
    return m.ErrorAt("firstListWait", "must be between 0s and 1m",
                     FormatGoDuration(o->first_list_wait));
  }
  if (o->max_staleness < absl::Seconds(1)) {
    return m.ErrorAt("maxStaleness", "must be at least 1s", FormatGoDuration(o->max_staleness));
  }
  return absl::OkStatus();
}

// A Go template field list for messages and parsing.
const std::vector<std::string_view> kRuleQueryFields = {"Series", "LabelMatchers", "GroupBy",
                                                        "GroupBySlice", "LabelValuesByName"};
const std::vector<std::string_view> kResourceQueryFields = {"LabelMatchers", "GroupBy",
                                                            "GroupBySlice", "LabelValuesByName"};
const std::vector<std::string_view> kResourceTemplateFields = {"Group", "Resource"};

// Reads a prometheus-adapter template at `key`: parsed with `fields`, and (when
// `need_matchers`) required to use <<.LabelMatchers>>. Errors name the file line and construct.
absl::Status ReadAdapterTemplate(const Errors& errors, const MapView& m, std::string_view key,
                                 const std::vector<std::string_view>& fields, bool need_matchers,
                                 std::string* out) {
  AA_RETURN_IF_ERROR(m.String(key, out));
  YAML::Node node = m.Get(key);
  auto parsed = GoTemplate::Parse(*out, fields);
  if (!parsed.ok()) {
    // "line N: ..." within the value: report the file line instead.
    std::string_view msg = FromAbsl(parsed.status().message());
    int line_in_value = 1;
    size_t colon = msg.find(": ");
    if (msg.substr(0, 5) == "line " && colon != std::string_view::npos) {
      (void)absl::SimpleAtoi(ToAbsl(msg.substr(5, colon - 5)), &line_in_value);
      msg.remove_prefix(colon + 2);
    }
    return absl::InvalidArgumentError(absl::StrCat(errors.source(), ":",
                                                   errors.LineOf(node, line_in_value), ": ",
                                                   ToAbsl(m.Path(key)), ": ", ToAbsl(msg)));
  }
  if (need_matchers && !parsed->Uses("LabelMatchers")) {
    return absl::InvalidArgumentError(absl::StrCat(
        errors.source(), ":", errors.LineOf(node), ": ", ToAbsl(m.Path(key)),
        ": must contain <<.LabelMatchers>> (it restricts the query to the namespaces asked for)"));
  }
  return absl::OkStatus();
}

absl::Status ReadRegex(const Errors& errors, const MapView& m, std::string_view key,
                       std::string* out) {
  AA_RETURN_IF_ERROR(m.String(key, out));
  if (!m.Has(key)) return absl::OkStatus();
  RE2 re(*out, RE2::Quiet);
  if (!re.ok()) {
    return errors.AtValue(m.Path(key), absl::StrCat("invalid regular expression: ", re.error()),
                          *out);
  }
  return absl::OkStatus();
}

absl::Status ReadResourceMapping(const Errors& errors, const YAML::Node& node,
                                 const std::string& path, bool allow_namespaced,
                                 ResourceMapping* r) {
  std::initializer_list<std::string_view> keys_rules = {"overrides", "template"};
  std::initializer_list<std::string_view> keys_external = {"overrides", "template", "namespaced"};
  AA_ASSIGN_OR_RETURN(
      MapView m, MapView::Open(errors, node, path, allow_namespaced ? keys_external : keys_rules));
  AA_RETURN_IF_ERROR(m.Bool("namespaced", &r->namespaced));
  YAML::Node overrides = m.Get("overrides");
  if (IsSet(overrides)) {
    if (!overrides.IsMap()) {
      return errors.AtNode(m.Path("overrides"), "expected a map of label: {group, resource}",
                           overrides);
    }
    for (auto it = overrides.begin(); it != overrides.end(); ++it) {
      const YAML::Node key_node = it->first;
      const YAML::Node value_node = it->second;
      std::string label = key_node.IsScalar() ? key_node.Scalar() : "";
      std::string item_path = JoinPath(m.Path("overrides"), QuoteForMessage(label));
      if (!internal::IsPromLabelName(label)) {
        return errors.AtNode(m.Path("overrides"), "keys must be Prometheus label names", key_node);
      }
      AA_ASSIGN_OR_RETURN(MapView o,
                          MapView::Open(errors, value_node, item_path, {"group", "resource"}));
      GroupResource gr;
      AA_RETURN_IF_ERROR(o.String("group", &gr.group));
      AA_RETURN_IF_ERROR(o.String("resource", &gr.resource));
      if (gr.resource.empty()) return errors.At(o.Path("resource"), "required");
      if (!r->overrides.emplace(label, gr).second) return errors.At(item_path, "duplicate key");
    }
  }
  return ReadAdapterTemplate(errors, m, "template", kResourceTemplateFields,
                             /*need_matchers=*/false, &r->label_template);
}

absl::Status ReadAdapterRule(const Errors& errors, const YAML::Node& node, const std::string& path,
                             bool external, const Config& config, AdapterRule* rule) {
  rule->path = path;
  rule->external = external;
  rule->line = errors.LineOf(node);
  if (!IsSet(node)) return errors.At(path, "expected a rule (a map), got null");
  AA_ASSIGN_OR_RETURN(MapView m, MapView::Open(errors, node, path,
                                               {"seriesQuery", "seriesFilters", "resources", "name",
                                                "metricsQuery", "backend"}));
  AA_RETURN_IF_ERROR(ReadBackendName(errors, m, config, &rule->backend));
  AA_RETURN_IF_ERROR(m.String("seriesQuery", &rule->series_query));
  if (rule->series_query.empty()) {
    return errors.At(m.Path("seriesQuery"),
                     "required: a series selector, e.g. '{__name__=~\"^x_.*\"}'");
  }
  YAML::Node filters = m.Get("seriesFilters");
  if (IsSet(filters)) {
    if (!filters.IsSequence()) {
      return errors.AtNode(m.Path("seriesFilters"),
                           "expected a list of {is: regex} / {isNot: regex}", filters);
    }
    for (size_t i = 0; i < filters.size(); ++i) {
      std::string fpath = absl::StrCat(m.Path("seriesFilters"), "[", i, "]");
      AA_ASSIGN_OR_RETURN(MapView f, MapView::Open(errors, filters[i], fpath, {"is", "isNot"}));
      if (f.Has("is") == f.Has("isNot")) {
        return errors.At(fpath, "exactly one of is and isNot is required");
      }
      AdapterRule::Filter filter;
      filter.is = f.Has("is");
      AA_RETURN_IF_ERROR(ReadRegex(errors, f, filter.is ? "is" : "isNot", &filter.regex));
      rule->series_filters.push_back(std::move(filter));
    }
  }
  AA_RETURN_IF_ERROR(ReadResourceMapping(errors, m.Get("resources"), m.Path("resources"), external,
                                         &rule->resources));
  {
    AA_ASSIGN_OR_RETURN(MapView n,
                        MapView::Open(errors, m.Get("name"), m.Path("name"), {"matches", "as"}));
    AA_RETURN_IF_ERROR(ReadRegex(errors, n, "matches", &rule->name_matches));
    if (rule->name_matches.empty()) rule->name_matches = ".*";  // prometheus-adapter's default
    AA_RETURN_IF_ERROR(n.String("as", &rule->name_as));
    if (rule->name_as.empty()) {
      RE2 re(rule->name_matches, RE2::Quiet);
      if (re.NumberOfCapturingGroups() > 1) {
        return errors.AtValue(n.Path("as"),
                              "required when name.matches has more than one capture group",
                              rule->name_matches);
      }
    }
  }
  if (!m.Has("metricsQuery")) return errors.At(m.Path("metricsQuery"), "required");
  // Without <<.LabelMatchers>> the query is not restricted to the objects asked for: the sampler
  // runs it once for the whole cluster and maps its series to objects by their labels.
  return ReadAdapterTemplate(errors, m, "metricsQuery", kRuleQueryFields, /*need_matchers=*/false,
                             &rule->metrics_query);
}

absl::Status ReadAdapterRules(const Errors& errors, const YAML::Node& node, std::string_view key,
                              bool external, const Config& config, std::vector<AdapterRule>* out) {
  if (!IsSet(node)) return absl::OkStatus();
  if (!node.IsSequence()) return errors.AtNode(key, "expected a list of rules", node);
  for (size_t i = 0; i < node.size(); ++i) {
    AdapterRule rule;
    AA_RETURN_IF_ERROR(ReadAdapterRule(errors, node[i], absl::StrCat(ToAbsl(key), "[", i, "]"),
                                       external, config, &rule));
    out->push_back(std::move(rule));
  }
  return absl::OkStatus();
}

absl::Status ReadResourceRules(const Errors& errors, const YAML::Node& node, const Config& config,
                               std::optional<AdapterResourceRules>* out) {
  if (!IsSet(node)) return absl::OkStatus();
  AA_ASSIGN_OR_RETURN(MapView m, MapView::Open(errors, node, "resourceRules",
                                               {"cpu", "memory", "window", "backend"}));
  AdapterResourceRules rules;
  AA_RETURN_IF_ERROR(ReadBackendName(errors, m, config, &rules.backend));
  AA_RETURN_IF_ERROR(m.Duration("window", &rules.window));
  if (rules.window < absl::Seconds(1)) {
    return m.ErrorAt("window", "must be at least 1s", FormatGoDuration(rules.window));
  }
  for (auto [key, rule] : {std::pair<std::string_view, AdapterResourceRule*>{"cpu", &rules.cpu},
                           {"memory", &rules.memory}}) {
    if (!m.Has(key)) return errors.At(m.Path(key), "required when resourceRules is set");
    AA_ASSIGN_OR_RETURN(
        MapView r, MapView::Open(errors, m.Get(key), m.Path(key),
                                 {"containerQuery", "nodeQuery", "resources", "containerLabel"}));
    if (!r.Has("containerQuery")) return errors.At(r.Path("containerQuery"), "required");
    AA_RETURN_IF_ERROR(ReadAdapterTemplate(errors, r, "containerQuery", kResourceQueryFields,
                                           /*need_matchers=*/true, &rule->container_query));
    AA_RETURN_IF_ERROR(ReadAdapterTemplate(errors, r, "nodeQuery", kResourceQueryFields,
                                           /*need_matchers=*/false, &rule->node_query));
    AA_RETURN_IF_ERROR(ReadResourceMapping(errors, r.Get("resources"), r.Path("resources"),
                                           /*allow_namespaced=*/false, &rule->resources));
    AA_RETURN_IF_ERROR(r.String("containerLabel", &rule->container_label));
    if (!rule->container_label.empty() && !internal::IsPromLabelName(rule->container_label)) {
      return errors.AtValue(r.Path("containerLabel"), "not a Prometheus label name",
                            rule->container_label);
    }
  }
  *out = std::move(rules);
  return absl::OkStatus();
}

absl::Status ReadDiscovery(const Errors& errors, const YAML::Node& node, Config* config) {
  AA_ASSIGN_OR_RETURN(MapView m, MapView::Open(errors, node, "discovery", {"interval"}));
  AA_RETURN_IF_ERROR(m.Duration("interval", &config->discovery_interval));
  if (config->discovery_interval < absl::Seconds(10)) {
    return m.ErrorAt("interval", "must be at least 10s",
                     FormatGoDuration(config->discovery_interval));
  }
  return absl::OkStatus();
}

absl::Status ReadPreset(const Errors& errors, const YAML::Node& node, const std::string& path,
                        MetricDefinition* def) {
  AA_ASSIGN_OR_RETURN(
      MapView m,
      MapView::Open(errors, node, path,
                    {"type", "source", "window", "metric", "unit", "quantile", "namespaceLabel",
                     "podLabel", "sourceMatchers", "baselineMatchers", "saturation"}));
  internal::PresetSpec spec;
  AA_RETURN_IF_ERROR(m.String("type", &spec.type));
  AA_RETURN_IF_ERROR(m.String("source", &spec.source));
  AA_RETURN_IF_ERROR(m.Duration("window", &spec.window));
  AA_RETURN_IF_ERROR(m.String("metric", &spec.metric));
  AA_RETURN_IF_ERROR(m.String("unit", &spec.unit));
  AA_RETURN_IF_ERROR(m.String("namespaceLabel", &spec.namespace_label));
  AA_RETURN_IF_ERROR(m.String("podLabel", &spec.pod_label));
  AA_RETURN_IF_ERROR(m.Bool("saturation", &spec.saturation));
  for (auto [key, list] : {std::pair<std::string_view, std::vector<std::string>*>{
                               "sourceMatchers", &spec.source_matchers},
                           {"baselineMatchers", &spec.baseline_matchers}}) {
    AA_RETURN_IF_ERROR(m.StringList(key, list));
    for (size_t i = 0; i < list->size(); ++i) {
      std::string normalized;
      std::string problem = internal::LabelMatcherProblem((*list)[i], &normalized);
      if (!problem.empty()) {
        return errors.AtValue(absl::StrCat(m.Path(key), "[", i, "]"), problem, (*list)[i]);
      }
      (*list)[i] = std::move(normalized);
    }
  }

  // Rejects a key this type/source does not read, naming who does.
  auto forbid = [&](std::string_view key, std::string_view who_reads_it) -> absl::Status {
    if (!m.Has(key)) return absl::OkStatus();
    return errors.AtNode(m.Path(key), absl::StrCat("only for ", ToAbsl(who_reads_it)), m.Get(key));
  };
  static constexpr std::string_view kTypes =
      "concurrency, cpu, waiting, kv-cache, ttft or activity";
  if (!m.Has("type")) return errors.At(m.Path("type"), absl::StrCat("required: ", ToAbsl(kTypes)));
  const bool vllm_type = spec.type == "waiting" || spec.type == "kv-cache" || spec.type == "ttft";
  const bool known_type =
      vllm_type || spec.type == "cpu" || spec.type == "concurrency" || spec.type == "activity";
  if (known_type && spec.type != "ttft") AA_RETURN_IF_ERROR(forbid("quantile", "type ttft"));
  if (known_type && spec.type != "cpu") AA_RETURN_IF_ERROR(forbid("saturation", "type cpu"));
  if (vllm_type) {
    // vLLM's series: `source` may say so, nothing else.
    if (m.Has("source") && spec.source != "vllm") {
      return errors.AtValue(m.Path("source"), "must be vllm (the only source of this type)",
                            spec.source);
    }
    AA_RETURN_IF_ERROR(forbid("metric", "type concurrency with source histogram or gauge"));
    AA_RETURN_IF_ERROR(forbid("unit", "type concurrency with source histogram"));
    AA_RETURN_IF_ERROR(forbid("baselineMatchers", "type cpu"));
    std::optional<double> quantile;
    AA_RETURN_IF_ERROR(m.Number(
        "quantile", [](double v) { return v > 0 && v < 1; }, "must be in (0, 1)", &quantile));
    spec.quantile = quantile.value_or(0.95);
  } else if (spec.type == "activity") {
    // Series that exist at zero pods, of Knative's activator (the default) or of Istio's ingress
    // gateway; they name a revision or a Service, not a pod.
    static constexpr std::string_view kActivitySources = "knative-activator or istio-gateway";
    if (!m.Has("source")) spec.source = "knative-activator";
    if (spec.source != "knative-activator" && spec.source != "istio-gateway") {
      return errors.AtValue(m.Path("source"),
                            absl::StrCat("unknown source; expected ", ToAbsl(kActivitySources)),
                            spec.source);
    }
    AA_RETURN_IF_ERROR(forbid("metric", "type concurrency with source histogram or gauge"));
    AA_RETURN_IF_ERROR(forbid("unit", "type concurrency with source histogram"));
    AA_RETURN_IF_ERROR(forbid("baselineMatchers", "type cpu"));
    AA_RETURN_IF_ERROR(forbid("namespaceLabel", "types concurrency, waiting, kv-cache and ttft"));
    AA_RETURN_IF_ERROR(forbid("podLabel", "types concurrency, waiting, kv-cache and ttft"));
  } else if (spec.type == "cpu") {
    AA_RETURN_IF_ERROR(forbid("source", "type concurrency"));
    AA_RETURN_IF_ERROR(forbid("metric", "type concurrency with source histogram or gauge"));
    AA_RETURN_IF_ERROR(forbid("unit", "type concurrency with source histogram"));
    AA_RETURN_IF_ERROR(forbid("namespaceLabel", "type concurrency"));
    AA_RETURN_IF_ERROR(forbid("podLabel", "type concurrency"));
  } else if (spec.type == "concurrency") {
    AA_RETURN_IF_ERROR(forbid("baselineMatchers", "type cpu (concurrency has no baseline)"));
    static constexpr std::string_view kSources =
        "knative-queue-proxy, kserve, vllm, histogram or gauge";
    if (!m.Has("source"))
      return errors.At(m.Path("source"), absl::StrCat("required: ", ToAbsl(kSources)));
    const std::string& src = spec.source;
    if (src != "knative-queue-proxy" && src != "kserve" && src != "vllm" && src != "histogram" &&
        src != "gauge") {
      return errors.AtValue(m.Path("source"),
                            absl::StrCat("unknown source; expected ", ToAbsl(kSources)), src);
    }
    if (src == "histogram" || src == "gauge") {
      if (!m.Has("metric")) {
        return errors.At(m.Path("metric"), src == "histogram"
                                               ? "required: the histogram's base name"
                                               : "required: the gauge's name");
      }
      if (!internal::IsPromMetricName(spec.metric)) {
        return errors.AtValue(m.Path("metric"), "not a Prometheus metric name", spec.metric);
      }
      if (src == "histogram") {
        for (std::string_view suffix : {"_sum", "_count", "_bucket"}) {
          if (spec.metric.size() > suffix.size() &&
              std::string_view(spec.metric).substr(spec.metric.size() - suffix.size()) == suffix) {
            return errors.AtValue(
                m.Path("metric"),
                absl::StrCat("give the histogram's base name, without ", ToAbsl(suffix)),
                spec.metric);
          }
        }
        if (!m.Has("unit"))
          return errors.At(m.Path("unit"), "required: s or ms (the histogram's unit)");
        if (spec.unit != "s" && spec.unit != "ms")
          return errors.AtValue(m.Path("unit"), "must be s or ms", spec.unit);
      } else {
        AA_RETURN_IF_ERROR(forbid("unit", "source histogram"));
      }
    } else {
      AA_RETURN_IF_ERROR(forbid("metric", "sources histogram and gauge"));
      AA_RETURN_IF_ERROR(forbid("unit", "source histogram"));
    }
  } else {
    return errors.AtValue(
        m.Path("type"), absl::StrCat("unknown preset type; expected ", ToAbsl(kTypes)), spec.type);
  }
  // The types that read these keys (the others forbade them above).
  for (auto [key, value] :
       {std::pair<std::string_view, const std::string*>{"namespaceLabel", &spec.namespace_label},
        {"podLabel", &spec.pod_label}}) {
    if (m.Has(key) && !internal::IsPromLabelName(*value)) {
      return errors.AtValue(m.Path(key), "not a Prometheus label name", *value);
    }
  }
  if (spec.window < absl::Seconds(1)) {
    return m.ErrorAt("window", "must be at least 1s", FormatGoDuration(spec.window));
  }
  if (spec.window % absl::Milliseconds(1) != absl::ZeroDuration()) {
    return m.ErrorAt("window", "must be a whole number of milliseconds",
                     FormatGoDuration(spec.window));
  }
  if (spec.window > absl::Hours(24 * 366)) {
    return m.ErrorAt("window", "must be at most 366d", FormatGoDuration(spec.window));
  }
  internal::ExpandPreset(spec, def);
  return absl::OkStatus();
}

// One direction of an HPA's spec.behavior (scaleUp or scaleDown).
absl::Status ReadScalingRules(const Errors& errors, const YAML::Node& node, const std::string& path,
                              std::optional<scaling::ScalingRulesSpec>* out) {
  if (!IsSet(node)) return absl::OkStatus();
  AA_ASSIGN_OR_RETURN(MapView m,
                      MapView::Open(errors, node, path,
                                    {"stabilizationWindowSeconds", "selectPolicy", "policies"}));
  scaling::ScalingRulesSpec rules;
  if (m.Has("stabilizationWindowSeconds")) {
    int64_t window = 0;
    AA_RETURN_IF_ERROR(m.Int("stabilizationWindowSeconds", 0, 3600, &window));
    rules.stabilization_window_seconds = static_cast<int32_t>(window);
  }
  if (m.Has("selectPolicy")) {
    std::string policy;
    AA_RETURN_IF_ERROR(m.String("selectPolicy", &policy));
    static constexpr EnumName<scaling::SelectPolicy> kPolicies[] = {
        {scaling::SelectPolicy::kMax, "Max"},
        {scaling::SelectPolicy::kMin, "Min"},
        {scaling::SelectPolicy::kDisabled, "Disabled"}};
    if (std::optional<scaling::SelectPolicy> select = ValueOf(policy, kPolicies)) {
      rules.select_policy = *select;
    } else {
      return errors.AtValue(m.Path("selectPolicy"), "must be Max, Min or Disabled", policy);
    }
  }
  if (m.Has("policies")) {
    YAML::Node list = m.Get("policies");
    if (!list.IsSequence()) {
      return errors.AtNode(m.Path("policies"), "expected a list of policies", list);
    }
    std::vector<scaling::ScalingPolicy> policies;
    for (size_t i = 0; i < list.size(); ++i) {
      std::string ppath = absl::StrCat(m.Path("policies"), "[", i, "]");
      AA_ASSIGN_OR_RETURN(
          MapView pm, MapView::Open(errors, list[i], ppath, {"type", "value", "periodSeconds"}));
      scaling::ScalingPolicy policy;
      std::string type;
      AA_RETURN_IF_ERROR(pm.String("type", &type));
      if (type == "Pods") {
        policy.type = scaling::ScalingPolicyType::kPods;
      } else if (type == "Percent") {
        policy.type = scaling::ScalingPolicyType::kPercent;
      } else {
        return errors.AtValue(pm.Path("type"), "required: Pods or Percent", type);
      }
      if (!pm.Has("value")) return errors.At(pm.Path("value"), "required");
      if (!pm.Has("periodSeconds")) return errors.At(pm.Path("periodSeconds"), "required");
      int64_t value = 0, period = 0;
      AA_RETURN_IF_ERROR(pm.Int("value", 1, 1'000'000, &value));
      AA_RETURN_IF_ERROR(pm.Int("periodSeconds", 1, 1800, &period));
      policy.value = static_cast<int32_t>(value);
      policy.period_seconds = static_cast<int32_t>(period);
      policies.push_back(policy);
    }
    if (policies.empty() && rules.select_policy != scaling::SelectPolicy::kDisabled) {
      return errors.At(m.Path("policies"), "at least one policy (or selectPolicy: Disabled)");
    }
    rules.policies = std::move(policies);
  }
  *out = std::move(rules);
  return absl::OkStatus();
}

// What the query API's scaling prediction assumes about the HPA in front of the workloads.
absl::Status ReadScaling(const Errors& errors, const YAML::Node& node, const std::string& path,
                         ScalingConfig* out) {
  AA_ASSIGN_OR_RETURN(
      MapView m, MapView::Open(errors, node, path, {"minReplicas", "maxReplicas", "behavior"}));
  int64_t min_replicas = out->min_replicas, max_replicas = out->max_replicas;
  AA_RETURN_IF_ERROR(m.Int("minReplicas", 1, 1'000'000, &min_replicas));
  AA_RETURN_IF_ERROR(m.Int("maxReplicas", 1, 1'000'000, &max_replicas));
  if (min_replicas > max_replicas) {
    return errors.AtValue(m.Path("minReplicas"),
                          absl::StrCat("must not exceed maxReplicas (", max_replicas, ")"),
                          absl::StrCat(min_replicas));
  }
  out->min_replicas = static_cast<int32_t>(min_replicas);
  out->max_replicas = static_cast<int32_t>(max_replicas);
  AA_ASSIGN_OR_RETURN(MapView b, MapView::Open(errors, m.Get("behavior"), m.Path("behavior"),
                                               {"scaleUp", "scaleDown"}));
  AA_RETURN_IF_ERROR(
      ReadScalingRules(errors, b.Get("scaleUp"), b.Path("scaleUp"), &out->behavior.scale_up));
  AA_RETURN_IF_ERROR(
      ReadScalingRules(errors, b.Get("scaleDown"), b.Path("scaleDown"), &out->behavior.scale_down));
  return absl::OkStatus();
}

// The panic-aware option of a concurrency or cpu definition (KPA's stable and panic windows).
absl::Status ReadPanic(const Errors& errors, const MapView& metric, MetricDefinition* def) {
  AA_ASSIGN_OR_RETURN(MapView m, MapView::Open(errors, metric.Get("panic"), metric.Path("panic"),
                                               {"stableWindow", "panicWindowPercentage",
                                                "panicThresholdPercentage"}));
  if (!def->preset.type.empty() && def->preset.type != "concurrency" && def->preset.type != "cpu") {
    return errors.AtValue(metric.Path("panic"),
                          "only for concurrency and cpu metrics (preset type)", def->preset.type);
  }
  // Panic is decided on utilization: value / per-pod target, or value / baseline against
  // targetUtilization (cpu).
  const bool utilization = def->target_utilization.has_value() && !def->baseline_query.empty();
  if (!def->target.has_value() && !utilization) {
    return errors.At(metric.Path("panic"),
                     "needs a per-pod target (target or containerConcurrency, or targetUtilization "
                     "with a baseline) to decide panic");
  }
  PanicConfig panic;
  AA_RETURN_IF_ERROR(m.Duration("stableWindow", &panic.stable_window));
  if (panic.stable_window < absl::Seconds(6) || panic.stable_window > absl::Hours(1)) {
    return m.ErrorAt("stableWindow", "must be in 6s..1h", FormatGoDuration(panic.stable_window));
  }
  std::optional<double> percentage;
  AA_RETURN_IF_ERROR(m.Number(
      "panicWindowPercentage", [](double v) { return v >= 1 && v <= 100; }, "must be in [1, 100]",
      &percentage));
  panic.panic_window_percentage = percentage.value_or(panic.panic_window_percentage);
  std::optional<double> threshold;
  AA_RETURN_IF_ERROR(m.Number(
      "panicThresholdPercentage", [](double v) { return v >= 110 && v <= 1000; },
      "must be in [110, 1000]", &threshold));
  panic.panic_threshold_percentage = threshold.value_or(panic.panic_threshold_percentage);
  if (def->preset.window > panic.panic_window()) {
    return errors.AtValue(
        metric.Path("preset.window"),
        absl::StrCat("must not exceed the panic window (", FormatGoDuration(panic.panic_window()),
                     "): the panic value would be a longer average"),
        FormatGoDuration(def->preset.window));
  }
  def->panic = panic;
  return absl::OkStatus();
}

absl::Status ReadMetric(const Errors& errors, const YAML::Node& node, const std::string& path,
                        const Config& config, MetricDefinition* def) {
  if (!IsSet(node)) return errors.At(path, "expected a metric definition (a map), got null");
  AA_ASSIGN_OR_RETURN(
      MapView m, MapView::Open(errors, node, path,
                               {"name", "description", "resource", "preset", "query",
                                "baselineQuery", "namespaceLabel", "podLabel", "target",
                                "targetUtilization", "containerConcurrency",
                                "targetUtilizationPercentage", "panic", "scaling", "backend"}));
  AA_RETURN_IF_ERROR(m.String("name", &def->name));
  if (!m.Has("name")) return errors.At(m.Path("name"), "required");
  if (!internal::IsServedMetricName(def->name)) {
    return errors.AtValue(m.Path("name"),
                          "must match [a-zA-Z_:][a-zA-Z0-9_:.-]* (at most 253 characters)",
                          def->name);
  }
  AA_RETURN_IF_ERROR(ReadBackendName(errors, m, config, &def->backend));
  AA_RETURN_IF_ERROR(m.String("description", &def->description));
  std::string resource = "pods";
  AA_RETURN_IF_ERROR(m.String("resource", &resource));
  if (resource != "pods" && resource != "external") {
    return errors.AtValue(m.Path("resource"), "must be pods (or external, for preset activity)",
                          resource);
  }

  const bool has_preset = m.Has("preset");
  const bool has_query = m.Has("query");
  if (!has_preset && resource != "pods") {
    return errors.AtValue(m.Path("resource"), "external is for preset activity only", resource);
  }
  if (has_preset && has_query)
    return errors.At(path, "set exactly one of preset and query, not both");
  if (!has_preset && !has_query) return errors.At(path, "one of preset or query is required");
  if (has_preset) {
    for (std::string_view key : {"baselineQuery", "namespaceLabel", "podLabel"}) {
      if (m.Has(key)) {
        return errors.AtNode(
            m.Path(key),
            absl::StrCat(
                "only with query; a preset sets it",
                key == "baselineQuery" ? "" : absl::StrCat(" (or use preset.", ToAbsl(key), ")")),
            m.Get(key));
      }
    }
    AA_RETURN_IF_ERROR(ReadPreset(errors, m.Get("preset"), m.Path("preset"), def));
    // The activity preset reads series that exist at zero pods: an external metric.
    const bool activity = def->preset.type == "activity";
    if (m.Has("resource") && activity != (resource == "external")) {
      return errors.AtValue(m.Path("resource"),
                            activity ? "must be external (preset activity is an external metric)"
                                     : "external is for preset activity only",
                            resource);
    }
    if (activity) def->resource = MetricResource::External();
  } else {
    AA_RETURN_IF_ERROR(m.String("query", &def->query));
    AA_RETURN_IF_ERROR(CheckTemplate(errors, m.Path("query"), def->query));
    AA_RETURN_IF_ERROR(m.String("baselineQuery", &def->baseline_query));
    if (m.Has("baselineQuery"))
      AA_RETURN_IF_ERROR(CheckTemplate(errors, m.Path("baselineQuery"), def->baseline_query));
    AA_RETURN_IF_ERROR(m.String("namespaceLabel", &def->namespace_label));
    AA_RETURN_IF_ERROR(m.String("podLabel", &def->pod_label));
    for (auto [key, value] :
         {std::pair<std::string_view, const std::string*>{"namespaceLabel", &def->namespace_label},
          {"podLabel", &def->pod_label}}) {
      if (!internal::IsPromLabelName(*value))
        return errors.AtValue(m.Path(key), "not a Prometheus label name", *value);
    }
  }

  auto positive = [](double v) { return v > 0; };
  AA_RETURN_IF_ERROR(m.Number("target", positive, "must be a finite number > 0", &def->target));
  std::optional<double> concurrency;
  AA_RETURN_IF_ERROR(m.Number(
      "containerConcurrency", [](double v) { return v >= 1 && v <= 1e9 && v == std::floor(v); },
      "must be an integer >= 1", &concurrency));
  std::optional<double> percentage;
  AA_RETURN_IF_ERROR(m.Number(
      "targetUtilizationPercentage", [](double v) { return v > 0 && v <= 100; },
      "must be in (0, 100]", &percentage));
  if (concurrency.has_value() && def->target.has_value()) {
    return errors.At(m.Path("containerConcurrency"),
                     "set either target or containerConcurrency, not both");
  }
  if (percentage.has_value() && !concurrency.has_value()) {
    return errors.At(m.Path("targetUtilizationPercentage"), "needs containerConcurrency");
  }
  if (concurrency.has_value()) def->target = *concurrency * percentage.value_or(70.0) / 100.0;
  AA_RETURN_IF_ERROR(m.Number("targetUtilization", positive, "must be a finite number > 0",
                              &def->target_utilization));
  if (def->target_utilization.has_value() && def->baseline_query.empty()) {
    return errors.At(m.Path("targetUtilization"),
                     "needs a baseline: preset type cpu, or baselineQuery");
  }
  if (m.Has("panic")) AA_RETURN_IF_ERROR(ReadPanic(errors, m, def));
  AA_RETURN_IF_ERROR(ReadScaling(errors, m.Get("scaling"), m.Path("scaling"), &def->scaling));
  return absl::OkStatus();
}

// The label a resource mapping gives `resource` ("namespace", "pod"), or `fallback`.
std::string LabelFor(const ResourceMapping& mapping, std::string_view resource,
                     std::string fallback) {
  for (const auto& [label, gr] : mapping.overrides) {
    if (gr.group.empty() &&
        (gr.resource == resource || gr.resource == absl::StrCat(ToAbsl(resource), "s")))
      return label;
  }
  if (!mapping.label_template.empty()) {
    auto t = GoTemplate::Parse(mapping.label_template, kResourceTemplateFields);
    if (t.ok()) return t->Render({{"Group", ""}, {"Resource", std::string(resource)}});
  }
  return fallback;
}

// The cAdvisor queries of the built-in metrics.k8s.io source over the series `filter` selects (it
// ends in <<.LabelMatchers>>): {"cpu", usage in cores as a rate over `window`, plus the CFS
// throttled seconds' rate with `saturation` (internal::CpuQuery)}, {"memory", working set in
// bytes}.
std::vector<std::pair<std::string, std::string>> CadvisorQueries(const std::string& filter,
                                                                 const std::string& window,
                                                                 bool saturation) {
  return {{"cpu", internal::CpuQuery(filter, window, saturation)},
          {"memory", absl::StrCat("sum by (<<.GroupBy>>) (container_memory_working_set_bytes{",
                                  filter, "})")}};
}

// The built-in metrics.k8s.io source when no resourceRules are given and `cpu` is the cAdvisor
// preset: per-container cAdvisor usage (cores) and working set (bytes), and per node the same of
// cAdvisor's root cgroup, as metrics-server reports them.
void AddDefaultContainerMetrics(Config* config) {
  const MetricDefinition* cpu = config->FindMetric("cpu");
  if (cpu == nullptr || cpu->preset.type != "cpu") return;
  // A copy: push_back below may move the definitions, `cpu` with them.
  const absl::Duration cpu_window = cpu->preset.window;
  const std::string backend = cpu->backend;
  const bool saturation = cpu->preset.saturation;
  const std::string window = internal::FormatPromDuration(cpu_window);
  // The same cAdvisor series as the preset: the same restriction (preset.sourceMatchers).
  const std::string extra = internal::MatcherPrefix(cpu->preset.source_matchers);
  const std::string filter =
      absl::StrCat("container!=\"\",container!=\"POD\",", extra, "<<.LabelMatchers>>");
  // A panic-aware cpu serves metrics.k8s.io itself (one container per pod with the pod's
  // windowed value): per-container values would bypass its windows. Its span is the pod's
  // shortest container span.
  const bool panic = cpu->panic.has_value();
  if (panic) {
    for (MetricDefinition& def : config->metrics) {
      if (&def == cpu) def.span_query = internal::CpuSpanQuery(filter, window);
    }
  }
  for (const auto& [name, query] : CadvisorQueries(filter, window, saturation)) {
    if (panic) break;
    MetricDefinition def;
    def.name = name;
    def.resource = MetricResource::Containers();
    def.description = absl::StrCat("per-container ", name, " (cAdvisor) for metrics.k8s.io");
    def.query = query;
    if (def.name == "cpu") def.span_query = internal::CpuSpanQuery(filter, window);
    def.container_label = "container";
    def.preset.window = cpu_window;
    def.backend = backend;
    config->metrics.push_back(std::move(def));
  }
  // Per node: cAdvisor's root cgroup (id="/"), the whole machine, with the node label the kubelet
  // scrape target adds (deploy/prometheus/scrape-config.yaml); what metrics-server reports too.
  const std::string node_filter = absl::StrCat("id=\"/\",", extra, "<<.LabelMatchers>>");
  for (const auto& [name, query] : CadvisorQueries(node_filter, window, false)) {
    MetricDefinition def;
    def.name = name;
    def.resource = MetricResource::NodeMetrics();
    def.description = absl::StrCat("per-node ", name, " (cAdvisor root cgroup) for metrics.k8s.io");
    def.query = query;
    if (def.name == "cpu") def.span_query = internal::CpuSpanQuery(node_filter, window);
    def.namespace_label = "";
    def.pod_label = "node";
    def.preset.window = cpu_window;
    def.backend = backend;
    config->metrics.push_back(std::move(def));
  }
}

// resourceRules feed metrics.k8s.io: per-container ("containers") and per-node ("nodemetrics")
// definitions named cpu (cores) and memory (bytes), plus per-pod "cpu" and "memory" (sums over the
// containers) unless `metrics:` already defines those names.
void AddResourceRuleMetrics(Config* config) {
  if (!config->resource_rules) {
    AddDefaultContainerMetrics(config);
    return;
  }
  const AdapterResourceRules& rr = *config->resource_rules;
  for (auto [name, rule] : {std::pair<const char*, const AdapterResourceRule*>{"cpu", &rr.cpu},
                            {"memory", &rr.memory}}) {
    auto container = GoTemplate::Parse(rule->container_query, kResourceQueryFields);
    MetricDefinition def;
    def.name = name;
    def.resource = MetricResource::Containers();
    def.rule = absl::StrCat("resourceRules.", name);
    def.backend = rr.backend;
    def.description = absl::StrCat("from resourceRules.", name, ".containerQuery");
    def.query = container.ok() ? container->Render({}) : rule->container_query;
    def.namespace_label = LabelFor(rule->resources, "namespace", "namespace");
    def.pod_label = LabelFor(rule->resources, "pod", "pod");
    def.container_label = rule->container_label.empty() ? "container" : rule->container_label;
    def.preset.window = rr.window;
    config->metrics.push_back(def);
    if (!rule->node_query.empty()) {
      auto node = GoTemplate::Parse(rule->node_query, kResourceQueryFields);
      def.resource = MetricResource::NodeMetrics();
      def.description = absl::StrCat("from resourceRules.", name, ".nodeQuery");
      def.query = node.ok() ? node->Render({}) : rule->node_query;
      def.namespace_label = "";
      def.pod_label = LabelFor(rule->resources, "node", "node");
      def.container_label = "";
      config->metrics.push_back(std::move(def));
    }
  }
  for (auto [name, rule] : {std::pair<const char*, const AdapterResourceRule*>{"cpu", &rr.cpu},
                            {"memory", &rr.memory}}) {
    if (config->FindMetric(name) != nullptr) continue;
    MetricDefinition def;
    def.name = name;
    def.rule = absl::StrCat("resourceRules.", name);
    def.backend = rr.backend;
    def.description = absl::StrCat("from resourceRules.", name, ".containerQuery, summed per pod");
    // Canonical <<.X>> spelling for the sampler (the template was validated at load).
    auto t = GoTemplate::Parse(rule->container_query, kResourceQueryFields);
    def.query = t.ok() ? t->Render({}) : rule->container_query;
    def.namespace_label = LabelFor(rule->resources, "namespace", "namespace");
    def.pod_label = LabelFor(rule->resources, "pod", "pod");
    def.preset.window = rr.window;
    config->metrics.push_back(std::move(def));
  }
}

absl::StatusOr<Config> BuildConfig(const Errors& errors, const YAML::Node& root) {
  Config config;
  config.source = errors.source();
  AA_ASSIGN_OR_RETURN(MapView top, MapView::Open(errors, root, "",
                                                 {"prometheus", "backends", "sampling", "podLabels",
                                                  "objectWatch", "keda", "metrics", "discovery",
                                                  "rules", "externalRules", "resourceRules"}));
  AA_RETURN_IF_ERROR(
      ReadPrometheus(errors, top.Get("prometheus"), "prometheus", nullptr, &config.prometheus));
  AA_RETURN_IF_ERROR(ReadBackends(errors, top.Get("backends"), top.Has("prometheus"), &config));
  AA_RETURN_IF_ERROR(ReadSampling(errors, top.Get("sampling"), &config.sampling));
  AA_RETURN_IF_ERROR(ReadPodLabels(errors, top.Get("podLabels"), config, &config.pod_labels));
  AA_RETURN_IF_ERROR(ReadObjectWatch(errors, top.Get("objectWatch"), &config.object_watch));
  AA_RETURN_IF_ERROR(ReadKeda(errors, top.Get("keda"), &config.keda));

  AA_RETURN_IF_ERROR(ReadDiscovery(errors, top.Get("discovery"), &config));
  AA_RETURN_IF_ERROR(
      ReadAdapterRules(errors, top.Get("rules"), "rules", false, config, &config.rules));
  AA_RETURN_IF_ERROR(ReadAdapterRules(errors, top.Get("externalRules"), "externalRules", true,
                                      config, &config.rules));
  AA_RETURN_IF_ERROR(
      ReadResourceRules(errors, top.Get("resourceRules"), config, &config.resource_rules));
  const bool has_adapter_rules = !config.rules.empty() || config.resource_rules.has_value();

  YAML::Node metrics = top.Get("metrics");
  // A prometheus-adapter file (rules only) needs no `metrics:` list.
  if (!IsSet(metrics) && has_adapter_rules) {
    AddResourceRuleMetrics(&config);
    return config;
  }
  if (!IsSet(metrics)) {
    return errors.At("metrics", "at least one metric is required");
  }
  if (!metrics.IsSequence())
    return errors.AtNode("metrics", "expected a list of metric definitions", metrics);
  if (metrics.size() == 0 && !has_adapter_rules) {
    return errors.At("metrics", "at least one metric is required");
  }
  std::map<std::string, size_t> index_by_name;
  for (size_t i = 0; i < metrics.size(); ++i) {
    std::string path = absl::StrCat("metrics[", i, "]");
    MetricDefinition def;
    AA_RETURN_IF_ERROR(ReadMetric(errors, metrics[i], path, config, &def));
    auto [it, inserted] = index_by_name.emplace(def.name, i);
    if (!inserted) {
      return errors.AtValue(
          absl::StrCat(path, ".name"),
          absl::StrCat("duplicate metric name, first defined at metrics[", it->second, "]"),
          def.name);
    }
    if (def.panic && def.panic->panic_window() < 2 * config.sampling.interval) {
      return errors.AtValue(
          absl::StrCat(path, ".panic"),
          absl::StrCat("the panic window must span at least two samples: 2 x sampling.interval (",
                       FormatGoDuration(config.sampling.interval),
                       ") or more; shorten sampling.interval or widen the window"),
          FormatGoDuration(def.panic->panic_window()));
    }
    config.metrics.push_back(std::move(def));
  }
  AddResourceRuleMetrics(&config);
  return config;
}

// Finds how many documents `text` holds with a bounded loop. yaml-cpp 0.7's LoadAll never returns
// on a document that starts with a stray flow token (",": found by config_fuzzer): its parser then
// reports an empty document again and again without consuming the token. Here a document starting
// where the previous one did is that syntax error.
class DocumentStarts final : public YAML::EventHandler {
 public:
  std::vector<YAML::Mark> marks;

  void OnDocumentStart(const YAML::Mark& mark) override { marks.push_back(mark); }
  void OnDocumentEnd() override {}
  void OnNull(const YAML::Mark&, YAML::anchor_t) override {}
  void OnAlias(const YAML::Mark&, YAML::anchor_t) override {}
  void OnScalar(const YAML::Mark&, const std::string&, YAML::anchor_t,
                const std::string&) override {}
  void OnSequenceStart(const YAML::Mark&, const std::string&, YAML::anchor_t,
                       YAML::EmitterStyle::value) override {}
  void OnSequenceEnd() override {}
  void OnMapStart(const YAML::Mark&, const std::string&, YAML::anchor_t,
                  YAML::EmitterStyle::value) override {}
  void OnMapEnd() override {}
};

absl::Status SyntaxError(const Errors& errors, const YAML::Mark& mark, std::string_view what) {
  if (mark.is_null()) return errors.At("", absl::StrCat("YAML syntax error: ", ToAbsl(what)));
  return absl::InvalidArgumentError(absl::StrCat(errors.source(), ":", mark.line + 1, ":",
                                                 mark.column + 1,
                                                 ": YAML syntax error: ", ToAbsl(what)));
}

// The one document in `text` (null when there is none). May throw YAML::Exception.
absl::StatusOr<YAML::Node> LoadOneDocument(const Errors& errors, const std::string& text) {
  constexpr size_t kMaxDocuments = 100;
  {
    std::istringstream in(text);
    YAML::Parser parser(in);
    DocumentStarts starts;
    while (starts.marks.size() <= kMaxDocuments && parser.HandleNextDocument(starts)) {
      const std::vector<YAML::Mark>& m = starts.marks;
      if (m.size() >= 2 && m[m.size() - 1].pos == m[m.size() - 2].pos) {
        const YAML::Mark& at = m.back();
        std::string what = "unexpected token";
        if (at.pos >= 0 && static_cast<size_t>(at.pos) < text.size()) {
          what = absl::StrCat("unexpected \"", QuoteForMessage(text.substr(at.pos, 1)), "\"");
        }
        return SyntaxError(errors, at, what);
      }
    }
    if (starts.marks.size() > kMaxDocuments) {
      return errors.At("",
                       absl::StrCat("expected one YAML document, found more than ", kMaxDocuments));
    }
    if (starts.marks.size() > 1) {
      return errors.At("", absl::StrCat("expected one YAML document, found ", starts.marks.size()));
    }
    if (starts.marks.empty()) return YAML::Node(YAML::NodeType::Null);
  }
  return YAML::Load(text);
}

constexpr std::string_view kEmbeddedDefault =
    R"yaml(
# Built-in configuration for the simulator and the demo (the demo passes --prometheus-url).
prometheus:
  url: ""
sampling:
  interval: 2s
  maxAge: 30s
  warmNamespaces: [kserve-test]
metrics:
- name: concurrency
  description: Mean requests in flight per pod (Knative queue-proxy), as for concurrency-model
  preset: {type: concurrency, source: knative-queue-proxy, window: 1m}
  containerConcurrency: 100
  targetUtilizationPercentage: 70
- name: concurrency_kserve
  preset: {type: concurrency, source: kserve, window: 1m}
  target: 70
- name: requests_running
  preset: {type: concurrency, source: vllm, window: 1m}
  target: 70
- name: cpu
  description: CPU usage per pod in cores against its CPU request, the tutorial's cpu-model
  preset: {type: cpu, window: 1m}
  targetUtilization: 50
- name: memory
  description: Memory working set per pod in bytes (cAdvisor), for metrics.k8s.io (kubectl top pod)
  query: sum by (<<.GroupBy>>) (container_memory_working_set_bytes{<<.LabelMatchers>>,container!="",container!="POD"})
)yaml";

}  // namespace

std::vector<prom::ClientOptions> Config::BackendOptions() const {
  std::vector<prom::ClientOptions> all = {prometheus};
  all.front().name = prom::Backends::kDefault;
  for (const BackendConfig& b : backends) all.push_back(b.options);
  return all;
}

bool Config::HasBackend(std::string_view name) const {
  if (name.empty() || name == prom::Backends::kDefault) return true;
  for (const BackendConfig& b : backends) {
    if (b.options.name == name) return true;
  }
  return false;
}

const MetricDefinition* Config::FindMetric(std::string_view name) const {
  for (const MetricDefinition& def : metrics) {
    if (def.name == name && def.resource.is(MetricResource::Kind::kPods)) return &def;
  }
  return nullptr;
}

absl::StatusOr<Config> ParseConfig(std::string_view yaml_text, std::string_view source) {
  Errors errors{std::string(source)};
  const std::string text(yaml_text);
  errors.set_text(text);
  if (yaml_text.size() > kMaxConfigBytes) {
    return errors.At("", absl::StrCat("configuration is larger than ", kMaxConfigBytes, " bytes"));
  }
  // yaml-cpp reports errors by throwing; nothing may escape this function.
  try {
    AA_ASSIGN_OR_RETURN(YAML::Node root, LoadOneDocument(errors, text));
    return BuildConfig(errors, root);
  } catch (const YAML::Exception& e) {
    return SyntaxError(errors, e.mark, e.msg);
  } catch (const std::exception& e) {
    return absl::InvalidArgumentError(
        absl::StrCat(errors.source(), ": cannot read YAML: ", e.what()));
  } catch (...) {
    return absl::InvalidArgumentError(absl::StrCat(errors.source(), ": cannot read YAML"));
  }
}

absl::StatusOr<Config> LoadConfigFile(const std::string& path) {
  absl::StatusOr<std::string> text = ReadConfigFile(path);
  if (!text.ok()) return text.status();
  return ParseConfig(*text, path);
}

absl::StatusOr<std::string> ReadConfigFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    int err = errno;
    std::string why = std::strerror(err);
    if (err == EACCES || err == EPERM)
      return absl::PermissionDeniedError(absl::StrCat(path, ": ", why));
    if (err == ENOENT || err == ENOTDIR) return absl::NotFoundError(absl::StrCat(path, ": ", why));
    return absl::InvalidArgumentError(absl::StrCat(path, ": cannot open: ", why));
  }
  std::string text;
  char buffer[65536];
  while (in.read(buffer, sizeof buffer) || in.gcount() > 0) {
    text.append(buffer, static_cast<size_t>(in.gcount()));
    if (text.size() > kMaxConfigBytes) break;  // ParseConfig reports the size
  }
  if (in.bad())
    return absl::InvalidArgumentError(absl::StrCat(path, ": read error (is it a directory?)"));
  return text;
}

absl::Status ValidateForRun(const Config& config) {
  const Errors errors(config.source);
  AA_RETURN_IF_ERROR(
      ValidatePrometheus(errors, config.prometheus_path, config.prometheus, /*require_url=*/true));
  for (const BackendConfig& b : config.backends) {
    AA_RETURN_IF_ERROR(ValidatePrometheus(errors, b.path, b.options, /*require_url=*/true));
  }
  return absl::OkStatus();
}

std::string_view EmbeddedDefaultConfig() { return kEmbeddedDefault; }

}  // namespace aa::config
