#pragma once
// TempDir: a fresh directory for one test, removed with everything in it when the object goes away.

#include <string>
#include <string_view>
#include <utility>

namespace aa::testutil {

// Creates a unique directory under $TEST_TMPDIR (set by ctest/bazel) or /tmp. Aborts the test
// binary (with a message on stderr) when the directory cannot be created: there is no sensible way
// to go on. Not copyable. Not thread-safe for concurrent writes to the same file; otherwise plain.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  // Absolute path of the directory, without a trailing slash.
  const std::string& path() const { return path_; }
  // path() + "/" + name (the file need not exist).
  std::string File(std::string_view name) const;
  // Writes (replacing) `contents` to File(name), creating subdirectories of `name` as needed;
  // returns the path. Aborts on failure, like the constructor.
  std::string WriteFile(std::string_view name, std::string_view contents) const;

 private:
  std::string path_;
};

// A Kubernetes ConfigMap volume as the kubelet writes it, in `dir.path()`: the data in a version
// directory `..<n>/<name>`, a symlink `..data` -> `..<n>`, and `<name>` -> `..data/<name>`.
// Write() adds the next version and renames a new `..data` symlink over the old one (the kubelet's
// atomic swap), then removes the old version. Aborts on failure, like TempDir::WriteFile.
class ConfigMapVolume {
 public:
  ConfigMapVolume(const TempDir& dir, std::string name)
      : dir_(dir.path()), name_(std::move(name)) {}
  // The path a program reads: <dir>/<name>.
  std::string file() const { return dir_ + "/" + name_; }
  void Write(std::string_view contents);

 private:
  std::string dir_;
  std::string name_;
  int version_ = 0;
};

// Reads a whole file; "" when it cannot be read.
std::string ReadFileOrEmpty(const std::string& path);

}  // namespace aa::testutil
