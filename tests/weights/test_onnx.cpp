// The ONNX reader: files written by python3-onnx and torch.onnx.export, read
// back exactly as onnx.numpy_helper reads them, and malformed models refused
// with the file and the place.
#include <catch2/catch.hpp>

#include <cstdint>
#include <fstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "gradcheck/weights/checkpoint.hpp"
#include "reader_checks.hpp"

using namespace gradcheck::weights;
using namespace st_test;

namespace {

const std::string kOnnx = std::string(GRADCHECK_REAL_DATA_DIR) + "/onnx/";

std::string dtype_of_numpy(const std::string& n) {
  if (n == "float32") return "F32";
  if (n == "float64") return "F64";
  if (n == "float16") return "F16";
  if (n == "int64") return "I64";
  if (n == "uint64") return "U64";
  if (n == "int8") return "I8";
  if (n == "uint16") return "U16";
  if (n == "bool") return "BOOL";
  return "?" + n;
}

// Protobuf wire format, for malformed models.
std::string varint(std::uint64_t v) {
  std::string out;
  do {
    std::uint8_t b = v & 0x7f;
    v >>= 7;
    if (v != 0) b |= 0x80;
    out.push_back(static_cast<char>(b));
  } while (v != 0);
  return out;
}
std::string key(int field, int wire) { return varint(static_cast<std::uint64_t>(field) << 3 | wire); }
std::string bytes_field(int field, const std::string& payload) { return key(field, 2) + varint(payload.size()) + payload; }
std::string int_field(int field, std::uint64_t v) { return key(field, 0) + varint(v); }
std::string model_with(const std::string& tensor) {
  return int_field(1, 8) + bytes_field(7, bytes_field(5, tensor));  // ir_version, graph { initializer }
}
std::string f32_tensor(const std::string& name, const std::string& dims, const std::string& raw, int type = 1) {
  return dims + int_field(2, static_cast<std::uint64_t>(type)) + bytes_field(8, name) + bytes_field(9, raw);
}

}  // namespace

TEST_CASE("ONNX models written by python3-onnx and torch.onnx.export read back as numpy_helper reads them", "[onnx]") {
  std::ifstream in(kOnnx + "expected.json");
  REQUIRE(in);
  const nlohmann::json expected = nlohmann::json::parse(in);
  REQUIRE(expected.size() == 5);
  for (const auto& [file, tensors] : expected.items()) {
    INFO(file);
    const Checkpoint ck = open_checkpoint(kOnnx + file);
    REQUIRE(ck.tensors().size() == tensors.size());
    for (std::size_t i = 0; i < tensors.size(); ++i) {
      const auto& want = tensors[i];
      const TensorEntry* got = nullptr;
      for (const auto& t : ck.tensors())
        if (t.name == want["name"].get<std::string>()) got = &t;
      INFO(want["name"].get<std::string>());
      REQUIRE(got != nullptr);
      CHECK(std::string(dtype_name(got->dtype)) == dtype_of_numpy(want["dtype"]));
      CHECK(got->shape == want["shape"].get<std::vector<std::int64_t>>());
      CHECK(values(*got) == want["values"].get<std::vector<double>>());  // exactly
    }
  }
}

TEST_CASE("the ONNX reader's places: raw_data and packed floats in the mapping, external data beside the model",
          "[onnx]") {
  const Checkpoint raw = open_checkpoint(kOnnx + "torch_mlp.onnx");
  REQUIRE(raw.tensors().size() == 4);
  CHECK(raw.tensors()[0].name == "0.weight");
  const Checkpoint ext = open_checkpoint(kOnnx + "external.onnx");
  REQUIRE(ext.tensors().size() == 4);
  for (std::size_t i = 0; i < 4; ++i) CHECK(values(ext.tensors()[i]) == values(raw.tensors()[i]));
  CHECK(ext.files() == std::vector<std::string>{kOnnx + "external.onnx"});
}

TEST_CASE("malformed ONNX models are refused with the file and the place", "[onnx][errors]") {
  const fs::path dir = temp_dir("onnx");
  const std::string dims = int_field(1, 2);
  const std::string good = f32_tensor("w", dims, std::string(8, '\0'));
  auto refused = [&](const std::string& name, const std::string& bytes, const std::string& reason) {
    write_bytes(dir / name, bytes);
    expect_refused(dir / name, reason);
  };
  // The well-formed model reads.
  write_bytes(dir / "good.onnx", model_with(good));
  REQUIRE(open_checkpoint((dir / "good.onnx").string()).tensors().size() == 1);

  refused("empty.onnx", "", "empty file");
  refused("nograph.onnx", int_field(1, 8), "no graph");
  refused("text.onnx", "not a model at all\n", "not an ONNX model");
  const std::string whole = model_with(good);
  refused("truncated.onnx", whole.substr(0, whole.size() - 3), "beyond the end");
  refused("rawsize.onnx", model_with(f32_tensor("w", dims, std::string(12, '\0'))),
          "tensor 'w': raw_data holds 12 bytes, shape x F32 needs 8");
  refused("type99.onnx", model_with(f32_tensor("w", dims, std::string(8, '\0'), 99)), "unknown ONNX data_type 99");
  refused("complex.onnx", model_with(f32_tensor("w", dims, std::string(8, '\0'), 14)),
          "ONNX data_type COMPLEX64 is not supported");
  refused("negdim.onnx", model_with(f32_tensor("w", int_field(1, ~std::uint64_t(0)), "")), "negative shape extent");
  refused("varint.onnx", model_with(f32_tensor("w", key(1, 0) + std::string(11, '\xff'), "")), "varint");
  refused("group.onnx", int_field(1, 8) + key(7, 3), "wire type 3");
  refused("count.onnx", model_with(dims + int_field(2, 1) + bytes_field(8, "w") + key(4, 5) + std::string(4, '\0')),
          "tensor 'w': 1 values for 2 elements");
  const std::string ext_escape = dims + int_field(2, 1) + bytes_field(8, "w") +
                                 bytes_field(13, bytes_field(1, "location") + bytes_field(2, "../secret.bin")) +
                                 int_field(14, 1);
  refused("escape.onnx", model_with(ext_escape), "is not a file beside the model");
  write_bytes(dir / "short.bin", std::string(4, '\0'));
  const std::string ext_short = dims + int_field(2, 1) + bytes_field(8, "w") +
                                bytes_field(13, bytes_field(1, "location") + bytes_field(2, "short.bin")) +
                                int_field(14, 1);
  refused("extshort.onnx", model_with(ext_short), "run past the end of");
  const std::string ext_missing = dims + int_field(2, 1) + bytes_field(8, "w") +
                                  bytes_field(13, bytes_field(1, "location") + bytes_field(2, "nowhere.bin")) +
                                  int_field(14, 1);
  refused("extmissing.onnx", model_with(ext_missing), "cannot read its external data file");
  // Subgraphs nested 40 deep: refused, not a stack overflow.
  std::string g = bytes_field(5, good);
  for (int i = 0; i < 40; ++i) g = bytes_field(1, bytes_field(5, bytes_field(1, "body") + bytes_field(6, g)));
  refused("deep.onnx", int_field(1, 8) + bytes_field(7, g), "nest deeper than 32");
}
