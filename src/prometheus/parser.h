#pragma once
// Parsing of Prometheus HTTP API answers
// (https://prometheus.io/docs/prometheus/latest/querying/api/). Pure functions, thread-safe. Never
// throw.

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "prometheus/types.h"

namespace aa::prom {

// Parses the body of a `/api/v1/query` answer, success or error.
// - `"status":"success"`: vector, scalar, matrix or string; values "NaN", "+Inf", "-Inf" become the
// doubles.
// - `"status":"error"`: returns InvalidArgument for errorType bad_data, and Unavailable for the
// others
//   (timeout, canceled, execution, internal, unavailable), the message naming errorType and error.
// - Anything else (not JSON, truncated, HTML, wrong shapes, a value that is not a number):
// InvalidArgument saying
//   what is wrong and where. Duplicate label sets are not checked here (the sampler checks its own
//   keys).
// - `keep`: the labels each sample or series keeps (LabelFilter; default every label). Labels it
//   does not keep are skipped while parsing, never stored, yet checked as before: a label that is
//   not a string, or a name twice in one series, is the same InvalidArgument whether kept or not.
// Memory: a body over 256 KiB is never indexed whole. Its envelope and its data.result elements, in
// batches of about 64 KiB, are parsed one after another with buffers the thread keeps (bounded by
// those sizes), instead of a parser the size of the body (about 5 bytes per byte) and a padded copy
// of it; when that path meets anything but a well-formed answer, the whole body is parsed as a
// small one is, so errors are the same whatever the size.
absl::StatusOr<QueryResult> ParseQueryResponse(std::string_view body,
                                               const LabelFilter& keep = LabelFilter());

// The sizes behind ParseQueryResponse's "Memory" paragraph. The defaults are what the two-argument
// ParseQueryResponse uses; the answer (result or error) never depends on them, only the memory
// used does. Tests and the differential fuzzer (fuzz/prometheus_sliced_fuzzer.cc) set them small
// so that small answers take the sliced path.
struct ParseSizes {
  size_t slice_above = 256 << 10;  // query answers longer than this are parsed in pieces
  size_t batch_bytes = 64 << 10;   // elements are added to a piece until it is this long
};
absl::StatusOr<QueryResult> ParseQueryResponse(std::string_view body, const LabelFilter& keep,
                                               const ParseSizes& sizes);

// As ParseQueryResponse, but each element of an instant vector goes to `visit` as it is parsed
// (SampleRef: its kept labels as views valid during the call) instead of into
// QueryResult::samples, which stays empty (a scalar is still returned there): a large answer is
// never held as a whole. The elements are visited before the answer is known to be good: on any
// error, whatever `visit` received is no answer and must be discarded.
absl::StatusOr<QueryResult> ParseQueryResponse(std::string_view body, const LabelFilter& keep,
                                               const ParseSizes& sizes, SampleVisitor visit);

// Parses the body of a `/api/v1/series` answer into label sets (errors as ParseQueryResponse).
// The answer's "warnings", if any, go to `*warnings` when it is not null.
absl::StatusOr<std::vector<Labels>> ParseSeriesResponse(
    std::string_view body, std::vector<std::string>* warnings = nullptr);

// Parses the body of a `/api/v1/label/<name>/values` answer (errors as ParseQueryResponse; warnings
// as ParseSeriesResponse).
absl::StatusOr<std::vector<std::string>> ParseLabelValuesResponse(
    std::string_view body, std::vector<std::string>* warnings = nullptr);

// For HTTP clients: when `body` is a well-formed Prometheus error answer (`{"status":"error",...}`,
// whatever the HTTP status it came with), returns the status ParseQueryResponse would return for it
// (InvalidArgument for bad_data, Unavailable otherwise); std::nullopt when the body is anything
// else (success answer, HTML, garbage).
std::optional<absl::Status> ExtractApiError(std::string_view body);

// Parses one sample value as Prometheus writes it: a decimal or exponent float, "NaN", "+Inf",
// "-Inf". False for anything else (empty, spaces, trailing characters, out of range).
bool ParseSampleValue(std::string_view text, double* value);

}  // namespace aa::prom
