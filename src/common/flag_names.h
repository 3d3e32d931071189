#pragma once
// Flags written with dashes, as Kubernetes tools write them (--grpc-listen), for programs whose
// Abseil flags are named with underscores (Abseil names cannot contain '-'): the command line is
// rewritten before Abseil parses it, and --help prints the dash forms. Library aa_flag_names.

#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

namespace aa {

// What the rewrite needs to know about a flag: a bool flag never takes the next argument as its
// value (Abseil: only --flag, --noflag, --flag=v).
struct FlagKind {
  bool is_bool = false;
};
// Finds a flag by its underscore name; nullopt when there is none.
using FlagLookup = std::function<std::optional<FlagKind>(std::string_view name)>;
// The flags registered with Abseil (ABSL_FLAG) in this program.
FlagLookup RegisteredFlags();

struct RewrittenCommandLine {
  std::vector<std::string> args;
  // Underscore names of the flags the command line names (--noflag as flag), whatever their value,
  // including an explicitly empty one (--grpc-listen "" or --grpc-listen=). Flags set through
  // --flagfile or --fromenv are not in it.
  std::set<std::string, std::less<>> given;
  // Every value each non-bool flag was given, in command-line order (Abseil keeps the last one
  // only): what a repeatable flag such as --prometheus-header=A=1 --prometheus-header=B=2 reads.
  std::map<std::string, std::vector<std::string>, std::less<>> values;
};

// Rewrites each `--a-b[=v]` (or `-a-b[=v]`, which Abseil accepts too) to `--a_b[=v]` when `a_b`
// names a flag, and `--noa-b`/`--no-a-b` to `--noa_b` when `a_b` is a bool flag. Everything else
// stays as it is, so Abseil reports unknown flags as before: values (a non-bool flag written
// without '=' takes the next argument as its value, never rewritten), positional arguments,
// everything after "--", names that are no flag. args[0] (the program) is kept.
RewrittenCommandLine RewriteDashedFlags(const std::vector<std::string>& args,
                                        const FlagLookup& lookup);

// Which help an argument list asks for (before "--"): --help/-help/--helpshort (the program's own
// flags), --helpfull (every flag), or none.
enum class HelpRequest { kNone, kProgram, kFull };
HelpRequest FindHelpRequest(const std::vector<std::string>& args);

// The help text: `usage`, then the registered flags whose file `include` accepts (all when null),
// grouped by file and sorted, each as
//     --grpc-listen (KEDA external scaler gRPC address...); default: "";
// with the name in dash form (string defaults quoted, as Abseil prints them).
std::string FlagsHelp(std::string_view usage,
                      const std::function<bool(std::string_view file)>& include);

}  // namespace aa
