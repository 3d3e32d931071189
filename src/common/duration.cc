#include "common/duration.h"

#include <cctype>
#include <cmath>

#include "absl/strings/str_cat.h"
#include "common/strings.h"

namespace aa {
namespace {

// Returns the length of the unit at the start of `s` and its size, or 0 when there is none.
size_t MatchUnit(std::string_view s, absl::Duration* unit) {
  struct Unit {
    std::string_view name;
    absl::Duration size;
  };
  // Longer names first so "ms" is not read as "m".
  static const Unit kUnits[] = {
      {"ns", absl::Nanoseconds(1)},
      {"us", absl::Microseconds(1)},
      {"\xC2\xB5s", absl::Microseconds(1)},
      {"ms", absl::Milliseconds(1)},
      {"s", absl::Seconds(1)},
      {"m", absl::Minutes(1)},
      {"h", absl::Hours(1)},
      {"d", absl::Hours(24)},
      {"w", absl::Hours(24 * 7)},
  };
  for (const Unit& u : kUnits) {
    if (s.substr(0, u.name.size()) == u.name) {
      *unit = u.size;
      return u.name.size();
    }
  }
  return 0;
}

}  // namespace

absl::StatusOr<absl::Duration> ParseGoDuration(std::string_view text) {
  auto bad = [&](std::string_view why) {
    return absl::InvalidArgumentError(absl::StrCat(
        "invalid duration \"", ToAbsl(text), "\": ", ToAbsl(why), " (examples: 5s, 1m30s, 250ms)"));
  };
  if (text.empty()) return bad("empty");
  if (text == "0") return absl::ZeroDuration();
  std::string_view s = text;
  absl::Duration total = absl::ZeroDuration();
  while (!s.empty()) {
    size_t i = 0;
    while (i < s.size() && (std::isdigit(static_cast<unsigned char>(s[i])) || s[i] == '.')) ++i;
    if (i == 0) return bad("expected a number");
    std::string number(s.substr(0, i));
    char* end = nullptr;
    double value = std::strtod(number.c_str(), &end);
    if (end != number.c_str() + number.size() || !std::isfinite(value))
      return bad("malformed number");
    s.remove_prefix(i);
    absl::Duration unit;
    size_t n = MatchUnit(s, &unit);
    if (n == 0) return bad(s.empty() ? "missing unit" : "unknown unit");
    s.remove_prefix(n);
    total += unit * value;
    if (total > absl::Hours(24 * 365 * 100)) return bad("too large");
  }
  return total;
}

std::string FormatGoDuration(absl::Duration d) {
  if (d == absl::ZeroDuration()) return "0s";
  std::string out;
  if (d < absl::ZeroDuration()) {
    out = "-";
    d = -d;
  }
  if (d < absl::Seconds(1)) return absl::StrCat(out, absl::FormatDuration(d));
  int64_t hours = absl::IDivDuration(d, absl::Hours(1), &d);
  int64_t minutes = absl::IDivDuration(d, absl::Minutes(1), &d);
  double seconds = absl::ToDoubleSeconds(d);
  if (hours > 0) absl::StrAppend(&out, hours, "h");
  if (hours > 0 || minutes > 0) absl::StrAppend(&out, minutes, "m");
  absl::StrAppend(&out, seconds, "s");
  return out;
}

}  // namespace aa
