// Writes the sample checkpoints of samples/checkpoints (committed, so the
// README's commands work without building this): the same small MLP in each
// format weightstats reads, and one deliberately broken checkpoint.
//   make_checkpoint_samples OUTPUT_DIR
// Values come from a seeded std::mt19937_64 (whose output the C++ standard
// fixes) through Box-Muller written here, so every platform writes the same bytes.

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include "checkpoint_writer.hpp"

namespace cw = checkpoint_writer;

namespace {

std::vector<float> gaussian(std::size_t n, double sd, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  const double two_pi = 6.283185307179586;
  std::vector<float> v(n);
  for (std::size_t i = 0; i < n; i += 2) {
    const double u1 = (double(rng() >> 11) + 1.0) * 0x1p-53, u2 = double(rng() >> 11) * 0x1p-53;
    const double r = std::sqrt(-2.0 * std::log(u1));
    v[i] = float(sd * r * std::cos(two_pi * u2));
    if (i + 1 < n) v[i + 1] = float(sd * r * std::sin(two_pi * u2));
  }
  return v;
}

void write(const std::filesystem::path& p, const std::string& bytes) {
  std::ofstream out(p, std::ios::binary);
  out << bytes;
  if (!out) {
    std::fprintf(stderr, "make_checkpoint_samples: cannot write %s\n", p.c_str());
    std::exit(2);
  }
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: make_checkpoint_samples OUTPUT_DIR\n");
    return 2;
  }
  const std::filesystem::path dir = argv[1];
  std::filesystem::create_directories(dir);
  // A trained-looking MLP 32 -> 16 -> 4 with LayerNorm: He-scale weights.
  const auto fc1 = gaussian(16 * 32, std::sqrt(2.0 / 32), 1);
  const std::vector<float> fc1_bias(16, 0.0f), ln_weight(16, 1.0f), ln_bias(16, 0.0f);
  const auto fc2 = gaussian(4 * 16, std::sqrt(2.0 / 16), 2);
  const auto fc2_bias = gaussian(4, 0.05, 3);

  write(dir / "tiny_mlp.safetensors",
        cw::safetensors({{"fc1.weight", "F32", {16, 32}, cw::bytes_of(fc1)},
                         {"fc1.bias", "F32", {16}, cw::bytes_of(fc1_bias)},
                         {"ln.weight", "F32", {16}, cw::bytes_of(ln_weight)},
                         {"ln.bias", "F32", {16}, cw::bytes_of(ln_bias)},
                         {"fc2.weight", "F32", {4, 16}, cw::bytes_of(fc2)},
                         {"fc2.bias", "F32", {4}, cw::bytes_of(fc2_bias)}}));
  write(dir / "fc1.weight.npy", cw::npy("<f4", false, "(16, 32)", cw::bytes_of(fc1)));
  const std::vector<cw::ZipEntry> members{
      {"fc1.weight.npy", cw::npy("<f4", false, "(16, 32)", cw::bytes_of(fc1))},
      {"fc1.bias.npy", cw::npy("<f4", false, "(16,)", cw::bytes_of(fc1_bias))},
      {"ln.weight.npy", cw::npy("<f4", false, "(16,)", cw::bytes_of(ln_weight))},
      {"ln.bias.npy", cw::npy("<f4", false, "(16,)", cw::bytes_of(ln_bias))},
      {"fc2.weight.npy", cw::npy("<f4", false, "(4, 16)", cw::bytes_of(fc2))},
      {"fc2.bias.npy", cw::npy("<f4", false, "(4,)", cw::bytes_of(fc2_bias))}};
  write(dir / "tiny_mlp_stored.npz", cw::zip(members));  // np.savez
  std::vector<cw::ZipEntry> deflated = members;
  for (auto& m : deflated) m.deflate = true;
  write(dir / "tiny_mlp.npz", cw::zip(deflated));  // np.savez_compressed

  // torch.save(model.state_dict(), "tiny_mlp.pt"): one storage per tensor.
  std::vector<cw::TorchTensor> torch_tensors;
  std::vector<std::pair<std::string, std::string>> torch_storages;
  auto add = [&](const std::string& name, const std::vector<float>& v, std::vector<std::int64_t> shape) {
    const std::string key = std::to_string(torch_storages.size());
    std::vector<std::int64_t> stride(shape.size(), 1);
    for (std::size_t k = shape.size(); k-- > 1;) stride[k - 1] = stride[k] * shape[k];
    torch_tensors.push_back({name, "FloatStorage", key, std::int64_t(v.size()), 0, shape, stride});
    torch_storages.emplace_back(key, cw::bytes_of(v));
  };
  add("fc1.weight", fc1, {16, 32});
  add("fc1.bias", fc1_bias, {16});
  add("ln.weight", ln_weight, {16});
  add("ln.bias", ln_bias, {16});
  add("fc2.weight", fc2, {4, 16});
  add("fc2.bias", fc2_bias, {4});
  write(dir / "tiny_mlp.pt", cw::torch_zip("tiny_mlp", cw::TorchPickle().state_dict(torch_tensors), torch_storages));

  // After a bad "training step": fc1 got NaN, fc2's rows collapsed to one.
  auto fc1_nan = fc1;
  fc1_nan[37] = NAN;
  std::vector<float> fc2_same(4 * 16);
  for (std::size_t r = 0; r < 4; ++r)
    for (std::size_t c = 0; c < 16; ++c) fc2_same[r * 16 + c] = fc2[c];
  write(dir / "broken_mlp.safetensors",
        cw::safetensors({{"fc1.weight", "F32", {16, 32}, cw::bytes_of(fc1_nan)},
                         {"fc1.bias", "F32", {16}, cw::bytes_of(fc1_bias)},
                         {"ln.weight", "F32", {16}, cw::bytes_of(ln_weight)},
                         {"ln.bias", "F32", {16}, cw::bytes_of(ln_bias)},
                         {"fc2.weight", "F32", {4, 16}, cw::bytes_of(fc2_same)},
                         {"fc2.bias", "F32", {4}, cw::bytes_of(fc2_bias)}}));
  return 0;
}
