// The bounded TTL cache behind the token review and authorization caches: expiry, hit/miss counts,
// the bound, and which entry a full cache drops (expired ones first, then the oldest put).

#include "auth/internal/ttl_cache.h"

#include <string>

#include "common/clock.h"
#include "gtest/gtest.h"

namespace aa::auth::internal {
namespace {

TEST(TtlCacheTest, ServesAValueUntilItsTtlEnds) {
  SimulatedClock clock;
  TtlCache<int> cache(clock, 10);
  EXPECT_FALSE(cache.Get("k").has_value());
  cache.Put("k", 7, absl::Seconds(10));
  clock.Advance(absl::Seconds(9));
  EXPECT_EQ(cache.Get("k"), 7);
  clock.Advance(absl::Seconds(1));  // expiry is exclusive: at put + ttl the entry is gone
  EXPECT_FALSE(cache.Get("k").has_value());
  EXPECT_EQ(cache.size(), 0u);  // the expired lookup dropped it
  EXPECT_EQ(cache.hits(), 1u);
  EXPECT_EQ(cache.misses(), 2u);
}

TEST(TtlCacheTest, EachPutHasItsOwnTtlAndReplacesTheValue) {
  SimulatedClock clock;
  TtlCache<std::string> cache(clock, 10);
  cache.Put("short", "s", absl::Seconds(1));
  cache.Put("long", "l", absl::Seconds(60));
  cache.Put("long", "l2", absl::Seconds(60));
  EXPECT_EQ(cache.size(), 2u);
  clock.Advance(absl::Seconds(2));
  EXPECT_FALSE(cache.Get("short").has_value());
  EXPECT_EQ(cache.Get("long"), "l2");
}

TEST(TtlCacheTest, FullCacheDropsTheOldestPutWhenNothingExpired) {
  SimulatedClock clock;
  TtlCache<int> cache(clock, 3);
  cache.Put("a", 1, absl::Seconds(60));
  cache.Put("b", 2, absl::Seconds(60));
  cache.Put("c", 3, absl::Seconds(60));
  EXPECT_EQ(cache.Get("a"), 1);  // a lookup does not make an entry younger
  cache.Put("d", 4, absl::Seconds(60));
  EXPECT_EQ(cache.size(), 3u);
  EXPECT_FALSE(cache.Get("a").has_value());
  EXPECT_EQ(cache.Get("b"), 2);
  EXPECT_EQ(cache.Get("c"), 3);
  EXPECT_EQ(cache.Get("d"), 4);
  cache.Put("e", 5, absl::Seconds(60));
  EXPECT_FALSE(cache.Get("b").has_value());
  EXPECT_EQ(cache.Get("c"), 3);
}

TEST(TtlCacheTest, FullCacheDropsEveryExpiredEntryBeforeAnyLiveOne) {
  SimulatedClock clock;
  TtlCache<int> cache(clock, 3);
  cache.Put("old-live", 1, absl::Seconds(60));  // the oldest, but still live
  cache.Put("x", 2, absl::Seconds(1));
  cache.Put("y", 3, absl::Seconds(1));
  clock.Advance(absl::Seconds(5));
  cache.Put("new", 4, absl::Seconds(60));
  EXPECT_EQ(cache.size(), 2u);  // both expired ones dropped, nothing live
  EXPECT_EQ(cache.Get("old-live"), 1);
  EXPECT_EQ(cache.Get("new"), 4);
}

TEST(TtlCacheTest, BoundIsAtLeastOne) {
  SimulatedClock clock;
  TtlCache<int> cache(clock, 0);
  cache.Put("a", 1, absl::Seconds(60));
  EXPECT_EQ(cache.Get("a"), 1);
  cache.Put("b", 2, absl::Seconds(60));
  EXPECT_EQ(cache.size(), 1u);
  EXPECT_FALSE(cache.Get("a").has_value());
  EXPECT_EQ(cache.Get("b"), 2);
}

}  // namespace
}  // namespace aa::auth::internal
