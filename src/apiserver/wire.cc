#include "apiserver/wire.h"

#include <cstdint>
#include <optional>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/time/civil_time.h"
#include "apiserver/quantity.h"
#include "common/duration.h"
#include "common/escape.h"
#include "common/http_status.h"
#include "common/strings.h"

namespace aa::apiserver {
namespace {

// Appends `s` as a quoted JSON string. Invalid UTF-8 bytes become U+FFFD, one per byte, as in Go.
void AppendString(std::string* out, std::string_view s) {
  static constexpr char kHex[] = "0123456789abcdef";
  out->push_back('"');
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  const size_t n = s.size();
  size_t i = 0;
  while (i < n) {
    const unsigned char c = p[i];
    if (c >= 0x20 && c < 0x80 && c != '"' && c != '\\') {
      // Copy the run of plain ASCII at once.
      size_t j = i + 1;
      while (j < n && p[j] >= 0x20 && p[j] < 0x80 && p[j] != '"' && p[j] != '\\') ++j;
      out->append(s.data() + i, j - i);
      i = j;
      continue;
    }
    if (c < 0x80) {
      if (const char* e = ShortEscape(c)) {
        out->append(e);
      } else {
        out->append("\\u00");
        out->push_back(kHex[c >> 4]);
        out->push_back(kHex[c & 0xf]);
      }
      ++i;
      continue;
    }
    // Multi-byte UTF-8 (no overlong forms, no surrogates, <= U+10FFFF).
    const size_t len = Utf8SequenceLength(s, i);
    if (len != 0) {
      out->append(s.data() + i, len);
      i += len;
    } else {
      out->append("\\ufffd");
      ++i;
    }
  }
  out->push_back('"');
}

void AppendKey(std::string* out, std::string_view key) {
  AppendString(out, key);
  out->push_back(':');
}

void AppendLabels(std::string* out, const std::map<std::string, std::string>& labels) {
  out->push_back('{');
  bool first = true;
  for (const auto& [k, v] : labels) {
    if (!first) out->push_back(',');
    first = false;
    AppendKey(out, k);
    AppendString(out, v);
  }
  out->push_back('}');
}

void AppendTwo(std::string* out, int v) {
  out->push_back(static_cast<char>('0' + v / 10));
  out->push_back(static_cast<char>('0' + v % 10));
}

void AppendRfc3339(std::string* out, absl::Time t) {
  static const absl::Time kMin =
      absl::FromCivil(absl::CivilSecond(1, 1, 1, 0, 0, 0), absl::UTCTimeZone());
  static const absl::Time kMax =
      absl::FromCivil(absl::CivilSecond(9999, 12, 31, 23, 59, 59), absl::UTCTimeZone());
  if (t < kMin) t = kMin;
  if (t > kMax) t = kMax;
  // ToCivilSecond floors, which truncates the fraction.
  const absl::CivilSecond cs = absl::ToCivilSecond(t, absl::UTCTimeZone());
  const int year = static_cast<int>(cs.year());
  AppendTwo(out, year / 100);
  AppendTwo(out, year % 100);
  out->push_back('-');
  AppendTwo(out, cs.month());
  out->push_back('-');
  AppendTwo(out, cs.day());
  out->push_back('T');
  AppendTwo(out, cs.hour());
  out->push_back(':');
  AppendTwo(out, cs.minute());
  out->push_back(':');
  AppendTwo(out, cs.second());
  out->push_back('Z');
}

// Lists often repeat the same timestamp and window (one query result): format each once.
class TimeWriter {
  // One quoted time, formatted again only when it changes.
  struct Cached {
    void Append(std::string* out, absl::Time t) {
      if (text.empty() || t != last) {
        text.clear();
        text.push_back('"');
        AppendRfc3339(&text, t);
        text.push_back('"');
        last = t;
      }
      out->append(text);
    }
    absl::Time last;
    std::string text;
  };

 public:
  void Append(std::string* out, absl::Time t) { sample_.Append(out, t); }

  // A creationTimestamp (its own cache: one value per response); InfinitePast prints null.
  void AppendCreation(std::string* out, absl::Time t) {
    if (t == absl::InfinitePast()) {
      out->append("null");
    } else {
      creation_.Append(out, t);
    }
  }

  void AppendWindow(std::string* out, absl::Duration d) {
    if (window_text_.empty() || d != last_window_) {
      window_text_.clear();
      AppendString(&window_text_, FormatGoDuration(d));
      last_window_ = d;
    }
    out->append(window_text_);
  }

 private:
  Cached sample_;
  Cached creation_;
  absl::Duration last_window_;
  std::string window_text_;
};

void AppendDescribedObject(std::string* out, const DescribedObject& o) {
  out->append("{");
  bool first = true;
  auto field = [&](std::string_view key, const std::string& value) {
    if (value.empty()) return;
    if (!first) out->push_back(',');
    first = false;
    AppendKey(out, key);
    AppendString(out, value);
  };
  field("kind", o.kind);
  field("namespace", o.ns);
  field("name", o.name);
  field("apiVersion", o.api_version);
  out->push_back('}');
}

void AppendSelector(std::string* out, const std::map<std::string, std::string>& selector,
                    const std::vector<SelectorExpression>& expressions) {
  if (selector.empty() && expressions.empty()) {
    out->append("null");
    return;
  }
  out->push_back('{');
  if (!selector.empty()) {
    out->append("\"matchLabels\":");
    AppendLabels(out, selector);
  }
  if (!expressions.empty()) {
    if (!selector.empty()) out->push_back(',');
    out->append("\"matchExpressions\":[");
    for (size_t i = 0; i < expressions.size(); ++i) {
      const SelectorExpression& e = expressions[i];
      if (i > 0) out->push_back(',');
      out->append("{\"key\":");
      AppendString(out, e.key);
      out->append(",\"operator\":");
      AppendString(out, e.op);
      if (!e.values.empty()) {
        out->append(",\"values\":[");
        for (size_t j = 0; j < e.values.size(); ++j) {
          if (j > 0) out->push_back(',');
          AppendString(out, e.values[j]);
        }
        out->push_back(']');
      }
      out->push_back('}');
    }
    out->push_back(']');
  }
  out->push_back('}');
}

void AppendListHeader(std::string* out, std::string_view kind, std::string_view api_version) {
  out->append("{\"kind\":");
  AppendString(out, kind);
  out->append(",\"apiVersion\":");
  AppendString(out, api_version);
  out->append(",\"metadata\":{},\"items\":[");
}

constexpr std::string_view kMetricsApiVersion = "metrics.k8s.io/v1beta1";

// A metrics.k8s.io object's metadata (name, namespace unless `ns` is null, creationTimestamp,
// labels unless empty), then the sample's timestamp and window. `Item` is PodMetricsItem or
// NodeMetricsItem.
template <typename Item>
void AppendMetadataTimestampWindow(std::string* out, const Item& item, const std::string* ns,
                                   TimeWriter* times) {
  out->append("\"metadata\":{\"name\":");
  AppendString(out, item.name);
  if (ns != nullptr) {
    out->append(",\"namespace\":");
    AppendString(out, *ns);
  }
  out->append(",\"creationTimestamp\":");
  times->AppendCreation(out, item.creation);
  if (!item.labels.empty()) {
    out->append(",\"labels\":");
    AppendLabels(out, item.labels);
  }
  out->append("},\"timestamp\":");
  times->Append(out, item.timestamp);
  out->append(",\"window\":");
  times->AppendWindow(out, item.window);
}

// {"cpu":"<nanocores>"[,"memory":"<bytes>"]}
void AppendUsage(std::string* out, double cpu_cores, std::optional<double> memory_bytes) {
  out->append("{\"cpu\":\"");
  out->append(FormatNanoCores(cpu_cores));
  if (memory_bytes) {
    out->append("\",\"memory\":\"");
    out->append(FormatBytes(*memory_bytes));
  }
  out->append("\"}");
}

// The body of a PodMetrics after the opening brace (and kind/apiVersion if any).
void AppendPodMetricsBody(std::string* out, const PodMetricsItem& item, TimeWriter* times) {
  AppendMetadataTimestampWindow(out, item, &item.ns, times);
  out->append(",\"containers\":[");
  for (size_t i = 0; i < item.containers.size(); ++i) {
    const ContainerUsage& c = item.containers[i];
    if (i > 0) out->push_back(',');
    out->append("{\"name\":");
    AppendString(out, c.name);
    out->append(",\"usage\":");
    AppendUsage(out, c.cpu_cores, c.memory_bytes);
    out->push_back('}');
  }
  out->append("]}");
}

void AppendNodeMetricsBody(std::string* out, const NodeMetricsItem& item, TimeWriter* times) {
  AppendMetadataTimestampWindow(out, item, /*ns=*/nullptr, times);
  out->append(",\"usage\":");
  AppendUsage(out, item.cpu_cores, item.memory_bytes);
  out->push_back('}');
}

void AppendGroupBody(std::string* out, std::string_view group,
                     const std::vector<std::string>& versions) {
  out->append("\"name\":");
  AppendString(out, group);
  out->append(",\"versions\":[");
  auto version_entry = [&](const std::string& v) {
    out->append("{\"groupVersion\":");
    AppendString(out, absl::StrCat(ToAbsl(group), "/", v));
    out->append(",\"version\":");
    AppendString(out, v);
    out->push_back('}');
  };
  for (size_t i = 0; i < versions.size(); ++i) {
    if (i > 0) out->push_back(',');
    version_entry(versions[i]);
  }
  out->push_back(']');
  if (!versions.empty()) {
    out->append(",\"preferredVersion\":");
    version_entry(versions.front());
  }
}

}  // namespace

std::string Rfc3339(absl::Time t) {
  std::string out;
  out.reserve(20);
  AppendRfc3339(&out, t);
  return out;
}

std::string CustomMetricValueList(std::string_view version,
                                  const std::vector<CustomMetricItem>& items) {
  const bool v1beta1 = version == "v1beta1";
  std::string out;
  out.reserve(128 + items.size() * 256);
  AppendListHeader(&out, "MetricValueList",
                   absl::StrCat("custom.metrics.k8s.io/", ToAbsl(version)));
  TimeWriter times;
  for (size_t i = 0; i < items.size(); ++i) {
    const CustomMetricItem& item = items[i];
    if (i > 0) out.push_back(',');
    out.append("{\"describedObject\":");
    AppendDescribedObject(&out, item.object);
    if (v1beta1) {
      out.append(",\"metricName\":");
      AppendString(&out, item.metric);
    } else {
      out.append(",\"metric\":{\"name\":");
      AppendString(&out, item.metric);
      out.append(",\"selector\":");
      AppendSelector(&out, item.selector, item.selector_expressions);
      out.push_back('}');
    }
    out.append(",\"timestamp\":");
    times.Append(&out, item.timestamp);
    out.append(v1beta1 ? ",\"window\":" : ",\"windowSeconds\":");
    absl::StrAppend(&out, item.window_seconds);
    out.append(",\"value\":\"");
    out.append(FormatQuantity(item.value));
    out.push_back('"');
    if (v1beta1) {
      out.append(",\"selector\":");
      AppendSelector(&out, item.selector, item.selector_expressions);
    }
    out.push_back('}');
  }
  out.append("]}");
  return out;
}

std::string ExternalMetricValueList(const std::vector<ExternalMetricItem>& items) {
  std::string out;
  out.reserve(128 + items.size() * 192);
  AppendListHeader(&out, "ExternalMetricValueList", "external.metrics.k8s.io/v1beta1");
  TimeWriter times;
  for (size_t i = 0; i < items.size(); ++i) {
    const ExternalMetricItem& item = items[i];
    if (i > 0) out.push_back(',');
    out.append("{\"metricName\":");
    AppendString(&out, item.metric);
    out.append(",\"metricLabels\":");
    AppendLabels(&out, item.labels);
    out.append(",\"timestamp\":");
    times.Append(&out, item.timestamp);
    out.append(",\"window\":");
    absl::StrAppend(&out, item.window_seconds);
    out.append(",\"value\":\"");
    out.append(FormatQuantity(item.value));
    out.append("\"}");
  }
  out.append("]}");
  return out;
}

namespace {

// One metrics.k8s.io object: {"kind":K,"apiVersion":...,<body>}.
template <typename Item, typename AppendBody>
std::string MetricsObject(std::string_view kind, const Item& item, AppendBody append_body) {
  std::string out = "{\"kind\":\"";
  out.append(kind);
  out.append("\",\"apiVersion\":\"");
  out.append(kMetricsApiVersion);
  out.append("\",");
  TimeWriter times;
  append_body(&out, item, &times);
  return out;
}

// A metrics.k8s.io list: {"kind":K,"apiVersion":...,"metadata":{},"items":[{<body>},...]}.
template <typename Item, typename AppendBody>
std::string MetricsList(std::string_view kind, const std::vector<Item>& items,
                        size_t bytes_per_item, AppendBody append_body) {
  std::string out;
  out.reserve(128 + items.size() * bytes_per_item);
  AppendListHeader(&out, kind, kMetricsApiVersion);
  TimeWriter times;
  for (size_t i = 0; i < items.size(); ++i) {
    out.append(i > 0 ? ",{" : "{");
    append_body(&out, items[i], &times);
  }
  out.append("]}");
  return out;
}

}  // namespace

std::string PodMetrics(const PodMetricsItem& item) {
  return MetricsObject("PodMetrics", item, AppendPodMetricsBody);
}

std::string PodMetricsList(const std::vector<PodMetricsItem>& items) {
  return MetricsList("PodMetricsList", items, 320, AppendPodMetricsBody);
}

std::string NodeMetrics(const NodeMetricsItem& item) {
  return MetricsObject("NodeMetrics", item, AppendNodeMetricsBody);
}

std::string NodeMetricsList(const std::vector<NodeMetricsItem>& items) {
  return MetricsList("NodeMetricsList", items, 256, AppendNodeMetricsBody);
}

std::string APIResourceList(std::string_view group_version,
                            const std::vector<ApiResource>& resources) {
  std::string out = "{\"kind\":\"APIResourceList\",\"apiVersion\":\"v1\",\"groupVersion\":";
  out.reserve(96 + resources.size() * 128);
  AppendString(&out, group_version);
  out.append(",\"resources\":[");
  for (size_t i = 0; i < resources.size(); ++i) {
    const ApiResource& r = resources[i];
    if (i > 0) out.push_back(',');
    out.append("{\"name\":");
    AppendString(&out, r.name);
    out.append(",\"singularName\":\"\",\"namespaced\":");
    out.append(r.namespaced ? "true" : "false");
    out.append(",\"kind\":");
    AppendString(&out, r.kind);
    out.append(",\"verbs\":[");
    for (size_t j = 0; j < r.verbs.size(); ++j) {
      if (j > 0) out.push_back(',');
      AppendString(&out, r.verbs[j]);
    }
    out.append("]}");
  }
  out.append("]}");
  return out;
}

std::string APIGroupList(
    const std::vector<std::pair<std::string, std::vector<std::string>>>& groups) {
  std::string out = "{\"kind\":\"APIGroupList\",\"apiVersion\":\"v1\",\"groups\":[";
  for (size_t i = 0; i < groups.size(); ++i) {
    out.append(i > 0 ? ",{" : "{");
    AppendGroupBody(&out, groups[i].first, groups[i].second);
    out.push_back('}');
  }
  out.append("]}");
  return out;
}

std::string APIGroup(std::string_view group, const std::vector<std::string>& versions) {
  std::string out = "{\"kind\":\"APIGroup\",\"apiVersion\":\"v1\",";
  AppendGroupBody(&out, group, versions);
  out.push_back('}');
  return out;
}

int HttpCodeFor(absl::StatusCode code) { return HttpStatusFor(code); }

std::string StatusJson(int http_code, std::string_view message) {
  std::string out = "{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"metadata\":{},\"status\":";
  out.append(http_code < 400 ? "\"Success\"" : "\"Failure\"");
  out.append(",\"message\":");
  AppendString(&out, message);
  if (const char* reason = http_code >= 400 ? HttpReasonFor(http_code) : nullptr) {
    out.append(",\"reason\":\"");
    out.append(reason);
    out.push_back('"');
  }
  out.append(",\"code\":");
  absl::StrAppend(&out, http_code);
  out.push_back('}');
  return out;
}

std::string StatusJson(const absl::Status& s) {
  return StatusJson(HttpCodeFor(s.code()), FromAbsl(s.message()));
}

}  // namespace aa::apiserver
