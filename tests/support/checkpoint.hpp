#pragma once
// A checkpoint's tensor by name, for the tests that read checkpoints back.

#include <catch2/catch.hpp>

#include <stdexcept>
#include <string>

#include "gradcheck/weights/checkpoint.hpp"

namespace gradcheck::test {

/// The tensor of `ck` named `name`; fails the test when there is none.
inline const weights::TensorEntry& find_tensor(const weights::Checkpoint& ck, const std::string& name) {
  for (const auto& t : ck.tensors())
    if (t.name == name) return t;
  FAIL("no tensor " << name);
  throw std::logic_error("unreachable");
}

}  // namespace gradcheck::test
