// Fuzz target: weights::read_npy on arbitrary bytes.
#include <cstddef>
#include <cstdint>

#include "fuzz_weights.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string path = gradcheck::fuzz::write_input(data, size, "fc1.weight.npy");
  gradcheck::fuzz::refusal_is_fine([&] { gradcheck::fuzz::check_checkpoint(gradcheck::weights::read_npy(path)); });
  return 0;
}
