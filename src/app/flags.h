#pragma once
// Command-line setup shared by the programs in src/app/: --help lists the program's own flags with
// their defaults, and flag names accept '-' as well as '_' (--prometheus-url = --prometheus_url;
// Abseil names cannot contain '-').

#include <string>
#include <vector>

#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/flags/usage_config.h"
#include "absl/strings/match.h"
#include "absl/strings/string_view.h"

namespace aa {

// Parses the command line (exits on unknown flags or --help) and returns the positional arguments.
inline std::vector<char*> ParseProgramFlags(int argc, char** argv, absl::string_view usage) {
  absl::FlagsUsageConfig config;
  config.contains_help_flags = [](absl::string_view path) {
    return absl::StrContains(path, "src/app/");
  };
  config.contains_helpshort_flags = config.contains_help_flags;
  absl::SetFlagsUsageConfig(config);
  absl::SetProgramUsageMessage(usage);
  static std::vector<std::string> storage;  // argv strings must outlive parsing
  storage.assign(argv, argv + argc);
  std::vector<char*> args;
  bool done = false;
  for (size_t i = 0; i < storage.size(); ++i) {
    std::string& a = storage[i];
    if (i > 0 && a == "--") done = true;
    if (i > 0 && !done && a.size() > 1 && a[0] == '-') {
      const size_t end = std::min(a.find('='), a.size());
      for (size_t j = a.find_first_not_of('-'); j != std::string::npos && j < end; ++j) {
        if (a[j] == '-') a[j] = '_';
      }
    }
    args.push_back(a.data());
  }
  return absl::ParseCommandLine(static_cast<int>(args.size()), args.data());
}

}  // namespace aa
