// Fuzz target: weights::read_safetensors_index on arbitrary index bytes. The
// index sits in a folder beside one valid shard, so a mutated weight_map that
// still names it reaches the shard lookups (missing tensors, shards named
// twice, paths that leave the folder).
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>

#include "fuzz_weights.hpp"

namespace {

// A valid shard written once per process: "a" F32 [2] and "b" F64 [1, 1].
void write_shard() {
  std::string header =
      R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
      R"("b":{"dtype":"F64","shape":[1,1],"data_offsets":[8,16]}})";
  while (header.size() % 8 != 0) header += ' ';
  std::string bytes(8, '\0');
  std::uint64_t n = header.size();
  for (int i = 0; i < 8; ++i) bytes[i] = static_cast<char>((n >> (8 * i)) & 0xff);
  bytes += header;
  const float a[2] = {1.5f, -2.0f};
  const double b = 0.25;
  bytes.append(reinterpret_cast<const char*>(a), sizeof a);
  bytes.append(reinterpret_cast<const char*>(&b), sizeof b);
  gradcheck::fuzz::write_input(reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size(),
                               "model-00001-of-00001.safetensors");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const bool shard_written = (write_shard(), true);
  (void)shard_written;
  const std::string path = gradcheck::fuzz::write_input(data, size, "model.safetensors.index.json");
  gradcheck::fuzz::refusal_is_fine(
      [&] { gradcheck::fuzz::check_checkpoint(gradcheck::weights::read_safetensors_index(path)); });
  return 0;
}
