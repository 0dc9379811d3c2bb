// Fuzz target: weights::read_npz on arbitrary bytes.
#include <cstddef>
#include <cstdint>

#include "fuzz_weights.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string path = gradcheck::fuzz::write_input(data, size, "input.npz");
  gradcheck::fuzz::refusal_is_fine([&] { gradcheck::fuzz::check_checkpoint(gradcheck::weights::read_npz(path)); });
  return 0;
}
