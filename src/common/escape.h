#pragma once
// Pieces the string escapers share (JSON in the log and the API server, PromQL literals). Pure
// functions, thread-safe.

#include <cstddef>
#include <string_view>

namespace aa {

// The short backslash escape JSON and Go (so PromQL) both write for `c`: \" \\ \n \r \t; nullptr
// for every other byte.
constexpr const char* ShortEscape(unsigned char c) {
  switch (c) {
    case '"':
      return "\\\"";
    case '\\':
      return "\\\\";
    case '\n':
      return "\\n";
    case '\r':
      return "\\r";
    case '\t':
      return "\\t";
    default:
      return nullptr;
  }
}

// The value of the hexadecimal digit `c` (0-9, a-f, A-F), or -1 when it is none.
constexpr int HexDigitValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Length of the well-formed UTF-8 sequence of 2 to 4 bytes (no overlong form, no surrogate, at most
// U+10FFFF) that starts at s[i], or 0 when there is none there (an ASCII byte included).
size_t Utf8SequenceLength(std::string_view s, size_t i);

}  // namespace aa
