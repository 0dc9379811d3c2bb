#pragma once
// Writes small checkpoints byte by byte in the formats weightstats reads:
// safetensors, NumPy .npy, .npz (zip, stored or deflated) and the zip layout
// of PyTorch's torch.save. Used by make_samples (the committed sample files)
// and by the tests (valid and deliberately malformed files). Needs zlib.

#include <zlib.h>

#include <cstdint>
#include <cstring>
#include <map>
#include <string>
#include <vector>

namespace checkpoint_writer {

inline std::string le(std::uint64_t v, int bytes) {
  std::string s(std::size_t(bytes), '\0');
  for (int i = 0; i < bytes; ++i) s[std::size_t(i)] = char((v >> (8 * i)) & 0xFF);
  return s;
}

template <class T>
std::string bytes_of(const std::vector<T>& v) {
  std::string s(v.size() * sizeof(T), '\0');
  if (!v.empty()) std::memcpy(s.data(), v.data(), s.size());
  return s;
}

/// An .npy image: `descr` like "<f4", `shape` a Python tuple like "(2, 3)".
/// The header is padded with spaces and a newline to a multiple of 64 bytes,
/// as numpy.lib.format does.
inline std::string npy(const std::string& descr, bool fortran, const std::string& shape, const std::string& data,
                       int version = 1) {
  std::string dict = "{'descr': '" + descr + "', 'fortran_order': " + (fortran ? "True" : "False") +
                     ", 'shape': " + shape + ", }";
  const std::size_t prefix = version == 1 ? 10 : 12;
  std::size_t total = prefix + dict.size() + 1;
  dict += std::string((64 - total % 64) % 64, ' ') + "\n";
  std::string out = "\x93NUMPY";
  out += char(version);
  out += char(0);
  out += le(dict.size(), version == 1 ? 2 : 4);
  return out + dict + data;
}

struct ZipEntry {
  std::string name;
  std::string data;
  bool deflate = false;
};

inline std::string raw_deflate(const std::string& data) {
  z_stream z{};
  deflateInit2(&z, Z_BEST_COMPRESSION, Z_DEFLATED, -MAX_WBITS, 8, Z_DEFAULT_STRATEGY);
  std::string out(deflateBound(&z, uLong(data.size())), '\0');
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
  z.avail_in = uInt(data.size());
  z.next_out = reinterpret_cast<Bytef*>(out.data());
  z.avail_out = uInt(out.size());
  deflate(&z, Z_FINISH);
  out.resize(z.total_out);
  deflateEnd(&z);
  return out;
}

/// A zip archive (no zip64). `align` pads each member's data to that many
/// bytes with an extra field, as torch.save aligns storages to 64.
inline std::string zip(const std::vector<ZipEntry>& entries, std::size_t align = 1) {
  std::string out, central;
  for (const auto& e : entries) {
    const std::string payload = e.deflate ? raw_deflate(e.data) : e.data;
    const auto crc = crc32(0L, reinterpret_cast<const Bytef*>(e.data.data()), uInt(e.data.size()));
    const std::uint16_t method = e.deflate ? 8 : 0;
    std::size_t extra = 0;
    const std::size_t header_end = out.size() + 30 + e.name.size();
    if (align > 1 && header_end % align != 0) {
      extra = align - header_end % align;
      if (extra < 4) extra += align;
    }
    std::string extra_field;
    if (extra > 0) extra_field = le(0xCAFE, 2) + le(extra - 4, 2) + std::string(extra - 4, '\0');
    const std::size_t local_offset = out.size();
    out += le(0x04034b50, 4) + le(20, 2) + le(0, 2) + le(method, 2) + le(0, 2) + le(0x21, 2) + le(crc, 4) +
           le(payload.size(), 4) + le(e.data.size(), 4) + le(e.name.size(), 2) + le(extra_field.size(), 2) + e.name +
           extra_field + payload;
    central += le(0x02014b50, 4) + le(20, 2) + le(20, 2) + le(0, 2) + le(method, 2) + le(0, 2) + le(0x21, 2) +
               le(crc, 4) + le(payload.size(), 4) + le(e.data.size(), 4) + le(e.name.size(), 2) + le(0, 2) +
               le(0, 2) + le(0, 2) + le(0, 2) + le(0, 4) + le(local_offset, 4) + e.name;
  }
  const std::size_t cd_offset = out.size();
  out += central;
  out += le(0x06054b50, 4) + le(0, 2) + le(0, 2) + le(entries.size(), 2) + le(entries.size(), 2) +
         le(central.size(), 4) + le(cd_offset, 4) + le(0, 2);
  return out;
}

struct SafeTensor {
  std::string name, dtype;
  std::vector<std::int64_t> shape;
  std::string bytes;
};

inline std::string shape_json(const std::vector<std::int64_t>& shape) {
  std::string s = "[";
  for (std::size_t i = 0; i < shape.size(); ++i) s += (i ? "," : "") + std::to_string(shape[i]);
  return s + "]";
}

/// A safetensors image with the tensors in order and no header padding.
inline std::string safetensors(const std::vector<SafeTensor>& tensors) {
  std::string header = "{";
  std::string data;
  for (const auto& t : tensors) {
    if (header.size() > 1) header += ",";
    header += "\"" + t.name + "\":{\"dtype\":\"" + t.dtype + "\",\"shape\":" + shape_json(t.shape) +
              ",\"data_offsets\":[" + std::to_string(data.size()) + "," +
              std::to_string(data.size() + t.bytes.size()) + "]}";
    data += t.bytes;
  }
  header += "}";
  return le(header.size(), 8) + header + data;
}

/// A tensor of a torch.save state_dict: a view (offset, shape, stride, in
/// elements) of storage `key`, whose type is a torch storage class name.
struct TorchTensor {
  std::string name;
  std::string storage_type;  // "FloatStorage", "BFloat16Storage", "LongStorage", ...
  std::string key;           // storage file: <archive>/data/<key>
  std::int64_t storage_numel = 0;
  std::int64_t offset = 0;
  std::vector<std::int64_t> shape, stride;
};

/// Pickle protocol 2, opcode for opcode what torch.save emits for
/// OrderedDict[str, Tensor] (memo puts and gets included), optionally nested
/// one level: {outer: state_dict, "epoch": 3}.
class TorchPickle {
 public:
  std::string state_dict(const std::vector<TorchTensor>& tensors, const std::string& outer = "") {
    out_ = "\x80\x02";
    if (!outer.empty()) {
      out_ += "}";
      put();
      out_ += "(";
      unicode(outer);
    }
    global("collections", "OrderedDict");
    out_ += ")R";
    put();
    out_ += "(";
    for (const auto& t : tensors) {
      unicode(t.name);
      global("torch._utils", "_rebuild_tensor_v2");
      out_ += "((";
      unicode("storage");
      global("torch", t.storage_type);
      unicode(t.key);
      unicode("cpu");
      integer(t.storage_numel);
      out_ += "t";
      put();
      out_ += "Q";
      integer(t.offset);
      tuple(t.shape);
      tuple(t.stride);
      out_ += "\x89";  // requires_grad False
      global("collections", "OrderedDict");
      out_ += ")R";
      put();
      out_ += "t";
      put();
      out_ += "R";
      put();
    }
    out_ += "u";
    // The state_dict's _metadata attribute, set with BUILD.
    out_ += "}";
    put();
    unicode("_metadata");
    global("collections", "OrderedDict");
    out_ += ")R";
    put();
    unicode("");
    out_ += "}";
    put();
    unicode("version");
    integer(1);
    out_ += "sssb";  // {"version": 1} into "", that into _metadata, BUILD
    if (!outer.empty()) {
      unicode("epoch");
      integer(3);
      out_ += "u";
    }
    out_ += ".";
    return out_;
  }

 private:
  void put() {
    out_ += "q";
    out_ += char(memo_++ & 0xFF);
  }
  void unicode(const std::string& s) {
    out_ += "X" + le(s.size(), 4) + s;
    put();
  }
  void global(const std::string& module, const std::string& name) {
    const std::string key = module + "\n" + name + "\n";
    auto it = globals_.find(key);
    if (it != globals_.end()) {
      out_ += "h";
      out_ += char(it->second);
      return;
    }
    out_ += "c" + key;
    globals_[key] = memo_;
    put();
  }
  void integer(std::int64_t v) {
    if (v >= 0 && v < 256) out_ += "K" + le(std::uint64_t(v), 1);
    else if (v >= 0 && v < 65536) out_ += "M" + le(std::uint64_t(v), 2);
    else if (v >= INT32_MIN && v <= INT32_MAX) out_ += "J" + le(std::uint64_t(std::uint32_t(std::int32_t(v))), 4);
    else out_ += "\x8a\x08" + le(std::uint64_t(v), 8);
  }
  void tuple(const std::vector<std::int64_t>& v) {
    if (v.size() > 3) out_ += "(";
    for (auto x : v) integer(x);
    static const char* small[] = {")", "\x85", "\x86", "\x87"};
    out_ += v.size() <= 3 ? small[v.size()] : "t";
    put();
  }
  std::string out_;
  unsigned memo_ = 0;
  std::map<std::string, unsigned> globals_;
};

/// A torch.save zip: <archive>/data.pkl, data/<key> storages aligned to 64
/// bytes, byteorder and version, stored uncompressed like PyTorch writes them.
inline std::string torch_zip(const std::string& archive, const std::string& pickle,
                             const std::vector<std::pair<std::string, std::string>>& storages,
                             const std::string& byteorder = "little") {
  std::vector<ZipEntry> entries{{archive + "/data.pkl", pickle}, {archive + "/byteorder", byteorder}};
  for (const auto& [key, bytes] : storages) entries.push_back({archive + "/data/" + key, bytes});
  entries.push_back({archive + "/version", "3\n"});
  return zip(entries, 64);
}

}  // namespace checkpoint_writer
