#pragma once
// Checks shared by the reader tests: refusals name the file and the reason,
// and a tensor's values read back as doubles.

#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "gradcheck/errors.hpp"
#include "gradcheck/utf8.hpp"
#include "gradcheck/weights/checkpoint.hpp"
#include "st_writer.hpp"

namespace st_test {

// Expects open_checkpoint to refuse the file with a message naming it and
// containing `reason`: one line of valid UTF-8 in the project's words (no JSON
// library tag).
inline void expect_refused(const fs::path& path, const std::string& reason) {
  INFO("file " << path << ", expected reason containing: " << reason);
  try {
    (void)gradcheck::weights::open_checkpoint(path.string());
    FAIL("the file was accepted");
  } catch (const gradcheck::InputError& e) {
    const std::string what = e.what();
    INFO("message: " << what);
    CHECK(what.find(path.string()) != std::string::npos);
    CHECK(what.find(reason) != std::string::npos);
    CHECK(gradcheck::valid_utf8(what, /*printable=*/true));
    CHECK(what.find("json.exception") == std::string::npos);
  }
}

inline std::vector<double> values(const gradcheck::weights::TensorEntry& t) {
  std::vector<double> v(t.numel);
  gradcheck::weights::convert_to_double(t.dtype, t.data, 0, t.numel, v.data());
  return v;
}

}  // namespace st_test
