// safetensors reader. Format: https://github.com/huggingface/safetensors
// u64 little-endian header size N, N bytes of UTF-8 JSON
// `{name: {"dtype", "shape", "data_offsets": [begin, end]}, "__metadata__": {..}}`,
// then the byte buffer, which the offsets must index entirely, without holes.

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <limits>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "gradcheck/errors.hpp"
#include "gradcheck/mapped_file.hpp"
#include "gradcheck/weights/checkpoint.hpp"
#include "json_util.hpp"

namespace gradcheck::weights {

namespace {

// The reference implementation refuses headers above 100 MB (MAX_HEADER_SIZE);
// a larger one is a corrupt length, not a real header.
constexpr std::uint64_t kMaxHeaderSize = 100'000'000;

std::int64_t as_extent(const std::string& file, const std::string& name, const nlohmann::json& v) {
  if (v.is_number_unsigned()) {
    const auto u = v.get<std::uint64_t>();
    if (u > std::uint64_t(std::numeric_limits<std::int64_t>::max()))
      throw InputError(file, "tensor '" + name + "': shape extent " + std::to_string(u) + " is too large");
    return static_cast<std::int64_t>(u);
  }
  if (v.is_number_integer()) {
    const auto i = v.get<std::int64_t>();
    if (i < 0) throw InputError(file, "tensor '" + name + "': negative shape extent " + std::to_string(i));
    return i;
  }
  throw InputError(file, "tensor '" + name + "': shape extents must be integers, got " + v.dump());
}

std::uint64_t as_offset(const std::string& file, const std::string& name, const nlohmann::json& v) {
  if (v.is_number_unsigned()) return v.get<std::uint64_t>();
  if (v.is_number_integer() && v.get<std::int64_t>() < 0)
    throw InputError(file, "tensor '" + name + "': negative data offset " + v.dump());
  throw InputError(file, "tensor '" + name + "': data_offsets must be two integers, got " + v.dump());
}

struct Span {
  std::uint64_t begin, end;
  std::size_t tensor;
};

// Names are quoted in one-line messages and printed in reports: a control
// character (a newline, legal in JSON as \n) would break both.
bool has_control(const std::string& s) {
  return std::any_of(s.begin(), s.end(), [](char c) { return static_cast<unsigned char>(c) < 0x20 || c == 0x7f; });
}

}  // namespace

std::uint64_t checked_byte_size(const std::string& file, const std::string& tensor,
                                const std::vector<std::int64_t>& shape, std::size_t element_size,
                                std::uint64_t* numel) {
  std::uint64_t n = 1;
  for (std::int64_t d : shape) {
    if (d < 0) throw InputError(file, "tensor '" + tensor + "': negative shape extent " + std::to_string(d));
    if (d != 0 && n > std::numeric_limits<std::uint64_t>::max() / std::uint64_t(d))
      throw InputError(file, "tensor '" + tensor + "': the element count overflows 64 bits");
    n *= std::uint64_t(d);
  }
  if (n > std::numeric_limits<std::uint64_t>::max() / element_size)
    throw InputError(file, "tensor '" + tensor + "': the byte size overflows 64 bits");
  if (numel != nullptr) *numel = n;
  return n * element_size;
}

void Checkpoint::append(Checkpoint&& other) {
  for (auto& t : other.tensors_) tensors_.push_back(std::move(t));
  for (auto& f : other.files_) files_.push_back(std::move(f));
  for (auto& s : other.storage_) storage_.push_back(std::move(s));
  for (auto& u : other.unsafe_) unsafe_.push_back(std::move(u));
  for (auto& u : other.uninterpreted_) uninterpreted_.push_back(std::move(u));
  for (auto& x : other.scalars_) scalars_.push_back(std::move(x));
  for (auto& m : other.metadata_) metadata_.push_back(std::move(m));
  for (auto& k : other.skipped_) skipped_.push_back(std::move(k));
  other = Checkpoint{};
}

Checkpoint read_safetensors(const std::string& path) {
  auto file = std::make_shared<MappedFile>(path);
  const std::uint64_t size = file->size();
  if (size < 8) throw InputError(path, "too short for a safetensors header (" + std::to_string(size) + " bytes)");
  std::uint64_t header_size = 0;
  for (int i = 7; i >= 0; --i) header_size = (header_size << 8) | file->data()[i];
  if (header_size > kMaxHeaderSize)
    throw InputError(path, "header size " + std::to_string(header_size) + " exceeds the 100 MB limit");
  if (header_size > size - 8)
    throw InputError(path, "header size " + std::to_string(header_size) + " runs past the end of the file (" +
                               std::to_string(size) + " bytes)");
  if (header_size < 2 || file->data()[8] != '{')
    throw InputError(path, "the header is not a JSON object (it must start with '{')");

  const char* text = reinterpret_cast<const char*>(file->data() + 8);
  const nlohmann::json header = parse_json_strict(path, std::string_view(text, header_size), "header");
  if (!header.is_object()) throw InputError(path, "the header is not a JSON object");

  const std::uint64_t data_start = 8 + header_size;
  const std::uint64_t data_size = size - data_start;
  Checkpoint ck;
  ck.add_file(path);
  std::vector<Span> spans;
  std::vector<TensorEntry> entries;
  for (const auto& [name, info] : header.items()) {
    if (name == "__metadata__") {
      // null is outside the spec but written by MLX; the reference parser treats it as absent.
      if (info.is_null()) continue;
      if (!info.is_object()) throw InputError(path, "__metadata__ must be an object of strings");
      for (const auto& [k, v] : info.items())
        if (!v.is_string())
          throw InputError(path, "__metadata__ value for '" + (has_control(k) ? std::string("?") : k) +
                                     "' is not a string");
      continue;
    }
    if (has_control(name)) throw InputError(path, "a tensor name contains control characters");
    if (!info.is_object()) throw InputError(path, "tensor '" + name + "': entry is not an object");
    for (const char* field : {"dtype", "shape", "data_offsets"})
      if (!info.contains(field)) throw InputError(path, "tensor '" + name + "': missing \"" + field + "\"");
    const auto& jd = info["dtype"];
    if (!jd.is_string()) throw InputError(path, "tensor '" + name + "': dtype is not a string");
    const auto dtype = parse_dtype(jd.get<std::string>());
    if (!dtype) throw InputError(path, "tensor '" + name + "': unknown dtype \"" + jd.get<std::string>() + "\"");
    const auto& js = info["shape"];
    if (!js.is_array()) throw InputError(path, "tensor '" + name + "': shape is not an array");
    TensorEntry e;
    e.name = name;
    e.file = path;
    e.dtype = *dtype;
    for (const auto& d : js) e.shape.push_back(as_extent(path, name, d));
    const std::uint64_t bytes = checked_byte_size(path, name, e.shape, dtype_size(*dtype), &e.numel);
    const auto& jo = info["data_offsets"];
    if (!jo.is_array() || jo.size() != 2)
      throw InputError(path, "tensor '" + name + "': data_offsets must be [begin, end]");
    const std::uint64_t begin = as_offset(path, name, jo[0]);
    const std::uint64_t end = as_offset(path, name, jo[1]);
    if (begin > end)
      throw InputError(path, "tensor '" + name + "': data_offsets begin " + std::to_string(begin) +
                                 " is after end " + std::to_string(end));
    if (end > data_size)
      throw InputError(path, "tensor '" + name + "': data_offsets end " + std::to_string(end) +
                                 " is beyond the data section (" + std::to_string(data_size) +
                                 " bytes): the file is truncated or the offsets are wrong");
    if (end - begin != bytes)
      throw InputError(path, "tensor '" + name + "': " + std::to_string(end - begin) + " bytes for shape x " +
                                 std::string(dtype_name(*dtype)) + " = " + std::to_string(bytes) + " bytes");
    e.data = file->data() + data_start + begin;
    e.nbytes = static_cast<std::size_t>(bytes);
    spans.push_back({begin, end, entries.size()});
    entries.push_back(std::move(e));
  }
  // The buffer must be indexed entirely, without holes or overlaps (the spec's
  // rule against polyglot files); checked in offset order.
  std::sort(spans.begin(), spans.end(), [](const Span& a, const Span& b) {
    return a.begin != b.begin ? a.begin < b.begin : a.end < b.end;
  });
  std::uint64_t expected = 0;
  for (const auto& s : spans) {
    if (s.begin < expected)
      throw InputError(path, "tensor '" + entries[s.tensor].name + "' overlaps the previous tensor's bytes (offset " +
                                 std::to_string(s.begin) + " < " + std::to_string(expected) + ")");
    if (s.begin > expected)
      throw InputError(path, "a hole in the data section before tensor '" + entries[s.tensor].name + "' (bytes " +
                                 std::to_string(expected) + ".." + std::to_string(s.begin) + " are not indexed)");
    expected = s.end;
  }
  if (expected != data_size)
    throw InputError(path, std::to_string(data_size - expected) +
                               " bytes after the last tensor are not indexed by the header");
  // Keep the file's own order: offset order, which is how writers lay them out.
  for (const auto& s : spans) ck.add_tensor(std::move(entries[s.tensor]));
  ck.keep_alive(std::move(file));
  return ck;
}

Checkpoint read_safetensors_index(const std::string& path) {
  MappedFile file(path);
  const nlohmann::json index = parse_json_strict(
      path, std::string_view(reinterpret_cast<const char*>(file.data()), file.size()), "index");
  if (!index.is_object() || !index.contains("weight_map") || !index["weight_map"].is_object())
    throw InputError(path, "not a safetensors index: no \"weight_map\" object");
  namespace fs = std::filesystem;
  const fs::path dir = fs::path(path).parent_path();
  // Shards in first-mention order, each read once.
  std::vector<std::string> shard_names;
  for (const auto& [tensor, shard] : index["weight_map"].items()) {
    if (!shard.is_string()) throw InputError(path, "weight_map entry for '" + tensor + "' is not a file name");
    const std::string s = shard.get<std::string>();
    const fs::path p(s);
    if (s.empty() || p.is_absolute() || std::any_of(p.begin(), p.end(), [](const fs::path& c) { return c == ".."; }))
      throw InputError(path, "weight_map entry for '" + tensor + "' names \"" + s +
                                 "\": shards must be files beside the index");
    if (std::find(shard_names.begin(), shard_names.end(), s) == shard_names.end()) shard_names.push_back(s);
  }
  Checkpoint result;
  result.add_file(path);
  const auto& map = index["weight_map"];
  for (const auto& shard : shard_names) {
    Checkpoint part = read_safetensors((dir / shard).string());
    Checkpoint kept;
    std::set<std::string> present;
    for (const auto& t : part.tensors()) {
      present.insert(t.name);
      auto it = map.find(t.name);
      if (it != map.end() && it->get<std::string>() == shard) kept.add_tensor(t);
    }
    for (const auto& [tensor, s] : map.items())
      if (s.get<std::string>() == shard && !present.count(tensor))
        throw InputError(path, "tensor '" + tensor + "' is mapped to " + shard + ", which does not hold it");
    for (const auto& f : part.files()) kept.add_file(f);
    // `kept` points into `part`'s mapping: move the storage along.
    Checkpoint storage_only = std::move(part);
    kept.keep_alive(std::make_shared<Checkpoint>(std::move(storage_only)));
    result.append(std::move(kept));
  }
  return result;
}

}  // namespace gradcheck::weights
