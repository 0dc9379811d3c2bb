// The GGUF reader and ggml's block-quantized types: files written by the
// test-data generator (tests/data/real/gguf/make.py, cross-checked by the npm
// package @huggingface/gguf) read back with the statistics NumPy computes over
// the reference dequantization, block-scale health, and malformed files
// refused with the file and the byte.
#include <catch2/catch.hpp>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <algorithm>
#include <map>
#include <set>
#include <string>
#include <tuple>
#include <vector>

#include <nlohmann/json.hpp>

#include "gradcheck/weights/checkpoint.hpp"
#include "gradcheck/weights/render.hpp"
#include "gradcheck/weights/report.hpp"
#include "gradcheck/weights/statistics.hpp"
#include "reader_checks.hpp"

using namespace gradcheck::weights;
using namespace st_test;

namespace {

const std::string kGguf = std::string(GRADCHECK_REAL_DATA_DIR) + "/gguf/";

// A GGUF file, built field by field for the malformed cases.
struct Gguf {
  std::string bytes;
  template <class T>
  Gguf& put(T v) {
    bytes.append(reinterpret_cast<const char*>(&v), sizeof(T));
    return *this;
  }
  Gguf& str(const std::string& s) {
    put<std::uint64_t>(s.size());
    bytes += s;
    return *this;
  }
  Gguf& header(std::uint32_t version, std::uint64_t tensors, std::uint64_t kvs) {
    bytes += "GGUF";
    return put(version).put(tensors).put(kvs);
  }
  Gguf& info(const std::string& name, std::vector<std::uint64_t> ne, std::uint32_t type, std::uint64_t offset) {
    str(name).put<std::uint32_t>(static_cast<std::uint32_t>(ne.size()));
    for (auto n : ne) put(n);
    return put(type).put(offset);
  }
  Gguf& align(std::size_t a = 32) {
    bytes.append((a - bytes.size() % a) % a, '\0');
    return *this;
  }
  Gguf& data(std::size_t n, char fill = 0) {
    bytes.append(n, fill);
    return *this;
  }
};

// One F32 tensor of 8 values: a well-formed file to start from.
Gguf good() {
  Gguf g;
  g.header(3, 1, 1).str("general.architecture").put<std::uint32_t>(8).str("llama");
  g.info("w", {8}, 0, 0).align().data(32);
  return g;
}

}  // namespace

TEST_CASE("GGUF files from the generator read back with NumPy's statistics of the reference dequantization", "[gguf][statistics]") {
  std::ifstream in(kGguf + "expected.json");
  REQUIRE(in);
  const auto expected = nlohmann::json::parse(in);
  std::map<std::string, Checkpoint> files;
  std::size_t checked = 0, skipped = 0;
  std::set<std::string> types;
  for (const auto& e : expected.at("tensors")) {
    const std::string file = e.at("file").get<std::string>();
    if (!files.count(file)) files.emplace(file, open_checkpoint(kGguf + file));
    const Checkpoint& ck = files.at(file);
    const std::string name = e.at("name").get<std::string>();
    INFO(file << ": " << name);
    if (e.value("skipped", false)) {
      // A type without a dequantizer here: listed with its size, not read.
      const auto& k = ck.skipped();
      const auto it = std::find_if(k.begin(), k.end(), [&](const SkippedTensor& x) { return x.name == name; });
      REQUIRE(it != k.end());
      CHECK(it->type == e.at("type").get<std::string>());
      CHECK(it->bytes == e.at("bytes").get<std::uint64_t>());
      ++skipped;
      continue;
    }
    const TensorEntry* t = nullptr;
    for (const auto& x : ck.tensors())
      if (x.name == name) t = &x;
    REQUIRE(t != nullptr);
    CHECK(std::string(dtype_name(t->dtype)) == e.at("type").get<std::string>());
    types.insert(e.at("type").get<std::string>());
    CHECK(t->shape == e.at("shape").get<std::vector<std::int64_t>>());
    const TensorAnalysis a = analyse_tensor({t->dtype, t->data, t->numel, t->shape});
    const TensorStats& s = a.stats;
    CHECK(s.count == e.at("count").get<std::uint64_t>());
    CHECK(s.nan_count == e.at("nan_count").get<std::uint64_t>());
    CHECK(s.inf_count == e.at("inf_count").get<std::uint64_t>());
    CHECK(s.zero_count == e.at("zero_count").get<std::uint64_t>());
    auto close = [](double got, const nlohmann::json& want) {
      if (want.is_null()) return std::isnan(got);
      const double w = want.get<double>();
      return std::fabs(got - w) <= 1e-12 * std::max(1.0, std::fabs(w));
    };
    CHECK(close(s.mean, e.at("mean")));
    CHECK(close(s.std, e.at("std")));
    CHECK(close(s.min, e.at("min")));
    CHECK(close(s.max, e.at("max")));
    CHECK(close(s.l2_norm, e.at("l2_norm")));
    if (e.contains("blocks")) {
      const QuantHealth h = quantization_health({t->dtype, t->data, t->numel, t->shape});
      CHECK(h.blocks == e.at("blocks").get<std::uint64_t>());
      CHECK(h.zero_scale_blocks == e.at("zero_scale_blocks").get<std::uint64_t>());
      CHECK(h.nonfinite_scale_blocks == e.at("nonfinite_scale_blocks").get<std::uint64_t>());
      CHECK(close(h.scale_min, e.at("scale_min")));
      CHECK(close(h.scale_max, e.at("scale_max")));
      CHECK(close(h.scale_mean, e.at("scale_mean")));
    }
    ++checked;
  }
  CHECK(checked >= 20);
  CHECK(skipped == 1);
  for (const char* t : {"F32", "F16", "BF16", "F64", "Q8_0", "Q4_0", "Q4_1", "Q5_0", "Q5_1", "Q2_K", "Q3_K", "Q4_K",
                        "Q5_K", "Q6_K", "IQ4_NL", "IQ4_XS", "MXFP4", "NVFP4", "TQ1_0", "TQ2_0"}) {
    INFO(t);
    CHECK(types.count(t) == 1);
  }
}

TEST_CASE("GGUF values are the reference's floats, element by element", "[gguf][statistics]") {
  // Element-wise: the values the generator's NumPy dequantization gives for
  // the first and last elements of every tensor of types_v3.gguf, and a sum
  // of all of them weighted by their index (a value out of place changes it).
  std::ifstream in(kGguf + "expected.json");
  REQUIRE(in);
  const auto expected = nlohmann::json::parse(in);
  const Checkpoint ck = open_checkpoint(kGguf + "types_v3.gguf");
  std::size_t checked = 0;
  for (const auto& e : expected.at("tensors")) {
    if (e.at("file") != "types_v3.gguf" || !e.contains("first")) continue;
    const std::string name = e.at("name").get<std::string>();
    INFO(name);
    for (const auto& x : ck.tensors()) {
      if (x.name != name) continue;
      const std::vector<double> v = values(x);
      const auto first = e.at("first").get<std::vector<double>>();
      const auto last = e.at("last").get<std::vector<double>>();
      REQUIRE(v.size() >= first.size());
      for (std::size_t i = 0; i < first.size(); ++i) CHECK(v[i] == first[i]);
      for (std::size_t i = 0; i < last.size(); ++i) CHECK(v[v.size() - last.size() + i] == last[i]);
      // Every value in its place: the finite values weighted by a pseudo-random weight of their index.
      double weighted = 0;
      for (std::size_t i = 0; i < v.size(); ++i)
        if (std::isfinite(v[i])) weighted += v[i] * static_cast<double>((i * 2654435761ull) % 1000) / 1000.0;
      const double want = e.at("weighted_sum").get<double>();
      CHECK(std::fabs(weighted - want) <= 1e-12 * std::max(1.0, std::fabs(want)));
      ++checked;
    }
  }
  CHECK(checked >= 20);
}

TEST_CASE("GGUF metadata is read with its types", "[gguf]") {
  const Checkpoint ck = open_checkpoint(kGguf + "types_v3.gguf");
  std::map<std::string, MetadataEntry> m;
  for (const auto& e : ck.metadata()) m[e.key] = e;
  REQUIRE(m.count("general.architecture"));
  CHECK(m["general.architecture"].type == "string");
  CHECK(m["general.architecture"].value == "llama");
  std::size_t arrays = 0;
  for (const auto& [k, e] : m) arrays += e.type.starts_with("array<");
  CHECK(arrays >= 2);
}

TEST_CASE("degenerate quantization blocks are counted and flagged", "[gguf][flags]") {
  const Checkpoint ck = open_checkpoint(kGguf + "degenerate.gguf");
  ReportOptions one;
  one.threads = 1;
  const WeightsReport r = report_checkpoint(ck, one);
  std::size_t flagged = 0, healthy = 0;
  for (const auto& t : r.tensors) {
    REQUIRE(t.quant.has_value());
    const bool degenerate = std::find(t.flags.begin(), t.flags.end(), Flag::degenerate_blocks) != t.flags.end();
    if (t.quant->zero_scale_blocks > 0 || t.quant->nonfinite_scale_blocks > 0) {
      CHECK(degenerate);
      ++flagged;
    } else {
      CHECK(t.flags.empty());
      ++healthy;
    }
  }
  CHECK(flagged >= 2);
  CHECK(healthy >= 1);
}

TEST_CASE("llama.cpp names match Hugging Face Llama names", "[gguf][diff]") {
  CHECK(llama_cpp_name("model.embed_tokens.weight") == "token_embd.weight");
  CHECK(llama_cpp_name("model.layers.12.self_attn.o_proj.weight") == "blk.12.attn_output.weight");
  CHECK(llama_cpp_name("model.layers.0.self_attn.q_proj.bias") == "blk.0.attn_q.bias");
  CHECK(llama_cpp_name("model.layers.3.mlp.down_proj.weight") == "blk.3.ffn_down.weight");
  CHECK(llama_cpp_name("model.layers.3.post_attention_layernorm.weight") == "blk.3.ffn_norm.weight");
  CHECK(llama_cpp_name("lm_head.weight") == "output.weight");
  CHECK(llama_cpp_name("model.norm.weight") == "output_norm.weight");
  CHECK_FALSE(llama_cpp_name("model.layers.x.mlp.up_proj.weight"));
  CHECK_FALSE(llama_cpp_name("fc1.weight"));
  CHECK_FALSE(llama_cpp_name("model.layers.0.mlp.up_proj"));
}

TEST_CASE("a safetensors checkpoint against its quantized GGUF: errors by tensor, ranked", "[gguf][diff]") {
  const Checkpoint before = open_checkpoint(kGguf + "tiny_llama.safetensors");
  const Checkpoint after = open_checkpoint(kGguf + "tiny_llama.Q4_0.gguf");
  WeightsReport r;
  ReportOptions one;
  one.threads = 1;
  add_diff(r, before, after, one);
  CHECK(r.diff_quantization);
  CHECK(r.only_in_before.empty());
  CHECK(r.only_in_after.empty());
  CHECK(r.shape_changed.empty());
  REQUIRE(r.diff.size() == before.tensors().size());
  for (std::size_t i = 0; i + 1 < r.diff.size(); ++i) CHECK(r.diff[i].stats.rel_change >= r.diff[i + 1].stats.rel_change);
  for (const auto& d : r.diff) {
    INFO(d.name);
    CHECK_FALSE(d.after_name.empty());
    CHECK(d.flags.empty());
    if (d.after_dtype == DType::F32) CHECK(d.stats.rel_change == 0);
    // 4-bit blocks lose about 10% of a Gaussian's norm, 8-bit ones well under 1%.
    if (d.after_dtype == DType::Q4_0) CHECK((d.stats.rel_change > 0.03 && d.stats.rel_change < 0.3));
    if (d.after_dtype == DType::Q8_0) CHECK((d.stats.rel_change > 1e-4 && d.stats.rel_change < 0.02));
  }
  // The other way round (the GGUF file first), the rotary rows are put back too.
  WeightsReport back;
  add_diff(back, after, before, one);
  REQUIRE(back.diff.size() == r.diff.size());
  CHECK(back.diff_quantization);
  for (const auto& d : back.diff) {
    INFO(d.name);
    CHECK(d.stats.rel_change < 0.3);
  }
}

TEST_CASE("malformed GGUF files are refused with the file and the byte", "[gguf][errors]") {
  const fs::path dir = temp_dir("gguf");
  // The good file reads.
  write_bytes(dir / "good.gguf", good().bytes);
  REQUIRE(open_checkpoint((dir / "good.gguf").string()).tensors().size() == 1);

  auto big_endian = [] {
    Gguf b;
    b.bytes = "GGUF";
    return b.put<std::uint32_t>(0x03000000u).put<std::uint64_t>(0).put<std::uint64_t>(0).bytes;
  };
  auto key_past_end = [] {
    Gguf g;
    g.header(3, 0, 1).put<std::uint64_t>(1ull << 40).bytes += "general.name";
    return g.bytes;
  };
  auto string_past_end = [] {
    Gguf g;
    g.header(3, 0, 1).str("general.name").put<std::uint32_t>(8).put<std::uint64_t>(1ull << 33).bytes += "abc";
    return g.bytes;
  };
  // file name, bytes, what the message must say
  const std::vector<std::tuple<std::string, std::string, std::string>> cases = {
      {"magic.gguf", "GGUX" + good().bytes.substr(4), "not a GGUF file"},
      {"short.gguf", "GGUF\x03\x00", "cut short"},
      {"v1.gguf", Gguf().header(1, 0, 0).bytes, "version 1"},
      {"big_endian.gguf", big_endian(), "big-endian"},
      {"v7.gguf", Gguf().header(7, 0, 0).bytes, "unknown GGUF version 7"},
      {"tensor_count.gguf", Gguf().header(3, 1ull << 40, 0).data(64).bytes,
       "a tensor count of 1099511627776 cannot fit"},
      {"kv_count.gguf", Gguf().header(3, 0, 1ull << 50).data(64).bytes, "metadata count"},
      {"key_length.gguf", key_past_end(), "runs past the end of the file"},
      {"string_length.gguf", string_past_end(), "a string value of 8589934592 bytes runs past the end of the file"},
      {"value_type.gguf", Gguf().header(3, 0, 1).str("x").put<std::uint32_t>(13).put<std::uint32_t>(0).bytes,
       "unknown value type 13"},
      {"array_length.gguf",
       Gguf().header(3, 0, 1).str("x").put<std::uint32_t>(9).put<std::uint32_t>(4).put<std::uint64_t>(1ull << 60).bytes,
       "cannot fit"},
      {"duplicate_key.gguf",
       Gguf().header(3, 0, 2).str("x").put<std::uint32_t>(7).put<std::uint8_t>(1).str("x").put<std::uint32_t>(7)
           .put<std::uint8_t>(0).bytes,
       "appears twice"},
      {"bool.gguf", Gguf().header(3, 0, 1).str("flag").put<std::uint32_t>(7).put<std::uint8_t>(2).bytes,
       "a bool of value 2"},
      {"alignment.gguf",
       Gguf().header(3, 0, 1).str("general.alignment").put<std::uint32_t>(4).put<std::uint32_t>(24).bytes,
       "not a power of two"},
      {"unknown_type.gguf", Gguf().header(3, 1, 0).info("w", {8}, 99, 0).align().data(32).bytes,
       "unknown ggml type 99"},
      {"iq_past_end.gguf", Gguf().header(3, 1, 0).info("w", {512}, 16, 0).align().data(66).bytes,
       "tensor 'w' (132 bytes at data offset 0) runs past the end of the file"},
      {"past_end.gguf", Gguf().header(3, 1, 0).info("w", {1024}, 0, 0).align().data(32).bytes,
       "tensor 'w' (4096 bytes at data offset 0) runs past the end of the file"},
      {"unaligned.gguf", Gguf().header(3, 1, 0).info("w", {8}, 0, 4).align().data(64).bytes,
       "not a multiple of the alignment 32"},
      {"partial_block.gguf", Gguf().header(3, 1, 0).info("w", {40}, 8, 0).align().data(64).bytes,
       "not a multiple of Q8_0's block of 32 values"},
      {"dims.gguf", Gguf().header(3, 1, 0).info("w", {1, 1, 1, 1, 1}, 0, 0).align().data(32).bytes, "5 dimensions"},
      {"overlap.gguf", Gguf().header(3, 2, 0).info("a", {16}, 0, 0).info("b", {8}, 0, 32).align().data(96).bytes,
       "tensors 'a' and 'b' overlap"},
      {"duplicate_tensor.gguf", Gguf().header(3, 2, 0).info("a", {8}, 0, 0).info("a", {8}, 0, 32).align().data(64).bytes,
       "the tensor name 'a' appears twice"},
      {"overflow.gguf", Gguf().header(3, 1, 0).info("w", {1ull << 62, 1ull << 62}, 0, 0).align().data(32).bytes,
       "overflows 64 bits"},
      {"name_utf8.gguf", Gguf().header(3, 1, 0).info(std::string("w\xff", 2), {8}, 0, 0).align().data(32).bytes,
       "not printable UTF-8"},
  };
  for (const auto& [name, bytes, reason] : cases) {
    write_bytes(dir / name, bytes);
    expect_refused(dir / name, reason);
  }
}

TEST_CASE("GGUF tensors of types without a dequantizer are listed as not read, the others reported", "[gguf]") {
  const fs::path dir = temp_dir("gguf_skipped");
  Gguf g;
  // IQ2_XXS (256 values in 66 bytes), IQ3_S (110), then an F32 tensor.
  g.header(3, 3, 0).info("a", {256, 2}, 16, 0).info("b", {256}, 21, 160).info("c", {8}, 0, 320).align().data(352);
  write_bytes(dir / "mixed.gguf", g.bytes);
  const Checkpoint ck = open_checkpoint((dir / "mixed.gguf").string());
  REQUIRE(ck.tensors().size() == 1);
  CHECK(ck.tensors()[0].name == "c");
  REQUIRE(ck.skipped().size() == 2);
  CHECK(ck.skipped()[0].name == "a");
  CHECK(ck.skipped()[0].type == "IQ2_XXS");
  CHECK(ck.skipped()[0].bytes == 132);
  CHECK(ck.skipped()[1].type == "IQ3_S");
  CHECK(ck.skipped()[1].bytes == 110);
  const WeightsReport r = report_checkpoint(ck);
  CHECK(r.skipped.size() == 2);
  const std::string text = to_text(r, {});
  CHECK_THAT(text, Catch::Contains("2 tensors not read"));
  CHECK_THAT(text, Catch::Contains("1 tensor of type IQ2_XXS (132 bytes, first 'a') not read: IQ2_XXS has no dequantization here"));
  CHECK_THAT(to_json(r), Catch::Contains("\"skipped\""));
}

TEST_CASE("a GGUF file is recognised by its magic under any name", "[gguf]") {
  const fs::path dir = temp_dir("gguf_magic");
  write_bytes(dir / "model.weights", good().bytes);
  const Checkpoint ck = open_checkpoint((dir / "model.weights").string());
  REQUIRE(ck.tensors().size() == 1);
  CHECK(ck.metadata().size() == 1);
}

TEST_CASE("dequantizing one element or a range agrees with whole blocks", "[gguf][dtype]") {
  // Q4_K: random bytes with a finite scale; element-wise conversion of any
  // range goes through the same blocks.
  std::vector<std::uint8_t> blocks(2 * 144);
  std::uint32_t x = 12345;
  for (auto& b : blocks) b = static_cast<std::uint8_t>((x = x * 1664525u + 1013904223u) >> 24);
  for (int k = 0; k < 2; ++k) {
    blocks[k * 144] = 0x00;  // d = 0x2400 = 2^-6
    blocks[k * 144 + 1] = 0x24;
    blocks[k * 144 + 2] = 0x00;  // dmin = 0x2000 = 2^-7
    blocks[k * 144 + 3] = 0x20;
  }
  std::vector<float> whole(512);
  dequantize_blocks(DType::Q4_K, blocks.data(), 2, whole.data());
  std::vector<double> part(300);
  convert_to_double(DType::Q4_K, blocks.data(), 100, 400, part.data());
  for (std::size_t i = 0; i < part.size(); ++i) CHECK(part[i] == double(whole[100 + i]));
  CHECK(load_as_double(DType::Q4_K, blocks.data(), 511) == double(whole[511]));
  CHECK(dtype_size(DType::Q4_K) == 144);
  CHECK(dtype_block(DType::Q4_K) == 256);
  CHECK(is_floating(DType::Q4_K));
  CHECK_FALSE(parse_dtype("Q4_K"));  // not a safetensors type
}
