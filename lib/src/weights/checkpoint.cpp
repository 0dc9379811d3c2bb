#include <cstring>
#include <string>

#include "gradcheck/errors.hpp"
#include "gradcheck/mapped_file.hpp"
#include "gradcheck/weights/checkpoint.hpp"
#include "zip.hpp"

namespace gradcheck::weights {

namespace {
bool ends_with(const std::string& s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}
}  // namespace

Checkpoint open_checkpoint(const std::string& path) {
  if (ends_with(path, ".index.json")) return read_safetensors_index(path);
  if (ends_with(path, ".safetensors")) return read_safetensors(path);
  if (ends_with(path, ".npy")) return read_npy(path);
  if (ends_with(path, ".npz")) return read_npz(path);
  if (ends_with(path, ".onnx")) return read_onnx(path);
  if (ends_with(path, ".h5") || ends_with(path, ".hdf5")) return read_keras_h5(path);
  if (ends_with(path, ".keras")) return read_keras_archive(path);
  if (ends_with(path, ".gguf")) return read_gguf(path);
  if (ends_with(path, ".pt") || ends_with(path, ".pth") || ends_with(path, ".bin") || ends_with(path, ".ckpt"))
    return read_torch(path);
  // Any other name: recognise the content.
  MappedFile probe(path);
  const auto* d = probe.data();
  if (probe.size() >= 6 && std::memcmp(d, "\x93NUMPY", 6) == 0) return read_npy(path);
  if (probe.size() >= 4 && std::memcmp(d, "PK\x03\x04", 4) == 0) {
    // A zip: torch.save's archives hold a data.pkl, NumPy's only .npy members.
    for (const auto& m : detail::read_zip_directory(probe))
      if (ends_with(m.name, "/data.pkl")) return read_torch(path);
    return read_npz(path);
  }
  if (probe.size() >= 8 && std::memcmp(d, "\x89HDF\r\n\x1a\n", 8) == 0) return read_keras_h5(path);
  if (probe.size() >= 4 && std::memcmp(d, "GGUF", 4) == 0) return read_gguf(path);
  if (probe.size() >= 9 && d[8] == '{') return read_safetensors(path);
  throw InputError(path, "unknown checkpoint format (expected .safetensors, *.safetensors.index.json, .npy, .npz, a torch.save zip: .pt, .pth, .bin, .ckpt, .onnx, Keras .h5 or .keras, .gguf)");
}

}  // namespace gradcheck::weights
