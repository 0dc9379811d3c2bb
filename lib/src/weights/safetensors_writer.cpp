#include "gradcheck/weights/safetensors_writer.hpp"

#include <algorithm>
#include <bit>
#include <nlohmann/json.hpp>
#include <stdexcept>

#include "gradcheck/output.hpp"

namespace gradcheck::weights {
namespace {

// Little-endian bytes of each value, whatever the host's byte order.
template <class T, class Bits>
std::string little_endian(std::span<const T> values) {
  std::string out(values.size() * sizeof(T), '\0');
  for (std::size_t i = 0; i < values.size(); ++i) {
    const auto bits = std::bit_cast<Bits>(values[i]);
    for (std::size_t b = 0; b < sizeof(T); ++b)
      out[i * sizeof(T) + b] = static_cast<char>((bits >> (8 * b)) & 0xFF);
  }
  return out;
}

}  // namespace

void SafetensorsWriter::check_new(const std::string& name, const std::vector<std::int64_t>& shape,
                                  std::size_t count) const {
  if (name.empty() || name == "__metadata__")
    throw std::invalid_argument("safetensors: invalid tensor name '" + name + "'");
  if (tensors_.count(name)) throw std::invalid_argument("safetensors: tensor '" + name + "' added twice");
  std::uint64_t n = 1;
  for (auto e : shape) {
    if (e < 0) throw std::invalid_argument("safetensors: tensor '" + name + "' has a negative extent");
    n *= static_cast<std::uint64_t>(e);
  }
  if (n != count)
    throw std::invalid_argument("safetensors: tensor '" + name + "' has " + std::to_string(count) +
                                " values but its shape holds " + std::to_string(n));
}

void SafetensorsWriter::add(const std::string& name, const std::vector<std::int64_t>& shape,
                            std::span<const float> values) {
  check_new(name, shape, values.size());
  tensors_[name] = {DType::F32, shape, little_endian<float, std::uint32_t>(values)};
}

void SafetensorsWriter::add(const std::string& name, const std::vector<std::int64_t>& shape,
                            std::span<const double> values) {
  check_new(name, shape, values.size());
  tensors_[name] = {DType::F64, shape, little_endian<double, std::uint64_t>(values)};
}

void SafetensorsWriter::add_metadata(const std::string& key, const std::string& value) { metadata_[key] = value; }

std::string SafetensorsWriter::bytes() const {
  std::vector<const std::pair<const std::string, Entry>*> order;
  for (const auto& t : tensors_) order.push_back(&t);
  std::stable_sort(order.begin(), order.end(), [](const auto* a, const auto* b) {
    return dtype_size(a->second.dtype) > dtype_size(b->second.dtype);
  });
  nlohmann::ordered_json header = nlohmann::ordered_json::object();
  if (!metadata_.empty()) header["__metadata__"] = metadata_;
  std::uint64_t offset = 0;
  for (const auto* t : order) {
    const std::uint64_t end = offset + t->second.data.size();
    header[t->first] = {{"dtype", std::string(dtype_name(t->second.dtype))},
                        {"shape", t->second.shape},
                        {"data_offsets", {offset, end}}};
    offset = end;
  }
  std::string json = header.dump();
  json.append((8 - json.size() % 8) % 8, ' ');
  std::string out;
  out.reserve(8 + json.size() + offset);
  for (int b = 0; b < 8; ++b) out += static_cast<char>((static_cast<std::uint64_t>(json.size()) >> (8 * b)) & 0xFF);
  out += json;
  for (const auto* t : order) out += t->second.data;
  return out;
}

void SafetensorsWriter::write(const std::string& path) const { write_file_atomically(path, bytes()); }

}  // namespace gradcheck::weights
