#include "testutil/temp_dir.h"

#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <vector>

#include "common/file.h"

namespace aa::testutil {

TempDir::TempDir() {
  const char* base = std::getenv("TEST_TMPDIR");
  std::string tmpl =
      std::string(base != nullptr && *base != '\0' ? base : "/tmp") + "/aa_test.XXXXXX";
  std::vector<char> buf(tmpl.begin(), tmpl.end());
  buf.push_back('\0');
  if (mkdtemp(buf.data()) == nullptr) {
    std::fprintf(stderr, "TempDir: mkdtemp(%s) failed: %s\n", tmpl.c_str(), std::strerror(errno));
    std::abort();
  }
  path_ = buf.data();
}

TempDir::~TempDir() {
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

std::string TempDir::File(std::string_view name) const { return path_ + "/" + std::string(name); }

std::string TempDir::WriteFile(std::string_view name, std::string_view contents) const {
  std::string p = File(name);
  std::error_code ec;
  std::filesystem::create_directories(std::filesystem::path(p).parent_path(), ec);
  std::ofstream out(p, std::ios::binary | std::ios::trunc);
  out.write(contents.data(), static_cast<std::streamsize>(contents.size()));
  out.close();
  if (!out) {
    std::fprintf(stderr, "TempDir: cannot write %s\n", p.c_str());
    std::abort();
  }
  return p;
}

void ConfigMapVolume::Write(std::string_view contents) {
  namespace fs = std::filesystem;
  const std::string old = "..v" + std::to_string(version_);
  const std::string next = "..v" + std::to_string(++version_);
  std::error_code ec;
  fs::create_directories(dir_ + "/" + next, ec);
  std::ofstream out(dir_ + "/" + next + "/" + name_, std::ios::binary | std::ios::trunc);
  out.write(contents.data(), static_cast<std::streamsize>(contents.size()));
  out.close();
  fs::create_symlink(next, dir_ + "/..data_tmp", ec);
  if (!out || ec || std::rename((dir_ + "/..data_tmp").c_str(), (dir_ + "/..data").c_str()) != 0) {
    std::fprintf(stderr, "ConfigMapVolume: cannot write version %s in %s\n", next.c_str(),
                 dir_.c_str());
    std::abort();
  }
  if (version_ == 1) {
    fs::create_symlink("..data/" + name_, file(), ec);
  } else {
    fs::remove_all(dir_ + "/" + old, ec);
  }
  if (ec) {
    std::fprintf(stderr, "ConfigMapVolume: %s\n", ec.message().c_str());
    std::abort();
  }
}

std::string ReadFileOrEmpty(const std::string& path) { return ReadFile(path).value_or(""); }

}  // namespace aa::testutil
