#pragma once
// Command-line setup shared by the programs (adapter, demo, simulator): flag names are written with
// dashes, as Kubernetes tools write them (--prometheus-url), and the underscore forms Abseil
// declares them with (--prometheus_url) keep working (common/flag_names.h); --help lists the
// program's own flags with their defaults in dash form, --helpfull every flag.

#include <cstdio>
#include <cstdlib>
#include <functional>
#include <map>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/flags/usage_config.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "common/flag_names.h"

namespace aa {

// The underscore names of the flags the command line named (see RewrittenCommandLine::given).
inline std::set<std::string, std::less<>>& GivenFlags() {
  static std::set<std::string, std::less<>> given;
  return given;
}
// True when the command line named flag `name` (underscore form), even with an empty value: tells
// `--grpc-listen ""` (explicitly empty) from a flag left at its default "".
inline bool FlagGiven(std::string_view name) { return GivenFlags().contains(name); }

// Every value the command line gave flag `name` (underscore form), in order: a repeatable flag's
// occurrences (Abseil's own value is the last one). Values set through --flagfile are not in it.
inline std::map<std::string, std::vector<std::string>, std::less<>>& GivenFlagValues() {
  static std::map<std::string, std::vector<std::string>, std::less<>> values;
  return values;
}
inline std::vector<std::string> FlagValues(std::string_view name) {
  auto it = GivenFlagValues().find(name);
  return it == GivenFlagValues().end() ? std::vector<std::string>{} : it->second;
}

// Parses the command line (exits on unknown flags, on --help with 1 and on --version with 0, as
// Abseil does) and returns the positional arguments. `version_line`, when not empty, is what
// --version prints.
inline std::vector<char*> ParseProgramFlags(int argc, char** argv, absl::string_view usage,
                                            const std::string& version_line = "") {
  // A program's own flags are those its main file (src/app/adapter_main.cc,
  // src/demo/demo_main.cc, src/demo/sim/sim_main.cc) defines. Called with absl::string_view by
  // Abseil and std::string_view by FlagsHelp.
  auto is_program_flag = [](auto path) {
    return std::string_view(path.data(), path.size()).ends_with("_main.cc");
  };
  absl::FlagsUsageConfig config;
  config.contains_help_flags = is_program_flag;
  config.contains_helpshort_flags = is_program_flag;
  if (!version_line.empty()) config.version_string = [version_line] { return version_line; };
  absl::SetFlagsUsageConfig(config);
  absl::SetProgramUsageMessage(usage);
  static std::vector<std::string> storage;  // argv strings must outlive parsing
  RewrittenCommandLine command_line =
      RewriteDashedFlags(std::vector<std::string>(argv, argv + argc), RegisteredFlags());
  storage = std::move(command_line.args);
  GivenFlags() = std::move(command_line.given);
  GivenFlagValues() = std::move(command_line.values);
  if (HelpRequest help = FindHelpRequest(storage); help != HelpRequest::kNone) {
    std::string program = storage.empty() ? "" : storage[0].substr(storage[0].rfind('/') + 1);
    std::function<bool(std::string_view)> include;  // --helpfull: every flag
    if (help == HelpRequest::kProgram) include = is_program_flag;
    std::fputs(FlagsHelp(absl::StrCat(program, ": ", usage), include).c_str(), stdout);
    std::exit(1);
  }
  std::vector<char*> args;
  for (std::string& a : storage) args.push_back(a.data());
  return absl::ParseCommandLine(static_cast<int>(args.size()), args.data());
}

}  // namespace aa
