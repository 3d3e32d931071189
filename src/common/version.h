#pragma once
// What this binary is: the project version and the git revision it was built from, for --version,
// the first log line and autoscale_adapter_build_info. Library aa_version; only its generated
// revision source changes with a new commit.

#include <string_view>

namespace aa {

// The version of the CMake project (project(... VERSION x.y.z)), e.g. "0.1.0".
std::string_view Version();

// The git commit the binary was built from, abbreviated to 12 hex digits, with "-dirty" when
// tracked files differed from it; what -DAA_REVISION=... gave instead when set; "unknown" when
// built without git metadata (a source tarball). Taken at build time, not configure time.
std::string_view Revision();

}  // namespace aa
