#include "demo/closedloop/clients.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace aa::closedloop {
namespace {

TEST(ParseQuantityMilli, ReadsWhatTheAdapterAndKubernetesPrint) {
  struct Case {
    const char* text;
    int64_t milli;
  };
  for (const Case& c : std::initializer_list<Case>{{"70", 70000},
                                                   {"500m", 500},
                                                   {"1500m", 1500},
                                                   {"0", 0},
                                                   {"12345678n", 13},  // rounded up, as MilliValue
                                                   {"250m", 250},
                                                   {"2", 2000},
                                                   {"1k", 1000000},
                                                   {"1536Mi", 1610612736000},
                                                   {"1e3", 1000000},
                                                   {"1.5", 1500},
                                                   {"0.0005", 1},
                                                   {"-500m", -500},
                                                   {"667m", 667},
                                                   {"1e-30", 1},  // tiny: rounded up to 1m
                                                   {"0.000000000000000000000000001n", 1},
                                                   {"-1e-30", 0}}) {
    auto v = ParseQuantityMilli(c.text);
    ASSERT_TRUE(v.ok()) << c.text << ": " << v.status();
    EXPECT_EQ(*v, c.milli) << c.text;
  }
}

TEST(ParseQuantityMilli, RefusesWhatIsNotAQuantity) {
  for (const char* bad : {"", "m", "70x", "1.2.3", "abc", "1e", "99999999999999999999E",
                          "123456789012345678901234567890Ei", "1234567890123456789012345678901"}) {
    auto v = ParseQuantityMilli(bad);
    EXPECT_EQ(v.status().code(), absl::StatusCode::kInvalidArgument) << bad;
  }
}

}  // namespace
}  // namespace aa::closedloop
