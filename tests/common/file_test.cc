#include "common/file.h"

#include <string>

#include "gtest/gtest.h"
#include "testutil/temp_dir.h"

namespace aa {
namespace {

TEST(ReadFile, ReadsTheWholeFileAsBytes) {
  testutil::TempDir dir;
  const std::string bytes("a\0b\r\nc", 6);
  auto text = ReadFile(dir.WriteFile("f.bin", bytes));
  ASSERT_TRUE(text.ok()) << text.status();
  EXPECT_EQ(*text, bytes);
}

TEST(ReadFile, MissingFileIsNotFoundWithTheSystemsReason) {
  testutil::TempDir dir;
  auto text = ReadFile(dir.path() + "/missing");
  EXPECT_EQ(text.status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(text.status().message(), "No such file or directory");
}

}  // namespace
}  // namespace aa
