#include "pipeline/pod_name.h"

#include <gtest/gtest.h>

#include <string>
#include <thread>
#include <vector>

#include "absl/container/flat_hash_map.h"

namespace aa::pipeline {
namespace {

TEST(PodNameTest, ReadsAsItsStringAndComparesByContent) {
  PodName a = std::string("model-a-0");
  EXPECT_EQ(a.view(), "model-a-0");
  EXPECT_EQ(a, "model-a-0");
  EXPECT_EQ(a, std::string("model-a-0"));
  EXPECT_EQ(a.size(), 9u);
  EXPECT_EQ(a.find('-'), 5u);
  EXPECT_LT(a, PodName("model-b-0"));
  EXPECT_LT(a, std::string_view("model-a-1"));
  EXPECT_GT(a, "model-");
  std::string s = a;
  EXPECT_EQ(s, "model-a-0");
  EXPECT_TRUE(PodName().empty());
  EXPECT_EQ(PodName(""), PodName());
  EXPECT_EQ(PodName().view(), "");
}

TEST(PodNameTest, EqualNamesShareOneEntryUntilTheLastHolderGoes) {
  const size_t before = PodName::Interned();
  {
    PodName a("pod-interned-x");
    PodName b(std::string("pod-interned-") + "x");
    EXPECT_EQ(a.view().data(), b.view().data());  // one allocation
    EXPECT_EQ(PodName::Interned(), before + 1);
    PodName c = a;
    PodName d = std::move(b);
    EXPECT_TRUE(b.empty());  // NOLINT(bugprone-use-after-move): moved-from is empty
    a = PodName("pod-interned-y");
    EXPECT_EQ(PodName::Interned(), before + 2);
    EXPECT_EQ(c, d);
    EXPECT_EQ(c, "pod-interned-x");
  }
  EXPECT_EQ(PodName::Interned(), before);
}

TEST(PodNameTest, MapsKeyedByNameAreSearchedByAnyString) {
  absl::flat_hash_map<PodName, int, PodName::Hash, PodName::Eq> m;
  m[std::string("a-1")] = 1;
  m["a-2"] = 2;
  EXPECT_EQ(m.find(std::string_view("a-1"))->second, 1);
  EXPECT_EQ(m.find(std::string("a-2"))->second, 2);
  EXPECT_EQ(m.find(std::string_view("a-3")), m.end());
}

// Threads that make, copy and drop the same few names at once leave every name readable and the
// set empty of them afterwards (run under TSan/ASan to see races; here: counts and contents).
TEST(PodNameTest, ConcurrentHoldersOfTheSameNames) {
  const size_t before = PodName::Interned();
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([] {
      for (int i = 0; i < 20000; ++i) {
        PodName a("shared-" + std::to_string(i % 7));
        PodName b = a;
        PodName c("shared-" + std::to_string(i % 7));
        if (b != c || c.view().substr(0, 7) != "shared-") std::abort();
      }
    });
  }
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(PodName::Interned(), before);
}

}  // namespace
}  // namespace aa::pipeline
