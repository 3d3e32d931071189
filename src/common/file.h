#pragma once
// Reading a whole file.

#include <string>

#include "absl/status/statusor.h"

namespace aa {

// The whole content of the file at `path`, read as bytes. On failure the message is only the
// system's reason (strerror, e.g. "No such file or directory"), for callers to prefix with what
// they read and why; the code follows errno: NotFound (ENOENT, ENOTDIR), PermissionDenied (EACCES,
// EPERM), Unavailable otherwise.
absl::StatusOr<std::string> ReadFile(const std::string& path);

}  // namespace aa
