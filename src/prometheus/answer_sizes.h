#pragma once
// AnswerSizes: how large the last answer to each repeated request was, so the next one can reserve
// room for its body up front (net::Request::expected_body_bytes). Prometheus sends a large answer
// chunked, without Content-Length; a body that grows as it arrives is copied into a buffer twice
// its size each time it outgrows one, and every new buffer's pages are faulted in again. At
// 100,000 pods that growth was about a fifth of a sampling round's CPU; a sampling round sends the
// queries of the last one, with another evaluation time.
//
// Contract:
// - Key(): one request's key, from its API path and parameters, leaving out the evaluation times
//   ("time", "start", "end"), which change every round.
// - Expect(key): the size to reserve for that request's answer, 0 when none is known: the last
//   recorded answer of at least kMinRecorded bytes, and an eighth more.
// - Record(key, bytes): notes an answer's size. Smaller answers are forgotten (they grow
//   cheaply); past kMaxEntries keys every size is forgotten, so the table stays small whatever
//   queries are sent.
// - A wrong guess is harmless: a larger answer grows as before, and room a smaller one never
//   reaches costs only address space (allocations this large are mmapped; untouched pages are not
//   resident).
// - Thread-safe.

#include <cstddef>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"

namespace aa::prom {

class AnswerSizes {
 public:
  static constexpr size_t kMinRecorded = 256 << 10;
  static constexpr size_t kMaxEntries = 1024;

  static size_t Key(std::string_view api_path,
                    const std::vector<std::pair<std::string, std::string>>& params);
  size_t Expect(size_t key) const;
  void Record(size_t key, size_t bytes);

 private:
  mutable absl::Mutex mu_;
  absl::flat_hash_map<size_t, size_t> sizes_ ABSL_GUARDED_BY(mu_);
};

}  // namespace aa::prom
