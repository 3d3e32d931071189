#include "common/file.h"

#include <dirent.h>
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "common/strings.h"

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

absl::StatusOr<std::unique_ptr<PrivateTempDir>> PrivateTempDir::Create(std::string_view prefix) {
  const char* tmp = std::getenv("TMPDIR");
  std::string pattern =
      absl::StrCat(tmp != nullptr && *tmp != '\0' ? tmp : "/tmp", "/", ToAbsl(prefix), ".XXXXXX");
  if (mkdtemp(pattern.data()) == nullptr) {  // mode 0700
    return absl::InternalError(
        absl::StrCat("cannot create a temporary directory ", pattern, ": ", std::strerror(errno)));
  }
  return std::unique_ptr<PrivateTempDir>(new PrivateTempDir(pattern));
}

PrivateTempDir::~PrivateTempDir() {
  if (DIR* dir = opendir(path_.c_str()); dir != nullptr) {
    while (const dirent* entry = readdir(dir)) {
      const std::string_view name = entry->d_name;
      if (name != "." && name != "..") unlink(absl::StrCat(path_, "/", ToAbsl(name)).c_str());
    }
    closedir(dir);
  }
  rmdir(path_.c_str());
}

absl::StatusOr<std::string> PrivateTempDir::WriteFile(std::string_view name,
                                                      std::string_view content) {
  std::string file = absl::StrCat(path_, "/", ToAbsl(name));
  const std::string aside = absl::StrCat(file, ".new");
  const int fd = open(aside.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  bool ok = fd >= 0;
  for (size_t done = 0; ok && done < content.size();) {
    const ssize_t n = write(fd, content.data() + done, content.size() - done);
    if (n < 0 && errno == EINTR) continue;
    ok = n > 0;
    if (ok) done += static_cast<size_t>(n);
  }
  int err = errno;
  if (fd >= 0 && close(fd) != 0) ok = false;
  if (ok && rename(aside.c_str(), file.c_str()) != 0) {
    err = errno;
    ok = false;
  }
  if (!ok) {
    unlink(aside.c_str());
    return absl::InternalError(absl::StrCat("cannot write ", file, ": ", std::strerror(err)));
  }
  return file;
}

}  // namespace aa
