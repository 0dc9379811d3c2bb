// The Keras HDF5 reader: files in the layouts Keras 2 and Keras 3 write
// (written with python3-h5py by tests/data/real/keras/make.py), read back as
// h5py reads them, and malformed files refused with the file and the reason.
#include <catch2/catch.hpp>

#include <fstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "gradcheck/weights/checkpoint.hpp"
#include "gradcheck/weights/report.hpp"
#include "reader_checks.hpp"

using namespace gradcheck::weights;
using namespace st_test;

namespace {

const std::string kKeras = std::string(GRADCHECK_REAL_DATA_DIR) + "/keras/";

std::string dtype_of_numpy(const std::string& n) {
  if (n == "float32") return "F32";
  if (n == "float64") return "F64";
  if (n == "int64") return "I64";
  return "?" + n;
}

std::string file_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), {}};
}

}  // namespace

TEST_CASE("Keras weight files (Keras 2 and 3 layouts, written by h5py) read back as h5py reads them", "[keras]") {
  std::ifstream in(kKeras + "expected.json");
  REQUIRE(in);
  const nlohmann::json expected = nlohmann::json::parse(in);
  REQUIRE(expected.size() == 5);
  for (const auto& [file, tensors] : expected.items()) {
    INFO(file);
    const Checkpoint ck = open_checkpoint(kKeras + file);
    REQUIRE(ck.tensors().size() == tensors.size());
    for (std::size_t i = 0; i < tensors.size(); ++i) {
      const auto& want = tensors[i];
      const TensorEntry& got = ck.tensors()[i];  // in the file's order (Keras's layer order)
      INFO(want["name"].get<std::string>());
      CHECK(got.name == want["name"].get<std::string>());
      CHECK(std::string(dtype_name(got.dtype)) == dtype_of_numpy(want["dtype"]));
      CHECK(got.shape == want["shape"].get<std::vector<std::int64_t>>());
      CHECK(values(got) == want["values"].get<std::vector<double>>());  // exactly
    }
  }
}

TEST_CASE("Keras optimizer variables are optimizer state, plain datasets are read in place", "[keras]") {
  CHECK(tensor_role("optimizer_weights/Adam/dense/kernel/m") == TensorRole::optimizer_state);
  CHECK(tensor_role("optimizer/vars/3") == TensorRole::optimizer_state);
  CHECK(tensor_role("layers/optimizer/vars/0") == TensorRole::weight);
  CHECK(tensor_role("dense/kernel") == TensorRole::weight);
  const Checkpoint ck = open_checkpoint(kKeras + "keras2_weights.h5");
  const std::string bytes = file_bytes(kKeras + "keras2_weights.h5");
  // Contiguous float32 datasets point into the mapping: their bytes are the file's.
  const TensorEntry& k = ck.tensors()[0];
  REQUIRE(k.name == "dense/kernel");
  CHECK(bytes.find(std::string(reinterpret_cast<const char*>(k.data), k.nbytes)) != std::string::npos);
}

TEST_CASE("malformed Keras files are refused with the file and the reason", "[keras][errors]") {
  const fs::path dir = temp_dir("keras");
  const std::string good = file_bytes(kKeras + "keras2_weights.h5");
  auto refused = [&](const std::string& name, const std::string& bytes, const std::string& reason) {
    write_bytes(dir / name, bytes);
    expect_refused(dir / name, reason);
  };
  refused("empty.h5", "", "not an HDF5 file");
  refused("text.h5", "model weights, honest\n", "not an HDF5 file");
  refused("cut.h5", good.substr(0, good.size() / 3), "HDF5");
  refused("signature_only.h5", good.substr(0, 64), "not a readable HDF5 file");
  refused("empty.keras", "", "not a zip archive");
  refused("nomember.keras", file_bytes(std::string(GRADCHECK_SOURCE_DIR) + "/samples/checkpoints/tiny_mlp.npz"),
          "a .keras archive without model.weights.h5");
}
