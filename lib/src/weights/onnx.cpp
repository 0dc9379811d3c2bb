// ONNX reader: the initializers of a ModelProto (onnx/onnx.proto, IR versions
// 3-10), read from the protobuf wire format directly.
//
// Only a handful of fields matter (ModelProto.graph; GraphProto.initializer,
// .sparse_initializer and .node for subgraphs; NodeProto.attribute;
// AttributeProto.g/.graphs; TensorProto's dims, data_type, name, the typed
// value fields, raw_data, external_data and data_location), so they are read
// here rather than through libprotobuf and the generated onnx.pb.h: raw_data
// and packed float/double fields are used in place in the memory-mapped file
// (a libprotobuf parse copies every byte and refuses messages over 2 GB,
// which large models are), and a reader of a few fields is small enough to
// fuzz whole. Everything else (nodes' operators, value infos, metadata) is
// skipped by its wire type without being interpreted.
//
// Wire format (protobuf encoding): each field is a varint key
// (field number << 3 | wire type) followed by a varint (type 0), 8 bytes
// (type 1), a varint length and that many bytes (type 2), or 4 bytes (type 5).
// Repeated scalars may be "packed" (one length-delimited field) or not.

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <limits>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "gradcheck/errors.hpp"
#include "gradcheck/mapped_file.hpp"
#include "gradcheck/utf8.hpp"
#include "gradcheck/weights/checkpoint.hpp"

namespace gradcheck::weights {

namespace {

namespace fs = std::filesystem;

// Subgraphs (If, Loop, Scan bodies) nest graphs in nodes' attributes; real
// models nest a few levels. Deeper is a malformed or hostile file.
constexpr int kMaxDepth = 32;

enum Wire : std::uint32_t { kVarint = 0, kFixed64 = 1, kBytes = 2, kFixed32 = 5 };

// TensorProto.DataType
enum OnnxType : std::uint64_t {
  kFloat = 1, kUint8 = 2, kInt8 = 3, kUint16 = 4, kInt16 = 5, kInt32 = 6, kInt64 = 7, kString = 8, kBool = 9,
  kFloat16 = 10, kDouble = 11, kUint32 = 12, kUint64 = 13, kComplex64 = 14, kComplex128 = 15, kBfloat16 = 16,
  kFloat8E4M3FN = 17, kFloat8E4M3FNUZ = 18, kFloat8E5M2 = 19, kFloat8E5M2FNUZ = 20, kUint4 = 21, kInt4 = 22,
};

const char* onnx_type_name(std::uint64_t t) {
  static const char* names[] = {"UNDEFINED", "FLOAT", "UINT8", "INT8", "UINT16", "INT16", "INT32", "INT64",
                                "STRING", "BOOL", "FLOAT16", "DOUBLE", "UINT32", "UINT64", "COMPLEX64",
                                "COMPLEX128", "BFLOAT16", "FLOAT8E4M3FN", "FLOAT8E4M3FNUZ", "FLOAT8E5M2",
                                "FLOAT8E5M2FNUZ", "UINT4", "INT4"};
  return t < sizeof names / sizeof names[0] ? names[t] : nullptr;
}

bool to_dtype(std::uint64_t t, DType* out) {
  switch (t) {
    case kFloat: *out = DType::F32; return true;
    case kDouble: *out = DType::F64; return true;
    case kFloat16: *out = DType::F16; return true;
    case kBfloat16: *out = DType::BF16; return true;
    case kFloat8E4M3FN: *out = DType::F8_E4M3; return true;
    case kFloat8E5M2: *out = DType::F8_E5M2; return true;
    case kInt8: *out = DType::I8; return true;
    case kInt16: *out = DType::I16; return true;
    case kInt32: *out = DType::I32; return true;
    case kInt64: *out = DType::I64; return true;
    case kUint8: *out = DType::U8; return true;
    case kUint16: *out = DType::U16; return true;
    case kUint32: *out = DType::U32; return true;
    case kUint64: *out = DType::U64; return true;
    case kBool: *out = DType::BOOL; return true;
    default: return false;
  }
}

// A length-delimited region of the file: [begin, end), positions absolute.
struct Span {
  std::size_t begin = 0, end = 0;
  std::size_t size() const { return end - begin; }
};

class Reader {
 public:
  Reader(const std::string& path, const std::uint8_t* base) : path_(path), base_(base) {}

  [[noreturn]] void fail(std::size_t at, const std::string& what) const {
    throw InputError(path_, what + " (at byte " + std::to_string(at) + ")");
  }

  std::uint64_t varint(std::size_t& pos, std::size_t end) const {
    const std::size_t start = pos;
    std::uint64_t v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      if (pos >= end) fail(start, "a varint runs past the end of its message");
      const std::uint8_t b = base_[pos++];
      if (shift == 63 && (b & 0x7e) != 0) fail(start, "a varint overflows 64 bits");
      v |= std::uint64_t(b & 0x7f) << shift;
      if ((b & 0x80) == 0) return v;
    }
    fail(start, "a varint is longer than 10 bytes");
  }

  struct Field {
    std::uint32_t number = 0;
    std::uint32_t wire = 0;
    std::size_t at = 0;     // where the key starts
    std::uint64_t value = 0;  // varint and fixed values
    Span bytes;              // length-delimited and fixed payloads
  };

  // Reads the field at `pos` (< end) and moves past it.
  Field next(std::size_t& pos, std::size_t end, const char* message) const {
    Field f;
    f.at = pos;
    const std::uint64_t key = varint(pos, end);
    f.number = static_cast<std::uint32_t>(key >> 3);
    f.wire = static_cast<std::uint32_t>(key & 7);
    if (f.number == 0 || key >> 3 > 0x1fffffff) fail(f.at, std::string("an invalid field number in a ") + message);
    switch (f.wire) {
      case kVarint: f.value = varint(pos, end); break;
      case kFixed64:
      case kFixed32: {
        const std::size_t n = f.wire == kFixed64 ? 8 : 4;
        if (end - pos < n) fail(f.at, std::string("a fixed-size field of a ") + message + " runs past its end");
        f.bytes = {pos, pos + n};
        f.value = 0;
        for (std::size_t i = n; i-- > 0;) f.value = (f.value << 8) | base_[pos + i];
        pos += n;
        break;
      }
      case kBytes: {
        const std::uint64_t n = varint(pos, end);
        if (n > end - pos)
          fail(f.at, std::string("field ") + std::to_string(f.number) + " of a " + message + " declares " +
                         std::to_string(n) + " bytes, beyond the end of the " + message + " (" +
                         std::to_string(end - pos) + " bytes left)");
        f.bytes = {pos, pos + static_cast<std::size_t>(n)};
        pos += static_cast<std::size_t>(n);
        break;
      }
      default:
        fail(f.at, std::string("field ") + std::to_string(f.number) + " of a " + message + " has wire type " +
                       std::to_string(f.wire) + " (groups and unknown types are not ONNX)");
    }
    return f;
  }

  void expect(const Field& f, std::uint32_t wire, const char* message, const char* name) const {
    if (f.wire != wire)
      fail(f.at, std::string(message) + "." + name + " has wire type " + std::to_string(f.wire) + ", expected " +
                     std::to_string(wire));
  }

  std::string_view text(Span s) const {
    return {reinterpret_cast<const char*>(base_ + s.begin), s.size()};
  }
  const std::uint8_t* at(std::size_t pos) const { return base_ + pos; }

 private:
  std::string path_;
  const std::uint8_t* base_;
};

// One TensorProto, its fields located but not yet interpreted.
struct TensorFields {
  std::size_t at = 0;
  std::string name;
  std::vector<std::int64_t> dims;
  std::uint64_t data_type = 0;
  bool has_type = false;
  std::uint64_t data_location = 0;
  bool has_raw = false;
  Span raw;
  // Typed value fields: the packed runs and the unpacked values, in order.
  std::uint32_t typed_field = 0;  // the field number holding values (4, 5, 7, 10, 11), 0 when none
  std::vector<Span> packed;       // packed runs of typed_field
  std::vector<std::uint64_t> loose;  // unpacked values (bit patterns for fixed-size types)
  bool mixed = false;             // values in two different typed fields
  bool segment = false;
  std::vector<std::pair<std::string, std::string>> external;
};

bool has_control(std::string_view s) {
  return std::any_of(s.begin(), s.end(), [](char c) { return static_cast<unsigned char>(c) < 0x20 || c == 0x7f; });
}

class OnnxReader {
 public:
  OnnxReader(const std::string& path, std::shared_ptr<MappedFile> file)
      : path_(path), file_(std::move(file)), r_(path, file_->data()) {}

  Checkpoint read() {
    const std::size_t size = file_->size();
    if (size == 0) throw InputError(path_, "empty file: not an ONNX model");
    ck_.add_file(path_);
    bool graph_seen = false;
    std::size_t pos = 0;
    while (pos < size) {
      const std::size_t start = pos;
      Reader::Field f;
      try {
        f = r_.next(pos, size, "ModelProto");
      } catch (const InputError&) {
        if (start == 0) throw InputError(path_, "not an ONNX model: it does not start with a ModelProto field");
        throw;
      }
      // ModelProto's fields (onnx.proto): ir_version 1, producer 2-3, domain 4,
      // model_version 5, doc_string 6, graph 7, opset_import 8,
      // metadata_props 14, training_info 20, functions 25.
      static constexpr std::uint32_t known[] = {1, 2, 3, 4, 5, 6, 7, 8, 14, 20, 25};
      if (start == 0 && std::find(std::begin(known), std::end(known), f.number) == std::end(known))
        throw InputError(path_, "not an ONNX model: it does not start with a ModelProto field");
      if (f.number == 7) {  // graph
        r_.expect(f, kBytes, "ModelProto", "graph");
        graph(f.bytes, "", 0);
        graph_seen = true;
      } else if (f.number == 1 && f.wire != kVarint) {
        r_.fail(f.at, "ModelProto.ir_version is not a varint: not an ONNX model");
      }
    }
    if (!graph_seen) throw InputError(path_, "no graph: not an ONNX model (ModelProto.graph is missing)");
    ck_.keep_alive(file_);
    for (auto& m : externals_) ck_.keep_alive(m);
    return std::move(ck_);
  }

 private:
  void graph(Span s, const std::string& prefix, int depth) {
    if (depth > kMaxDepth) r_.fail(s.begin, "subgraphs nest deeper than " + std::to_string(kMaxDepth) + " levels");
    std::size_t pos = s.begin;
    while (pos < s.end) {
      const auto f = r_.next(pos, s.end, "GraphProto");
      if (f.number == 5) {  // initializer
        r_.expect(f, kBytes, "GraphProto", "initializer");
        tensor(f.bytes, prefix);
      } else if (f.number == 15) {  // sparse_initializer: values (1), indices (2), dims (3)
        r_.expect(f, kBytes, "GraphProto", "sparse_initializer");
        sparse(f.bytes, prefix);
      } else if (f.number == 1) {  // node: its attributes may hold subgraphs
        r_.expect(f, kBytes, "GraphProto", "node");
        node(f.bytes, prefix, depth);
      }
    }
  }

  void node(Span s, const std::string& prefix, int depth) {
    std::string name;
    std::vector<Span> attributes;
    std::size_t pos = s.begin;
    while (pos < s.end) {
      const auto f = r_.next(pos, s.end, "NodeProto");
      if (f.number == 3 && f.wire == kBytes) name = escape_invalid_utf8(r_.text(f.bytes));
      else if (f.number == 5) {
        r_.expect(f, kBytes, "NodeProto", "attribute");
        attributes.push_back(f.bytes);
      }
    }
    for (const Span& a : attributes) {
      std::string attr;
      std::vector<Span> graphs;
      std::size_t p = a.begin;
      while (p < a.end) {
        const auto f = r_.next(p, a.end, "AttributeProto");
        if (f.number == 1 && f.wire == kBytes) attr = escape_invalid_utf8(r_.text(f.bytes));
        else if (f.number == 6 || f.number == 11) {  // g, graphs
          r_.expect(f, kBytes, "AttributeProto", f.number == 6 ? "g" : "graphs");
          graphs.push_back(f.bytes);
        }
      }
      for (std::size_t i = 0; i < graphs.size(); ++i) {
        std::string sub = prefix + (name.empty() ? "node" : name) + "." + attr;
        if (graphs.size() > 1) sub += "." + std::to_string(i);
        graph(graphs[i], sub + "/", depth + 1);
      }
    }
  }

  TensorFields fields(Span s) {
    TensorFields t;
    t.at = s.begin;
    std::size_t pos = s.begin;
    while (pos < s.end) {
      const auto f = r_.next(pos, s.end, "TensorProto");
      switch (f.number) {
        case 1:  // dims: repeated int64, packed or not
          if (f.wire == kVarint) {
            t.dims.push_back(static_cast<std::int64_t>(f.value));
          } else {
            r_.expect(f, kBytes, "TensorProto", "dims");
            for (std::size_t p = f.bytes.begin; p < f.bytes.end;)
              t.dims.push_back(static_cast<std::int64_t>(r_.varint(p, f.bytes.end)));
          }
          break;
        case 2:
          r_.expect(f, kVarint, "TensorProto", "data_type");
          t.data_type = f.value;
          t.has_type = true;
          break;
        case 3: t.segment = true; break;
        case 8:
          r_.expect(f, kBytes, "TensorProto", "name");
          t.name = std::string(r_.text(f.bytes));
          break;
        case 9:
          r_.expect(f, kBytes, "TensorProto", "raw_data");
          t.has_raw = true;
          t.raw = f.bytes;
          break;
        case 13: {  // external_data: StringStringEntryProto {key = 1, value = 2}
          r_.expect(f, kBytes, "TensorProto", "external_data");
          std::string key, value;
          for (std::size_t p = f.bytes.begin; p < f.bytes.end;) {
            const auto e = r_.next(p, f.bytes.end, "StringStringEntryProto");
            if (e.number == 1 && e.wire == kBytes) key = std::string(r_.text(e.bytes));
            if (e.number == 2 && e.wire == kBytes) value = std::string(r_.text(e.bytes));
          }
          t.external.emplace_back(std::move(key), std::move(value));
          break;
        }
        case 14:
          r_.expect(f, kVarint, "TensorProto", "data_location");
          t.data_location = f.value;
          break;
        case 4: case 5: case 7: case 10: case 11: {  // float, int32, int64, double, uint64 data
          if (t.typed_field != 0 && t.typed_field != f.number) t.mixed = true;
          t.typed_field = f.number;
          const bool fixed32 = f.number == 4, fixed64 = f.number == 10;
          if (f.wire == kBytes) {
            t.packed.push_back(f.bytes);
          } else if ((fixed32 && f.wire == kFixed32) || (fixed64 && f.wire == kFixed64) ||
                     (!fixed32 && !fixed64 && f.wire == kVarint)) {
            t.loose.push_back(f.value);
          } else {
            r_.fail(f.at, "TensorProto field " + std::to_string(f.number) + " has wire type " +
                              std::to_string(f.wire));
          }
          break;
        }
        default: break;  // string_data (6), doc_string (12), metadata: not needed
      }
    }
    return t;
  }

  // Names are quoted in one-line messages and printed in reports: control
  // characters are refused, other invalid UTF-8 is shown escaped (\xNN).
  std::string checked_name(const TensorFields& t, const std::string& prefix) {
    if (has_control(t.name)) r_.fail(t.at, "a tensor name contains control characters");
    return prefix + (t.name.empty() ? "initializer" + std::to_string(unnamed_++) : escape_invalid_utf8(t.name));
  }

  void tensor(Span s, const std::string& prefix) {
    TensorFields t = fields(s);
    const std::string name = checked_name(t, prefix);
    if (!t.has_type) r_.fail(t.at, "tensor '" + name + "': no data_type");
    const char* tname = onnx_type_name(t.data_type);
    if (t.data_type == kString) return;  // strings are not weights: not reported
    DType dtype;
    if (!to_dtype(t.data_type, &dtype)) {
      if (tname == nullptr)
        r_.fail(t.at, "tensor '" + name + "': unknown ONNX data_type " + std::to_string(t.data_type));
      r_.fail(t.at, "tensor '" + name + "': ONNX data_type " + tname + " is not supported (complex, FNUZ float8 "
                    "and 4-bit types are not read)");
    }
    if (t.segment) r_.fail(t.at, "tensor '" + name + "': segmented tensors are not supported");
    if (t.mixed) r_.fail(t.at, "tensor '" + name + "': values in two different typed fields");
    TensorEntry e;
    e.name = name;
    e.file = path_;
    e.dtype = dtype;
    e.shape = t.dims;
    const std::uint64_t bytes = checked_byte_size(path_, name, e.shape, dtype_size(dtype), &e.numel);
    if (t.data_location == 1) {
      external(t, e, bytes);
    } else if (t.data_location != 0) {
      r_.fail(t.at, "tensor '" + name + "': unknown data_location " + std::to_string(t.data_location));
    } else if (t.has_raw) {
      if (t.typed_field != 0) r_.fail(t.at, "tensor '" + name + "': both raw_data and typed values");
      if (t.raw.size() != bytes)
        r_.fail(t.raw.begin, "tensor '" + name + "': raw_data holds " + std::to_string(t.raw.size()) +
                                 " bytes, shape x " + std::string(dtype_name(dtype)) + " needs " +
                                 std::to_string(bytes));
      e.data = r_.at(t.raw.begin);
      e.nbytes = static_cast<std::size_t>(bytes);
    } else {
      typed(t, e, bytes);
    }
    ck_.add_tensor(std::move(e));
  }

  // The typed value fields: float_data (4, FLOAT, and COMPLEX64 not read),
  // int32_data (5: INT32, INT16, INT8, UINT16, UINT8, BOOL, FLOAT16 and
  // BFLOAT16 as bit patterns, float8 as bytes), int64_data (7), double_data
  // (10), uint64_data (11: UINT32, UINT64).
  void typed(const TensorFields& t, TensorEntry& e, std::uint64_t bytes) {
    std::uint32_t want = 0;
    switch (t.data_type) {
      case kFloat: want = 4; break;
      case kDouble: want = 10; break;
      case kInt64: want = 7; break;
      case kUint32: case kUint64: want = 11; break;
      default: want = 5; break;
    }
    if (t.typed_field != 0 && t.typed_field != want)
      r_.fail(t.at, "tensor '" + e.name + "': " + onnx_type_name(t.data_type) + " values in field " +
                        std::to_string(t.typed_field) + ", expected field " + std::to_string(want));
    const std::size_t esize = dtype_size(e.dtype);
    const bool fixed = want == 4 || want == 10;
    // Fast path: one packed run of fixed-size values is the tensor's bytes in place.
    if (fixed && t.packed.size() == 1 && t.loose.empty()) {
      if (t.packed[0].size() != bytes)
        r_.fail(t.packed[0].begin, "tensor '" + e.name + "': " + std::to_string(t.packed[0].size() / esize) +
                                       " values for " + std::to_string(e.numel) + " elements");
      e.data = r_.at(t.packed[0].begin);
      e.nbytes = static_cast<std::size_t>(bytes);
      return;
    }
    // Otherwise decode into a buffer of the element type, once the values are
    // counted (a varint ends at each byte below 0x80): the declared shape alone
    // must not decide an allocation.
    std::uint64_t values = t.loose.size();
    for (const Span& run : t.packed) {
      if (fixed) {
        values += run.size() / (want == 4 ? 4 : 8);
      } else {
        for (std::size_t p = run.begin; p < run.end; ++p) values += *r_.at(p) < 0x80;
      }
    }
    if (values != e.numel)
      r_.fail(t.at, "tensor '" + e.name + "': " + std::to_string(values) + " values for " + std::to_string(e.numel) +
                        " elements");
    auto buf = std::make_shared<std::vector<std::uint8_t>>(static_cast<std::size_t>(bytes));
    std::uint64_t count = 0;
    auto put = [&](std::uint64_t v, std::size_t where) {
      if (count >= e.numel)
        r_.fail(where, "tensor '" + e.name + "': more values than its " + std::to_string(e.numel) + " elements");
      // Little-endian: the low bytes of the value (int32_data keeps narrower
      // types' values and 16-bit floats' bit patterns in its low bits).
      for (std::size_t b = 0; b < esize; ++b) (*buf)[count * esize + b] = static_cast<std::uint8_t>(v >> (8 * b));
      ++count;
    };
    for (const Span& run : t.packed) {
      if (fixed) {
        const std::size_t w = want == 4 ? 4 : 8;
        if (run.size() % w != 0) r_.fail(run.begin, "tensor '" + e.name + "': a packed run of partial values");
        for (std::size_t p = run.begin; p < run.end; p += w) {
          std::uint64_t v = 0;
          for (std::size_t i = w; i-- > 0;) v = (v << 8) | *r_.at(p + i);
          put(v, p);
        }
      } else {
        for (std::size_t p = run.begin; p < run.end;) {
          const std::size_t where = p;
          put(r_.varint(p, run.end), where);
        }
      }
    }
    for (std::uint64_t v : t.loose) put(v, t.at);
    if (count != e.numel)
      r_.fail(t.at, "tensor '" + e.name + "': " + std::to_string(count) + " values for " + std::to_string(e.numel) +
                        " elements");
    e.data = buf->data();
    e.nbytes = buf->size();
    ck_.keep_alive(std::move(buf));
  }

  // external_data: location (a file beside the model), offset, length.
  void external(const TensorFields& t, TensorEntry& e, std::uint64_t bytes) {
    std::string location;
    std::uint64_t offset = 0, length = bytes;
    bool has_length = false;
    auto number = [&](const std::string& key, const std::string& v) {
      if (v.empty() || v.size() > 19 || !std::all_of(v.begin(), v.end(), [](char c) { return c >= '0' && c <= '9'; }))
        r_.fail(t.at, "tensor '" + e.name + "': external_data " + key + " is not a number");
      return std::stoull(v);
    };
    for (const auto& [k, v] : t.external) {
      if (k == "location") location = v;
      else if (k == "offset") offset = number(k, v);
      else if (k == "length") { length = number(k, v); has_length = true; }
    }
    if (location.empty()) r_.fail(t.at, "tensor '" + e.name + "': external data without a location");
    const fs::path rel(location);
    if (has_control(location) || rel.is_absolute() ||
        std::any_of(rel.begin(), rel.end(), [](const fs::path& c) { return c == ".."; }))
      r_.fail(t.at, "tensor '" + e.name + "': external data location \"" + escape_invalid_utf8(location) +
                        "\" is not a file beside the model");
    if (has_length && length != bytes)
      r_.fail(t.at, "tensor '" + e.name + "': external length " + std::to_string(length) + " bytes, shape x " +
                        std::string(dtype_name(e.dtype)) + " needs " + std::to_string(bytes));
    const std::string file = (fs::path(path_).parent_path() / rel).string();
    std::shared_ptr<MappedFile>& m = mapped_[file];
    if (!m) {
      try {
        m = std::make_shared<MappedFile>(file);
      } catch (const InputError&) {
        r_.fail(t.at, "tensor '" + e.name + "': cannot read its external data file " + escape_invalid_utf8(file));
      }
      externals_.push_back(m);
    }
    if (offset > m->size() || bytes > m->size() - offset)
      r_.fail(t.at, "tensor '" + e.name + "': external bytes " + std::to_string(offset) + ".." +
                        std::to_string(offset + bytes) + " run past the end of " + escape_invalid_utf8(file) + " (" +
                        std::to_string(m->size()) + " bytes)");
    e.data = m->data() + offset;
    e.nbytes = static_cast<std::size_t>(bytes);
  }

  // A sparse initializer: values (a 1-D tensor of nnz), indices (INT64,
  // [nnz] linearised or [nnz, rank]), dims. Reported dense.
  void sparse(Span s, const std::string& prefix) {
    Span values, indices;
    std::vector<std::int64_t> dims;
    bool has_values = false, has_indices = false;
    std::size_t pos = s.begin;
    while (pos < s.end) {
      const auto f = r_.next(pos, s.end, "SparseTensorProto");
      if (f.number == 1) { r_.expect(f, kBytes, "SparseTensorProto", "values"); values = f.bytes; has_values = true; }
      else if (f.number == 2) { r_.expect(f, kBytes, "SparseTensorProto", "indices"); indices = f.bytes; has_indices = true; }
      else if (f.number == 3) {
        if (f.wire == kVarint) dims.push_back(static_cast<std::int64_t>(f.value));
        else {
          r_.expect(f, kBytes, "SparseTensorProto", "dims");
          for (std::size_t p = f.bytes.begin; p < f.bytes.end;) dims.push_back(static_cast<std::int64_t>(r_.varint(p, f.bytes.end)));
        }
      }
    }
    if (!has_values || !has_indices) r_.fail(s.begin, "a sparse initializer without values or indices");
    // Read both as ordinary tensors into a scratch checkpoint.
    Checkpoint saved = std::move(ck_);
    ck_ = Checkpoint{};
    tensor(values, prefix);
    tensor(indices, prefix);
    Checkpoint parts = std::move(ck_);
    ck_ = std::move(saved);
    if (parts.tensors().size() != 2)
      r_.fail(s.begin, "a sparse initializer whose values or indices are not numeric tensors");
    const TensorEntry& v = parts.tensors()[0];
    const TensorEntry& ix = parts.tensors()[1];
    TensorEntry e;
    e.name = v.name;
    e.file = path_;
    e.dtype = v.dtype;
    e.shape = dims;
    const std::uint64_t bytes = checked_byte_size(path_, e.name, e.shape, dtype_size(e.dtype), &e.numel);
    const std::uint64_t nnz = v.numel;
    if (v.shape.size() != 1) r_.fail(s.begin, "sparse initializer '" + e.name + "': values are not 1-D");
    if (ix.dtype != DType::I64) r_.fail(s.begin, "sparse initializer '" + e.name + "': indices are not INT64");
    const bool linear = ix.shape.size() == 1;
    if (!(linear && ix.shape[0] == static_cast<std::int64_t>(nnz)) &&
        !(ix.shape.size() == 2 && ix.shape[0] == static_cast<std::int64_t>(nnz) &&
          ix.shape[1] == static_cast<std::int64_t>(dims.size())))
      r_.fail(s.begin, "sparse initializer '" + e.name + "': indices of shape other than [nnz] or [nnz, rank]");
    // Sparse initializers are reported dense, so their dense form is built:
    // a shape (not the file) would otherwise decide the allocation.
    if (bytes > std::uint64_t(1) << 30)
      r_.fail(s.begin, "sparse initializer '" + e.name + "': its dense form would take " + std::to_string(bytes) +
                           " bytes, more than the 1 GiB read for sparse initializers");
    auto buf = std::make_shared<std::vector<std::uint8_t>>(static_cast<std::size_t>(bytes), 0);
    const std::size_t esize = dtype_size(e.dtype);
    for (std::uint64_t k = 0; k < nnz; ++k) {
      std::int64_t flat = 0;
      if (linear) {
        std::memcpy(&flat, ix.data + k * 8, 8);
      } else {
        for (std::size_t d = 0; d < dims.size(); ++d) {
          std::int64_t i = 0;
          std::memcpy(&i, ix.data + (k * dims.size() + d) * 8, 8);
          if (i < 0 || i >= dims[d]) r_.fail(s.begin, "sparse initializer '" + e.name + "': an index out of range");
          flat = flat * dims[d] + i;
        }
      }
      if (flat < 0 || static_cast<std::uint64_t>(flat) >= e.numel)
        r_.fail(s.begin, "sparse initializer '" + e.name + "': an index out of range");
      std::memcpy(buf->data() + static_cast<std::size_t>(flat) * esize, v.data + k * esize, esize);
    }
    e.data = buf->data();
    e.nbytes = buf->size();
    ck_.keep_alive(std::move(buf));
    ck_.keep_alive(std::make_shared<Checkpoint>(std::move(parts)));
    ck_.add_tensor(std::move(e));
  }

  std::string path_;
  std::shared_ptr<MappedFile> file_;
  Reader r_;
  Checkpoint ck_;
  std::size_t unnamed_ = 0;
  std::map<std::string, std::shared_ptr<MappedFile>> mapped_;  // external data files, each mapped once
  std::vector<std::shared_ptr<MappedFile>> externals_;
};

}  // namespace

Checkpoint read_onnx(const std::string& path) {
  auto file = std::make_shared<MappedFile>(path);
  OnnxReader reader(path, file);
  return reader.read();
}

}  // namespace gradcheck::weights
