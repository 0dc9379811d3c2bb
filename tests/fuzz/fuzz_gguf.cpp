// Fuzz target: weights::read_gguf on arbitrary bytes, then every accepted
// block-quantized tensor dequantized and its block scales summarised (the
// statistics pass's reads), so a descriptor that points past the mapping is
// caught by the sanitizers.
#include <cstddef>
#include <cstdint>
#include <vector>

#include "fuzz_weights.hpp"
#include "gradcheck/weights/statistics.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string path = gradcheck::fuzz::write_input(data, size, "input.gguf");
  gradcheck::fuzz::refusal_is_fine([&] {
    const auto ck = gradcheck::weights::read_gguf(path);
    gradcheck::fuzz::check_checkpoint(ck);
    namespace w = gradcheck::weights;
    std::vector<float> values;
    for (const auto& t : ck.tensors()) {
      if (!w::is_block_quantized(t.dtype)) continue;
      const std::size_t blocks = t.numel / w::dtype_block(t.dtype);
      values.resize(blocks * w::dtype_block(t.dtype));
      w::dequantize_blocks(t.dtype, t.data, blocks, values.data());
      const auto h = w::quantization_health({t.dtype, t.data, t.numel, t.shape});
      GRADCHECK_FUZZ_CHECK(h.blocks == blocks * w::dtype_scale_groups(t.dtype), t.name);
    }
  });
  return 0;
}
