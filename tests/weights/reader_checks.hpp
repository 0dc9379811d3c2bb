#pragma once
// Checks shared by the reader tests: refusals name the file and the reason,
// and a tensor's values read back as doubles.

#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "gradcheck/errors.hpp"
#include "gradcheck/weights/checkpoint.hpp"
#include "st_writer.hpp"
#include "support/matchers.hpp"

namespace st_test {

// Expects open_checkpoint to refuse the file with a message naming it and
// containing `reason`: one line of valid UTF-8 in the project's words (no JSON
// library tag).
inline void expect_refused(const fs::path& path, const std::string& reason) {
  using gradcheck::test::IsPrintableUtf8;
  using gradcheck::test::MessageMatches;
  INFO("file " << path << ", expected reason containing: " << reason);
  CHECK_THROWS_MATCHES(gradcheck::weights::open_checkpoint(path.string()), gradcheck::InputError,
                       MessageMatches(Catch::Contains(path.string()) && Catch::Contains(reason) && IsPrintableUtf8() &&
                                      !Catch::Contains("json.exception")));
}

inline std::vector<double> values(const gradcheck::weights::TensorEntry& t) {
  std::vector<double> v(t.numel);
  gradcheck::weights::convert_to_double(t.dtype, t.data, 0, t.numel, v.data());
  return v;
}

}  // namespace st_test
