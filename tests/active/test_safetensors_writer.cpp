// SafetensorsWriter: files that the library's reader (and so weightstats)
// reads back exactly, laid out as the format describes.
#include <catch2/catch.hpp>

#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <stdexcept>
#include <string>
#include <vector>

#include "gradcheck/errors.hpp"
#include "gradcheck/weights/checkpoint.hpp"
#include "gradcheck/weights/safetensors_writer.hpp"
#include "support/checkpoint.hpp"
#include "support/run_tool.hpp"
#include "support/scratch.hpp"

namespace fs = std::filesystem;
using gradcheck::weights::DType;
using gradcheck::weights::SafetensorsWriter;
using gradcheck::test::find_tensor;

namespace {

const fs::path& scratch() { return gradcheck::test::scratch_root(); }

template <class T>
std::vector<T> values_of(const gradcheck::weights::TensorEntry& t) {
  std::vector<T> v(t.numel);
  std::memcpy(v.data(), t.data, t.nbytes);
  return v;
}

}  // namespace

TEST_CASE("a written safetensors file reads back exactly", "[safetensors_writer]") {
  const std::vector<float> w = {1.5f, -2.25f, 0.0f, std::numeric_limits<float>::quiet_NaN(), 3e-8f, -1e30f};
  const std::vector<double> b = {0.1, -0.2, 1e300};
  const std::vector<float> bias = {7.0f};
  const std::vector<double> scalar = {42.0};
  SafetensorsWriter writer;
  writer.add("layer.weight", {2, 3}, w);
  writer.add("layer.bias", {1}, bias);  // an odd byte count before the f64 tensors would misalign them
  writer.add("double.b", {3}, b);
  writer.add("scalar", {}, scalar);
  writer.add("empty", {0, 4}, std::vector<float>{});
  writer.add_metadata("format", "pt");
  const fs::path path = scratch() / "t.safetensors";
  writer.write(path.string());

  const auto ckpt = gradcheck::weights::read_safetensors(path.string());
  REQUIRE(ckpt.tensors().size() == 5);
  const auto& tw = find_tensor(ckpt, "layer.weight");
  CHECK(tw.dtype == DType::F32);
  CHECK(tw.shape == std::vector<std::int64_t>{2, 3});
  const auto rw = values_of<float>(tw);
  for (std::size_t i = 0; i < w.size(); ++i) {
    if (std::isnan(w[i]))
      CHECK(std::isnan(rw[i]));
    else
      CHECK(rw[i] == w[i]);
  }
  const auto& tb = find_tensor(ckpt, "double.b");
  CHECK(tb.dtype == DType::F64);
  CHECK(values_of<double>(tb) == b);
  CHECK(values_of<float>(find_tensor(ckpt, "layer.bias")) == bias);
  const auto& ts = find_tensor(ckpt, "scalar");
  CHECK(ts.shape.empty());
  CHECK(values_of<double>(ts) == scalar);
  CHECK(find_tensor(ckpt, "empty").numel == 0);
}

TEST_CASE("the layout follows the format: LE length, space padding to 8, aligned tensors", "[safetensors_writer]") {
  SafetensorsWriter writer;
  writer.add("a", {3}, std::vector<float>{1, 2, 3});
  writer.add("z", {2}, std::vector<double>{4, 5});
  writer.add_metadata("note", "x");
  const std::string bytes = writer.bytes();
  std::uint64_t n = 0;
  for (int i = 0; i < 8; ++i) n |= static_cast<std::uint64_t>(static_cast<unsigned char>(bytes[i])) << (8 * i);
  REQUIRE(8 + n <= bytes.size());
  CHECK((8 + n) % 8 == 0);
  const std::string header = bytes.substr(8, n);
  CHECK(header.front() == '{');
  CHECK(header.find_last_not_of(' ') == header.find_last_of('}'));
  CHECK(header.find("\"__metadata__\":{\"note\":\"x\"}") != std::string::npos);
  // The f64 tensor comes first, so both start at multiples of their element size.
  CHECK(header.find("\"z\":{\"dtype\":\"F64\",\"shape\":[2],\"data_offsets\":[0,16]}") != std::string::npos);
  CHECK(header.find("\"a\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[16,28]}") != std::string::npos);
  CHECK(bytes.size() == 8 + n + 28);
  // The same tensors in another order give the same bytes.
  SafetensorsWriter other;
  other.add_metadata("note", "x");
  other.add("z", {2}, std::vector<double>{4, 5});
  other.add("a", {3}, std::vector<float>{1, 2, 3});
  CHECK(other.bytes() == bytes);
}

TEST_CASE("misuse of the writer is refused, an unwritable path is an input error", "[safetensors_writer]") {
  SafetensorsWriter writer;
  const std::vector<float> v = {1, 2};
  writer.add("x", {2}, v);
  CHECK_THROWS_AS(writer.add("x", {2}, v), std::invalid_argument);
  CHECK_THROWS_AS(writer.add("", {2}, v), std::invalid_argument);
  CHECK_THROWS_AS(writer.add("__metadata__", {2}, v), std::invalid_argument);
  CHECK_THROWS_AS(writer.add("y", {3}, v), std::invalid_argument);
  CHECK_THROWS_AS(writer.add("y", {-1, -2}, v), std::invalid_argument);
  CHECK_THROWS_AS(writer.write((scratch() / "no_such_dir" / "t.safetensors").string()), gradcheck::InputError);
  CHECK_FALSE(fs::exists(scratch() / "no_such_dir"));
}

#ifdef TRAIN_EXE
TEST_CASE("samples/train saves a checkpoint the safetensors reader reads back", "[safetensors_writer][train]") {
  const fs::path dir = scratch() / "train";
  fs::create_directories(dir);
  const auto train = gradcheck::test::run_tool(
      TRAIN_EXE, "--config good_adam --seed 3 --log " + gradcheck::test::quote((dir / "good.jsonl").string()),
      {.no_color = false});
  INFO(train.out << train.err);
  REQUIRE(train.exit_code == 0);
  // By default the checkpoint is the log's path with .safetensors.
  const auto ckpt = gradcheck::weights::read_safetensors((dir / "good.safetensors").string());
  REQUIRE(ckpt.tensors().size() == 6);  // three layers: weight and bias each
  const auto& w1 = find_tensor(ckpt, "fc1.weight");
  CHECK(w1.dtype == DType::F32);
  CHECK(w1.shape == std::vector<std::int64_t>{64, 2});
  CHECK(find_tensor(ckpt, "fc3.weight").shape == std::vector<std::int64_t>{3, 64});
  CHECK(find_tensor(ckpt, "fc3.bias").shape == std::vector<std::int64_t>{3});
  for (const auto& t : ckpt.tensors())
    for (float x : values_of<float>(t)) CHECK(std::isfinite(x));
  // Trained: the output bias, zero at init, has moved.
  const auto b3 = values_of<float>(find_tensor(ckpt, "fc3.bias"));
  CHECK(std::any_of(b3.begin(), b3.end(), [](float x) { return x != 0.0f; }));
}
#endif
