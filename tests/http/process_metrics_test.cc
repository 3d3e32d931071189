#include "http/process_metrics.h"

#include <map>
#include <string>

#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "prometheus/registry.h"
#include "prometheus/text_serializer.h"

namespace aa::http {
namespace {

using ::testing::HasSubstr;

// A /proc/<pid>/stat line whose command name holds a space and a ')'.
constexpr char kStat[] =
    "4242 (auto scale) x) S 1 4242 4242 0 -1 4194560 9000 0 0 0 250 150 0 0 20 0 12 0 "
    "123400 1499242496 5455 18446744073709551615 1 1 0 0 0 0 0 4096 0 0 0 0 17 1 0 0 0 0 0\n";

TEST(ParseProcStat, CpuMemoryAndStartTimeInPrometheusUnits) {
  auto s = ParseProcStat(kStat, /*boot_time_seconds=*/1'700'000'000, /*ticks_per_second=*/100,
                         /*page_size=*/4096);
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_DOUBLE_EQ(s->cpu_seconds, 4.0);  // (250 + 150) ticks
  EXPECT_DOUBLE_EQ(s->start_time_seconds, 1'700'001'234.0);
  EXPECT_DOUBLE_EQ(s->virtual_bytes, 1499242496.0);
  EXPECT_DOUBLE_EQ(s->resident_bytes, 5455.0 * 4096);
}

TEST(ParseProcStat, RejectsWhatIsNoStatLine) {
  EXPECT_EQ(ParseProcStat("garbage", 0, 100, 4096).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ParseProcStat("1 (x) S 1 2 3", 0, 100, 4096).status().code(),
            absl::StatusCode::kInvalidArgument);
}

// name -> value of the unlabelled samples of a text exposition.
std::map<std::string, double> Samples(const std::string& text) {
  std::map<std::string, double> out;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    if (line.empty() || line[0] == '#') continue;
    std::vector<absl::string_view> parts = absl::StrSplit(line, ' ');
    double v;
    if (parts.size() == 2 && absl::SimpleAtod(parts[1], &v)) out[std::string(parts[0])] = v;
  }
  return out;
}

TEST(CollectProcessMetrics, ThisProcessAsTheGoClientExportsIt) {
  const std::string text = prometheus::TextSerializer().Serialize(CollectProcessMetrics());
  EXPECT_THAT(text, HasSubstr("# TYPE process_cpu_seconds_total counter"));
  EXPECT_THAT(text, HasSubstr("# TYPE process_resident_memory_bytes gauge"));
  std::map<std::string, double> s = Samples(text);
  EXPECT_GE(s["process_cpu_seconds_total"], 0);
  EXPECT_GT(s["process_resident_memory_bytes"], 1 << 20);
  EXPECT_GT(s["process_virtual_memory_bytes"], s["process_resident_memory_bytes"]);
  EXPECT_GE(s["process_open_fds"], 3);  // at least stdin, stdout, stderr
  EXPECT_GE(s["process_max_fds"], s["process_open_fds"]);
  // The test started a moment ago (seconds of ticks: a 1 s slack either way).
  const double now = absl::ToUnixMillis(absl::Now()) / 1000.0;
  EXPECT_LE(s["process_start_time_seconds"], now + 1);
  EXPECT_GT(s["process_start_time_seconds"], now - 600);
}

TEST(RegisterBuildInfo, OneGaugeLabelledWithVersionAndRevision) {
  prometheus::Registry registry;
  RegisterBuildInfo(registry, "1.2.3", "0123456789ab");
  EXPECT_THAT(
      prometheus::TextSerializer().Serialize(registry.Collect()),
      HasSubstr("autoscale_adapter_build_info{revision=\"0123456789ab\",version=\"1.2.3\"} 1"));
}

}  // namespace
}  // namespace aa::http
