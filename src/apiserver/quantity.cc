#include "apiserver/quantity.h"

#include <cmath>
#include <cstdint>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace aa::apiserver {
namespace {

// Integers strictly below this magnitude convert to int64 without overflow (2^63 is exact in
// double).
constexpr double kInt64Limit = 9223372036854775808.0;

const char* DecimalSuffix(int exponent) {
  switch (exponent) {
    case -9:
      return "n";
    case -6:
      return "u";
    case -3:
      return "m";
    case 0:
      return "";
    case 3:
      return "k";
    case 6:
      return "M";
    case 9:
      return "G";
    case 12:
      return "T";
    case 15:
      return "P";
    case 18:
      return "E";
    default:
      return nullptr;
  }
}

// Prints sign * digits * 10^exponent in canonical DecimalSI. `digits` is a decimal integer without
// sign; leading zeros are allowed.
std::string CanonicalDecimal(bool negative, std::string digits, int exponent) {
  size_t first = digits.find_first_not_of('0');
  if (first == std::string::npos) return "0";
  digits.erase(0, first);
  size_t last = digits.find_last_not_of('0');
  exponent += static_cast<int>(digits.size() - 1 - last);
  digits.resize(last + 1);
  // Lower the exponent to the multiple of 3 at or below it.
  int extra = ((exponent % 3) + 3) % 3;
  digits.append(static_cast<size_t>(extra), '0');
  exponent -= extra;
  std::string out;
  out.reserve(digits.size() + 6);
  if (negative) out.push_back('-');
  out += digits;
  if (const char* suffix = DecimalSuffix(exponent)) {
    out += suffix;
  } else {
    absl::StrAppend(&out, "e", exponent);
  }
  return out;
}

// Rounds `value` to the nearest multiple of 10^scale_exponent (scale_exponent <= 0, halves away
// from zero) and prints it as canonical DecimalSI.
std::string FormatScaled(double value, int scale_exponent) {
  if (!std::isfinite(value) || value == 0) return "0";
  const bool negative = value < 0;
  const double magnitude = std::fabs(value);
  double factor = 1;
  for (int i = 0; i < -scale_exponent; ++i) factor *= 10;  // exact for the scales used (<= 10^9)
  const double scaled = magnitude * factor;
  if (scaled < kInt64Limit) {
    const int64_t units = std::llround(scaled);
    return CanonicalDecimal(negative, absl::StrCat(units), scale_exponent);
  }
  // Too big for int64 units: such doubles (>= 9.2e18 / 10^-scale_exponent) are printed from their
  // exact decimal expansion; glibc's %f is exact for binary doubles.
  std::string text = absl::StrFormat("%.*f", -scale_exponent, magnitude);
  const size_t dot = text.find('.');
  if (dot != std::string::npos) text.erase(dot, 1);
  return CanonicalDecimal(negative, std::move(text), scale_exponent);
}

}  // namespace

std::string FormatQuantity(double value) { return FormatScaled(value, -3); }

std::string FormatNanoCores(double cores) { return FormatScaled(cores, -9); }

std::string FormatBytes(double bytes) {
  if (!std::isfinite(bytes)) return "0";
  const double rounded = std::round(bytes);
  if (std::fabs(rounded) < 1024 || std::fabs(rounded) >= kInt64Limit) {
    return FormatScaled(rounded, 0);
  }
  int64_t amount = static_cast<int64_t>(rounded);
  static constexpr const char* kBinarySuffixes[] = {"", "Ki", "Mi", "Gi", "Ti", "Pi", "Ei"};
  int power = 0;
  while (power < 6 && amount % 1024 == 0) {
    amount /= 1024;
    ++power;
  }
  return absl::StrCat(amount, kBinarySuffixes[power]);
}

}  // namespace aa::apiserver
