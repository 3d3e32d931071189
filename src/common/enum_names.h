#pragma once
// Names of enum values as a table of rows next to their users, instead of one switch per enum.
// Pure constexpr functions, thread-safe.

#include <cstddef>
#include <optional>
#include <string_view>

namespace aa {

template <typename E>
struct EnumName {
  E value;
  std::string_view name;
};

// The name the first row of `table` for `value` gives, or `unknown` when no row has `value`.
template <typename E, size_t N>
constexpr std::string_view NameOf(E value, const EnumName<E> (&table)[N],
                                  std::string_view unknown) {
  for (const EnumName<E>& row : table) {
    if (row.value == value) return row.name;
  }
  return unknown;
}

// The value of the first row of `table` named `name`, or nullopt when no row has that name.
template <typename E, size_t N>
constexpr std::optional<E> ValueOf(std::string_view name, const EnumName<E> (&table)[N]) {
  for (const EnumName<E>& row : table) {
    if (row.name == name) return row.value;
  }
  return std::nullopt;
}

}  // namespace aa
