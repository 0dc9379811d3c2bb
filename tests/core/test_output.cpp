#include <catch2/catch.hpp>

#include <cstdlib>
#include <filesystem>
#include <string>

#include "gradcheck/errors.hpp"
#include "gradcheck/mapped_file.hpp"
#include "gradcheck/output.hpp"
#include "support/files.hpp"
#include "support/matchers.hpp"
#include "support/scratch.hpp"

namespace fs = std::filesystem;
using gradcheck::test::MessageMatches;

TEST_CASE("write_file_atomically writes the whole content and leaves no temporary", "[output]") {
  const fs::path dir = gradcheck::test::scratch_dir("output");
  const std::string path = (dir / "report.json").string();
  gradcheck::write_file_atomically(path, "{\"a\": 1}\n");
  CHECK(gradcheck::test::read_bytes(path) == "{\"a\": 1}\n");
  CHECK(std::distance(fs::directory_iterator(dir), fs::directory_iterator{}) == 1);
  fs::remove_all(dir);
}

TEST_CASE("write_file_atomically into a missing folder throws InputError naming the file", "[output][errors]") {
  const std::string path = "/nonexistent-gradcheck-dir/report.json";
  CHECK_THROWS_MATCHES(gradcheck::write_file_atomically(path, "x"), gradcheck::InputError,
                       MessageMatches(Catch::Contains(path)));
}

TEST_CASE("use_color honours --no-color and NO_COLOR", "[output]") {
  CHECK_FALSE(gradcheck::use_color(stdout, true));
  ::setenv("NO_COLOR", "1", 1);
  CHECK_FALSE(gradcheck::use_color(stdout, false));
  ::unsetenv("NO_COLOR");
  gradcheck::Style plain{false};
  CHECK(plain.red("x") == "x");
  gradcheck::Style color{true};
  CHECK(color.red("x") == "\x1b[31mx\x1b[0m");
}

TEST_CASE("MappedFile maps a file and refuses missing files and folders", "[io][errors]") {
  const fs::path p = gradcheck::test::scratch_root() / "mapped.bin";
  gradcheck::test::write_bytes(p, "hello");
  gradcheck::MappedFile f(p.string());
  REQUIRE(f.size() == 5);
  CHECK(std::string(reinterpret_cast<const char*>(f.data()), 5) == "hello");
  gradcheck::MappedFile moved = std::move(f);
  CHECK(moved.size() == 5);
  CHECK(f.size() == 0);
  fs::remove(p);
  REQUIRE_THROWS_AS(gradcheck::MappedFile("/nonexistent/file.bin"), gradcheck::InputError);
  REQUIRE_THROWS_AS(gradcheck::MappedFile(gradcheck::test::scratch_root().string()), gradcheck::InputError);
}
