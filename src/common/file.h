#pragma once
// Reading a whole file; a private temporary directory for secrets and generated keys.

#include <memory>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace aa {

// The whole content of the file at `path`, read as bytes. On failure the message is only the
// system's reason (strerror, e.g. "No such file or directory"), for callers to prefix with what
// they read and why; the code follows errno: NotFound (ENOENT, ENOTDIR), PermissionDenied (EACCES,
// EPERM), Unavailable otherwise.
absl::StatusOr<std::string> ReadFile(const std::string& path);

// A directory only this process's user may enter (mode 0700, mkdtemp) under $TMPDIR (default
// /tmp), removed with the files in it when destroyed. Holds what must never be world-readable:
// generated private keys, credentials a kubeconfig carries inline. Not thread-safe.
class PrivateTempDir {
 public:
  // `prefix` starts the directory's name ("autoscale-adapter-tls" -> .../autoscale-adapter-tls.
  // XXXXXX). Internal error naming the path when it cannot be created.
  static absl::StatusOr<std::unique_ptr<PrivateTempDir>> Create(std::string_view prefix);
  ~PrivateTempDir();
  PrivateTempDir(const PrivateTempDir&) = delete;
  PrivateTempDir& operator=(const PrivateTempDir&) = delete;

  const std::string& path() const { return path_; }
  // Writes `content` to path()/`name` with mode 0600, replacing an earlier file of that name at
  // once (written aside, then renamed: a reader sees the old or the new content, never a part),
  // and returns the file's path; Internal error naming the file on failure.
  absl::StatusOr<std::string> WriteFile(std::string_view name, std::string_view content);

 private:
  explicit PrivateTempDir(std::string path) : path_(std::move(path)) {}
  std::string path_;
};

}  // namespace aa
