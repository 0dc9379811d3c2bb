// GGUF reader (ggml's docs/gguf.md). Little-endian throughout:
//   "GGUF", uint32 version, uint64 tensor_count, uint64 metadata_kv_count,
//   metadata: {string key, uint32 value_type, value}...,
//   tensor infos: {string name, uint32 n_dims, uint64 ne[n_dims], uint32 type, uint64 offset}...,
//   padding to general.alignment (default 32), then the data section, which
//   the offsets index (each a multiple of the alignment).
// A string is a uint64 byte count and UTF-8 bytes. Version 1 used 32-bit
// counts and lengths and is refused; versions 2 and 3 share this layout.
// Tensors stay in the mapping (the block-quantized ones are dequantized by
// the statistics pass).

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include <spdlog/fmt/fmt.h>

#include "gradcheck/errors.hpp"
#include "gradcheck/mapped_file.hpp"
#include "gradcheck/utf8.hpp"
#include "gradcheck/weights/checkpoint.hpp"

namespace gradcheck::weights {

namespace {

// ggml's type ids (ggml.h, enum ggml_type) and names; `read` is the DType
// this reader gives. The types without one are checked for size and place
// like the others (values per block, bytes per block: ggml-common.h and
// gguf-py's GGML_QUANT_SIZES) and listed as skipped.
struct GgmlType {
  std::uint32_t id;
  const char* name;
  std::optional<DType> read;
  std::size_t block = 0, bytes = 0;  // for the types not read
};
constexpr GgmlType kGgmlTypes[] = {
    {0, "F32", DType::F32},     {1, "F16", DType::F16},     {2, "Q4_0", DType::Q4_0},
    {3, "Q4_1", DType::Q4_1},   {6, "Q5_0", DType::Q5_0},   {7, "Q5_1", DType::Q5_1},
    {8, "Q8_0", DType::Q8_0},   {9, "Q8_1", std::nullopt, 32, 36},  {10, "Q2_K", DType::Q2_K},
    {11, "Q3_K", DType::Q3_K},  {12, "Q4_K", DType::Q4_K},  {13, "Q5_K", DType::Q5_K},
    {14, "Q6_K", DType::Q6_K},  {15, "Q8_K", std::nullopt, 256, 292}, {16, "IQ2_XXS", std::nullopt, 256, 66},
    {17, "IQ2_XS", std::nullopt, 256, 74}, {18, "IQ3_XXS", std::nullopt, 256, 98}, {19, "IQ1_S", std::nullopt, 256, 50},
    {20, "IQ4_NL", DType::IQ4_NL}, {21, "IQ3_S", std::nullopt, 256, 110}, {22, "IQ2_S", std::nullopt, 256, 82},
    {23, "IQ4_XS", DType::IQ4_XS}, {24, "I8", DType::I8}, {25, "I16", DType::I16},
    {26, "I32", DType::I32},    {27, "I64", DType::I64},    {28, "F64", DType::F64},
    {29, "IQ1_M", std::nullopt, 256, 56}, {30, "BF16", DType::BF16}, {34, "TQ1_0", DType::TQ1_0},
    {35, "TQ2_0", DType::TQ2_0}, {39, "MXFP4", DType::MXFP4}, {40, "NVFP4", DType::NVFP4},
    {41, "Q1_0", std::nullopt, 128, 18}, {42, "Q2_0", std::nullopt, 64, 18},
};

// Metadata value types (gguf_metadata_value_type).
namespace meta {
enum ValueType : std::uint32_t {
  kU8 = 0, kI8 = 1, kU16 = 2, kI16 = 3, kU32 = 4, kI32 = 5, kF32 = 6, kBool = 7,
  kString = 8, kArray = 9, kU64 = 10, kI64 = 11, kF64 = 12,
};
}  // namespace meta
constexpr const char* kValueNames[] = {"uint8", "int8",  "uint16", "int16",  "uint32", "int32", "float32",
                                       "bool",  "string", "array", "uint64", "int64",  "float64"};
constexpr std::size_t kValueSizes[] = {1, 1, 2, 2, 4, 4, 4, 1, 0, 0, 8, 8, 8};

// Arrays nest (an array of arrays); real files nest once at most.
constexpr int kMaxNesting = 8;
// Metadata values shown in reports: strings and arrays past these are cut.
constexpr std::size_t kShownString = 2048;
constexpr std::size_t kShownElements = 8;
constexpr int kMaxDims = 4;  // GGML_MAX_DIMS

std::string shown_string(std::string_view s) {
  std::string out = escape_invalid_utf8(s.substr(0, kShownString), true);
  if (s.size() > kShownString) out += fmt::format("... ({} bytes)", s.size());
  return out;
}

std::string number_text(double v) { return fmt::format("{:.9g}", v); }

class GgufReader {
 public:
  GgufReader(const std::string& path, std::shared_ptr<MappedFile> file)
      : path_(path), file_(std::move(file)), d_(file_->data()), size_(file_->size()) {}

  Checkpoint read() {
    if (size_ < 4 || std::memcmp(d_, "GGUF", 4) != 0) throw InputError(path_, "not a GGUF file (no \"GGUF\" magic)");
    if (size_ < 24) fail(4, "the header is cut short (" + std::to_string(size_) + " bytes; it needs 24)");
    pos_ = 4;
    const std::uint32_t version = u32("the version");
    if (version == 1) fail(4, "GGUF version 1 (32-bit counts, 2023) is not supported; versions 2 and 3 are");
    if (version != 2 && version != 3) {
      // A big-endian file's version reads as 0x02000000 or 0x03000000 here.
      if (version == 0x02000000u || version == 0x03000000u) fail(4, "a big-endian GGUF file, which is not supported");
      fail(4, "unknown GGUF version " + std::to_string(version) + " (versions 2 and 3 are read)");
    }
    const std::uint64_t tensors = u64("the tensor count");
    const std::uint64_t kvs = u64("the metadata count");
    // Each key-value pair takes at least 13 bytes, each tensor info at least 24.
    if (kvs > (size_ - pos_) / 13)
      fail(16, fmt::format("a metadata count of {} cannot fit in the file's {} bytes", kvs, size_));
    if (tensors > (size_ - pos_) / 24)
      fail(8, fmt::format("a tensor count of {} cannot fit in the file's {} bytes", tensors, size_));
    ck_.add_file(path_);

    std::uint64_t alignment = 32;
    std::set<std::string> keys;
    for (std::uint64_t i = 0; i < kvs; ++i) {
      const std::size_t at = pos_;
      MetadataEntry m;
      m.file = path_;
      m.key = name("metadata key");
      if (!keys.insert(m.key).second) fail(at, "the metadata key '" + m.key + "' appears twice");
      const std::size_t type_at = pos_;
      const std::uint32_t type = u32("a metadata value type");
      value(type, type_at, m, 0);
      if (m.key == "general.alignment") {
        if (type != meta::kU32) fail(type_at, "general.alignment must be a uint32, not " + m.type);
        const auto a = static_cast<std::uint64_t>(*m.number);
        if (a == 0 || (a & (a - 1)) != 0) fail(type_at, "general.alignment " + m.value + " is not a power of two");
        alignment = a;
      }
      ck_.add_metadata(std::move(m));
    }

    struct Info {
      TensorEntry entry;
      std::uint64_t offset;
      std::size_t at;  // where its info starts, for messages
      const char* type = "";
      bool read = true;  // false: a ggml type without a dequantizer here, skipped
    };
    std::vector<Info> infos;
    std::set<std::string> names;
    for (std::uint64_t i = 0; i < tensors; ++i) {
      Info info;
      info.at = pos_;
      TensorEntry& e = info.entry;
      e.file = path_;
      e.name = name("tensor name");
      if (!names.insert(e.name).second) fail(info.at, "the tensor name '" + e.name + "' appears twice");
      const std::size_t dims_at = pos_;
      const std::uint32_t n_dims = u32("a dimension count");
      if (n_dims > kMaxDims)
        fail(dims_at, fmt::format("tensor '{}' has {} dimensions; ggml has at most {}", e.name, n_dims, kMaxDims));
      std::vector<std::int64_t> ne(n_dims);
      for (auto& n : ne) {
        const std::uint64_t v = u64("a dimension");
        if (v > std::uint64_t(std::numeric_limits<std::int64_t>::max()))
          fail(pos_ - 8, fmt::format("tensor '{}': dimension {} is too large", e.name, v));
        n = static_cast<std::int64_t>(v);
      }
      const std::size_t type_at = pos_;
      const std::uint32_t type = u32("a tensor type");
      const GgmlType* g = nullptr;
      for (const auto& t : kGgmlTypes)
        if (t.id == type) g = &t;
      if (g == nullptr) fail(type_at, fmt::format("tensor '{}' has the unknown ggml type {}", e.name, type));
      info.offset = u64("a tensor offset");
      if (info.offset % alignment != 0)
        fail(pos_ - 8, fmt::format("tensor '{}': offset {} is not a multiple of the alignment {}", e.name, info.offset,
                                   alignment));
      info.type = g->name;
      info.read = g->read.has_value();
      e.dtype = g->read.value_or(DType::U8);
      const std::size_t block = g->read ? dtype_block(e.dtype) : g->block;
      const std::size_t block_bytes = g->read ? dtype_size(e.dtype) : g->bytes;
      if (!ne.empty() && ne[0] % std::int64_t(block) != 0)
        fail(dims_at, fmt::format("tensor '{}': its first dimension {} is not a multiple of {}'s block of {} values",
                                  e.name, ne[0], g->name, block));
      e.shape.assign(ne.rbegin(), ne.rend());  // ne[0] varies fastest: the last C-order extent
      checked_byte_size(path_, e.name, e.shape, 1, &e.numel);  // the value count, checked for overflow
      const std::uint64_t blocks = e.numel / block;
      if (blocks > std::numeric_limits<std::uint64_t>::max() / block_bytes)
        fail(dims_at, "tensor '" + e.name + "': the byte size overflows 64 bits");
      e.nbytes = static_cast<std::size_t>(blocks * block_bytes);
      infos.push_back(std::move(info));
    }
    const std::uint64_t data_start = (pos_ + alignment - 1) / alignment * alignment;
    if (data_start > size_ && !infos.empty())
      fail(pos_, fmt::format("the data section would start at byte {}, past the end of the file ({} bytes)", data_start,
                             size_));
    // Every tensor inside the file, and no two overlapping.
    std::vector<std::size_t> order(infos.size());
    for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
    std::sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) { return infos[a].offset < infos[b].offset; });
    for (std::size_t k = 0; k < order.size(); ++k) {
      Info& info = infos[order[k]];
      const std::uint64_t room = size_ - std::min<std::uint64_t>(size_, data_start);
      if (info.offset > room || info.entry.nbytes > room - info.offset)
        fail(info.at, fmt::format("tensor '{}' ({} bytes at data offset {}) runs past the end of the file: the data "
                                  "section holds {} bytes",
                                  info.entry.name, info.entry.nbytes, info.offset, room));
      if (k + 1 < order.size()) {
        const Info& next = infos[order[k + 1]];
        if (info.entry.nbytes > 0 && next.entry.nbytes > 0 && info.offset + info.entry.nbytes > next.offset)
          fail(next.at, fmt::format("tensors '{}' and '{}' overlap in the data section", info.entry.name,
                                    next.entry.name));
      }
      info.entry.data = d_ + data_start + info.offset;
    }
    for (auto& info : infos) {
      if (info.read) {
        ck_.add_tensor(std::move(info.entry));
        continue;
      }
      ck_.add_skipped({path_, info.entry.name, info.type, info.entry.nbytes,
                       std::string(info.type) + " has no dequantization here (read: F32, F16, BF16, F64, I8-I64, "
                                                "Q8_0, Q4_0, Q4_1, Q5_0, Q5_1, Q2_K-Q6_K, IQ4_NL, IQ4_XS, MXFP4, NVFP4, TQ1_0, TQ2_0)"});
    }
    ck_.keep_alive(file_);
    return std::move(ck_);
  }

 private:
  [[noreturn]] void fail(std::size_t at, const std::string& what) const {
    throw InputError(path_, fmt::format("GGUF, at byte {}: {}", at, what));
  }
  void need(std::uint64_t n, const char* what) const {
    if (n > size_ - pos_)
      fail(pos_, fmt::format("{} runs past the end of the file ({} bytes needed, {} left)", what, n, size_ - pos_));
  }
  template <class T>
  T load(const char* what) {
    need(sizeof(T), what);
    T v;
    std::memcpy(&v, d_ + pos_, sizeof(T));
    pos_ += sizeof(T);
    return v;
  }
  std::uint32_t u32(const char* what) { return load<std::uint32_t>(what); }
  std::uint64_t u64(const char* what) { return load<std::uint64_t>(what); }

  std::string_view string(const char* what) {
    const std::size_t at = pos_;
    const std::uint64_t n = u64(what);
    if (n > size_ - pos_)
      fail(at, fmt::format("{} of {} bytes runs past the end of the file ({} bytes left)", what, n, size_ - pos_));
    std::string_view s(reinterpret_cast<const char*>(d_ + pos_), static_cast<std::size_t>(n));
    pos_ += static_cast<std::size_t>(n);
    return s;
  }
  // A key or tensor name: printable UTF-8, not empty.
  std::string name(const char* what) {
    const std::size_t at = pos_;
    const std::string_view s = string(what);
    if (s.empty()) fail(at, std::string("an empty ") + what);
    if (!valid_utf8(s, true))
      fail(at, fmt::format("the {} '{}' is not printable UTF-8", what, escape_invalid_utf8(s.substr(0, 200), true)));
    return std::string(s);
  }

  // Reads one value of `type` into m (type, value text, number).
  void value(std::uint32_t type, std::size_t type_at, MetadataEntry& m, int depth) {
    if (type > meta::kF64) fail(type_at, fmt::format("metadata '{}' has the unknown value type {}", m.key, type));
    if (type == meta::kString) {
      m.type = "string";
      m.value = shown_string(string("a string value"));
      return;
    }
    if (type == meta::kArray) {
      if (depth >= kMaxNesting) fail(type_at, fmt::format("metadata '{}' nests arrays more than {} deep", m.key, kMaxNesting));
      const std::size_t elem_at = pos_;
      const std::uint32_t elem = u32("an array's element type");
      if (elem > meta::kF64) fail(elem_at, fmt::format("metadata '{}' is an array of the unknown value type {}", m.key, elem));
      const std::size_t count_at = pos_;
      const std::uint64_t count = u64("an array's length");
      // Each element takes at least a byte (a string or array at least 8, 12).
      const std::uint64_t least = elem == meta::kString ? 8 : elem == meta::kArray ? 12 : kValueSizes[elem];
      if (count > (size_ - pos_) / least)
        fail(count_at, fmt::format("metadata '{}': an array of {} {} values cannot fit in the {} bytes left", m.key,
                                   count, kValueNames[elem], size_ - pos_));
      std::string shown;
      std::string inner_type = kValueNames[elem];
      for (std::uint64_t i = 0; i < count; ++i) {
        MetadataEntry item;
        item.key = m.key;
        value(elem, elem_at, item, depth + 1);
        inner_type = item.type;
        if (i < kShownElements) shown += (i > 0 ? ", " : "") + (elem == meta::kString ? "\"" + item.value + "\"" : item.value);
      }
      m.type = "array<" + inner_type + ">";
      m.value = fmt::format("[{}{}]", shown, count > kShownElements ? fmt::format(", ... ({} in all)", count) : "");
      return;
    }
    m.type = kValueNames[type];
    double v = 0;
    switch (type) {
      case meta::kU8: v = load<std::uint8_t>("a uint8 value"); break;
      case meta::kI8: v = load<std::int8_t>("an int8 value"); break;
      case meta::kU16: v = load<std::uint16_t>("a uint16 value"); break;
      case meta::kI16: v = load<std::int16_t>("an int16 value"); break;
      case meta::kU32: v = load<std::uint32_t>("a uint32 value"); break;
      case meta::kI32: v = load<std::int32_t>("an int32 value"); break;
      case meta::kF32: v = load<float>("a float32 value"); break;
      case meta::kU64: {
        const auto u = load<std::uint64_t>("a uint64 value");
        m.value = std::to_string(u);
        m.number = double(u);
        return;
      }
      case meta::kI64: {
        const auto i = load<std::int64_t>("an int64 value");
        m.value = std::to_string(i);
        m.number = double(i);
        return;
      }
      case meta::kF64: v = load<double>("a float64 value"); break;
      case meta::kBool: {
        const std::size_t at = pos_;
        const auto b = load<std::uint8_t>("a bool value");
        if (b > 1) fail(at, fmt::format("metadata '{}': a bool of value {} (only 0 and 1 are)", m.key, b));
        m.value = b ? "true" : "false";
        m.number = b;
        return;
      }
      default: break;
    }
    m.value = (type == meta::kF32 || type == meta::kF64) ? number_text(v) : fmt::format("{:.0f}", v);
    m.number = v;
  }

  std::string path_;
  std::shared_ptr<MappedFile> file_;
  const std::uint8_t* d_;
  std::size_t size_;
  std::size_t pos_ = 0;
  Checkpoint ck_;
};

}  // namespace

Checkpoint read_gguf(const std::string& path) {
  auto file = std::make_shared<MappedFile>(path);
  return GgufReader(path, file).read();
}

}  // namespace gradcheck::weights
