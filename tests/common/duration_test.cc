#include "common/duration.h"

#include "gtest/gtest.h"

namespace aa {
namespace {

TEST(ParseGoDuration, AcceptsGoForms) {
  EXPECT_EQ(*ParseGoDuration("5s"), absl::Seconds(5));
  EXPECT_EQ(*ParseGoDuration("1m30s"), absl::Seconds(90));
  EXPECT_EQ(*ParseGoDuration("250ms"), absl::Milliseconds(250));
  EXPECT_EQ(*ParseGoDuration("1.5h"), absl::Minutes(90));
  EXPECT_EQ(*ParseGoDuration("2d"), absl::Hours(48));
  EXPECT_EQ(*ParseGoDuration("0"), absl::ZeroDuration());
}

TEST(ParseGoDuration, RejectsWithTheTextInTheMessage) {
  for (const char* bad : {"", "5", "-5s", "inf", "5x", "s", "1..5s", "5s3", "99999999h"}) {
    auto d = ParseGoDuration(bad);
    ASSERT_FALSE(d.ok()) << bad;
    EXPECT_EQ(d.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_NE(d.status().message().find(std::string("\"") + bad + "\""), std::string::npos)
        << d.status();
  }
}

TEST(FormatGoDuration, PrintsLikeGo) {
  EXPECT_EQ(FormatGoDuration(absl::Seconds(15)), "15s");
  EXPECT_EQ(FormatGoDuration(absl::Seconds(60)), "1m0s");
  EXPECT_EQ(FormatGoDuration(absl::Seconds(3725)), "1h2m5s");
  EXPECT_EQ(FormatGoDuration(absl::Milliseconds(1500)), "1.5s");
  EXPECT_EQ(FormatGoDuration(absl::ZeroDuration()), "0s");
}

}  // namespace
}  // namespace aa
