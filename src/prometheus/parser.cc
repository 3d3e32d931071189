#include "prometheus/parser.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstring>
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
// simdjson's structural index is 4). Query answers above this size are parsed in pieces
// (ParseQueryResponse); other bodies above it, and a large query answer that turns out malformed,
// get a parser of their own, freed afterwards, so no thread keeps them between rounds: a sampler
// holding the buffers for a 3 MB answer kept about 2 MiB more resident (memory_bench, 10,000 pods),
// for a parse of 1.5 MB that takes about 2.5 ms longer with fresh buffers (parse_bench: 2.1 -> 4.8
// ms).
constexpr size_t kMaxRetainedBody = ParseSizes().slice_above;

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

const LabelFilter& KeepAll() {
  static const LabelFilter* const kAll = new LabelFilter();
  return *kAll;
}

using LabelView = std::pair<std::string_view, std::string_view>;

// A JSON object of string -> string into `out`: the labels `keep` keeps, sorted by name, as views
// into the parser's string buffer (valid while the document is). Every label is checked alike (a
// string value, no name twice), kept or not. With a filter, `names` is scratch space for every
// label's name, for the duplicate check. `out` and `names` are reused between calls, so a label
// allocates nothing.
absl::Status ParseLabels(od::value v, std::vector<LabelView>* out,
                         const std::string& (*where_fn)(size_t, std::string*), size_t index,
                         const LabelFilter& keep, std::vector<std::string_view>* names) {
  std::string where_buf;
  out->clear();
  od::object obj;
  if (error_code e = v.get_object().get(obj)) {
    return Bad(where_fn(index, &where_buf),
               absl::StrCat("expected an object of labels: ", simdjson::error_message(e)));
  }
  if (!keep.all) names->clear();
  for (auto field_result : obj) {
    od::field field;
    if (error_code e = std::move(field_result).get(field))
      return BadJson(where_fn(index, &where_buf), e);
    std::string_view key;
    if (error_code e = field.unescaped_key().get(key))
      return BadJson(where_fn(index, &where_buf), e);
    std::string_view value;
    if (error_code e = field.value().get_string().get(value)) {
      return Bad(where_fn(index, &where_buf),
                 absl::StrCat("label \"", ToAbsl(key),
                              "\" is not a string: ", simdjson::error_message(e)));
    }
    if (!keep.all) names->push_back(key);
    if (keep.Keeps(key)) out->emplace_back(key, value);
  }
  auto by_name = [](const auto& a, const auto& b) { return a.first < b.first; };
  if (!std::is_sorted(out->begin(), out->end(), by_name))
    std::sort(out->begin(), out->end(), by_name);
  if (!keep.all) {
    // Duplicates among every name, kept or skipped: the same error as without a filter.
    if (!std::is_sorted(names->begin(), names->end())) std::sort(names->begin(), names->end());
    for (size_t i = 1; i < names->size(); ++i) {
      if ((*names)[i - 1] == (*names)[i]) {
        return Bad(where_fn(index, &where_buf),
                   absl::StrCat("duplicate label \"", ToAbsl((*names)[i]), "\""));
      }
    }
    return absl::OkStatus();
  }
  for (size_t i = 1; i < out->size(); ++i) {
    if ((*out)[i - 1].first == (*out)[i].first) {
      return Bad(where_fn(index, &where_buf),
                 absl::StrCat("duplicate label \"", ToAbsl((*out)[i].first), "\""));
    }
  }
  return absl::OkStatus();
}

// Labels from ParseLabels' views: one allocation for the list, and one per name or value too long
// to be stored inline.
Labels ToLabels(const std::vector<LabelView>& views) {
  Labels labels;
  labels.reserve(views.size());
  for (const auto& [name, value] : views) labels.emplace_back(name, value);
  return labels;
}

// Where the elements of data.result go: an instant vector's to `visit` when it is set (counted in
// `visited`), else to out->samples; a matrix's to out->series. `names` and `kept` are scratch
// space for ParseLabels, reused for every element.
struct ResultSink {
  QueryResult* out = nullptr;
  const SampleVisitor* visit = nullptr;
  size_t visited = 0;
  std::vector<std::string_view> names;
  std::vector<LabelView> kept;

  size_t samples() const { return out->samples.size() + visited; }
};

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
absl::Status ParseResultElement(od::object obj, size_t i, const LabelFilter& keep,
                                ResultSink* sink) {
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
      if (auto s =
              ParseLabels(field.value(), &sink->kept, &ResultMetricWhere, i, keep, &sink->names);
          !s.ok()) {
        return s;
      }
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
      size_t j = 0;
      for (auto elem : arr) {
        od::value ev;
        if (error_code e = elem.get(ev)) {
          return BadJson(absl::StrCat("data.result[", i, "].values"), e);
        }
        std::pair<int64_t, double> p;
        auto where = [i, j] { return absl::StrCat("data.result[", i, "].values[", j, "]"); };
        if (auto s = ParsePoint(ev, where, &p.first, &p.second); !s.ok()) return s;
        points.push_back(p);
        ++j;
      }
    } else if (key == "histogram" || key == "histograms") {
      have_histogram = true;
    }
  }
  // Built only for an error: most elements are well-formed, and the path does not fit a short
  // string.
  auto here = [i] { return absl::StrCat("data.result[", i, "]"); };
  if (!have_metric) return Bad(here(), "missing \"metric\"");
  if (have_value == have_values) {
    if (have_histogram && !have_value)
      return Bad(here(), "native histogram samples are not supported");
    return Bad(here(),
               have_value ? "both \"value\" and \"values\"" : "missing \"value\" or \"values\"");
  }
  if (have_value) {
    if (sink->visit != nullptr) {
      (*sink->visit)(SampleRef{sink->kept, value, ts_ms});
      ++sink->visited;
    } else {
      sink->out->samples.push_back(Sample{ToLabels(sink->kept), value, ts_ms});
    }
  } else {
    if (!std::is_sorted(points.begin(), points.end(),
                        [](const auto& a, const auto& b) { return a.first < b.first; })) {
      return Bad(absl::StrCat(here(), ".values"), "points not in time order");
    }
    sink->out->series.push_back(Series{ToLabels(sink->kept), std::move(points)});
  }
  return absl::OkStatus();
}

// A large query answer, cut so that no parser indexes the whole of it at once (see
// ParseQueryResponse): the body without data.result's elements (`envelope`, "[]" left in their
// place) and those elements in batches of consecutive elements, each a slice of the body.
struct Sliced {
  std::string envelope;
  struct Batch {
    std::string_view text;  // "elem,elem,...,elem" as in the body
    size_t first = 0;       // index in data.result of its first element
  };
  std::vector<Batch> batches;
};

// The default batch length (ParseSizes::batch_bytes): a few batches per thread parser's retained
// buffers. A batch buffer grown past four of them is not kept.
constexpr size_t kBatchBytes = ParseSizes().batch_bytes;

// A structural scanner for well-formed JSON only: it finds where things are and leaves every check
// to simdjson, which parses each piece. Anything it does not expect makes SliceQueryAnswer give
// up, and the caller parses the whole body as before (so a malformed answer gets the same error
// either way).
class Scanner {
 public:
  explicit Scanner(std::string_view s) : s_(s) {}
  size_t pos() const { return pos_; }
  bool AtEnd() const { return pos_ >= s_.size(); }
  char Peek() const { return AtEnd() ? '\0' : s_[pos_]; }
  void SkipSpace() {
    while (!AtEnd() &&
           (s_[pos_] == ' ' || s_[pos_] == '\n' || s_[pos_] == '\r' || s_[pos_] == '\t'))
      ++pos_;
  }
  bool Take(char c) {
    SkipSpace();
    if (Peek() != c) return false;
    ++pos_;
    return true;
  }
  // A string at pos; `*text` its raw content. False when it does not end or has an escape and
  // `no_escapes`.
  bool String(std::string_view* text, bool no_escapes) {
    SkipSpace();
    if (Peek() != '"') return false;
    const size_t start = ++pos_;
    // memchr to each quote (the scan's hot loop: label strings are most of an answer), then the
    // backslashes before it: an odd run escapes it.
    while (true) {
      const void* q = std::memchr(s_.data() + pos_, '"', s_.size() - pos_);
      if (q == nullptr) return false;
      const size_t quote = static_cast<size_t>(static_cast<const char*>(q) - s_.data());
      size_t backslashes = 0;
      while (quote - backslashes > start && s_[quote - backslashes - 1] == '\\') ++backslashes;
      pos_ = quote + 1;
      if (no_escapes && std::memchr(s_.data() + start, '\\', quote - start) != nullptr) {
        return false;
      }
      if (backslashes % 2 == 0) {
        *text = s_.substr(start, quote - start);
        return true;
      }
    }
  }
  // Any value: strings and nesting followed, scalars up to the next delimiter.
  bool Value() {
    SkipSpace();
    char c = Peek();
    if (c == '"') {
      std::string_view ignored;
      return String(&ignored, false);
    }
    if (c != '{' && c != '[') {
      size_t start = pos_;
      while (!AtEnd() && std::string_view(",}] \n\r\t").find(s_[pos_]) == std::string_view::npos)
        ++pos_;
      return pos_ > start;
    }
    int depth = 0;
    while (!AtEnd()) {
      c = s_[pos_];
      if (c == '"') {
        std::string_view ignored;
        if (!String(&ignored, false)) return false;
        continue;
      }
      ++pos_;
      if (c == '{' || c == '[') {
        ++depth;
      } else if (c == '}' || c == ']') {
        if (--depth == 0) return true;
      }
    }
    return false;
  }

 private:
  std::string_view s_;
  size_t pos_ = 0;
};

// Cuts a query answer as Sliced says, elements added to a batch until it is `batch_bytes` long,
// when it is a JSON object with one "data" object holding one "result" array of objects;
// std::nullopt otherwise (and for anything unexpected).
std::optional<Sliced> SliceQueryAnswer(std::string_view body, size_t batch_bytes) {
  Scanner sc(body);
  if (!sc.Take('{')) return std::nullopt;
  size_t hole_begin = 0;
  size_t hole_end = 0;
  bool have_data = false;
  bool have_result = false;
  Sliced out;
  // The members of an object whose '{' was just taken; `on_key` handles a member's value (true) or
  // leaves it to be skipped (false); nullopt: give up.
  auto members = [&sc](auto&& on_key) -> bool {
    if (sc.Take('}')) return true;
    do {
      std::string_view key;
      if (!sc.String(&key, true) || !sc.Take(':')) return false;
      std::optional<bool> handled = on_key(key);
      if (!handled.has_value()) return false;
      if (!*handled && !sc.Value()) return false;
    } while (sc.Take(','));
    return sc.Take('}');
  };
  auto result = [&]() -> bool {
    if (!sc.Take('[')) return false;
    hole_begin = sc.pos();
    sc.SkipSpace();
    if (sc.Peek() == ']') {
      hole_end = sc.pos();
      return sc.Take(']');
    }
    size_t index = 0;
    size_t batch_begin = 0;
    size_t batch_first = 0;
    while (true) {
      sc.SkipSpace();
      if (sc.Peek() != '{') return false;
      size_t begin = sc.pos();
      if (index == batch_first) batch_begin = begin;
      if (!sc.Value()) return false;
      ++index;
      size_t end = sc.pos();
      bool more = sc.Take(',');
      if (!more || end - batch_begin >= batch_bytes) {
        out.batches.push_back(
            Sliced::Batch{body.substr(batch_begin, end - batch_begin), batch_first});
        batch_first = index;
      }
      if (!more) break;
    }
    sc.SkipSpace();
    hole_end = sc.pos();
    return sc.Take(']');
  };
  bool ok = members([&](std::string_view key) -> std::optional<bool> {
    if (key != "data") return false;
    if (have_data || !sc.Take('{')) return std::nullopt;
    have_data = true;
    bool data_ok = members([&](std::string_view data_key) -> std::optional<bool> {
      if (data_key != "result") return false;
      if (have_result || !result()) return std::nullopt;
      have_result = true;
      return true;
    });
    if (!data_ok) return std::nullopt;
    return true;
  });
  if (!ok || !have_result) return std::nullopt;
  out.envelope.reserve(body.size() - (hole_end - hole_begin) + 1);
  out.envelope.append(body.substr(0, hole_begin));
  out.envelope.append(body.substr(hole_end));
  return out;
}

// The elements of one batch, parsed with a parser of their own (the envelope's is in use), each
// as ParseQueryData parses an element of data.result.
absl::Status ParseBatch(const Sliced::Batch& batch, const LabelFilter& keep, ResultSink* sink) {
  thread_local od::parser element_parser;
  thread_local std::string buf;
  buf.clear();
  buf.reserve(batch.text.size() + 2 + simdjson::SIMDJSON_PADDING);
  buf.push_back('[');
  buf.append(batch.text);
  buf.push_back(']');
  std::unique_ptr<od::parser> scratch;
  od::parser* parser = &element_parser;
  if (buf.size() > kMaxRetainedBody) {
    scratch = std::make_unique<od::parser>();
    parser = scratch.get();
  }
  // The sink's views point into this document's strings: it lives until the batch is done.
  od::document doc;
  std::string where = absl::StrCat("data.result[", batch.first, "]");
  if (error_code e = parser->iterate(buf.data(), buf.size(), buf.capacity()).get(doc))
    return BadJson(where, e);
  od::array arr;
  if (error_code e = doc.get_array().get(arr)) return BadJson(where, e);
  size_t i = batch.first;
  for (auto elem : arr) {
    od::object eo;
    if (error_code e = elem.get_object().get(eo))
      return BadJson(absl::StrCat("data.result[", i, "]"), e);
    if (auto s = ParseResultElement(eo, i, keep, sink); !s.ok()) return s;
    ++i;
  }
  if (doc.current_location().error() != simdjson::OUT_OF_BOUNDS)
    return Bad(where, "trailing content");
  if (buf.capacity() > kBatchBytes * 4) std::string().swap(buf);
  return absl::OkStatus();
}

// data of a query answer. With `sliced`, data.result is empty in the document and its elements
// are parsed from sliced->batches instead. An instant vector's elements go to `visit` when it is
// not null (ResultSink).
absl::Status ParseQueryData(od::value v, const LabelFilter& keep, const Sliced* sliced,
                            const SampleVisitor* visit, QueryResult* out) {
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
  ResultSink sink;
  sink.out = out;
  sink.visit = visit;
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
      if (sliced != nullptr) {
        for (const Sliced::Batch& batch : sliced->batches) {
          if (auto s = ParseBatch(batch, keep, &sink); !s.ok()) return s;
        }
        n_objects = n_elems = sink.samples() + out->series.size();
        if (n_elems > 0) pair_shape = false;
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
          if (auto s = ParseResultElement(eo, n_elems, keep, &sink); !s.ok()) {
            return s;
          }
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
    if (!vector && sink.samples() > 0) return Bad("data.result", "matrix element with \"value\"");
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
  std::vector<LabelView> labels;
  for (auto elem : arr) {
    od::value ev;
    if (error_code e = elem.get(ev)) return BadJson(absl::StrCat("data[", i, "]"), e);
    if (auto s = ParseLabels(ev, &labels, &SeriesWhere, i, KeepAll(), nullptr); !s.ok()) return s;
    out->push_back(ToLabels(labels));
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
// `keep`, `sliced` and `visit` as ParseQueryData's (kQuery only); with `sliced`, `body` is its
// envelope.
absl::Status ParseEnvelope(std::string_view body, Kind kind, QueryResult* query,
                           std::vector<Labels>* series, std::vector<std::string>* series_warnings,
                           std::vector<std::string>* values = nullptr,
                           const LabelFilter& keep = KeepAll(), const Sliced* sliced = nullptr,
                           const SampleVisitor* visit = nullptr) {
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
      absl::Status s = kind == Kind::kQuery
                           ? ParseQueryData(field.value(), keep, sliced, visit, query)
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

// ParseQueryResponse, an instant vector's elements to `visit` when it is not null.
absl::StatusOr<QueryResult> ParseQueryResponseImpl(std::string_view body, const LabelFilter& keep,
                                                   const ParseSizes& sizes,
                                                   const SampleVisitor* visit) {
  if (body.size() > sizes.slice_above) {
    // No parser (and no padded copy) the size of a large answer: its envelope and batches of its
    // elements are parsed one after another with the thread's parsers. Any error, and any shape
    // the slicer does not expect, goes to the whole-body parse below, which says what is wrong
    // exactly as for a small answer.
    if (std::optional<Sliced> sliced = SliceQueryAnswer(body, sizes.batch_bytes);
        sliced.has_value()) {
      QueryResult result;
      if (ParseEnvelope(sliced->envelope, Kind::kQuery, &result, nullptr, nullptr, nullptr, keep,
                        &*sliced, visit)
              .ok()) {
        return result;
      }
      if (visit != nullptr) {
        // Some elements may have been visited: the whole parse only says what is wrong. Were it
        // to succeed (the two parses disagreeing, which fuzz/prometheus_sliced_fuzzer looks
        // for), the visited elements are no answer either.
        QueryResult whole;
        absl::Status s = ParseEnvelope(body, Kind::kQuery, &whole, nullptr, nullptr, nullptr, keep);
        if (!s.ok()) return s;
        return absl::InternalError(
            "a Prometheus answer parsed in pieces failed where the whole answer parses");
      }
    }
  }
  QueryResult result;
  if (auto s = ParseEnvelope(body, Kind::kQuery, &result, nullptr, nullptr, nullptr, keep, nullptr,
                             visit);
      !s.ok()) {
    return s;
  }
  return result;
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

absl::StatusOr<QueryResult> ParseQueryResponse(std::string_view body, const LabelFilter& keep) {
  return ParseQueryResponse(body, keep, ParseSizes());
}

absl::StatusOr<QueryResult> ParseQueryResponse(std::string_view body, const LabelFilter& keep,
                                               const ParseSizes& sizes) {
  return ParseQueryResponseImpl(body, keep, sizes, nullptr);
}

absl::StatusOr<QueryResult> ParseQueryResponse(std::string_view body, const LabelFilter& keep,
                                               const ParseSizes& sizes, SampleVisitor visit) {
  return ParseQueryResponseImpl(body, keep, sizes, &visit);
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
