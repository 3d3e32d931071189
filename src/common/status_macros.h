#pragma once
// The two status macros the house style allows (Abseil 20220623 ships none).

#include "absl/status/status.h"
#include "absl/status/statusor.h"

#define AA_CONCAT_INNER_(a, b) a##b
#define AA_CONCAT_(a, b) AA_CONCAT_INNER_(a, b)

// Returns from the enclosing function when `expr` (an absl::Status) is not OK.
#define AA_RETURN_IF_ERROR(expr)             \
  do {                                       \
    ::absl::Status aa_status_ = (expr);      \
    if (!aa_status_.ok()) return aa_status_; \
  } while (0)

// `lhs` = value of `rexpr` (an absl::StatusOr<T>), or returns its status from the enclosing
// function.
// NOLINTBEGIN(bugprone-macro-parentheses): `lhs` is a declaration or an lvalue and `tmp` a name;
// parentheses would not compile.
#define AA_ASSIGN_OR_RETURN(lhs, rexpr) \
  AA_ASSIGN_OR_RETURN_IMPL_(AA_CONCAT_(aa_statusor_, __LINE__), lhs, rexpr)
#define AA_ASSIGN_OR_RETURN_IMPL_(tmp, lhs, rexpr) \
  auto tmp = (rexpr);                              \
  if (!tmp.ok()) return tmp.status();              \
  lhs = std::move(tmp).value()
// NOLINTEND(bugprone-macro-parentheses)
