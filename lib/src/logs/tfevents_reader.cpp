// TensorBoard event files. A small protobuf wire-format decoder is written here
// instead of linking libprotobuf: only five messages and a dozen fields are
// needed, libprotobuf would need the TensorFlow .proto files compiled into the
// build, and a hand decoder over the mapped bytes lets every malformed record be
// reported with its byte offset.

#include <algorithm>
#include <array>
#include <climits>
#include <cmath>
#include <limits>
#include <cstring>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "builder.hpp"
#include "formats.hpp"
#include "gradcheck/errors.hpp"
#include "gradcheck/logs/readers.hpp"
#include "gradcheck/mapped_file.hpp"
#include "../core/utf8.hpp"

namespace gradcheck::logs {
namespace {

// CRC32C (Castagnoli, reflected polynomial 0x82F63B78), as TFRecord uses it.
// Twenty lines of table code; no Debian package we already depend on has it.
const std::array<std::uint32_t, 256>& crc_table() {
  static const std::array<std::uint32_t, 256> table = [] {
    std::array<std::uint32_t, 256> t{};
    for (std::uint32_t i = 0; i < 256; ++i) {
      std::uint32_t c = i;
      for (int k = 0; k < 8; ++k) c = (c & 1) ? (c >> 1) ^ 0x82F63B78u : c >> 1;
      t[i] = c;
    }
    return t;
  }();
  return table;
}

std::uint32_t crc32c(const std::uint8_t* p, std::size_t n) {
  const auto& t = crc_table();
  std::uint32_t c = 0xFFFFFFFFu;
  for (std::size_t i = 0; i < n; ++i) c = t[(c ^ p[i]) & 0xFF] ^ (c >> 8);
  return c ^ 0xFFFFFFFFu;
}

std::uint32_t masked_crc(const std::uint8_t* p, std::size_t n) {
  const std::uint32_t c = crc32c(p, n);
  return ((c >> 15) | (c << 17)) + 0xa282ead8u;
}

std::uint32_t le32(const std::uint8_t* p) {
  return std::uint32_t(p[0]) | std::uint32_t(p[1]) << 8 | std::uint32_t(p[2]) << 16 | std::uint32_t(p[3]) << 24;
}
std::uint64_t le64(const std::uint8_t* p) { return std::uint64_t(le32(p)) | std::uint64_t(le32(p + 4)) << 32; }

struct BadProto {};

// A cursor over one protobuf message. Throws BadProto on malformed input.
class Reader {
 public:
  Reader(const std::uint8_t* p, std::size_t n) : p_(p), end_(p + n) {}
  bool done() const { return p_ >= end_; }
  std::uint64_t varint() {
    std::uint64_t v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      if (p_ >= end_) throw BadProto{};
      const std::uint8_t b = *p_++;
      v |= std::uint64_t(b & 0x7F) << shift;
      if (!(b & 0x80)) return v;
    }
    throw BadProto{};
  }
  // Reads a key; returns field number and sets the wire type.
  std::uint32_t key(int& wire) {
    const std::uint64_t k = varint();
    wire = static_cast<int>(k & 7);
    return static_cast<std::uint32_t>(k >> 3);
  }
  std::uint64_t fixed64() {
    need(8);
    const std::uint64_t v = le64(p_);
    p_ += 8;
    return v;
  }
  std::uint32_t fixed32() {
    need(4);
    const std::uint32_t v = le32(p_);
    p_ += 4;
    return v;
  }
  Reader bytes() {
    const std::uint64_t n = varint();
    if (n > static_cast<std::uint64_t>(end_ - p_)) throw BadProto{};
    Reader r(p_, static_cast<std::size_t>(n));
    p_ += n;
    return r;
  }
  std::string string() {
    Reader r = bytes();
    return std::string(reinterpret_cast<const char*>(r.p_), static_cast<std::size_t>(r.end_ - r.p_));
  }
  void skip(int wire) {
    switch (wire) {
      case 0: varint(); break;
      case 1: need(8); p_ += 8; break;
      case 2: bytes(); break;
      case 5: need(4); p_ += 4; break;
      default: throw BadProto{};  // groups (3, 4) are not used by these messages
    }
  }
  const std::uint8_t* data() const { return p_; }
  std::size_t left() const { return static_cast<std::size_t>(end_ - p_); }

 private:
  void need(std::size_t n) const {
    if (static_cast<std::size_t>(end_ - p_) < n) throw BadProto{};
  }
  const std::uint8_t* p_;
  const std::uint8_t* end_;
};

double f32(std::uint32_t bits) {
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}
double f64(std::uint64_t bits) {
  double d;
  std::memcpy(&d, &bits, 8);
  return d;
}
double half_to_double(std::uint32_t h) {
  const std::uint32_t sign = (h >> 15) & 1, exp = (h >> 10) & 0x1F, frac = h & 0x3FF;
  double v;
  if (exp == 0) v = std::ldexp(static_cast<double>(frac), -24);
  else if (exp == 31) v = frac ? std::numeric_limits<double>::quiet_NaN() : std::numeric_limits<double>::infinity();
  else v = std::ldexp(static_cast<double>(frac | 0x400), static_cast<int>(exp) - 25);
  return sign ? -v : v;
}
double bf16_to_double(std::uint32_t h) { return f32(h << 16); }

// TensorFlow DataType values (tensorflow/core/framework/types.proto).
enum DType { kFloat = 1, kDouble = 2, kInt32 = 3, kInt64 = 9, kBfloat16 = 14, kHalf = 19 };

// A TensorProto; returns its value when it is a numeric rank-0 tensor.
std::optional<double> scalar_of_tensor(Reader r) {
  std::uint64_t dtype = 0;
  bool scalar_shape = true;
  std::optional<double> value;
  const std::uint8_t* content = nullptr;
  std::size_t content_size = 0;
  while (!r.done()) {
    int wire = 0;
    const std::uint32_t field = r.key(wire);
    if (field == 1 && wire == 0) {
      dtype = r.varint();
    } else if (field == 2 && wire == 2) {  // TensorShapeProto: any dim makes it rank >= 1
      Reader shape = r.bytes();
      while (!shape.done()) {
        int w = 0;
        const std::uint32_t f = shape.key(w);
        if (f == 2) scalar_shape = false;
        shape.skip(w);
      }
    } else if (field == 4 && wire == 2) {
      Reader c = r.bytes();
      content = c.data();
      content_size = c.left();
    } else if ((field == 5 || field == 6 || field == 7 || field == 10 || field == 13) && !value) {
      // float_val, double_val, int_val, int64_val, half_val: packed or not, first element.
      Reader one = wire == 2 ? r.bytes() : r;
      const int w = wire == 2 ? (field == 5 ? 5 : field == 6 ? 1 : 0) : wire;
      if (one.done()) {
        if (wire != 2) throw BadProto{};
        continue;
      }
      double v = 0;
      if (w == 5) v = f32(one.fixed32());
      else if (w == 1) v = f64(one.fixed64());
      else if (w == 0) {
        const std::uint64_t u = one.varint();
        if (field == 13) v = dtype == kBfloat16 ? bf16_to_double(static_cast<std::uint32_t>(u)) : half_to_double(static_cast<std::uint32_t>(u));
        else v = static_cast<double>(static_cast<std::int64_t>(u));
      } else throw BadProto{};
      value = v;
      if (wire != 2) r = one;  // `one` advanced past the unpacked element
    } else {
      r.skip(wire);
    }
  }
  if (!scalar_shape) return std::nullopt;
  if (dtype != kFloat && dtype != kDouble && dtype != kInt32 && dtype != kInt64 && dtype != kHalf &&
      dtype != kBfloat16)
    return std::nullopt;
  if (content != nullptr) {
    switch (dtype) {
      case kFloat: if (content_size == 4) return f32(le32(content)); break;
      case kDouble: if (content_size == 8) return f64(le64(content)); break;
      case kInt32: if (content_size == 4) return static_cast<double>(static_cast<std::int32_t>(le32(content))); break;
      case kInt64: if (content_size == 8) return static_cast<double>(static_cast<std::int64_t>(le64(content))); break;
      case kHalf: if (content_size == 2) return half_to_double(content[0] | content[1] << 8); break;
      case kBfloat16: if (content_size == 2) return bf16_to_double(content[0] | content[1] << 8); break;
      default: break;
    }
    throw BadProto{};
  }
  return value;
}

// Walks one Event: `step` gets its step, and `each` is called with a reader
// over every Value of its Summary.
template <typename Each>
void for_each_value(Reader r, std::int64_t& step, Each&& each) {
  while (!r.done()) {
    int wire = 0;
    const std::uint32_t field = r.key(wire);
    if (field == 2 && wire == 0) {
      step = static_cast<std::int64_t>(r.varint());
    } else if (field == 5 && wire == 2) {
      Reader summary = r.bytes();
      while (!summary.done()) {
        int w = 0;
        const std::uint32_t f = summary.key(w);
        if (f == 1 && w == 2) each(summary.bytes());
        else summary.skip(w);
      }
    } else {
      r.skip(wire);
    }
  }
}

// One Event: records scalars of its Summary into the builder.
void read_event(Reader r, const std::string& prefix, internal::RunBuilder& builder) {
  std::int64_t step = 0;
  std::vector<std::pair<std::string, double>> scalars;
  for_each_value(r, step, [&](Reader value) {
    std::string tag;
    std::optional<double> v;
    while (!value.done()) {
      int vw = 0;
      const std::uint32_t vf = value.key(vw);
      if (vf == 1 && vw == 2) {
        tag = value.string();
        // A protobuf string field must be UTF-8; reports could not hold it otherwise.
        if (!gradcheck::internal::valid_utf8(tag)) throw BadProto{};
      } else if (vf == 2 && vw == 5) v = f32(value.fixed32());
      else if (vf == 8 && vw == 2) {
        if (auto t = scalar_of_tensor(value.bytes())) v = t;
      } else value.skip(vw);
    }
    if (v && !tag.empty()) scalars.emplace_back(prefix + tag, *v);
  });
  for (auto& [tag, v] : scalars) builder.add(tag, step, v);
}

void read_file(const std::string& path, const std::string& prefix, internal::RunBuilder& builder) {
  MappedFile file(path);
  const std::uint8_t* d = file.data();
  const std::size_t n = file.size();
  std::size_t off = 0;
  while (off < n) {
    const std::string at = "byte " + std::to_string(off) + ": ";
    if (n - off < 12)
      throw InputError(path, at + "truncated record header (" + std::to_string(n - off) + " of 12 bytes)");
    const std::uint64_t len = le64(d + off);
    if (le32(d + off + 8) != masked_crc(d + off, 8)) throw InputError(path, at + "record length CRC mismatch");
    if (len > n - off - 12 || n - off - 12 - len < 4)
      throw InputError(path, at + "truncated record (length " + std::to_string(len) + ", " +
                                 std::to_string(n - off - 12) + " bytes left)");
    const std::uint8_t* payload = d + off + 12;
    if (le32(payload + len) != masked_crc(payload, static_cast<std::size_t>(len)))
      throw InputError(path, at + "record data CRC mismatch");
    try {
      read_event(Reader(payload, static_cast<std::size_t>(len)), prefix, builder);
    } catch (const BadProto&) {
      throw InputError(path, at + "record is not a valid Event protobuf");
    }
    off += 12 + static_cast<std::size_t>(len) + 4;
  }
}

bool is_event_file(const std::filesystem::path& p) {
  return p.filename().string().find("tfevents") != std::string::npos;
}

constexpr std::uint64_t kStringType = 7;  // DT_STRING

// The first string of a TensorProto of strings (string_val).
std::optional<std::string> string_of_tensor(Reader r) {
  std::uint64_t dtype = 0;
  std::optional<std::string> first;
  while (!r.done()) {
    int wire = 0;
    const std::uint32_t field = r.key(wire);
    if (field == 1 && wire == 0) dtype = r.varint();
    else if (field == 8 && wire == 2 && !first) first = r.string();
    else r.skip(wire);
  }
  if (dtype != kStringType) return std::nullopt;
  return first;
}

// The text summary tagged `tag` in one Event, if it holds one; `step` gets
// the event's step.
std::optional<std::string> text_of_event(Reader r, std::string_view tag, std::int64_t& step) {
  step = 0;
  std::optional<std::string> found;
  for_each_value(r, step, [&](Reader value) {
    std::string name;
    std::optional<std::string> text;
    while (!value.done()) {
      int vw = 0;
      const std::uint32_t vf = value.key(vw);
      if (vf == 1 && vw == 2) name = value.string();
      else if (vf == 8 && vw == 2) text = string_of_tensor(value.bytes());
      else value.skip(vw);
    }
    if (!found && name == tag && text) found = std::move(text);
  });
  return found;
}

// The text summary `tag` among the events a file holds before its first
// event past step 0: a text written once at the start of training (the
// Trainer's on_train_begin, before any logged step), so the rest of a long
// file, which read_tfevents has read already, is not read again.
std::optional<std::string> text_in_file(const std::string& path, std::string_view tag) {
  MappedFile file(path);
  const std::uint8_t* d = file.data();
  const std::size_t n = file.size();
  std::size_t off = 0;
  while (n - off >= 16) {
    const std::uint64_t len = le64(d + off);
    if (len > n - off - 16) return std::nullopt;
    std::int64_t step = 0;
    if (auto text = text_of_event(Reader(d + off + 12, static_cast<std::size_t>(len)), tag, step)) return text;
    if (step > 0) return std::nullopt;
    off += 16 + static_cast<std::size_t>(len);
  }
  return std::nullopt;
}

}  // namespace

std::optional<std::string> internal::tfevents_text(const std::string& path, std::string_view tag) {
  namespace fs = std::filesystem;
  try {
    std::error_code ec;
    if (!fs::is_directory(path, ec)) return text_in_file(path, tag);
    std::vector<fs::path> files;
    for (fs::recursive_directory_iterator it(path, ec), end; !ec && it != end; it.increment(ec))
      if (it->is_regular_file(ec) && is_event_file(it->path())) files.push_back(it->path());
    std::sort(files.begin(), files.end());
    for (const auto& f : files)
      if (auto text = text_in_file(f.string(), tag)) return text;
  } catch (const BadProto&) {
  } catch (const std::exception&) {
  }
  return std::nullopt;
}

Run read_tfevents(const std::string& path, const ReadOptions& options) {
  namespace fs = std::filesystem;
  internal::RunBuilder builder(path);
  std::error_code ec;
  if (fs::is_directory(path, ec)) {
    std::vector<fs::path> files;
    for (fs::recursive_directory_iterator it(path, ec), end; !ec && it != end; it.increment(ec))
      if (it->is_regular_file(ec) && is_event_file(it->path())) files.push_back(it->path());
    if (ec) throw InputError(path, "cannot list the directory: " + ec.message());
    if (files.empty()) throw InputError(path, "directory holds no events.out.tfevents.* file");
    std::sort(files.begin(), files.end());
    for (const auto& f : files) {
      std::string rel = fs::relative(f.parent_path(), path, ec).generic_string();
      if (ec || rel == ".") rel.clear();
      read_file(f.string(), rel.empty() ? std::string() : rel + "/", builder);
    }
  } else {
    read_file(path, "", builder);
  }
  Run run = builder.take();
  if (!options.step_column.empty()) {
    // A scalar tag can serve as the step (e.g. "epoch"): its points are matched by event step.
    if (!internal::use_series_as_step(run, options.step_column))
      throw InputError(path, "step tag '" + options.step_column + "' is not in the events");
  } else {
    run.step_name = "step";
  }
  return run;
}

}  // namespace gradcheck::logs
