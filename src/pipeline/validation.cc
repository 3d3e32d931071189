#include "pipeline/validation.h"

#include "absl/strings/str_cat.h"
#include "common/log.h"
#include "common/strings.h"

namespace aa::pipeline {

absl::Status ValidateNamespace(std::string_view ns) {
  auto alnum = [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); };
  bool ok = !ns.empty() && ns.size() <= 63 && alnum(ns.front()) && alnum(ns.back());
  for (char c : ns) ok = ok && (alnum(c) || c == '-');
  if (ok) return absl::OkStatus();
  return absl::InvalidArgumentError(
      absl::StrCat("invalid namespace \"", JsonEscape(ns.substr(0, 100)),
                   "\": must be a DNS-1123 label (1-63 lowercase letters, digits or '-', starting "
                   "and ending alphanumeric)"));
}

}  // namespace aa::pipeline
