#include "prometheus/answer_sizes.h"

#include <string>

#include "gtest/gtest.h"

namespace aa::prom {
namespace {

TEST(AnswerSizes, TheSameQueryAtAnotherTimeExpectsItsLastSizeAndAnEighth) {
  AnswerSizes sizes;
  const size_t at_10 = AnswerSizes::Key("/api/v1/query", {{"query", "up"}, {"time", "10.000"}});
  const size_t at_15 = AnswerSizes::Key("/api/v1/query", {{"query", "up"}, {"time", "15.000"}});
  const size_t other = AnswerSizes::Key("/api/v1/query", {{"query", "down"}, {"time", "15.000"}});
  const size_t range =
      AnswerSizes::Key("/api/v1/query_range", {{"query", "up"}, {"start", "1"}, {"end", "2"}});
  EXPECT_EQ(at_10, at_15);
  EXPECT_NE(at_10, other);
  EXPECT_NE(at_10, range);
  EXPECT_EQ(range, AnswerSizes::Key("/api/v1/query_range",
                                    {{"query", "up"}, {"start", "3"}, {"end", "4"}}));

  EXPECT_EQ(sizes.Expect(at_10), 0u);
  sizes.Record(at_10, 8 << 20);
  EXPECT_EQ(sizes.Expect(at_15), 9u << 20);
  EXPECT_EQ(sizes.Expect(other), 0u);
  sizes.Record(at_10, 1000);  // small again: forgotten
  EXPECT_EQ(sizes.Expect(at_10), 0u);
}

TEST(AnswerSizes, ManyDifferentQueriesNeverHoldMoreThanTheBound) {
  AnswerSizes sizes;
  const size_t first = AnswerSizes::Key("/api/v1/query", {{"query", "q0"}});
  for (int i = 0; i <= static_cast<int>(AnswerSizes::kMaxEntries); ++i) {
    sizes.Record(AnswerSizes::Key("/api/v1/query", {{"query", "q" + std::to_string(i)}}),
                 AnswerSizes::kMinRecorded);
  }
  // The table was full when the last one came: it started afresh with that one.
  EXPECT_EQ(sizes.Expect(first), 0u);
  const size_t last = AnswerSizes::Key("/api/v1/query",
                                       {{"query", "q" + std::to_string(AnswerSizes::kMaxEntries)}});
  EXPECT_GT(sizes.Expect(last), AnswerSizes::kMinRecorded);
}

}  // namespace
}  // namespace aa::prom
