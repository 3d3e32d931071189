#include "selector/field_selector.h"

#include <gtest/gtest.h>

namespace aa::selector {
namespace {

bool Match(std::string_view sel, std::string_view name, std::string_view ns) {
  auto s = FieldSelector::Parse(sel);
  EXPECT_TRUE(s.ok()) << sel << ": " << s.status();
  return s.ok() && s->Matches({name, ns});
}

std::string Error(std::string_view sel) {
  auto s = FieldSelector::Parse(sel);
  EXPECT_FALSE(s.ok()) << sel;
  if (!s.ok()) {
    EXPECT_EQ(s.status().code(), absl::StatusCode::kInvalidArgument);
  }
  return s.ok() ? "" : std::string(s.status().message());
}

TEST(FieldSelectorTest, EmptySelectsEverything) {
  for (std::string_view sel : {"", ",", ",,"}) {
    auto s = FieldSelector::Parse(sel);
    ASSERT_TRUE(s.ok()) << sel;
    EXPECT_TRUE(s->Empty());
    EXPECT_TRUE(s->Matches({"a", "b"}));
  }
}

TEST(FieldSelectorTest, Operators) {
  EXPECT_TRUE(Match("metadata.name=web-1", "web-1", "prod"));
  EXPECT_TRUE(Match("metadata.name==web-1", "web-1", "prod"));
  EXPECT_FALSE(Match("metadata.name=web-1", "web-2", "prod"));
  EXPECT_TRUE(Match("metadata.name!=web-1", "web-2", "prod"));
  EXPECT_FALSE(Match("metadata.name!=web-1", "web-1", "prod"));
  EXPECT_TRUE(Match("metadata.namespace=prod", "x", "prod"));
  EXPECT_FALSE(Match("metadata.namespace=prod", "x", "dev"));
  EXPECT_TRUE(Match("metadata.namespace!=prod", "x", "dev"));
  // Every term must hold.
  EXPECT_TRUE(Match("metadata.namespace=prod,metadata.name!=a", "b", "prod"));
  EXPECT_FALSE(Match("metadata.namespace=prod,metadata.name!=a", "a", "prod"));
  EXPECT_FALSE(Match("metadata.name=a,metadata.name=b", "a", "prod"));
  // An object without a namespace reads as "" (nodes).
  EXPECT_TRUE(Match("metadata.namespace=", "node-1", ""));
  EXPECT_FALSE(Match("metadata.namespace=prod", "node-1", ""));
  EXPECT_TRUE(Match("metadata.namespace!=prod", "node-1", ""));
  // An empty value is a value.
  EXPECT_FALSE(Match("metadata.name=", "a", "prod"));
  EXPECT_TRUE(Match("metadata.name!=", "a", "prod"));
}

TEST(FieldSelectorTest, EscapedValues) {
  EXPECT_TRUE(Match(R"(metadata.name=a\,b)", "a,b", ""));
  EXPECT_TRUE(Match(R"(metadata.name=a\=b)", "a=b", ""));
  EXPECT_TRUE(Match(R"(metadata.name=a\\b)", R"(a\b)", ""));
  // The escaped comma does not split terms.
  EXPECT_TRUE(Match(R"(metadata.name!=x\,y,metadata.namespace=n)", "x", "n"));
  // The first operator splits: the value may hold '!' but not a bare '='.
  EXPECT_TRUE(Match("metadata.name=a!b", "a!b", ""));
}

TEST(FieldSelectorTest, UpstreamErrors) {
  EXPECT_EQ(Error("spec.nodeName=node-1"),
            R"("spec.nodeName" is not a known field selector: only "metadata.name", )"
            R"("metadata.namespace")");
  EXPECT_EQ(Error("status.phase!=Running"),
            R"("status.phase" is not a known field selector: only "metadata.name", )"
            R"("metadata.namespace")");
  EXPECT_EQ(Error("=x"),
            R"("" is not a known field selector: only "metadata.name", "metadata.namespace")");
  EXPECT_EQ(Error("metadata.name"),
            "invalid selector: 'metadata.name'; can't understand 'metadata.name'");
  // Terms are read in sorted order: the first error is upstream's first.
  EXPECT_EQ(Error("zzz,metadata.name=a,aaa"),
            "invalid selector: 'zzz,metadata.name=a,aaa'; can't understand 'aaa'");
  // Every term is parsed before any field is checked.
  EXPECT_EQ(Error("a.b=c,metadata.name"),
            "invalid selector: 'a.b=c,metadata.name'; can't understand 'metadata.name'");
  EXPECT_EQ(Error("metadata.name=a=b"), "invalid field selector: unescaped character in value: 61");
  EXPECT_EQ(Error(R"(metadata.name=a\x)"),
            R"(invalid field selector: invalid escape sequence: \x)");
  EXPECT_EQ(Error(R"(metadata.name=a\)"), R"(invalid field selector: invalid escape sequence: \)");
}

}  // namespace
}  // namespace aa::selector
