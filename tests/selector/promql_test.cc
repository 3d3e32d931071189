#include <string>
#include <string_view>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "selector/promql_escape.h"
#include "selector/selector.h"

#ifdef AA_HAVE_RE2
#include "re2/re2.h"
#endif

namespace aa::selector {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

std::string Identity(std::string_view key) { return std::string(key); }

absl::StatusOr<std::vector<std::string>> Translate(
    std::string_view text, const std::function<std::string(std::string_view)>& map_key = Identity) {
  absl::StatusOr<Selector> s = Selector::Parse(text);
  EXPECT_TRUE(s.ok()) << text << ": " << s.status();
  if (!s.ok()) return s.status();
  return ToPromQLMatchers(*s, map_key);
}

TEST(PromQLMatchersTest, EveryOperator) {
  absl::StatusOr<std::vector<std::string>> m =
      Translate("app=web,tier in (b,a),!canary,env,x!=y,z notin (p.q),w==v");
  ASSERT_TRUE(m.ok()) << m.status();
  EXPECT_THAT(*m, ElementsAre(R"(app="web")", R"(canary="")", R"(env!="")", R"(tier=~"a|b")",
                              R"(w="v")", R"(x!="y")", R"(z!~"p\\.q")"));
}

TEST(PromQLMatchersTest, EmptyValues) {
  absl::StatusOr<std::vector<std::string>> m = Translate("a=,b!=,c in (),d in (,x),e notin (y,)");
  ASSERT_TRUE(m.ok()) << m.status();
  EXPECT_THAT(*m, ElementsAre(R"(a="")", R"(b!="")", R"(c=~"")", R"(d=~"|x")", R"(e!~"|y")"));
}

TEST(PromQLMatchersTest, EmptySelectorGivesNoMatchers) {
  absl::StatusOr<std::vector<std::string>> m = ToPromQLMatchers(Selector(), Identity);
  ASSERT_TRUE(m.ok());
  EXPECT_THAT(*m, IsEmpty());
}

TEST(PromQLMatchersTest, RegexMetacharactersInValuesAreQuoted) {
  // Label values may contain '.', the only RE2 metacharacter validation lets through.
  absl::StatusOr<std::vector<std::string>> m = Translate("v in (1.2.3,a-b_c.d)");
  ASSERT_TRUE(m.ok());
  EXPECT_THAT(*m, ElementsAre(R"(v=~"1\\.2\\.3|a-b_c\\.d")"));
}

TEST(PromQLMatchersTest, GreaterAndLessThanAreRejected) {
  for (std::string_view text : {"x>1", "a=b,x<2"}) {
    absl::StatusOr<std::vector<std::string>> m = Translate(text);
    ASSERT_FALSE(m.ok()) << text;
    EXPECT_EQ(m.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(m.status().message(), HasSubstr("'>' and '<'"));
  }
}

TEST(PromQLMatchersTest, KeysMustMapToPrometheusLabelNames) {
  absl::StatusOr<std::vector<std::string>> m = Translate("app.kubernetes.io/name=web");
  ASSERT_FALSE(m.ok());
  EXPECT_EQ(m.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(m.status().message(), HasSubstr("app.kubernetes.io/name"));

  for (std::string_view key : {"my-label", "1abc", "a.b"}) {
    EXPECT_FALSE(Translate(std::string(key) + "=x").ok()) << key;
  }
  // A mapping that yields an invalid or empty name is rejected too.
  EXPECT_FALSE(Translate("a=b", [](std::string_view) { return std::string(); }).ok());
  EXPECT_FALSE(Translate("a=b", [](std::string_view) { return std::string("a\"} or up{"); }).ok());

  m = Translate("app.kubernetes.io/name=web,tier in (a,b),!canary", KubeStateMetricsLabelName);
  ASSERT_TRUE(m.ok()) << m.status();
  EXPECT_THAT(*m, ElementsAre(R"(label_app_kubernetes_io_name="web")", R"(label_canary="")",
                              R"(label_tier=~"a|b")"));

  m = Translate("pod=p1", [](std::string_view key) { return "exported_" + std::string(key); });
  ASSERT_TRUE(m.ok());
  EXPECT_THAT(*m, ElementsAre(R"(exported_pod="p1")"));
}

TEST(PromQLMatchersTest, KubeStateMetricsLabelName) {
  EXPECT_EQ(KubeStateMetricsLabelName("app"), "label_app");
  EXPECT_EQ(KubeStateMetricsLabelName("app.kubernetes.io/name"), "label_app_kubernetes_io_name");
  EXPECT_EQ(KubeStateMetricsLabelName("serving.kserve.io/inferenceservice"),
            "label_serving_kserve_io_inferenceservice");
  EXPECT_EQ(KubeStateMetricsLabelName("a-b_C9"), "label_a_b_C9");
  EXPECT_EQ(KubeStateMetricsLabelName(""), "label_");
  EXPECT_EQ(SanitizeLabelName("app.kubernetes.io/name"), "app_kubernetes_io_name");
  EXPECT_EQ(SanitizeLabelName("a-b_C9\xc3\xa9"), "a_b_C9__");
}

TEST(PromQLLabelNameTest, Validity) {
  EXPECT_TRUE(IsValidPrometheusLabelName("a"));
  EXPECT_TRUE(IsValidPrometheusLabelName("_"));
  EXPECT_TRUE(IsValidPrometheusLabelName("__name__"));
  EXPECT_TRUE(IsValidPrometheusLabelName("Ab_9"));
  EXPECT_FALSE(IsValidPrometheusLabelName(""));
  EXPECT_FALSE(IsValidPrometheusLabelName("9a"));
  EXPECT_FALSE(IsValidPrometheusLabelName("a-b"));
  EXPECT_FALSE(IsValidPrometheusLabelName("a.b"));
  EXPECT_FALSE(IsValidPrometheusLabelName("a b"));
  EXPECT_FALSE(IsValidPrometheusLabelName("ä"));
}

TEST(PromQLEscapeTest, StringEscaping) {
  EXPECT_EQ(EscapePromQLString("plain"), "plain");
  EXPECT_EQ(EscapePromQLString(R"(a"b)"), R"(a\"b)");
  EXPECT_EQ(EscapePromQLString(R"(a\b)"), R"(a\\b)");
  EXPECT_EQ(EscapePromQLString("a\nb\rc\td"), R"(a\nb\rc\td)");
  EXPECT_EQ(EscapePromQLString(std::string_view("\0\x01\x1f\x7f", 4)), R"(\x00\x01\x1f\x7f)");
  EXPECT_EQ(EscapePromQLString("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80"),
            "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80");
  EXPECT_EQ(EscapePromQLString("\xff\xc3"), R"(\xff\xc3)");          // invalid / truncated UTF-8
  EXPECT_EQ(EscapePromQLString("\xed\xa0\x80"), R"(\xed\xa0\x80)");  // encoded surrogate
  EXPECT_EQ(EscapePromQLString("\xc0\xaf"), R"(\xc0\xaf)");          // overlong '/'
  EXPECT_EQ(EscapePromQLString("\xef\xbf\xbd"), R"(\uFFFD)");
  EXPECT_EQ(EscapePromQLString("'`"), "'`");  // only double-quoted literals are produced
  EXPECT_EQ(PromQLStringLiteral(R"(x"} or vector(1) or {a=")"), R"("x\"} or vector(1) or {a=\"")");
}

TEST(PromQLEscapeTest, InjectionAttemptsStayInsideTheLiteral) {
  const std::string_view kAttacks[] = {
      R"(a"} or vector(1) #)",
      "a\"}\nor up{job=\"",
      R"(\")",
      R"(\\")",
      "\\",
      "\"",
      "\n\"\n",
      R"(.*|()[]{}+?^$\)",
      std::string_view("\0\"", 2),
      "\xff\"",
      "\xe2\x80\"",
  };
  for (std::string_view attack : kAttacks) {
    const std::string literal = PromQLStringLiteral(attack);
    // No unescaped quote or newline before the closing quote.
    absl::StatusOr<std::string> back = UnquotePromQLString(literal);
    ASSERT_TRUE(back.ok()) << literal << ": " << back.status();
    EXPECT_EQ(*back, attack);
    // Regex-quoted and then escaped: still one literal that decodes to the quoted regex.
    const std::string regex_literal = PromQLStringLiteral(QuoteRegex(attack));
    back = UnquotePromQLString(regex_literal);
    ASSERT_TRUE(back.ok()) << regex_literal;
    EXPECT_EQ(*back, QuoteRegex(attack));
  }
}

TEST(PromQLEscapeTest, QuoteRegex) {
  EXPECT_EQ(QuoteRegex("abc-_ 09"), "abc-_ 09");
  EXPECT_EQ(QuoteRegex(R"(.*|()[]{}+?^$\)"), R"(\.\*\|\(\)\[\]\{\}\+\?\^\$\\)");
  EXPECT_EQ(QuoteRegex("a.b"), R"(a\.b)");
  EXPECT_EQ(QuoteRegex(""), "");
  // In PromQL text the backslashes are doubled.
  EXPECT_EQ(PromQLStringLiteral(QuoteRegex("a.b|c")), R"("a\\.b\\|c")");
}

#ifdef AA_HAVE_RE2
// Prometheus uses Go's regexp, which is RE2 syntax, fully anchored.
TEST(PromQLEscapeTest, QuotedRegexMatchesOnlyTheLiteral) {
  const std::string_view kValues[] = {
      "a.b",
      ".*",
      "a|b",
      "(a)",
      "[a-z]",
      "a{2}",
      "a+",
      "a?",
      "^a$",
      R"(\d)",
      R"(\)",
      "x\ny",
      R"(.*|()[]{}+?^$\)",
      "caf\xc3\xa9",
      "-",
      "",
  };
  for (std::string_view v : kValues) {
    RE2 re(QuoteRegex(v));
    ASSERT_TRUE(re.ok()) << QuoteRegex(v) << ": " << re.error();
    EXPECT_TRUE(RE2::FullMatch(std::string(v), re)) << v;
    EXPECT_FALSE(RE2::FullMatch(std::string(v) + "x", re)) << v;
    EXPECT_FALSE(RE2::FullMatch("ab", re)) << v;
  }
  // A whole in/notin alternation matches exactly its members.
  absl::StatusOr<Selector> s = Selector::Parse("x in (1.2,a_b,)");
  ASSERT_TRUE(s.ok());
  absl::StatusOr<std::vector<std::string>> m = ToPromQLMatchers(*s, Identity);
  ASSERT_TRUE(m.ok());
  ASSERT_EQ(m->size(), 1u);
  const std::string& matcher = (*m)[0];
  ASSERT_EQ(matcher.substr(0, 3), "x=~");
  absl::StatusOr<std::string> pattern = UnquotePromQLString(std::string_view(matcher).substr(3));
  ASSERT_TRUE(pattern.ok());
  RE2 re(*pattern);
  ASSERT_TRUE(re.ok());
  for (const char* yes : {"1.2", "a_b", ""}) EXPECT_TRUE(RE2::FullMatch(yes, re)) << yes;
  for (const char* no : {"1x2", "1.2|a_b", "a", "1.", "a_b1"})
    EXPECT_FALSE(RE2::FullMatch(no, re)) << no;
}
#endif

TEST(PromQLUnquoteTest, GoEscapes) {
  EXPECT_EQ(*UnquotePromQLString(R"("")"), "");
  EXPECT_EQ(*UnquotePromQLString(R"("a\"b\\c")"), "a\"b\\c");
  EXPECT_EQ(*UnquotePromQLString(R"("\a\b\f\n\r\t\v")"), "\a\b\f\n\r\t\v");
  EXPECT_EQ(*UnquotePromQLString(R"("\x41\101\u00e9\U0001F600")"), "AA\xc3\xa9\xf0\x9f\x98\x80");
  EXPECT_EQ(*UnquotePromQLString(R"("\xff")"), "\xff");
  EXPECT_EQ(*UnquotePromQLString(R"("\377")"), "\xff");
  for (std::string_view bad : {"", "\"", "a", R"("a)", R"("a"b")", "\"a\nb\"", R"("\")", R"("\q")",
                               R"("\')", R"("\x4")", R"("\xg0")", R"("\400")", R"("\u12")",
                               R"("\ud800")", R"("\U00110000")", "\"\xff\"", "\"\xef\xbf\xbd\""}) {
    EXPECT_FALSE(UnquotePromQLString(bad).ok()) << bad;
  }
}

}  // namespace
}  // namespace aa::selector
