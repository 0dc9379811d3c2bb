#include <catch2/catch.hpp>

#include <cmath>
#include <string>

#include "gradcheck/errors.hpp"
#include "gradcheck/utf8.hpp"
#include "gradcheck/weights/render.hpp"
#include "gradcheck/weights/report.hpp"
#include "gradcheck/weights/checkpoint.hpp"
#include "gradcheck/weights/statistics.hpp"
#include "reader_checks.hpp"
#include "support/checkpoint.hpp"
#include "support/matchers.hpp"

using namespace gradcheck::weights;
using namespace st_test;
using gradcheck::test::find_tensor;
using gradcheck::test::MessageMatches;

namespace {

const std::string kData = std::string(GRADCHECK_REAL_DATA_DIR) + "/weights/";

}  // namespace

TEST_CASE("every real safetensors file in tests/data/real/weights is read", "[safetensors][real]") {
  struct Expect {
    const char* file;
    std::size_t tensors;
  };
  for (auto [file, n] : {Expect{"hf-samples-overall.safetensors", 9}, {"burn-multi-layer.safetensors", 9},
                         {"burn-boolean.safetensors", 1}, {"candle-csm-voices.safetensors", 2},
                         {"mlx-lora-adapters.safetensors", 16}, {"dfdx-mnist.safetensors", 8},
                         {"fluent-mnist.safetensors", 4}, {"bogoai-model.safetensors", 1}}) {
    INFO(file);
    const Checkpoint ck = open_checkpoint(kData + file);
    CHECK(ck.tensors().size() == n);
    for (const auto& t : ck.tensors()) CHECK(t.nbytes == t.numel * dtype_size(t.dtype));
  }
}

TEST_CASE("real files: misaligned values, wrapped unsigned values, 0-dim and bool tensors", "[safetensors][real]") {
  const Checkpoint hf = open_checkpoint(kData + "hf-samples-overall.safetensors");
  // Values -3..2 in every type; the unsigned ones wrap.
  for (const char* name : {"b", "d", "e", "f", "h", "i"}) {
    const auto& t = find_tensor(hf, name);
    INFO(name);
    for (std::size_t i = 0; i < 6; ++i) CHECK(load_as_double(t.dtype, t.data, i) == double(int(i) - 3));
  }
  const auto& u16 = find_tensor(hf, "H");
  CHECK(load_as_double(u16.dtype, u16.data, 0) == 65533.0);
  CHECK(reinterpret_cast<std::uintptr_t>(find_tensor(hf, "d").data) % 8 != 0);  // the case the reader must handle

  const Checkpoint burn = open_checkpoint(kData + "burn-multi-layer.safetensors");
  const auto& scalar = find_tensor(burn, "norm1.num_batches_tracked");
  CHECK(scalar.shape.empty());
  CHECK(scalar.numel == 1);
  const Checkpoint b = open_checkpoint(kData + "burn-boolean.safetensors");
  const auto s = analyse_tensor({b.tensors()[0].dtype, b.tensors()[0].data, 3, {3}}).stats;
  CHECK(s.mean == Approx(2.0 / 3.0));
  const Checkpoint mlx = open_checkpoint(kData + "mlx-lora-adapters.safetensors");  // "__metadata__": null
  CHECK(find_tensor(mlx, "model.layers.36.self_attn.q_proj.lora_a").shape == std::vector<std::int64_t>{2304, 8});
}

TEST_CASE("generated files with every dtype, any key order and padding are read", "[safetensors]") {
  const fs::path dir = temp_dir("valid");
  std::vector<Tensor> ts;
  for (const char* d : {"F64", "F32", "F16", "BF16", "F8_E4M3", "F8_E5M2", "I64", "I32", "I16", "I8", "U64", "U32",
                        "U16", "U8", "BOOL"}) {
    const std::size_t size = dtype_size(*parse_dtype(d));
    ts.push_back({std::string("t_") + d, d, {2, 3}, std::string(6 * size, '\0')});
  }
  ts.push_back({"empty", "F32", {0, 5}, ""});
  write_safetensors(dir / "all.safetensors", ts);
  const Checkpoint ck = open_checkpoint((dir / "all.safetensors").string());
  CHECK(ck.tensors().size() == ts.size());

  // Fields in another order, metadata last, space padding to 8 bytes.
  std::string header = R"({"w": {"shape": [2], "data_offsets": [0, 8], "dtype": "F32"}, "__metadata__": {"format": "pt"}})";
  header += std::string((8 - header.size() % 8) % 8, ' ');
  write_raw(dir / "padded.safetensors", header, bytes_of(std::vector<float>{1.5f, -2.0f}));
  const Checkpoint p = open_checkpoint((dir / "padded.safetensors").string());
  REQUIRE(p.tensors().size() == 1);
  CHECK(load_as_double(DType::F32, p.tensors()[0].data, 1) == -2.0);
}

TEST_CASE("malformed safetensors files are refused with the file and the reason", "[safetensors][errors]") {
  const fs::path dir = temp_dir("malformed");
  const std::string eight(8, '\0');
  auto entry = [](const std::string& name, const std::string& dtype, const std::string& shape, std::uint64_t b,
                  std::uint64_t e) {
    return "\"" + name + "\":{\"dtype\":\"" + dtype + "\",\"shape\":" + shape + ",\"data_offsets\":[" +
           std::to_string(b) + "," + std::to_string(e) + "]}";
  };
  write_bytes(dir / "short.safetensors", "abc");
  expect_refused(dir / "short.safetensors", "too short");

  write_bytes(dir / "past_end.safetensors", le64(1000) + "{}");
  expect_refused(dir / "past_end.safetensors", "runs past the end");

  write_bytes(dir / "huge_header.safetensors", le64(std::uint64_t(1) << 40) + "{}");
  expect_refused(dir / "huge_header.safetensors", "exceeds the 100 MB limit");

  write_raw(dir / "not_object.safetensors", "[1,2]", "");
  expect_refused(dir / "not_object.safetensors", "must start with '{'");

  write_raw(dir / "bad_json.safetensors", "{\"a\":", "");
  expect_refused(dir / "bad_json.safetensors", "not valid JSON");

  write_raw(dir / "bad_utf8.safetensors", "{\"\xff\xfe\":{}}", "");
  expect_refused(dir / "bad_utf8.safetensors", "not valid JSON");

  write_raw(dir / "dup.safetensors", "{" + entry("a", "F32", "[2]", 0, 8) + "," + entry("a", "F32", "[2]", 0, 8) + "}", eight);
  expect_refused(dir / "dup.safetensors", "the key \"a\" twice");

  write_raw(dir / "dtype.safetensors", "{" + entry("a", "F128", "[1]", 0, 8) + "}", eight);
  expect_refused(dir / "dtype.safetensors", "unknown dtype \"F128\"");

  write_raw(dir / "negative.safetensors", "{" + entry("a", "F32", "[-2]", 0, 8) + "}", eight);
  expect_refused(dir / "negative.safetensors", "negative shape extent");

  write_raw(dir / "fraction.safetensors", "{" + entry("a", "F32", "[2.5]", 0, 8) + "}", eight);
  expect_refused(dir / "fraction.safetensors", "must be integers");

  write_raw(dir / "overflow.safetensors",
            "{" + entry("a", "F32", "[4294967296,4294967296,4]", 0, 8) + "}", eight);
  expect_refused(dir / "overflow.safetensors", "overflows 64 bits");

  write_raw(dir / "reversed.safetensors", "{" + entry("a", "F32", "[0]", 8, 0) + "}", eight);
  expect_refused(dir / "reversed.safetensors", "is after end");

  write_raw(dir / "truncated.safetensors", "{" + entry("a", "F32", "[4]", 0, 16) + "}", eight);
  expect_refused(dir / "truncated.safetensors", "beyond the data section");

  write_raw(dir / "size.safetensors", "{" + entry("a", "F32", "[3]", 0, 8) + "}", eight);
  expect_refused(dir / "size.safetensors", "8 bytes for shape x F32 = 12 bytes");

  write_raw(dir / "overlap.safetensors", "{" + entry("a", "F32", "[2]", 0, 8) + "," + entry("b", "F32", "[1]", 4, 8) + "}", eight);
  expect_refused(dir / "overlap.safetensors", "overlaps");

  write_raw(dir / "hole.safetensors", "{" + entry("a", "F32", "[1]", 4, 8) + "}", eight);
  expect_refused(dir / "hole.safetensors", "a hole in the data section");

  write_raw(dir / "trailing.safetensors", "{" + entry("a", "F32", "[1]", 0, 4) + "}", eight);
  expect_refused(dir / "trailing.safetensors", "after the last tensor are not indexed");

  write_raw(dir / "missing.safetensors", R"({"a":{"dtype":"F32","shape":[2]}})", eight);
  expect_refused(dir / "missing.safetensors", "missing \"data_offsets\"");

  write_raw(dir / "meta.safetensors", R"({"__metadata__":{"k":1}})", "");
  expect_refused(dir / "meta.safetensors", "is not a string");

  write_raw(dir / "entry.safetensors", R"({"a":[1,2]})", "");
  expect_refused(dir / "entry.safetensors", "entry is not an object");

  expect_refused(dir / "absent.safetensors", "cannot open");
  write_bytes(dir / "weights.dat", "neither zip, npy nor safetensors");
  expect_refused(dir / "weights.dat", "unknown checkpoint format");
  write_bytes(dir / "weights.ckpt", "a Lightning name, not a torch.save zip");
  expect_refused(dir / "weights.ckpt", "not a zip archive");
}

TEST_CASE("a sharded checkpoint is read through its index", "[safetensors][sharded]") {
  const fs::path dir = temp_dir("sharded");
  write_safetensors(dir / "model-00001-of-00002.safetensors",
                    {f32("a.weight", {2, 2}, {1, 2, 3, 4}), f32("unlisted", {1}, {9})});
  write_safetensors(dir / "model-00002-of-00002.safetensors", {f32("b.weight", {3}, {5, 6, 7})});
  write_bytes(dir / "model.safetensors.index.json", R"({"metadata": {"total_size": 28}, "weight_map": {
      "b.weight": "model-00002-of-00002.safetensors", "a.weight": "model-00001-of-00002.safetensors"}})");
  const Checkpoint ck = open_checkpoint((dir / "model.safetensors.index.json").string());
  REQUIRE(ck.tensors().size() == 2);
  CHECK(ck.tensors()[0].name == "a.weight");
  CHECK(ck.tensors()[1].name == "b.weight");
  CHECK(load_as_double(DType::F32, ck.tensors()[1].data, 2) == 7.0);
  CHECK(ck.files().size() == 3);

  write_bytes(dir / "nomap.safetensors.index.json", R"({"metadata": {}})");
  expect_refused(dir / "nomap.safetensors.index.json", "no \"weight_map\"");
  write_bytes(dir / "wrong.safetensors.index.json",
              R"({"weight_map": {"c.weight": "model-00002-of-00002.safetensors"}})");
  expect_refused(dir / "wrong.safetensors.index.json", "does not hold it");
  write_bytes(dir / "escape.safetensors.index.json", R"({"weight_map": {"a": "../../etc/x.safetensors"}})");
  expect_refused(dir / "escape.safetensors.index.json", "shards must be files beside the index");
  write_bytes(dir / "gone.safetensors.index.json", R"({"weight_map": {"a": "gone.safetensors"}})");
  CHECK_THROWS_MATCHES(open_checkpoint((dir / "gone.safetensors.index.json").string()), gradcheck::InputError,
                       MessageMatches(Catch::Contains((dir / "gone.safetensors").string() + ": cannot open")));
}

// --- bytes that are not UTF-8 ---------------------------------------------

namespace {

// Refused as every reader refuses (reader_checks.hpp), with the byte shown as \xff.
void expect_clean_refusal(const fs::path& path, const std::string& expected) {
  expect_refused(path, expected);
  CHECK_THROWS_MATCHES(open_checkpoint(path.string()), gradcheck::InputError,
                       MessageMatches(Catch::Contains("\\xff")));
}

}  // namespace

TEST_CASE("safetensors: a header holding the byte 0xff is refused in words, the byte shown escaped",
          "[safetensors][errors][utf8]") {
  const fs::path dir = temp_dir("st_utf8");
  write_raw(dir / "ff.safetensors", "{\"w\xff\":{}}", "");
  expect_clean_refusal(dir / "ff.safetensors",
                       "the header is not valid JSON: unexpected byte \\xff at byte 4 (line 1, column 4)");
  fs::remove_all(dir);
}

TEST_CASE("safetensors: a tensor name with bytes that are not UTF-8 is refused with the bytes escaped",
          "[safetensors][errors][utf8]") {
  // Otherwise valid: one F32 tensor of two values. The reader's policy (the
  // header must be UTF-8 JSON) is kept; only the message changes.
  const fs::path dir = temp_dir("st_utf8_name");
  const std::string header =
      "{\"fc1\xff.weight\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},\n \"b\":{}}";
  write_raw(dir / "name.safetensors", header, std::string(8, '\0'));
  expect_clean_refusal(dir / "name.safetensors", "unexpected byte \\xff at byte 6 (line 1, column 6)");
  fs::remove_all(dir);
}

TEST_CASE("npy: a file name that is not UTF-8 is reported escaped in the table and the JSON",
          "[npy][render][utf8]") {
  const fs::path dir = temp_dir("npy_utf8_name");
  const fs::path file = dir / "w\xff\x0a.npy";
  write_bytes(file, checkpoint_writer::npy("<f4", false, "(2,)", bytes_of(std::vector<float>{1, 2})));
  const auto ck = gradcheck::weights::open_checkpoint(file.string());
  REQUIRE(ck.tensors().size() == 1);
  CHECK(ck.tensors()[0].name == "w\\xff\\x0a");
  const auto report = gradcheck::weights::report_checkpoint(ck);
  std::string json;
  REQUIRE_NOTHROW(json = gradcheck::weights::to_json(report));
  CHECK(gradcheck::valid_utf8(json));
  CHECK(json.find("w\\\\xff\\\\x0a") != std::string::npos);  // the name, as a JSON string
  const std::string table = gradcheck::weights::to_text(report, {});
  CHECK(gradcheck::valid_utf8(table));
  CHECK(table.find("w\\xff\\x0a") != std::string::npos);
  fs::remove_all(dir);
}
