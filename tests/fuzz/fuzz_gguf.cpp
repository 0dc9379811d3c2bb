// Fuzz target: weights::read_gguf on arbitrary bytes, then every accepted
// block-quantized tensor dequantized and its block scales summarised, and the
// statistics pass over every tensor, so a descriptor that points past the
// mapping is caught by the sanitizers.
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
    // The statistics pass itself (its bytes copied from the file, few-level
    // types read from their codes): every finite value in the histogram, the
    // scale health the same as quantization_health's.
    std::vector<w::TensorView> views;
    for (const auto& t : ck.tensors()) views.push_back({t.dtype, t.data, t.numel, t.shape});
    const auto analyses = w::analyse_tensors(views, {1});
    for (std::size_t i = 0; i < views.size(); ++i) {
      const auto& st = analyses[i].stats;
      GRADCHECK_FUZZ_CHECK(st.histogram.total() == st.finite_count, ck.tensors()[i].name);
      GRADCHECK_FUZZ_CHECK(st.finite_count + st.nan_count + st.inf_count == views[i].numel, ck.tensors()[i].name);
      if (w::is_block_quantized(views[i].dtype)) {
        const auto h = w::quantization_health(views[i]);
        GRADCHECK_FUZZ_CHECK(analyses[i].quant && analyses[i].quant->blocks == h.blocks &&
                                 analyses[i].quant->nonfinite_scale_blocks == h.nonfinite_scale_blocks,
                             ck.tensors()[i].name);
      }
    }
  });
  return 0;
}
