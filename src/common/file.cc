#include "common/file.h"

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include "absl/status/status.h"

namespace aa {
namespace {

absl::Status ErrnoStatus(int err) {
  const char* why = std::strerror(err);
  if (err == ENOENT || err == ENOTDIR) return absl::NotFoundError(why);
  if (err == EACCES || err == EPERM) return absl::PermissionDeniedError(why);
  return absl::UnavailableError(why);
}

}  // namespace

absl::StatusOr<std::string> ReadFile(const std::string& path) {
  errno = 0;
  std::ifstream in(path, std::ios::binary);
  if (!in) return ErrnoStatus(errno != 0 ? errno : EIO);
  std::ostringstream out;
  out << in.rdbuf();
  if (in.bad()) return ErrnoStatus(errno != 0 ? errno : EIO);
  return out.str();
}

}  // namespace aa
