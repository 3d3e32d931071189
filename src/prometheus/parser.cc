#include "prometheus/parser.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <limits>
#include <memory>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/strings.h"
#include "simdjson.h"

namespace aa::prom {
namespace {

namespace od = simdjson::ondemand;
using simdjson::error_code;

// On-Demand: on the 10,000-series benchmark (bench/parse_bench.cc) it measured on par with or
// faster than a minimal DOM walk (2.23 vs 2.15 M series/s of CPU), although without -march flags
// On-Demand compiles simdjson's portable "fallback" kernel while DOM dispatches to AVX2 at run
// time; label strings, not JSON scanning, dominate. The parser keeps its buffers between calls; one
// per thread keeps the functions thread-safe without locks.
od::parser& ThreadParser() {
  thread_local od::parser parser;
  return parser;
}

// A parser's buffers grow to the largest document it saw and stay (about 5 bytes per byte of body:
// simdjson's structural index is 4). Bodies above this size get a parser of their own, freed
// afterwards, so no thread keeps them between rounds: a sampler holding the buffers for a 3 MB
// answer kept about 2 MiB more resident (memory_bench, 10,000 pods), for a parse of 1.5 MB that
// takes about 2.5 ms longer with fresh buffers (parse_bench: 2.1 -> 4.8 ms).
constexpr size_t kMaxRetainedBody = 256 << 10;

// Parses with the thread's parser, or a temporary one for a huge body; `doc` may only be used while
// `scratch` lives.
error_code Iterate(const simdjson::padded_string& padded, std::unique_ptr<od::parser>& scratch,
                   od::document& doc) {
  od::parser* parser = &ThreadParser();
  if (padded.size() > kMaxRetainedBody) {
    scratch = std::make_unique<od::parser>();
    parser = scratch.get();
  }
  return parser->iterate(padded).get(doc);
}

absl::Status Bad(std::string_view where, std::string_view what) {
  return absl::InvalidArgumentError(
      absl::StrCat("malformed Prometheus answer: ", ToAbsl(where), ": ", ToAbsl(what)));
}

absl::Status BadJson(std::string_view where, error_code e) {
  return Bad(where, simdjson::error_message(e));
}

// The first bytes of a body, printable, for messages about answers that are not JSON at all.
std::string Snippet(std::string_view body) {
  constexpr size_t kMax = 48;
  std::string out;
  for (char c : body.substr(0, kMax)) {
    out.push_back(c >= 0x20 && c < 0x7f ? c : ' ');
  }
  if (body.size() > kMax) out += "...";
  return out;
}

absl::Status NotJson(std::string_view body, error_code e) {
  if (body.empty()) return absl::InvalidArgumentError("malformed Prometheus answer: empty body");
  return absl::InvalidArgumentError(absl::StrCat("malformed Prometheus answer: not a JSON object (",
                                                 simdjson::error_message(e),
                                                 "); body starts with \"", Snippet(body), "\""));
}

absl::Status MapApiError(std::string_view error_type, std::string_view error) {
  std::string msg =
      absl::StrCat("Prometheus error (", ToAbsl(error_type.empty() ? "unknown" : error_type),
                   "): ", ToAbsl(error));
  if (error_type == "bad_data") return absl::InvalidArgumentError(msg);
  return absl::UnavailableError(msg);
}

// [<unix seconds, float>, "<value>"] -> (ms, value).
// `where` builds the element's path, only when there is an error to report.
template <typename WhereFn>
absl::Status ParsePoint(od::value v, const WhereFn& where, int64_t* ts_ms, double* value) {
  od::array arr;
  if (error_code e = v.get_array().get(arr))
    return Bad(where(), absl::StrCat("expected [time, \"value\"]: ", simdjson::error_message(e)));
  size_t n = 0;
  for (auto elem : arr) {
    od::value ev;
    if (error_code e = elem.get(ev)) return BadJson(where(), e);
    if (n == 0) {
      double ts;
      if (error_code e = ev.get_double().get(ts)) {
        return Bad(where(),
                   absl::StrCat("timestamp is not a number: ", simdjson::error_message(e)));
      }
      if (!std::isfinite(ts) || std::fabs(ts) > 9.2e15)
        return Bad(where(), "timestamp out of range");
      *ts_ms = std::llround(ts * 1000.0);
    } else if (n == 1) {
      std::string_view s;
      if (error_code e = ev.get_string().get(s)) {
        return Bad(where(), absl::StrCat("value is not a string: ", simdjson::error_message(e)));
      }
      if (!ParseSampleValue(s, value)) {
        return Bad(where(),
                   absl::StrCat("value \"", ToAbsl(s.substr(0, 64)), "\" is not a number"));
      }
    }
    ++n;
  }
  if (n != 2) return Bad(where(), absl::StrCat("expected 2 elements [time, \"value\"], got ", n));
  return absl::OkStatus();
}

// A JSON object of string -> string into sorted Labels.
absl::Status ParseLabels(od::value v, Labels* out,
                         const std::string& (*where_fn)(size_t, std::string*), size_t index) {
  std::string where_buf;
  od::object obj;
  if (error_code e = v.get_object().get(obj)) {
    return Bad(where_fn(index, &where_buf),
               absl::StrCat("expected an object of labels: ", simdjson::error_message(e)));
  }
  for (auto field_result : obj) {
    od::field field;
    if (error_code e = std::move(field_result).get(field))
      return BadJson(where_fn(index, &where_buf), e);
    std::string_view key;
    if (error_code e = field.unescaped_key().get(key))
      return BadJson(where_fn(index, &where_buf), e);
    std::string name(key);
    std::string_view value;
    if (error_code e = field.value().get_string().get(value)) {
      return Bad(
          where_fn(index, &where_buf),
          absl::StrCat("label \"", name, "\" is not a string: ", simdjson::error_message(e)));
    }
    out->emplace_back(std::move(name), std::string(value));
  }
  auto by_name = [](const auto& a, const auto& b) { return a.first < b.first; };
  if (!std::is_sorted(out->begin(), out->end(), by_name))
    std::sort(out->begin(), out->end(), by_name);
  for (size_t i = 1; i < out->size(); ++i) {
    if ((*out)[i - 1].first == (*out)[i].first) {
      return Bad(where_fn(index, &where_buf),
                 absl::StrCat("duplicate label \"", (*out)[i].first, "\""));
    }
  }
  return absl::OkStatus();
}

const std::string& ResultMetricWhere(size_t i, std::string* buf) {
  *buf = absl::StrCat("data.result[", i, "].metric");
  return *buf;
}

const std::string& SeriesWhere(size_t i, std::string* buf) {
  *buf = absl::StrCat("data[", i, "]");
  return *buf;
}

// One element of data.result that is an object: {"metric": {...}, "value": [...]} or {"metric":
// {...}, "values":
// [[...], ...]}. Appends to `samples` or `series`.
absl::Status ParseResultElement(od::object obj, size_t i, std::vector<Sample>* samples,
                                std::vector<Series>* series) {
  Labels labels;
  bool have_metric = false;
  bool have_value = false;
  bool have_values = false;
  bool have_histogram = false;
  int64_t ts_ms = 0;
  double value = 0;
  std::vector<std::pair<int64_t, double>> points;
  for (auto field_result : obj) {
    od::field field;
    if (error_code e = std::move(field_result).get(field))
      return BadJson(absl::StrCat("data.result[", i, "]"), e);
    std::string_view key;
    if (error_code e = field.unescaped_key().get(key))
      return BadJson(absl::StrCat("data.result[", i, "]"), e);
    if (key == "metric") {
      if (have_metric) return Bad(absl::StrCat("data.result[", i, "]"), "duplicate \"metric\"");
      have_metric = true;
      if (auto s = ParseLabels(field.value(), &labels, &ResultMetricWhere, i); !s.ok()) return s;
    } else if (key == "value") {
      if (have_value) return Bad(absl::StrCat("data.result[", i, "]"), "duplicate \"value\"");
      have_value = true;
      auto where = [i] { return absl::StrCat("data.result[", i, "].value"); };
      if (auto s = ParsePoint(field.value(), where, &ts_ms, &value); !s.ok()) return s;
    } else if (key == "values") {
      if (have_values) return Bad(absl::StrCat("data.result[", i, "]"), "duplicate \"values\"");
      have_values = true;
      od::array arr;
      if (error_code e = field.value().get_array().get(arr)) {
        return Bad(absl::StrCat("data.result[", i, "].values"), simdjson::error_message(e));
      }
      std::string prefix = absl::StrCat("data.result[", i, "].values");
      size_t j = 0;
      for (auto elem : arr) {
        od::value ev;
        if (error_code e = elem.get(ev)) return BadJson(prefix, e);
        std::pair<int64_t, double> p;
        auto where = [&prefix, j] { return absl::StrCat(prefix, "[", j, "]"); };
        if (auto s = ParsePoint(ev, where, &p.first, &p.second); !s.ok()) return s;
        points.push_back(p);
        ++j;
      }
    } else if (key == "histogram" || key == "histograms") {
      have_histogram = true;
    }
  }
  std::string here = absl::StrCat("data.result[", i, "]");
  if (!have_metric) return Bad(here, "missing \"metric\"");
  if (have_value == have_values) {
    if (have_histogram && !have_value)
      return Bad(here, "native histogram samples are not supported");
    return Bad(here,
               have_value ? "both \"value\" and \"values\"" : "missing \"value\" or \"values\"");
  }
  if (have_value) {
    samples->push_back(Sample{std::move(labels), value, ts_ms});
  } else {
    if (!std::is_sorted(points.begin(), points.end(),
                        [](const auto& a, const auto& b) { return a.first < b.first; })) {
      return Bad(absl::StrCat(here, ".values"), "points not in time order");
    }
    series->push_back(Series{std::move(labels), std::move(points)});
  }
  return absl::OkStatus();
}

// data of a query answer.
absl::Status ParseQueryData(od::value v, QueryResult* out) {
  od::object obj;
  if (error_code e = v.get_object().get(obj))
    return Bad("data", absl::StrCat("expected an object: ", simdjson::error_message(e)));
  std::string result_type;
  bool have_type = false;
  bool have_result = false;
  // Shape of data.result, whatever the order of resultType and result in the object.
  size_t n_objects = 0;
  size_t n_elems = 0;
  bool pair_shape = true;  // [number, string]
  int64_t pair_ts = 0;
  std::string pair_value;
  for (auto field_result : obj) {
    od::field field;
    if (error_code e = std::move(field_result).get(field)) return BadJson("data", e);
    std::string_view key;
    if (error_code e = field.unescaped_key().get(key)) return BadJson("data", e);
    if (key == "resultType") {
      std::string_view t;
      if (error_code e = field.value().get_string().get(t)) {
        return Bad("data.resultType", absl::StrCat("not a string: ", simdjson::error_message(e)));
      }
      result_type.assign(t);
      have_type = true;
    } else if (key == "result") {
      if (have_result) return Bad("data", "duplicate \"result\"");
      have_result = true;
      od::array arr;
      if (error_code e = field.value().get_array().get(arr)) {
        return Bad("data.result", absl::StrCat("expected an array: ", simdjson::error_message(e)));
      }
      for (auto elem : arr) {
        od::value ev;
        if (error_code e = elem.get(ev))
          return BadJson(absl::StrCat("data.result[", n_elems, "]"), e);
        od::json_type jt;
        if (error_code e = ev.type().get(jt))
          return BadJson(absl::StrCat("data.result[", n_elems, "]"), e);
        if (jt == od::json_type::object) {
          od::object eo;
          if (error_code e = ev.get_object().get(eo))
            return BadJson(absl::StrCat("data.result[", n_elems, "]"), e);
          if (auto s = ParseResultElement(eo, n_elems, &out->samples, &out->series); !s.ok())
            return s;
          ++n_objects;
          pair_shape = false;
        } else if (n_elems == 0 && jt == od::json_type::number) {
          double ts;
          if (error_code e = ev.get_double().get(ts)) return BadJson("data.result[0]", e);
          if (!std::isfinite(ts) || std::fabs(ts) > 9.2e15)
            return Bad("data.result[0]", "timestamp out of range");
          pair_ts = std::llround(ts * 1000.0);
        } else if (n_elems == 1 && jt == od::json_type::string) {
          std::string_view s;
          if (error_code e = ev.get_string().get(s)) return BadJson("data.result[1]", e);
          pair_value.assign(s);
        } else {
          return Bad(absl::StrCat("data.result[", n_elems, "]"), "unexpected element");
        }
        ++n_elems;
      }
    }
  }
  if (!have_type) return Bad("data", "missing \"resultType\"");
  if (!have_result) return Bad("data", "missing \"result\"");
  if (n_objects != 0 && n_objects != n_elems)
    return Bad("data.result", "mixes objects and plain values");
  if (result_type == "vector" || result_type == "matrix") {
    bool vector = result_type == "vector";
    out->type = vector ? ResultType::kVector : ResultType::kMatrix;
    if (n_elems > 0 && pair_shape)
      return Bad("data.result", absl::StrCat("expected an array of objects for ", result_type));
    if (vector && !out->series.empty()) return Bad("data.result", "vector element with \"values\"");
    if (!vector && !out->samples.empty())
      return Bad("data.result", "matrix element with \"value\"");
    return absl::OkStatus();
  }
  if (result_type == "scalar" || result_type == "string") {
    if (!pair_shape || n_elems != 2) {
      return Bad("data.result", absl::StrCat("expected [time, \"value\"] for ", result_type));
    }
    if (result_type == "string") {
      out->type = ResultType::kString;
      out->string_value = std::move(pair_value);
      return absl::OkStatus();
    }
    out->type = ResultType::kScalar;
    double value;
    if (!ParseSampleValue(pair_value, &value)) {
      return Bad("data.result[1]",
                 absl::StrCat("value \"", pair_value.substr(0, 64), "\" is not a number"));
    }
    out->samples.push_back(Sample{{}, value, pair_ts});
    return absl::OkStatus();
  }
  return Bad("data.resultType",
             absl::StrCat("unknown resultType \"", result_type.substr(0, 64), "\""));
}

absl::Status ParseSeriesData(od::value v, std::vector<Labels>* out) {
  od::array arr;
  if (error_code e = v.get_array().get(arr)) {
    return Bad("data",
               absl::StrCat("expected an array of label sets: ", simdjson::error_message(e)));
  }
  size_t i = 0;
  for (auto elem : arr) {
    od::value ev;
    if (error_code e = elem.get(ev)) return BadJson(absl::StrCat("data[", i, "]"), e);
    Labels labels;
    if (auto s = ParseLabels(ev, &labels, &SeriesWhere, i); !s.ok()) return s;
    out->push_back(std::move(labels));
    ++i;
  }
  return absl::OkStatus();
}

absl::Status ParseLabelValuesData(od::value v, std::vector<std::string>* out) {
  od::array arr;
  if (error_code e = v.get_array().get(arr)) {
    return Bad("data", absl::StrCat("expected an array of strings: ", simdjson::error_message(e)));
  }
  size_t i = 0;
  for (auto elem : arr) {
    std::string_view s;
    if (error_code e = elem.get_string().get(s)) return BadJson(absl::StrCat("data[", i, "]"), e);
    out->emplace_back(s);
    ++i;
  }
  return absl::OkStatus();
}

enum class Kind { kQuery, kSeries, kLabelValues };

// The envelope shared by every API answer: status, data, errorType, error, warnings. Fields in any
// order. `series` receives label sets (kSeries), `values` strings (kLabelValues).
absl::Status ParseEnvelope(std::string_view body, Kind kind, QueryResult* query,
                           std::vector<Labels>* series, std::vector<std::string>* series_warnings,
                           std::vector<std::string>* values = nullptr) {
  if (body.empty()) return absl::InvalidArgumentError("malformed Prometheus answer: empty body");
  simdjson::padded_string padded(body.data(), body.size());
  od::document doc;
  std::unique_ptr<od::parser> scratch;
  if (error_code e = Iterate(padded, scratch, doc)) return NotJson(body, e);
  od::object root;
  if (error_code e = doc.get_object().get(root)) return NotJson(body, e);
  std::string status;
  bool have_status = false;
  bool have_data = false;
  std::string error_type;
  std::string error;
  std::vector<std::string> warnings;
  for (auto field_result : root) {
    od::field field;
    if (error_code e = std::move(field_result).get(field)) return NotJson(body, e);
    std::string_view key;
    if (error_code e = field.unescaped_key().get(key)) return NotJson(body, e);
    if (key == "status") {
      std::string_view s;
      if (error_code e = field.value().get_string().get(s)) {
        return Bad("status", absl::StrCat("not a string: ", simdjson::error_message(e)));
      }
      status.assign(s);
      have_status = true;
    } else if (key == "data") {
      if (have_data) return Bad("data", "duplicate \"data\"");
      have_data = true;
      // An error answer may carry data too; only a success answer's data must be well formed, and
      // the status may come after it, so a bad data is reported only if the answer turns out to be
      // a success.
      absl::Status s = kind == Kind::kQuery    ? ParseQueryData(field.value(), query)
                       : kind == Kind::kSeries ? ParseSeriesData(field.value(), series)
                                               : ParseLabelValuesData(field.value(), values);
      if (!s.ok()) return s;
    } else if (key == "errorType" || key == "error") {
      std::string_view s;
      if (error_code e = field.value().get_string().get(s)) {
        return Bad(key, absl::StrCat("not a string: ", simdjson::error_message(e)));
      }
      (key == "error" ? error : error_type).assign(s);
    } else if (key == "warnings") {
      od::array arr;
      if (error_code e = field.value().get_array().get(arr)) {
        return Bad("warnings", absl::StrCat("expected an array: ", simdjson::error_message(e)));
      }
      for (auto elem : arr) {
        std::string_view w;
        if (error_code e = elem.get_string().get(w)) {
          return Bad("warnings", absl::StrCat("not a string: ", simdjson::error_message(e)));
        }
        warnings.emplace_back(w);
      }
    }
  }
  if (doc.current_location().error() != simdjson::OUT_OF_BOUNDS)
    return Bad("body", "trailing content after the JSON object");
  if (!have_status) return Bad("body", "missing \"status\"");
  if (status == "error") return MapApiError(error_type, error);
  if (status != "success")
    return Bad("status", absl::StrCat("unknown status \"", status.substr(0, 64), "\""));
  if (!have_data) return Bad("body", "missing \"data\"");
  if (query != nullptr) {
    query->warnings = std::move(warnings);
  } else if (series_warnings != nullptr) {
    *series_warnings = std::move(warnings);
  }
  return absl::OkStatus();
}

}  // namespace

bool ParseSampleValue(std::string_view text, double* value) {
  if (text.empty()) return false;
  switch (text[0]) {
    case 'N':
      if (text == "NaN") {
        *value = std::numeric_limits<double>::quiet_NaN();
        return true;
      }
      return false;
    case '+':
      if (text == "+Inf") {
        *value = std::numeric_limits<double>::infinity();
        return true;
      }
      return false;
    case '-':
      if (text == "-Inf") {
        *value = -std::numeric_limits<double>::infinity();
        return true;
      }
      break;
    case 'I':
      if (text == "Inf") {
        *value = std::numeric_limits<double>::infinity();
        return true;
      }
      return false;
    default:
      break;
  }
  const char* end = text.data() + text.size();
  double v;
  auto [ptr, ec] = std::from_chars(text.data(), end, v);
  if (ec != std::errc() || ptr != end) return false;
  *value = v;
  return true;
}

absl::StatusOr<QueryResult> ParseQueryResponse(std::string_view body) {
  QueryResult result;
  if (auto s = ParseEnvelope(body, Kind::kQuery, &result, nullptr, nullptr); !s.ok()) return s;
  return result;
}

absl::StatusOr<std::vector<Labels>> ParseSeriesResponse(std::string_view body,
                                                        std::vector<std::string>* warnings) {
  std::vector<Labels> result;
  if (auto s = ParseEnvelope(body, Kind::kSeries, nullptr, &result, warnings); !s.ok()) return s;
  return result;
}

absl::StatusOr<std::vector<std::string>> ParseLabelValuesResponse(
    std::string_view body, std::vector<std::string>* warnings) {
  std::vector<std::string> result;
  if (auto s = ParseEnvelope(body, Kind::kLabelValues, nullptr, nullptr, warnings, &result);
      !s.ok()) {
    return s;
  }
  return result;
}

std::optional<absl::Status> ExtractApiError(std::string_view body) {
  if (body.empty()) return std::nullopt;
  simdjson::padded_string padded(body.data(), body.size());
  od::document doc;
  std::unique_ptr<od::parser> scratch;
  if (Iterate(padded, scratch, doc)) return std::nullopt;
  od::object root;
  if (doc.get_object().get(root)) return std::nullopt;
  bool is_error = false;
  bool have_error = false;
  std::string error_type;
  std::string error;
  for (auto field_result : root) {
    od::field field;
    if (std::move(field_result).get(field)) return std::nullopt;
    std::string_view key;
    if (field.unescaped_key().get(key)) return std::nullopt;
    if (key == "status" || key == "errorType" || key == "error") {
      std::string_view s;
      if (field.value().get_string().get(s)) return std::nullopt;
      if (key == "status") {
        is_error = s == "error";
      } else if (key == "error") {
        have_error = true;
        error.assign(s);
      } else {
        error_type.assign(s);
      }
    }
  }
  if (doc.current_location().error() != simdjson::OUT_OF_BOUNDS || !is_error || !have_error)
    return std::nullopt;
  return MapApiError(error_type, error);
}

}  // namespace aa::prom
