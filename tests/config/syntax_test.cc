#include "config/internal/syntax.h"

#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace aa::config::internal {
namespace {

TEST(NamesTest, ServedMetricName) {
  EXPECT_TRUE(IsServedMetricName("concurrency"));
  EXPECT_TRUE(IsServedMetricName("a.b-c:d_e9"));
  EXPECT_TRUE(IsServedMetricName("_x"));
  EXPECT_TRUE(IsServedMetricName(std::string(253, 'a')));
  EXPECT_FALSE(IsServedMetricName(std::string(254, 'a')));
  EXPECT_FALSE(IsServedMetricName(""));
  EXPECT_FALSE(IsServedMetricName("9a"));
  EXPECT_FALSE(IsServedMetricName("-a"));
  EXPECT_FALSE(IsServedMetricName("a/b"));
  EXPECT_FALSE(IsServedMetricName("a b"));
}

TEST(NamesTest, PromNames) {
  EXPECT_TRUE(IsPromMetricName("vllm:num_requests_running"));
  EXPECT_FALSE(IsPromMetricName("a.b"));
  EXPECT_FALSE(IsPromMetricName("a-b"));
  EXPECT_TRUE(IsPromLabelName("namespace_name"));
  EXPECT_FALSE(IsPromLabelName("a:b"));
  EXPECT_FALSE(IsPromLabelName("0a"));
  EXPECT_FALSE(IsPromLabelName(""));
}

TEST(NamesTest, NamespaceName) {
  EXPECT_TRUE(IsNamespaceName("kserve-test"));
  EXPECT_TRUE(IsNamespaceName("a"));
  EXPECT_TRUE(IsNamespaceName("0a"));
  EXPECT_TRUE(IsNamespaceName(std::string(63, 'a')));
  EXPECT_FALSE(IsNamespaceName(std::string(64, 'a')));
  EXPECT_FALSE(IsNamespaceName("-a"));
  EXPECT_FALSE(IsNamespaceName("a-"));
  EXPECT_FALSE(IsNamespaceName("A"));
  EXPECT_FALSE(IsNamespaceName("a.b"));
  EXPECT_FALSE(IsNamespaceName("a|b"));
}

TEST(NamesTest, HttpToken) {
  EXPECT_TRUE(IsHttpToken("X-Scope-OrgID"));
  EXPECT_FALSE(IsHttpToken(""));
  EXPECT_FALSE(IsHttpToken("a b"));
  EXPECT_FALSE(IsHttpToken("a:b"));
  EXPECT_FALSE(IsHttpToken("a\nb"));
}

TEST(TemplateTest, Problems) {
  EXPECT_EQ(TemplateProblem("up{<<.LabelMatchers>>}"), "");
  EXPECT_EQ(
      TemplateProblem("sum by (<<.GroupBy>>) (x{a=\"b\",<<.LabelMatchers>>}) / on(<<.GroupBy>>) "
                      "y{<<.LabelMatchers>>}"),
      "");
  EXPECT_THAT(TemplateProblem("up"), ::testing::StartsWith("must contain <<.LabelMatchers>>"));
  EXPECT_THAT(TemplateProblem("up{<<.GroupBy>>}"),
              ::testing::StartsWith("must contain <<.LabelMatchers>>"));
  EXPECT_THAT(TemplateProblem("<<.Series>>{<<.LabelMatchers>>}"),
              ::testing::StartsWith("unsupported template construct \"<<.Series>>\""));
  EXPECT_THAT(TemplateProblem("x{<<.LabelMatchers>>} <<"),
              ::testing::StartsWith("unterminated template construct"));
  EXPECT_THAT(TemplateProblem("x{<<.labelmatchers>>}"),
              ::testing::StartsWith("unsupported template construct"));
}

TEST(UrlTest, Problems) {
  EXPECT_EQ(UrlProblem("http://127.0.0.1:9090"), "");
  EXPECT_EQ(UrlProblem("HTTPS://thanos/query/prefix"), "");
  EXPECT_EQ(UrlProblem("http://[::1]:9090/x"), "");
  EXPECT_EQ(UrlProblem("http://h/"), "");
  EXPECT_EQ(UrlProblem("ftp://h"), "scheme must be http:// or https://");
  EXPECT_EQ(UrlProblem("http://"), "must name a host");
  EXPECT_EQ(UrlProblem("http://:90"), "must name a host");
  EXPECT_EQ(UrlProblem("http://h:"), "empty port");
  EXPECT_EQ(UrlProblem("http://h:0"), "port must be 1..65535");
  EXPECT_EQ(UrlProblem("http://h:x"), "port must be a number");
  EXPECT_EQ(UrlProblem("http://h:123456"), "port must be 1..65535");
  EXPECT_EQ(UrlProblem("http://[::1"), "malformed IPv6 host");
  EXPECT_EQ(UrlProblem("http://[::1]x"), "malformed IPv6 host");
  EXPECT_EQ(UrlProblem("http://h #x"), "must not contain whitespace or control characters");
  EXPECT_EQ(UrlProblem("http://h#x"), "must not have a query or fragment");
  EXPECT_EQ(UrlProblem("http://user@h"),
            "must not contain credentials (use basicAuth or bearerTokenFile)");
}

TEST(PromDurationTest, LargestExactUnit) {
  EXPECT_EQ(FormatPromDuration(absl::Minutes(1)), "1m");
  EXPECT_EQ(FormatPromDuration(absl::Seconds(90)), "90s");
  EXPECT_EQ(FormatPromDuration(absl::Hours(2)), "2h");
  EXPECT_EQ(FormatPromDuration(absl::Hours(48)), "48h");
  EXPECT_EQ(FormatPromDuration(absl::Minutes(61)), "61m");
  EXPECT_EQ(FormatPromDuration(absl::Milliseconds(1500)), "1500ms");
  EXPECT_EQ(FormatPromDuration(absl::Seconds(1)), "1s");
}

TEST(QuoteTest, EscapesAndCuts) {
  EXPECT_EQ(QuoteForMessage("plain"), "plain");
  EXPECT_EQ(QuoteForMessage("a\"b\n"), "a\\\"b\\n");
  EXPECT_EQ(QuoteForMessage("abcdef", 3), "abc...");
  EXPECT_EQ(QuoteForMessage("abc", 3), "abc");
}

}  // namespace
}  // namespace aa::config::internal
