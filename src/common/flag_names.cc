#include "common/flag_names.h"

#include <algorithm>
#include <map>

#include "absl/flags/commandlineflag.h"
#include "absl/flags/reflection.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "common/strings.h"

namespace aa {

FlagLookup RegisteredFlags() {
  return [](std::string_view name) -> std::optional<FlagKind> {
    const absl::CommandLineFlag* flag = absl::FindCommandLineFlag(ToAbsl(name));
    if (flag == nullptr || flag->IsRetired()) return std::nullopt;
    return FlagKind{flag->IsOfType<bool>()};
  };
}

RewrittenCommandLine RewriteDashedFlags(const std::vector<std::string>& args,
                                        const FlagLookup& lookup) {
  RewrittenCommandLine out;
  out.args = args;
  for (size_t i = 1; i < out.args.size(); ++i) {
    std::string& arg = out.args[i];
    if (arg == "--") break;
    if (arg.size() < 2 || arg[0] != '-') continue;
    const size_t start = arg[1] == '-' ? 2 : 1;
    const size_t eq = arg.find('=');
    const bool has_value = eq != std::string::npos;
    const std::string name = arg.substr(start, has_value ? eq - start : std::string::npos);
    const std::string underscored = absl::StrReplaceAll(name, {{"-", "_"}});
    std::string flag_name = underscored;
    std::optional<FlagKind> kind = lookup(underscored);
    if (!kind.has_value() && underscored.rfind("no", 0) == 0) {
      // --noflag (and --no-flag, as dashed) for a bool flag.
      std::string rest = underscored.substr(underscored.rfind("no_", 0) == 0 ? 3 : 2);
      std::optional<FlagKind> negated = lookup(rest);
      if (negated.has_value() && negated->is_bool) {
        kind = negated;
        flag_name = rest;
        arg = absl::StrCat(arg.substr(0, start), "no", rest, has_value ? arg.substr(eq) : "");
      }
    } else if (kind.has_value() && underscored != name) {
      arg = absl::StrCat(arg.substr(0, start), underscored, has_value ? arg.substr(eq) : "");
    }
    if (!kind.has_value()) continue;
    out.given.insert(flag_name);
    if (kind->is_bool) continue;
    if (has_value) {
      out.values[flag_name].push_back(arg.substr(arg.find('=') + 1));
    } else if (i + 1 < out.args.size()) {
      out.values[flag_name].push_back(out.args[++i]);  // the next argument is the value
    }
  }
  return out;
}

HelpRequest FindHelpRequest(const std::vector<std::string>& args) {
  HelpRequest found = HelpRequest::kNone;
  for (size_t i = 1; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a == "--") break;
    if (a == "--helpfull" || a == "-helpfull") return HelpRequest::kFull;
    if (a == "--help" || a == "-help" || a == "--helpshort" || a == "-helpshort") {
      found = HelpRequest::kProgram;
    }
  }
  return found;
}

namespace {

// "/work/x/src/app/adapter_main.cc" -> "src/app/adapter_main.cc", as a reader of the sources
// knows it (the same for tests/).
std::string_view ShortFile(std::string_view file) {
  size_t top = file.rfind("/src/");
  if (top == std::string_view::npos) top = file.rfind("/tests/");
  return top == std::string_view::npos ? file : file.substr(top + 1);
}

// Appends the words of `text` and then `last` (kept whole: "default: \"a b\";") indented by
// `first_indent`, wrapped at 80 columns, continuation lines indented by `rest_indent`, and a
// newline.
void AppendWrapped(std::string& out, std::string_view text, std::string_view last,
                   size_t first_indent, size_t rest_indent) {
  std::vector<absl::string_view> words = absl::StrSplit(ToAbsl(text), ' ', absl::SkipEmpty());
  words.push_back(ToAbsl(last));
  out.append(first_indent, ' ');
  size_t column = first_indent;
  bool line_empty = true;
  for (absl::string_view word : words) {
    if (!line_empty && column + 1 + word.size() > 80) {
      out.append("\n").append(rest_indent, ' ');
      column = rest_indent;
      line_empty = true;
    }
    if (!line_empty) {
      out.push_back(' ');
      ++column;
    }
    out.append(word.data(), word.size());
    column += word.size();
    line_empty = false;
  }
  out.push_back('\n');
}

}  // namespace

std::string FlagsHelp(std::string_view usage,
                      const std::function<bool(std::string_view file)>& include) {
  std::map<std::string, std::map<std::string, const absl::CommandLineFlag*>> by_file;
  for (const auto& [name, flag] : absl::GetAllFlags()) {
    if (flag->IsRetired()) continue;
    const std::string path = flag->Filename();
    if (include && !include(path)) continue;
    const std::string file(ShortFile(path));
    by_file[file][absl::StrReplaceAll(flag->Name(), {{"_", "-"}})] = flag;
  }
  std::string out = absl::StrCat(ToAbsl(usage), "\n");
  for (const auto& [file, flags] : by_file) {
    absl::StrAppend(&out, "\n  Flags from ", file, ":\n");
    for (const auto& [dashed, flag] : flags) {
      const std::string def = flag->IsOfType<std::string>()
                                  ? absl::StrCat("\"", flag->DefaultValue(), "\"")
                                  : flag->DefaultValue();
      AppendWrapped(out, absl::StrCat("--", dashed, " (", flag->Help(), ");"),
                    absl::StrCat("default: ", def, ";"), 4, 6);
    }
  }
  return out;
}

}  // namespace aa
