// Fuzz target: weights::read_onnx on arbitrary bytes (external data files are
// looked up beside the input, in the fuzzer's scratch folder).
#include <cstddef>
#include <cstdint>

#include "fuzz_weights.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string path = gradcheck::fuzz::write_input(data, size, "input.onnx");
  gradcheck::fuzz::refusal_is_fine([&] { gradcheck::fuzz::check_checkpoint(gradcheck::weights::read_onnx(path)); });
  return 0;
}
