// Fuzz target: weights::read_keras_h5 on arbitrary bytes (the HDF5 library
// parses them; the reader must turn every failure into a refusal).
#include <cstddef>
#include <cstdint>

#include "fuzz_weights.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string path = gradcheck::fuzz::write_input(data, size, "input.h5");
  gradcheck::fuzz::refusal_is_fine([&] { gradcheck::fuzz::check_checkpoint(gradcheck::weights::read_keras_h5(path)); });
  return 0;
}

