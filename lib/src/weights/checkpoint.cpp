#include <string>

#include "gradcheck/errors.hpp"
#include "gradcheck/weights/checkpoint.hpp"

namespace gradcheck::weights {

namespace {
bool ends_with(const std::string& s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}
}  // namespace

Checkpoint open_checkpoint(const std::string& path) {
  if (ends_with(path, ".index.json")) return read_safetensors_index(path);
  if (ends_with(path, ".safetensors")) return read_safetensors(path);
  throw InputError(path, "unknown checkpoint format (expected .safetensors or .safetensors.index.json)");
}

}  // namespace gradcheck::weights
