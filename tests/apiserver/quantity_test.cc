#include "apiserver/quantity.h"

#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <string_view>

#include "gtest/gtest.h"

namespace aa::apiserver {
namespace {

// A test-only reader of the strings we print: returns the value in units of 10^unit_exponent
// (unit_exponent -3: milli, -9: nano, 0: bytes), or false for anything unexpected. Also checks
// the canonical form: no leading zeros, and a mantissa that is no multiple of 1000 (1024 for
// binary suffixes); for bytes, plain integers >= 1024 may be (BinarySI prints "3000").
bool ReadCanonical(const std::string& text, int unit_exponent, int64_t* out) {
  std::string_view s = text;
  bool negative = false;
  if (!s.empty() && s[0] == '-') {
    negative = true;
    s.remove_prefix(1);
  }
  size_t digits = 0;
  while (digits < s.size() && s[digits] >= '0' && s[digits] <= '9') ++digits;
  if (digits == 0 || (s[0] == '0' && s.size() > 1)) return false;
  int64_t mantissa = std::stoll(std::string(s.substr(0, digits)));
  const std::string_view suffix = s.substr(digits);
  static const std::pair<std::string_view, int> kDecimal[] = {
      {"n", -9}, {"u", -6}, {"m", -3}, {"", 0}, {"k", 3}, {"M", 6}, {"G", 9}, {"T", 12}, {"P", 15}};
  static const std::pair<std::string_view, int> kBinary[] = {
      {"Ki", 1}, {"Mi", 2}, {"Gi", 3}, {"Ti", 4}, {"Pi", 5}};
  if (mantissa == 0) {
    *out = 0;
    return text == "0";
  }
  for (const auto& [name, exponent] : kBinary) {
    if (suffix != name) continue;
    if (mantissa % 1024 == 0 || unit_exponent != 0) return false;
    for (int i = 0; i < exponent; ++i) mantissa *= 1024;
    *out = negative ? -mantissa : mantissa;
    return true;
  }
  for (const auto& [name, exponent] : kDecimal) {
    if (suffix != name) continue;
    // BinarySI prints integers >= 1024 that 1024 does not divide in full ("3000", not "3k").
    const bool binary_plain = unit_exponent == 0 && exponent == 0 && mantissa >= 1024;
    if ((mantissa % 1000 == 0 && !binary_plain) || exponent < unit_exponent) return false;
    for (int i = unit_exponent; i < exponent; ++i) mantissa *= 10;
    *out = negative ? -mantissa : mantissa;
    return true;
  }
  return false;
}

// Property: over many values, every printed quantity is canonical and reads back as the value
// rounded to the printed precision (to the nearest unit, halves away from zero).
TEST(QuantityPropertyTest, CanonicalAndReadsBackRounded) {
  for (int i = -3000; i <= 3000; ++i) {
    for (double scale : {1.0 / 7, 1.0, 0.001, 0.0137, 13.7, 1009.0, 1e6 / 3}) {
      const double v = i * scale;
      int64_t milli = 0;
      const std::string q = FormatQuantity(v);
      ASSERT_TRUE(ReadCanonical(q, -3, &milli)) << v << " -> " << q;
      EXPECT_EQ(milli, std::llround(v * 1000)) << v << " -> " << q;

      int64_t nanos = 0;
      const double cores = v / 1000;
      const std::string c = FormatNanoCores(cores);
      ASSERT_TRUE(ReadCanonical(c, -9, &nanos)) << cores << " -> " << c;
      EXPECT_EQ(nanos, std::llround(cores * 1e9)) << cores << " -> " << c;

      int64_t bytes = 0;
      const double b = v * 1024;
      const std::string m = FormatBytes(b);
      ASSERT_TRUE(ReadCanonical(m, 0, &bytes)) << b << " -> " << m;
      EXPECT_EQ(bytes, static_cast<int64_t>(std::round(b))) << b << " -> " << m;
    }
  }
}

TEST(FormatQuantityTest, ReferenceExamples) {
  EXPECT_EQ(FormatQuantity(70), "70");
  EXPECT_EQ(FormatQuantity(0.5), "500m");
  EXPECT_EQ(FormatQuantity(1.5), "1500m");
  EXPECT_EQ(FormatQuantity(1000), "1k");
  EXPECT_EQ(FormatQuantity(1500), "1500");
  EXPECT_EQ(FormatQuantity(1.08), "1080m");
  EXPECT_EQ(FormatQuantity(3e8), "300M");
  EXPECT_EQ(FormatQuantity(2.0 / 3.0), "667m");
  EXPECT_EQ(FormatQuantity(0), "0");
  EXPECT_EQ(FormatQuantity(-0.0), "0");
  EXPECT_EQ(FormatQuantity(-0.5), "-500m");
  EXPECT_EQ(FormatQuantity(12000), "12k");  // the external metrics example "12k"
}

// Expected strings from apimachinery's TestQuantityString / TestNewSet / TestMilliNewSet tables
// (DecimalSI rows whose value has at most milli precision).
TEST(FormatQuantityTest, ApimachineryCanonicalTable) {
  EXPECT_EQ(FormatQuantity(1e9), "1G");
  EXPECT_EQ(FormatQuantity(1000e6), "1G");
  EXPECT_EQ(FormatQuantity(0.001), "1m");
  EXPECT_EQ(FormatQuantity(0.080), "80m");
  EXPECT_EQ(FormatQuantity(300e6), "300M");
  EXPECT_EQ(FormatQuantity(1e12), "1T");
  EXPECT_EQ(FormatQuantity(1e15), "1P");
  EXPECT_EQ(FormatQuantity(1e18), "1E");
  EXPECT_EQ(FormatQuantity(1e21), "1e21");  // no suffix beyond E: exponent notation
  EXPECT_EQ(FormatQuantity(5e21), "5e21");
  EXPECT_EQ(FormatQuantity(1e22), "10e21");
  EXPECT_EQ(FormatQuantity(1234567e6), "1234567M");
  EXPECT_EQ(FormatQuantity(1234.567), "1234567m");
  EXPECT_EQ(FormatQuantity(3000), "3k");
  EXPECT_EQ(FormatQuantity(1025), "1025");
  EXPECT_EQ(FormatQuantity(5), "5");
  EXPECT_EQ(FormatQuantity(1), "1");
  EXPECT_EQ(FormatQuantity(1234000), "1234k");
  EXPECT_EQ(FormatQuantity(1024), "1024");
  EXPECT_EQ(FormatQuantity(1.024), "1024m");
  EXPECT_EQ(FormatQuantity(1048.576), "1048576m");
  EXPECT_EQ(FormatQuantity(50000), "50k");
  EXPECT_EQ(FormatQuantity(40e12), "40T");
  EXPECT_EQ(FormatQuantity(12e18), "12E");
  EXPECT_EQ(FormatQuantity(100035), "100035");    // "100.035k" canonicalised
  EXPECT_EQ(FormatQuantity(10035000), "10035k");  // "10.035M"
  EXPECT_EQ(FormatQuantity(8100), "8100");        // "8.1k"
  EXPECT_EQ(FormatQuantity(2.5e15), "2500T");     // "2.5P"
}

TEST(FormatQuantityTest, NegativesMirrorPositives) {
  for (double v : {70.0, 0.5, 1.5, 1000.0, 1500.0, 1.08, 3e8, 1e21, 0.001}) {
    EXPECT_EQ(FormatQuantity(-v), "-" + FormatQuantity(v)) << v;
  }
}

// The HPA reads MilliValue(), which rounds any sub-milli fraction up: we round to the nearest milli
// first, so float noise does not turn 300m into 301m.
TEST(FormatQuantityTest, RoundsToNearestMilli) {
  EXPECT_EQ(FormatQuantity(0.30000000001), "300m");
  EXPECT_EQ(FormatQuantity(0.1 + 0.2), "300m");  // 0.30000000000000004
  EXPECT_EQ(FormatQuantity(0.29999999999), "300m");
  EXPECT_EQ(FormatQuantity(69.9999999), "70");
  EXPECT_EQ(FormatQuantity(70.0000001), "70");
  EXPECT_EQ(FormatQuantity(0.0005), "1m");  // half rounds away from zero
  EXPECT_EQ(FormatQuantity(-0.0005), "-1m");
  EXPECT_EQ(FormatQuantity(0.0625), "63m");  // an exact binary tie (62.5 milli) rounds up too
  EXPECT_EQ(FormatQuantity(0.0004), "0");    // below half a milli: zero (ceiling would say 1m)
  EXPECT_EQ(FormatQuantity(-0.0004), "0");   // never "-0"
  EXPECT_EQ(FormatQuantity(0.0014999), "1m");
  EXPECT_EQ(FormatQuantity(1.9996), "2");
  EXPECT_EQ(FormatQuantity(999.9996), "1k");
}

TEST(FormatQuantityTest, HugeValuesKeepTheirMagnitude) {
  // Beyond int64 milli-units: printed from the exact integer digits.
  EXPECT_EQ(FormatQuantity(1e16), "10P");
  EXPECT_EQ(FormatQuantity(9223372036854775808.0), "9223372036854775808");  // 2^63
  EXPECT_EQ(FormatQuantity(-5e21), "-5e21");
  // 1e24 is not exact in binary: its exact digits are printed, never a lost magnitude.
  EXPECT_EQ(FormatQuantity(1e24), "999999999999999983222784");
  EXPECT_EQ(FormatQuantity(std::numeric_limits<double>::max()).substr(0, 6), "179769");
  // Just under the int64 milli limit still uses the fast path.
  EXPECT_EQ(FormatQuantity(9e15), "9P");
  EXPECT_EQ(FormatQuantity(123456789012.345), "123456789012345m");
}

TEST(FormatQuantityTest, NonFiniteIsZero) {
  EXPECT_EQ(FormatQuantity(std::nan("")), "0");
  EXPECT_EQ(FormatQuantity(std::numeric_limits<double>::infinity()), "0");
  EXPECT_EQ(FormatQuantity(-std::numeric_limits<double>::infinity()), "0");
}

TEST(FormatNanoCoresTest, MetricsServerStyle) {
  EXPECT_EQ(FormatNanoCores(0.012345678), "12345678n");
  EXPECT_EQ(FormatNanoCores(12345e-9), "12345n");
  EXPECT_EQ(FormatNanoCores(0.25), "250m");
  EXPECT_EQ(FormatNanoCores(2), "2");
  EXPECT_EQ(FormatNanoCores(0), "0");
  EXPECT_EQ(FormatNanoCores(1e-9), "1n");
  EXPECT_EQ(FormatNanoCores(80e-9), "80n");
  EXPECT_EQ(FormatNanoCores(1080e-9), "1080n");
  EXPECT_EQ(FormatNanoCores(1e-6), "1u");
  EXPECT_EQ(FormatNanoCores(80e-6), "80u");
  EXPECT_EQ(FormatNanoCores(1080e-6), "1080u");
  EXPECT_EQ(FormatNanoCores(1.08), "1080m");
  EXPECT_EQ(FormatNanoCores(0.0000000004), "0");
  EXPECT_EQ(FormatNanoCores(0.0000000006), "1n");
  EXPECT_EQ(FormatNanoCores(0.1234567894), "123456789n");
  EXPECT_EQ(FormatNanoCores(64), "64");
  EXPECT_EQ(FormatNanoCores(1500), "1500");
  EXPECT_EQ(FormatNanoCores(-0.25), "-250m");
  EXPECT_EQ(FormatNanoCores(1e12), "1T");  // beyond int64 nanocores
  EXPECT_EQ(FormatNanoCores(std::nan("")), "0");
}

TEST(FormatBytesTest, BinarySI) {
  const double gi = 1024.0 * 1024 * 1024;
  EXPECT_EQ(FormatBytes(2 * gi), "2Gi");
  EXPECT_EQ(FormatBytes(1.5 * gi), "1536Mi");
  EXPECT_EQ(FormatBytes(26284032), "25668Ki");
  EXPECT_EQ(FormatBytes(1025), "1025");
  EXPECT_EQ(FormatBytes(1024), "1Ki");
  EXPECT_EQ(FormatBytes(6 * 1024), "6Ki");
  EXPECT_EQ(FormatBytes(300.0 * 1024 * 1024), "300Mi");
  EXPECT_EQ(FormatBytes(1001 * gi), "1001Gi");
  EXPECT_EQ(FormatBytes(1024 * gi), "1Ti");
  EXPECT_EQ(FormatBytes(4 * gi * 1024 * 1024), "4Pi");
  EXPECT_EQ(FormatBytes(3 * gi * gi), "3Ei");
  EXPECT_EQ(FormatBytes(1024 * 1024 * 1024 * 4.0 * 1024 * 1024), "4Pi");
  EXPECT_EQ(FormatBytes(2000), "2000");
  EXPECT_EQ(FormatBytes(1048576 + 1), "1048577");
  EXPECT_EQ(FormatBytes(-2 * gi), "-2Gi");
}

TEST(FormatBytesTest, SmallValuesAreDecimalSI) {
  // apimachinery prints BinarySI values with |v| < 1024 as DecimalSI.
  EXPECT_EQ(FormatBytes(0), "0");
  EXPECT_EQ(FormatBytes(5), "5");
  EXPECT_EQ(FormatBytes(500), "500");
  EXPECT_EQ(FormatBytes(1000), "1k");
  EXPECT_EQ(FormatBytes(1023), "1023");
  EXPECT_EQ(FormatBytes(-1000), "-1k");
}

TEST(FormatBytesTest, RoundsToWholeBytes) {
  EXPECT_EQ(FormatBytes(1023.6), "1Ki");
  EXPECT_EQ(FormatBytes(2047.4), "2047");
  EXPECT_EQ(FormatBytes(0.4), "0");
  EXPECT_EQ(FormatBytes(std::nan("")), "0");
  EXPECT_EQ(FormatBytes(std::numeric_limits<double>::infinity()), "0");
  // Beyond int64 bytes: DecimalSI from the exact digits.
  EXPECT_EQ(FormatBytes(1e20), "100E");
}

}  // namespace
}  // namespace aa::apiserver
