// Q2_K, TQ1_0 and TQ2_0 chunks are summarised from their codes' counts, not
// value by value (lib/src/weights/levels.hpp). Whatever the path, a tensor's
// statistics are those of its dequantized values: the same histogram,
// extremes, zeros, dead and identical rows as the float32 analysis of those
// values, moments to 1e-12; a block whose scale is not finite sends its chunk
// down the dequantizing path without changing any of that. Tensors in a mapped
// file are copied from it with pread for the pass (up to 256 files an
// analysis; the others read in place): the same results as from memory.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <span>
#include <string>
#include <vector>

#include "core/mapped_source.hpp"
#include "gradcheck/weights/checkpoint.hpp"
#include "gradcheck/weights/statistics.hpp"
#include "quant_blocks.hpp"
#include "st_writer.hpp"

using namespace gradcheck::weights;
using quant_test::Blocks;

namespace {

void same_as_dequantized(const Blocks& q, int threads) {
  const std::vector<float> f = q.values();
  const TensorAnalysis a = analyse_tensor(q.view(), {threads});
  const TensorAnalysis b = statistics(std::span<const float>(f), {q.rows, q.cols}, {threads});
  const TensorStats &x = a.stats, &y = b.stats;
  REQUIRE(x.histogram.bins.size() == y.histogram.bins.size());
  for (std::size_t i = 0; i < x.histogram.bins.size(); ++i) {
    INFO("bin " << i);
    CHECK(x.histogram.bins[i].key == y.histogram.bins[i].key);
    CHECK(x.histogram.bins[i].count == y.histogram.bins[i].count);
  }
  CHECK(x.finite_count == y.finite_count);
  CHECK(x.nan_count == y.nan_count);
  CHECK(x.inf_count == y.inf_count);
  CHECK(x.zero_count == y.zero_count);
  CHECK(x.min == y.min);
  CHECK(x.max == y.max);
  CHECK(x.p1 == y.p1);
  CHECK(x.p50 == y.p50);
  CHECK(x.p99 == y.p99);
  using Catch::Matchers::WithinRel;
  CHECK_THAT(x.mean, WithinRel(y.mean, 1e-12) || Catch::Matchers::WithinAbs(y.mean, 1e-12 * y.std));
  CHECK_THAT(x.std, WithinRel(y.std, 1e-12));
  CHECK_THAT(x.l2_norm, WithinRel(y.l2_norm, 1e-12));
  CHECK_THAT(x.kurtosis + 3, WithinRel(y.kurtosis + 3, 1e-11));
  REQUIRE(a.matrix);
  REQUIRE(b.matrix);
  CHECK(a.matrix->dead_rows == b.matrix->dead_rows);
  CHECK(a.matrix->dead_cols == b.matrix->dead_cols);
  CHECK(a.matrix->identical_rows == b.matrix->identical_rows);
  CHECK(a.matrix->identical_first == b.matrix->identical_first);
  CHECK(a.matrix->identical_second == b.matrix->identical_second);
}

// Q2_K value j of a block: sub-block j / 16, whose 16 values sit in bytes
// 16 + 32 * (s / 8) + 16 * (s % 2) + (0..15) of the block, at bit shift
// 2 * ((s % 8) / 2); its scale byte is s (low nibble: scale, high: minimum).
void q2_k_zero_value(std::uint8_t* block, int j) {
  const int s = j / 16, l = j % 16;
  block[s] &= 0x0F;  // minimum 0
  std::uint8_t& q = block[16 + 32 * (s / 8) + 16 * (s % 2) + l];
  q = static_cast<std::uint8_t>(q & ~(3 << (2 * ((s % 8) / 2))));  // code 0
}

}  // namespace

TEST_CASE("few-level quantized types read from their codes: the statistics of their dequantized values",
          "[statistics][gguf][levels]") {
  for (DType t : {DType::Q2_K, DType::TQ1_0, DType::TQ2_0}) {
    INFO(dtype_name(t));
    // 64 rows of 1280 values (5 blocks): 5 chunks, rows cut by chunk edges.
    Blocks q = quant_test::random_blocks(t, 64, 1280, 7);
    q.copy_row(3, 20);  // identical rows, in different chunks
    q.copy_row(3, 61);
    for (std::size_t b = 0; b < q.blocks_per_row(); ++b)  // row 9: every scale 0, a dead row
      for (std::size_t at : quant_test::scale_offsets(t)) quant_test::set_half(q.block(9, b) + at, 0);
    if (t == DType::Q2_K)
      for (std::int64_t r = 0; r < q.rows; ++r) q2_k_zero_value(q.block(r, 2), 37);  // column 2 * 256 + 37: dead
    for (int threads : {1, 2}) {
      INFO("threads " << threads);
      same_as_dequantized(q, threads);
    }
    const TensorAnalysis a = analyse_tensor(q.view(), {1});
    CHECK(a.matrix->identical_rows == 2);
    CHECK(a.matrix->identical_first == 3);
    CHECK(a.matrix->identical_second == 20);
    CHECK(a.matrix->dead_rows == 1);
    CHECK(a.matrix->dead_cols == (t == DType::Q2_K ? 1u : 0u));
    CHECK(a.stats.zero_count > 1280);
  }
}

TEST_CASE("a few-level quantized block with an infinite or NaN scale: its chunk dequantized, the same statistics",
          "[statistics][gguf][levels]") {
  for (DType t : {DType::Q2_K, DType::TQ1_0, DType::TQ2_0}) {
    INFO(dtype_name(t));
    Blocks q = quant_test::random_blocks(t, 64, 1280, 8);
    q.copy_row(30, 50);  // identical rows, one in a chunk read from its codes, one dequantized
    const std::size_t at = quant_test::scale_offsets(t).front();
    quant_test::set_half(q.block(51, 1) + at, 0x7C00);  // +inf: chunk 3 (rows 38-51)
    quant_test::set_half(q.block(5, 4) + at, 0x7E00);   // NaN: chunk 0
    same_as_dequantized(q, 2);
    const TensorAnalysis a = analyse_tensor(q.view(), {2});
    CHECK(a.stats.nan_count + a.stats.inf_count == 512);
    CHECK(a.matrix->identical_rows == 1);
    CHECK(a.matrix->identical_first == 30);
    CHECK(a.matrix->identical_second == 50);
  }
}

TEST_CASE("few-level quantized statistics are bit-identical for any thread count", "[statistics][threads][levels]") {
  // 1,048,576 values: 64 chunks, 2 tasks.
  const Blocks q = quant_test::random_blocks(DType::Q2_K, 256, 4096, 9);
  const TensorAnalysis one = analyse_tensor(q.view(), {1});
  for (int threads : {2, 3}) {
    const TensorAnalysis many = analyse_tensor(q.view(), {threads});
    CHECK(std::memcmp(&one.stats.mean, &many.stats.mean, sizeof(double)) == 0);
    CHECK(std::memcmp(&one.stats.std, &many.stats.std, sizeof(double)) == 0);
    CHECK(std::memcmp(&one.stats.kurtosis, &many.stats.kurtosis, sizeof(double)) == 0);
    CHECK(one.stats.histogram.bins.size() == many.stats.histogram.bins.size());
    CHECK(one.stats.zero_count == many.stats.zero_count);
  }
}

TEST_CASE("tensors in a mapped file are copied from the file for the pass: the same results as from memory",
          "[statistics][gguf][levels]") {
  // Every GGUF type of the generator's file, and a safetensors checkpoint:
  // the checkpoint's views lie in its mappings (so their bytes are copied with
  // pread), copies of their bytes in ordinary memory do not.
  for (const char* name : {"gguf/types_v3.gguf", "gguf/tiny_llama.safetensors"}) {
    INFO(name);
    const Checkpoint ck = open_checkpoint(std::string(GRADCHECK_REAL_DATA_DIR) + "/" + name);
    std::vector<TensorView> mapped, copied;
    std::vector<std::vector<std::uint8_t>> bytes;
    for (const auto& t : ck.tensors()) {
      CHECK(!gradcheck::internal::mapped_source(t.data, t.nbytes).path.empty());
      bytes.emplace_back(t.data, t.data + t.nbytes);
      mapped.push_back({t.dtype, t.data, t.numel, t.shape});
    }
    for (std::size_t i = 0; i < mapped.size(); ++i) {
      copied.push_back(mapped[i]);
      copied.back().data = bytes[i].data();
      CHECK(gradcheck::internal::mapped_source(copied.back().data, bytes[i].size()).path.empty());
    }
    REQUIRE(mapped.size() >= 2);
    const auto a = analyse_tensors(mapped, {2}), b = analyse_tensors(copied, {2});
    for (std::size_t i = 0; i < a.size(); ++i) {
      INFO(ck.tensors()[i].name);
      CHECK(std::memcmp(&a[i].stats.mean, &b[i].stats.mean, sizeof(double)) == 0);
      CHECK(std::memcmp(&a[i].stats.std, &b[i].stats.std, sizeof(double)) == 0);
      CHECK(a[i].stats.min == b[i].stats.min);
      CHECK(a[i].stats.max == b[i].stats.max);
      CHECK(a[i].stats.nan_count == b[i].stats.nan_count);
      CHECK(a[i].stats.zero_count == b[i].stats.zero_count);
      CHECK(a[i].stats.histogram.bins.size() == b[i].stats.histogram.bins.size());
      CHECK(a[i].matrix.has_value() == b[i].matrix.has_value());
      if (a[i].matrix && b[i].matrix) {
        CHECK(a[i].matrix->identical_rows == b[i].matrix->identical_rows);
        CHECK(a[i].matrix->dead_rows == b[i].matrix->dead_rows);
        CHECK(a[i].matrix->dead_cols == b[i].matrix->dead_cols);
      }
      CHECK(a[i].quant.has_value() == is_block_quantized(mapped[i].dtype));
      if (a[i].quant) {
        // The scale health, taken in the same pass, is quantization_health's.
        const QuantHealth h = quantization_health(mapped[i]);
        CHECK(a[i].quant->blocks == h.blocks);
        CHECK(a[i].quant->zero_scale_blocks == h.zero_scale_blocks);
        CHECK(a[i].quant->nonfinite_scale_blocks == h.nonfinite_scale_blocks);
        CHECK(a[i].quant->scale_max == h.scale_max);
        CHECK_THAT(a[i].quant->scale_mean, Catch::Matchers::WithinRel(h.scale_mean, 1e-12));
      }
    }
  }
}

TEST_CASE("tensors of more mapped files than an analysis opens at once: the rest read from their mappings",
          "[statistics][levels]") {
  // 300 files, one small matrix each: the first 256 files are opened for the
  // pass, the others read in place; every result as from memory.
  const auto dir = st_test::temp_dir("many_mapped_files");
  std::vector<Checkpoint> files;
  std::vector<TensorView> mapped, copied;
  std::vector<std::vector<float>> values;
  for (int i = 0; i < 300; ++i) {
    std::vector<float> v(64 * 32);
    for (std::size_t k = 0; k < v.size(); ++k) v[k] = float((k * 2654435761u + std::size_t(i)) % 1000) / 997.0f - 0.5f;
    if (i % 7 == 0) std::fill(v.begin(), v.begin() + 32, 0.0f);  // a dead row
    const auto path = dir / ("w" + std::to_string(i) + ".safetensors");
    st_test::write_safetensors(path, {st_test::f32("w", {64, 32}, v)});
    files.push_back(open_checkpoint(path.string()));
    values.push_back(std::move(v));
  }
  for (std::size_t i = 0; i < files.size(); ++i) {
    const auto& t = files[i].tensors().front();
    mapped.push_back({t.dtype, t.data, t.numel, t.shape});
    copied.push_back({DType::F32, reinterpret_cast<const std::uint8_t*>(values[i].data()), t.numel, t.shape});
  }
  const auto a = analyse_tensors(mapped, {2}), b = analyse_tensors(copied, {2});
  for (std::size_t i = 0; i < a.size(); ++i) {
    INFO("file " << i);
    CHECK(std::memcmp(&a[i].stats.mean, &b[i].stats.mean, sizeof(double)) == 0);
    CHECK(std::memcmp(&a[i].stats.std, &b[i].stats.std, sizeof(double)) == 0);
    CHECK(a[i].stats.zero_count == b[i].stats.zero_count);
    CHECK(a[i].matrix->dead_rows == (i % 7 == 0 ? 1u : 0u));
  }
}
