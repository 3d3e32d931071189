#include "prometheus/answer_sizes.h"

#include "absl/hash/hash.h"

namespace aa::prom {

size_t AnswerSizes::Key(std::string_view api_path,
                        const std::vector<std::pair<std::string, std::string>>& params) {
  size_t key = absl::HashOf(api_path);
  for (const auto& [name, value] : params) {
    if (name == "time" || name == "start" || name == "end") continue;
    key = absl::HashOf(key, name, value);
  }
  return key;
}

size_t AnswerSizes::Expect(size_t key) const {
  absl::MutexLock lock(&mu_);
  auto it = sizes_.find(key);
  return it == sizes_.end() ? 0 : it->second + it->second / 8;
}

void AnswerSizes::Record(size_t key, size_t bytes) {
  absl::MutexLock lock(&mu_);
  if (bytes < kMinRecorded) {
    sizes_.erase(key);
    return;
  }
  if (sizes_.size() >= kMaxEntries && !sizes_.contains(key)) sizes_.clear();
  sizes_[key] = bytes;
}

}  // namespace aa::prom
