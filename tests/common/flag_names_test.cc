#include "common/flag_names.h"

#include <map>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

ABSL_FLAG(std::string, flag_names_test_listen, ":1", "Where the test listens");
ABSL_FLAG(bool, flag_names_test_verbose, false, "Talks more");

namespace aa {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::UnorderedElementsAre;

// grpc_listen and tls_san take values; insecure_skip_verify is a bool.
FlagLookup FakeFlags() {
  return [](std::string_view name) -> std::optional<FlagKind> {
    static const std::map<std::string, bool, std::less<>> flags = {
        {"grpc_listen", false}, {"tls_san", false}, {"insecure_skip_verify", true}, {"v", false}};
    auto it = flags.find(name);
    if (it == flags.end()) return std::nullopt;
    return FlagKind{it->second};
  };
}

std::vector<std::string> Rewrite(std::vector<std::string> args) {
  args.insert(args.begin(), "prog");
  std::vector<std::string> out = RewriteDashedFlags(args, FakeFlags()).args;
  out.erase(out.begin());
  return out;
}

TEST(RewriteDashedFlags, DashedNamesOfFlagsBecomeUnderscored) {
  EXPECT_THAT(Rewrite({"--grpc-listen=:9500", "-tls-san=a-b.svc", "--grpc-listen", "--x-y"}),
              ElementsAre("--grpc_listen=:9500", "-tls_san=a-b.svc", "--grpc_listen", "--x-y"));
}

TEST(RewriteDashedFlags, UnderscoreFormsAndValuesStayAsTheyAre) {
  // The value after a flag without '=' is never rewritten, even when it looks like a flag.
  EXPECT_THAT(Rewrite({"--grpc_listen", "--tls-san", "--tls-san=x-y", "positional-arg"}),
              ElementsAre("--grpc_listen", "--tls-san", "--tls_san=x-y", "positional-arg"));
}

TEST(RewriteDashedFlags, BoolFlagsTakeNoSeparateValueAndHaveANoForm) {
  EXPECT_THAT(Rewrite({"--insecure-skip-verify", "--grpc-listen=:1", "--noinsecure-skip-verify",
                       "--no-insecure-skip-verify", "--insecure-skip-verify=false"}),
              ElementsAre("--insecure_skip_verify", "--grpc_listen=:1", "--noinsecure_skip_verify",
                          "--noinsecure_skip_verify", "--insecure_skip_verify=false"));
  // --no-<name> of a flag that takes a value is no flag: left for Abseil to reject.
  EXPECT_THAT(Rewrite({"--no-grpc-listen"}), ElementsAre("--no-grpc-listen"));
}

TEST(RewriteDashedFlags, NothingAfterDoubleDash) {
  EXPECT_THAT(Rewrite({"--tls-san=a", "--", "--grpc-listen=:1"}),
              ElementsAre("--tls_san=a", "--", "--grpc-listen=:1"));
}

TEST(RewriteDashedFlags, RecordsGivenFlagsIncludingEmptyValues) {
  RewrittenCommandLine r = RewriteDashedFlags(
      {"prog", "--grpc-listen", "", "--no-insecure-skip-verify", "--unknown-flag=1", "x"},
      FakeFlags());
  EXPECT_THAT(r.args, ElementsAre("prog", "--grpc_listen", "", "--noinsecure_skip_verify",
                                  "--unknown-flag=1", "x"));
  EXPECT_THAT(r.given, UnorderedElementsAre("grpc_listen", "insecure_skip_verify"));
  EXPECT_THAT(RewriteDashedFlags({"prog", "--tls-san="}, FakeFlags()).given,
              UnorderedElementsAre("tls_san"));
  EXPECT_TRUE(RewriteDashedFlags({"prog"}, FakeFlags()).given.empty());
}

TEST(RewriteDashedFlags, RecordsEveryValueOfARepeatedFlagInOrder) {
  RewrittenCommandLine r =
      RewriteDashedFlags({"prog", "--tls-san=a=1", "--insecure-skip-verify", "--tls_san", "b=2,c",
                          "-tls-san=", "--grpc-listen", "--tls-san=x", "--", "--tls-san=after"},
                         FakeFlags());
  EXPECT_THAT(r.values["tls_san"], ElementsAre("a=1", "b=2,c", ""));
  // A non-bool flag without '=' takes the next argument as its value, whatever it looks like.
  EXPECT_THAT(r.values["grpc_listen"], ElementsAre("--tls-san=x"));
  EXPECT_FALSE(r.values.contains("insecure_skip_verify"));
  // A value-taking flag at the very end has no value to record.
  EXPECT_TRUE(RewriteDashedFlags({"prog", "--tls-san"}, FakeFlags()).values.empty());
}

TEST(RewriteDashedFlags, FindsAbseilFlags) {
  RewrittenCommandLine r = RewriteDashedFlags(
      {"prog", "--flag-names-test-listen=:2", "--flag-names-test-verbose"}, RegisteredFlags());
  EXPECT_THAT(r.args,
              ElementsAre("prog", "--flag_names_test_listen=:2", "--flag_names_test_verbose"));
}

TEST(FindHelpRequest, HelpAndHelpfullBeforeDoubleDash) {
  EXPECT_EQ(FindHelpRequest({"prog", "--x=1"}), HelpRequest::kNone);
  EXPECT_EQ(FindHelpRequest({"prog", "--help"}), HelpRequest::kProgram);
  EXPECT_EQ(FindHelpRequest({"prog", "-helpshort"}), HelpRequest::kProgram);
  EXPECT_EQ(FindHelpRequest({"prog", "--help", "--helpfull"}), HelpRequest::kFull);
  EXPECT_EQ(FindHelpRequest({"prog", "--", "--help"}), HelpRequest::kNone);
}

TEST(FlagsHelp, ListsDashFormsWithDefaults) {
  std::string help = FlagsHelp("prog: does things", [](std::string_view file) {
    return file.find("flag_names_test") != std::string_view::npos;
  });
  EXPECT_THAT(help, HasSubstr("prog: does things\n"));
  EXPECT_THAT(help, HasSubstr("Flags from tests/common/flag_names_test.cc:"));
  EXPECT_THAT(help,
              HasSubstr("--flag-names-test-listen (Where the test listens); default: \":1\";"));
  EXPECT_THAT(help, HasSubstr("--flag-names-test-verbose (Talks more); default: false;"));
  EXPECT_THAT(help, Not(HasSubstr("flag_names_test_listen")));
  // Without a filter: every flag registered (--helpfull).
  EXPECT_THAT(FlagsHelp("u", nullptr), HasSubstr("--flag-names-test-verbose"));
}

}  // namespace
}  // namespace aa
