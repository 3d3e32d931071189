#include "selector/selector.h"

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace aa::selector {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using Labels = std::map<std::string, std::string, std::less<>>;

std::string Canonical(std::string_view text) {
  absl::StatusOr<Selector> s = Selector::Parse(text);
  EXPECT_TRUE(s.ok()) << "\"" << text << "\": " << s.status();
  return s.ok() ? s->String() : "<error>";
}

std::string Msg(const absl::Status& st) { return std::string(st.message()); }

bool Matches(std::string_view text, const Labels& labels) {
  absl::StatusOr<Selector> s = Selector::Parse(text);
  EXPECT_TRUE(s.ok()) << "\"" << text << "\": " << s.status();
  return s.ok() && s->Matches(labels);
}

struct ValidCase {
  std::string_view in;
  std::string_view canonical;
};

// Upstream's valid examples (reference doc and apimachinery selector_test.go) with the String()
// upstream prints.
TEST(SelectorParseTest, UpstreamValidSelectors) {
  const ValidCase kCases[] = {
      {"", ""},
      {"   ", ""},
      {"x=a,y=b,z=c", "x=a,y=b,z=c"},
      {"x!=a,y=b", "x!=a,y=b"},
      {"x=", "x="},
      {"x= ", "x="},
      {"x=,z= ", "x=,z="},
      {"x= ,z= ", "x=,z="},
      {"!x", "!x"},
      {"x>1", "x>1"},
      {"x>1,z<5", "x>1,z<5"},
      {"x in ()", "x in ()"},
      {"x in (abc,)", "x in (,abc)"},
      {"x notin (, a)", "x notin (,a)"},
      {"foo  in\t (abc)", "foo in (abc)"},
      {"0.1.2.domain/99 notin (10.10.100.1, tick.tack.clock)",
       "0.1.2.domain/99 notin (10.10.100.1,tick.tack.clock)"},
      {"a in (x,y,notin, z,in)", "a in (in,notin,x,y,z)"},
      {"\rx", "x"},
      {"this-is-a-dns.domain.com/key-with-dash", "this-is-a-dns.domain.com/key-with-dash"},
      {"this-is-another-dns.domain.com/key-with-dash in (so,what)",
       "this-is-another-dns.domain.com/key-with-dash in (so,what)"},
      {"x notin\n (abc)", "x notin (abc)"},
      {"x  notin\t\t\t(abc,def)", "x notin (abc,def)"},
      {"x in (abc,def)", "x in (abc,def)"},
      {"x notin (abc,,def),bar,z in (),w", "bar,w,x notin (,abc,def),z in ()"},
      {"x,y in (a)", "x,y in (a)"},
      {"x=a", "x=a"},
      {"x<7", "x<7"},
      {"x=a,y!=b,z in (h,i,j)", "x=a,y!=b,z in (h,i,j)"},
      {"x notin ( )", "x notin ()"},
      {"a ", "a"},
      {"notin=in", "notin=in"},
      {"x==a", "x==a"},
      {"x=a,a=x", "a=x,x=a"},
      // Beyond the upstream tables, behaviour of the current upstream parser.
      {"in", "in"},
      {"in in (in)", "in in (in)"},
      {"notin notin (notin)", "notin notin (notin)"},
      {"x in (a,,)", "x in (,a)"},
      {"x in (,,)", "x in ()"},
      {"x in (b,a,b,a)", "x in (a,b)"},
      {"x>007", "x>007"},
      {"x>9223372036854775807", "x>9223372036854775807"},
      {"x\t!=\ta\n,\ny", "x!=a,y"},
      {"!x,!y", "!x,!y"},
      {"!  x", "!x"},
      {"x = a , y != b", "x=a,y!=b"},
      {"app in (a,b)", "app in (a,b)"},  // what "labelSelector=app+in+%28a%2Cb%29" decodes to
      {"x in(a)", "x in (a)"},
      {"x notin(a)", "x notin (a)"},
      {"A_b.C-9=Z_y.X-0", "A_b.C-9=Z_y.X-0"},
      {"example.com/Name=v", "example.com/Name=v"},
      // Same key twice: both kept, in input order, after sorting by key.
      {"z,x=b,x=a", "x=b,x=a,z"},
  };
  for (const ValidCase& c : kCases) {
    EXPECT_EQ(Canonical(c.in), c.canonical) << "input: \"" << c.in << "\"";
  }
}

// Upstream's TestSelectorParse: String() of the good strings equals the input with spaces removed.
TEST(SelectorParseTest, UpstreamRestringTable) {
  for (std::string_view in :
       {"x=a,y=b,z=c", "", "x!=a,y=b", "x=", "x= ", "x=,z= ", "x= ,z= ", "!x", "x>1", "x>1,z<5"}) {
    std::string without_spaces;
    for (char c : in) {
      if (c != ' ') without_spaces += c;
    }
    EXPECT_EQ(Canonical(in), without_spaces);
  }
}

TEST(SelectorParseTest, InvalidSelectors) {
  const std::string_view kInvalid[] = {
      // Upstream's examples.
      "x=a||y=b", "x==a==b", "!x=a", "x<a", "x,,y", ",x,y", "a in (xyz),", "a in (xyz abc)",
      "x nott in (y)", "a notin(", "(", "a (", "a in (xyz)b notin ()",
      // Structure.
      ",", "x,", "x=a,", "!", "!!x", "!x!=a", "!x in (a)", "x!", "x=a b", "x!==a", "x===a", "x=(a)",
      "x in x", "x in (a", "x in (a=b)", "x in in", "x in (a)(", "x notin", "x in", ")", "=a",
      "x=,=", "x in ((a))", "x in (a))", "x y", "x>1>2", "x ! = a", "x = = a", "x<>1", "x=>1",
      "x in(a)b",
      // Integers for > and <.
      "x>", "x<", "x>-1", "x>+1", "x>1.5", "x>1e3", "x>0x10", "x>9223372036854775808", "x>a1",
      // Keys.
      "Foo.com/a", "a/b/c", "/a", "a/", "-a", "a-", "_a", "a_", ".a", "a.", "foo_bar.com/a",
      "a..b.com/x", "-a.com/x", "a.com-/x", "a b=c", "a~b", "ä=b", "a\v", "x\x01",
      // Values.
      "a=-b", "a=b-", "a=_b", "a=b.", "a=\"b\"", "a='b'", "a=b\\", "a=b;c", "a in (-b)", "a=ä",
      // NUL bytes are rejected everywhere (upstream treats NUL as end of input).
      std::string_view("x=a\0", 4), std::string_view("\0", 1), std::string_view("x\0=a", 4)};
  for (std::string_view in : kInvalid) {
    absl::StatusOr<Selector> s = Selector::Parse(in);
    EXPECT_FALSE(s.ok()) << "input: \"" << in << "\" parsed as \"" << (s.ok() ? s->String() : "")
                         << "\"";
    if (!s.ok()) {
      EXPECT_EQ(s.status().code(), absl::StatusCode::kInvalidArgument) << in;
    }
  }
}

TEST(SelectorParseTest, LengthLimits) {
  const std::string name63(63, 'a');
  const std::string name64(64, 'a');
  EXPECT_TRUE(Selector::Parse(name63).ok());
  EXPECT_FALSE(Selector::Parse(name64).ok());
  EXPECT_TRUE(Selector::Parse("x=" + name63).ok());
  EXPECT_FALSE(Selector::Parse("x=" + name64).ok());
  EXPECT_FALSE(Selector::Parse("x in (a," + name64 + ")").ok());

  // Prefix: a DNS-1123 subdomain of at most 253 characters (labels of 63 joined by dots: 4*63+3 =
  // 255).
  std::string prefix253 = std::string(63, 'p') + "." + std::string(63, 'q') + "." +
                          std::string(63, 'r') + "." + std::string(61, 's');
  ASSERT_EQ(prefix253.size(), 253u);
  EXPECT_TRUE(Selector::Parse(prefix253 + "/" + name63).ok());
  EXPECT_FALSE(Selector::Parse(prefix253 + "s/" + name63).ok());
  // Upstream's TestRequirementConstructor: a 254-character key without prefix is invalid.
  EXPECT_FALSE(Selector::Parse(std::string(254, 'a')).ok());
}

TEST(SelectorParseTest, Requirements) {
  absl::StatusOr<Selector> s = Selector::Parse("x notin (abc,,def),bar,z in (),w,!v,u>10,t==e");
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_FALSE(s->Empty());
  EXPECT_THAT(
      s->requirements(),
      ElementsAre(Requirement{"bar", Op::kExists, {}}, Requirement{"t", Op::kDoubleEquals, {"e"}},
                  Requirement{"u", Op::kGreaterThan, {"10"}},
                  Requirement{"v", Op::kDoesNotExist, {}}, Requirement{"w", Op::kExists, {}},
                  Requirement{"x", Op::kNotIn, {"", "abc", "def"}},
                  Requirement{"z", Op::kIn, {""}}));

  absl::StatusOr<Selector> empty = Selector::Parse("");
  ASSERT_TRUE(empty.ok());
  EXPECT_TRUE(empty->Empty());
  EXPECT_TRUE(Selector().Empty());
  EXPECT_EQ(*empty, Selector());
}

TEST(SelectorParseTest, DeterministicOrder) {
  EXPECT_EQ(Canonical("x=a,a=x"), Canonical("a=x,x=a"));
  EXPECT_EQ(*Selector::Parse("x=a,a=x"), *Selector::Parse("a=x,x=a"));
}

TEST(SelectorParseTest, ErrorsNamePositionAndToken) {
  absl::Status st = Selector::Parse("x=a||y=b").status();
  EXPECT_THAT(Msg(st), HasSubstr("offset 2"));
  EXPECT_THAT(Msg(st), HasSubstr("invalid label value \"a||y\""));

  st = Selector::Parse("x=ab=b").status();
  EXPECT_THAT(Msg(st), HasSubstr("offset 4"));
  EXPECT_THAT(Msg(st), HasSubstr("found '='"));
  EXPECT_THAT(Msg(st), HasSubstr("expected ',' or end of string"));

  st = Selector::Parse("a in (xyz abc)").status();
  EXPECT_THAT(Msg(st), HasSubstr("offset 10"));
  EXPECT_THAT(Msg(st), HasSubstr("found 'abc'"));
  EXPECT_THAT(Msg(st), HasSubstr("expected ',' or ')'"));

  st = Selector::Parse("a notin(").status();
  EXPECT_THAT(Msg(st), HasSubstr("offset 8"));
  EXPECT_THAT(Msg(st), HasSubstr("end of string"));

  st = Selector::Parse("x nott in (y)").status();
  EXPECT_THAT(Msg(st), HasSubstr("offset 2"));
  EXPECT_THAT(Msg(st), HasSubstr("'nott'"));

  st = Selector::Parse("app=web,tier=front_").status();
  EXPECT_THAT(Msg(st), HasSubstr("offset 13"));
  EXPECT_THAT(Msg(st), HasSubstr("invalid label value \"front_\""));

  st = Selector::Parse("Example.com/x").status();
  EXPECT_THAT(Msg(st), HasSubstr("offset 0"));
  EXPECT_THAT(Msg(st), HasSubstr("prefix part"));

  st = Selector::Parse("x<a").status();
  EXPECT_THAT(Msg(st), HasSubstr("integer"));

  // Hostile bytes are escaped in the message and long tokens truncated.
  st = Selector::Parse("x=\x01\"\n").status();
  EXPECT_THAT(Msg(st), HasSubstr("\\x01\\\""));
  st = Selector::Parse("x=" + std::string(5000, 'a')).status();
  EXPECT_LT(Msg(st).size(), 400u);
  EXPECT_THAT(Msg(st), HasSubstr("..."));
}

// Upstream's TestSelectorMatches.
TEST(SelectorMatchTest, UpstreamMatches) {
  EXPECT_TRUE(Matches("", {{"x", "y"}}));
  EXPECT_TRUE(Matches("x=y", {{"x", "y"}}));
  EXPECT_TRUE(Matches("x=y,z=w", {{"x", "y"}, {"z", "w"}}));
  EXPECT_TRUE(Matches("x!=y,z!=w", {{"x", "z"}, {"z", "a"}}));
  EXPECT_TRUE(Matches("notin=in", {{"notin", "in"}}));
  EXPECT_TRUE(Matches("x", {{"x", "z"}}));
  EXPECT_TRUE(Matches("!x", {{"y", "z"}}));
  EXPECT_TRUE(Matches("x>1", {{"x", "2"}}));
  EXPECT_TRUE(Matches("x<1", {{"x", "0"}}));
  EXPECT_FALSE(Matches("x=z", {}));
  EXPECT_FALSE(Matches("x=y", {{"x", "z"}}));
  EXPECT_FALSE(Matches("x=y,z=w", {{"x", "w"}, {"z", "w"}}));
  EXPECT_FALSE(Matches("x!=y,z!=w", {{"x", "z"}, {"z", "w"}}));
  EXPECT_FALSE(Matches("x", {{"y", "z"}}));
  EXPECT_FALSE(Matches("!x", {{"x", "z"}}));
  EXPECT_FALSE(Matches("x>1", {{"x", "0"}}));
  EXPECT_FALSE(Matches("x<1", {{"x", "2"}}));

  const Labels set = {{"foo", "bar"}, {"baz", "blah"}};
  EXPECT_TRUE(Matches("foo=bar", set));
  EXPECT_TRUE(Matches("baz=blah", set));
  EXPECT_TRUE(Matches("foo=bar,baz=blah", set));
  EXPECT_FALSE(Matches("foo=blah", set));
  EXPECT_FALSE(Matches("baz=bar", set));
  EXPECT_FALSE(Matches("foo=bar,foobar=bar,baz=blah", set));
}

// Upstream's TestRequirementSelectorMatching, written as selector strings.
TEST(SelectorMatchTest, UpstreamSetBasedMatching) {
  EXPECT_TRUE(Matches("x in (foo),y notin (alpha)", {{"x", "foo"}, {"y", "baz"}}));
  EXPECT_FALSE(Matches("x in (foo),y in (alpha)", {{"x", "foo"}, {"y", "baz"}}));
  EXPECT_TRUE(Matches("x notin (),y", {{"y", ""}}));
  EXPECT_TRUE(Matches("!x,y", {{"y", ""}}));
  EXPECT_FALSE(Matches("x notin (),!y", {{"y", ""}}));
  EXPECT_FALSE(Matches("x in ()", {{"y", "baz"}}));
  EXPECT_TRUE(Matches("z>1", {{"z", "2"}}));
  EXPECT_FALSE(Matches("z>1", {{"z", "v2"}}));
}

TEST(SelectorMatchTest, AbsentKeys) {
  // != and notin match when the key is absent; =, ==, in and exists need it present.
  EXPECT_TRUE(Matches("x!=a", {}));
  EXPECT_TRUE(Matches("x notin (a,b)", {}));
  EXPECT_TRUE(Matches("x!=", {}));
  EXPECT_FALSE(Matches("x=a", {}));
  EXPECT_FALSE(Matches("x==a", {}));
  EXPECT_FALSE(Matches("x in (a)", {}));
  EXPECT_FALSE(Matches("x in (,a)", {}));  // empty value in the set still needs the key present
  EXPECT_FALSE(Matches("x=", {}));
  EXPECT_FALSE(Matches("x", {}));
  EXPECT_TRUE(Matches("!x", {}));
  EXPECT_FALSE(Matches("x>0", {}));
  EXPECT_FALSE(Matches("x<0", {}));

  // Present but empty is not absent.
  EXPECT_TRUE(Matches("x=", {{"x", ""}}));
  EXPECT_TRUE(Matches("x in (,a)", {{"x", ""}}));
  EXPECT_FALSE(Matches("x!=", {{"x", ""}}));
  EXPECT_FALSE(Matches("x notin ()", {{"x", ""}}));
  EXPECT_TRUE(Matches("x", {{"x", ""}}));
  EXPECT_FALSE(Matches("!x", {{"x", ""}}));

  EXPECT_TRUE(Matches("x in (a,b,c)", {{"x", "b"}}));
  EXPECT_FALSE(Matches("x in (a,b,c)", {{"x", "d"}}));
  EXPECT_FALSE(Matches("x notin (a,b,c)", {{"x", "c"}}));
  EXPECT_TRUE(Matches("x notin (a,b,c)", {{"x", "cc"}}));
  EXPECT_FALSE(Matches("x=a", {{"x", "A"}}));  // case-sensitive
}

TEST(SelectorMatchTest, IntegerComparisons) {
  // Label values are parsed like Go's strconv.ParseInt(v, 10, 64); anything else never matches.
  EXPECT_TRUE(Matches("x>1", {{"x", "+3"}}));
  EXPECT_TRUE(Matches("x<1", {{"x", "-5"}}));
  EXPECT_TRUE(Matches("x>1", {{"x", "0010"}}));
  EXPECT_TRUE(Matches("x<10", {{"x", "-9223372036854775808"}}));
  EXPECT_TRUE(Matches("x>10", {{"x", "9223372036854775807"}}));
  EXPECT_FALSE(Matches("x>1", {{"x", "1"}}));
  EXPECT_FALSE(Matches("x<1", {{"x", "1"}}));
  for (const char* v : {"", "v2", "1.5", " 2", "2 ", "1e3", "0x10", "9223372036854775808",
                        "-9223372036854775809", "+", "-", "1_000", "２"}) {
    EXPECT_FALSE(Matches("x>0", {{"x", v}})) << "value \"" << v << "\"";
    EXPECT_FALSE(Matches("x<100", {{"x", v}})) << "value \"" << v << "\"";
  }
}

TEST(SelectorMatchTest, LookupFunction) {
  absl::StatusOr<Selector> s = Selector::Parse("app=web,tier notin (db),!canary");
  ASSERT_TRUE(s.ok());
  std::vector<std::string> asked;
  auto lookup = [&asked](std::string_view key) -> std::optional<std::string_view> {
    asked.emplace_back(key);
    if (key == "app") return "web";
    return std::nullopt;
  };
  EXPECT_TRUE(s->Matches(lookup));
  EXPECT_THAT(asked, ElementsAre("app", "canary", "tier"));
  EXPECT_FALSE(s->Matches([](std::string_view key) -> std::optional<std::string_view> {
    if (key == "app") return "web";
    if (key == "canary") return "";
    return std::nullopt;
  }));
  // The empty selector never needs to look anything up.
  EXPECT_TRUE(Selector().Matches([](std::string_view) -> std::optional<std::string_view> {
    ADD_FAILURE() << "lookup called";
    return std::nullopt;
  }));
}

TEST(SelectorStringTest, UpstreamToStringTable) {
  EXPECT_EQ(Canonical("x in (abc,def),y notin (jkl),z"), "x in (abc,def),y notin (jkl),z");
  EXPECT_EQ(Canonical("x notin (abc,def),y!=jkl,!z"), "x notin (abc,def),y!=jkl,!z");
  EXPECT_EQ(Canonical("x notin (abc),y in (jkl,mno),z notin ()"),
            "x notin (abc),y in (jkl,mno),z notin ()");
  EXPECT_EQ(Canonical("x=abc,y==jkl,z!=a,z"), "x=abc,y==jkl,z!=a,z");
  EXPECT_EQ(Canonical("x>2,y<8,z"), "x>2,y<8,z");
}

TEST(SelectorStringTest, RequirementStringAndOpName) {
  EXPECT_EQ((Requirement{"k", Op::kIn, {"a", "b"}}.String()), "k in (a,b)");
  EXPECT_EQ((Requirement{"k", Op::kNotIn, {""}}.String()), "k notin ()");
  EXPECT_EQ((Requirement{"k", Op::kDoesNotExist, {}}.String()), "!k");
  EXPECT_EQ((Requirement{"k", Op::kNotEquals, {""}}.String()), "k!=");
  EXPECT_EQ(OpName(Op::kNotIn), "notin");
  EXPECT_EQ(OpName(Op::kExists), "");
  EXPECT_EQ(OpName(Op::kLessThan), "<");
}

TEST(SelectorStringTest, RoundTrip) {
  for (std::string_view in :
       {"x notin (abc,,def),bar,z in (),w", " a in (x,y,notin, z,in) , b!=c,!d,e>5", "x=,y==,z!=",
        "0.1.2.domain/99 notin (10.10.100.1, tick.tack.clock)", "k in (,)", "z,x=b,x=a"}) {
    absl::StatusOr<Selector> first = Selector::Parse(in);
    ASSERT_TRUE(first.ok()) << in;
    absl::StatusOr<Selector> second = Selector::Parse(first->String());
    ASSERT_TRUE(second.ok()) << first->String();
    EXPECT_EQ(*first, *second) << in;
    EXPECT_EQ(first->String(), second->String());
  }
}

TEST(SelectorValidationTest, KeysAndValues) {
  EXPECT_TRUE(ValidateLabelKey("app.kubernetes.io/name").ok());
  EXPECT_TRUE(ValidateLabelKey("1234").ok());
  EXPECT_TRUE(ValidateLabelKey("a").ok());
  EXPECT_FALSE(ValidateLabelKey("").ok());
  EXPECT_FALSE(ValidateLabelKey("APP.io/name").ok());
  EXPECT_FALSE(ValidateLabelKey("app.io/").ok());
  EXPECT_FALSE(ValidateLabelKey("app..io/x").ok());
  EXPECT_TRUE(ValidateLabelValue("").ok());
  EXPECT_TRUE(ValidateLabelValue("v1.2-3_x").ok());
  EXPECT_FALSE(ValidateLabelValue("v/1").ok());
  EXPECT_FALSE(ValidateLabelValue(" ").ok());
}

TEST(SelectorValidationTest, ParseInt64LikeGo) {
  EXPECT_EQ(ParseInt64("0"), 0);
  EXPECT_EQ(ParseInt64("-0"), 0);
  EXPECT_EQ(ParseInt64("+42"), 42);
  EXPECT_EQ(ParseInt64("007"), 7);
  EXPECT_EQ(ParseInt64("9223372036854775807"), INT64_MAX);
  EXPECT_EQ(ParseInt64("-9223372036854775808"), INT64_MIN);
  EXPECT_EQ(ParseInt64("9223372036854775808"), std::nullopt);
  EXPECT_EQ(ParseInt64("-9223372036854775809"), std::nullopt);
  EXPECT_EQ(ParseInt64("99999999999999999999999"), std::nullopt);
  EXPECT_EQ(ParseInt64(""), std::nullopt);
  EXPECT_EQ(ParseInt64("-"), std::nullopt);
  EXPECT_EQ(ParseInt64("1 "), std::nullopt);
  EXPECT_EQ(ParseInt64("1_0"), std::nullopt);
}

// The parser is linear in the input apart from sorting: large selectors parse (no quadratic
// blow-up, no recursion depth issues). Timings are measured outside the unit tests.
TEST(SelectorParseTest, LargeSelectors) {
  std::string many;
  for (int i = 0; i < 20000; ++i) {
    if (i > 0) many += ",";
    many += "k" + std::to_string(i % 997) + " in (v" + std::to_string(i) + ",w)";
  }
  absl::StatusOr<Selector> s = Selector::Parse(many);
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(s->requirements().size(), 20000u);

  std::string wide = "x in (";
  for (int i = 0; i < 50000; ++i) wide += std::to_string(i % 1000) + ",";
  wide += ")";
  s = Selector::Parse(wide);
  ASSERT_TRUE(s.ok()) << s.status();
  ASSERT_EQ(s->requirements().size(), 1u);
  EXPECT_EQ(s->requirements()[0].values.size(), 1001u);  // 1000 distinct + the empty trailing slot

  // Pathological inputs fail fast with an error rather than hanging.
  EXPECT_FALSE(Selector::Parse(std::string(100000, '(')).ok());
  EXPECT_FALSE(Selector::Parse(std::string(100000, '!')).ok());
  EXPECT_FALSE(Selector::Parse(std::string(100000, ',')).ok());
  EXPECT_FALSE(Selector::Parse("x in (" + std::string(100000, ',')).ok());
}

}  // namespace
}  // namespace aa::selector
