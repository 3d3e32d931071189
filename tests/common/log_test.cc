#include "common/log.h"

#include <cmath>

#include "gtest/gtest.h"

namespace aa {
namespace {

TEST(Log, JsonRecordHasTypedFields) {
  EXPECT_EQ(
      FormatLogRecord(LogFormat::kJson, LogLevel::kInfo, "T", "listening",
                      {{"port", 8080}, {"addr", "127.0.0.1"}, {"tls", false}, {"ratio", 0.5}}),
      R"({"ts":"T","level":"info","msg":"listening","port":8080,"addr":"127.0.0.1","tls":false,"ratio":0.5})");
}

TEST(Log, JsonEscapesControlCharactersAndQuotes) {
  EXPECT_EQ(FormatLogRecord(LogFormat::kJson, LogLevel::kWarn, "T", "a\"b\n", {{"k", "\x01"}}),
            R"({"ts":"T","level":"warn","msg":"a\"b\n","k":"\u0001"})");
}

TEST(Log, LogfmtQuotesOnlyWhenNeeded) {
  EXPECT_EQ(FormatLogRecord(LogFormat::kLogfmt, LogLevel::kError, "T", "query failed",
                            {{"metric", "cpu"}, {"err", "a b"}}),
            R"(ts=T level=error msg="query failed" metric=cpu err="a b")");
}

TEST(Log, NonFiniteNumbersStayValidJson) {
  EXPECT_EQ(FormatLogRecord(LogFormat::kJson, LogLevel::kInfo, "T", "m", {{"v", std::nan("")}}),
            R"({"ts":"T","level":"info","msg":"m","v":"nan"})");
}

TEST(Log, RejectsUnknownLevelAndFormat) {
  EXPECT_FALSE(SetLogLevel("loud").ok());
  EXPECT_FALSE(SetLogFormat("xml").ok());
  EXPECT_TRUE(SetLogLevel("info").ok());
}

}  // namespace
}  // namespace aa
