// NumPy .npy and .npz readers. Format: numpy.lib.format (NEP 1): magic
// "\x93NUMPY", major/minor version, a little-endian header length (2 bytes in
// version 1, 4 in versions 2 and 3), a Python dict literal
// {'descr': '<f4', 'fortran_order': False, 'shape': (3, 4), }, then the data.
// .npz is a zip archive of .npy members, stored or deflated.

#include <cctype>
#include <cstring>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <variant>
#include <vector>

#include "gradcheck/errors.hpp"
#include "gradcheck/mapped_file.hpp"
#include "gradcheck/utf8.hpp"
#include "gradcheck/weights/checkpoint.hpp"
#include "layout.hpp"
#include "zip.hpp"

namespace gradcheck::weights {

namespace {

// Header text quoted in a message, with control characters (a newline would
// break the one-line message) shown as '?'.
std::string shown(std::string s) {
  for (char& c : s)
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) c = '?';
  return s;
}


// The subset of Python literals an .npy header uses.
struct PyValue {
  enum class Kind { string, integer, boolean, none, tuple } kind = Kind::none;
  std::string text;
  std::int64_t integer = 0;
  bool boolean = false;
  std::vector<PyValue> items;
};

class HeaderParser {
 public:
  HeaderParser(std::string_view s, const std::string& where) : s_(s), where_(where) {}

  std::map<std::string, PyValue> dict() {
    expect('{');
    std::map<std::string, PyValue> out;
    while (true) {
      skip();
      if (peek() == '}') break;
      PyValue key = value();
      if (key.kind != PyValue::Kind::string) fail("dictionary keys must be strings");
      expect(':');
      if (!out.emplace(key.text, value()).second) fail("key '" + shown(key.text) + "' appears twice");
      skip();
      if (peek() == ',') ++i_;
      else if (peek() != '}') fail("expected ',' or '}'");
    }
    ++i_;
    skip();
    if (i_ != s_.size()) fail("unexpected text after the dictionary");
    return out;
  }

 private:
  [[noreturn]] void fail(const std::string& why) const {
    throw InputError(where_, "npy header: " + why + " (at byte " + std::to_string(i_) + ")");
  }
  void skip() {
    while (i_ < s_.size() && std::isspace(static_cast<unsigned char>(s_[i_]))) ++i_;
  }
  char peek() const { return i_ < s_.size() ? s_[i_] : '\0'; }
  void expect(char c) {
    skip();
    if (peek() != c) fail(std::string("expected '") + shown(std::string(1, c)) + "'");
    ++i_;
  }
  bool word(std::string_view w) {
    if (s_.substr(i_, w.size()) == w) {
      i_ += w.size();
      return true;
    }
    return false;
  }
  PyValue value() {
    skip();
    PyValue v;
    const char c = peek();
    if (c == '\'' || c == '"') {
      ++i_;
      v.kind = PyValue::Kind::string;
      while (i_ < s_.size() && s_[i_] != c) {
        if (s_[i_] == '\\') fail("escapes are not expected in an npy header");
        v.text += s_[i_++];
      }
      if (i_ == s_.size()) fail("unterminated string");
      ++i_;
    } else if (c == '(' || c == '[') {
      const char close = c == '(' ? ')' : ']';
      if (c == '[') fail("a list descr is a structured dtype, which is not supported");
      ++i_;
      v.kind = PyValue::Kind::tuple;
      while (true) {
        skip();
        if (peek() == close) break;
        v.items.push_back(value());
        skip();
        if (peek() == ',') ++i_;
        else if (peek() != close) fail("expected ',' or ')'");
      }
      ++i_;
    } else if (std::isdigit(static_cast<unsigned char>(c)) || c == '-') {
      v.kind = PyValue::Kind::integer;
      const bool negative = c == '-';
      if (negative) ++i_;
      if (!std::isdigit(static_cast<unsigned char>(peek()))) fail("expected a number");
      std::uint64_t n = 0;
      while (std::isdigit(static_cast<unsigned char>(peek()))) {
        const unsigned digit = unsigned(s_[i_++] - '0');
        if (n > (std::uint64_t(INT64_MAX) - digit) / 10) fail("integer too large");
        n = n * 10 + digit;
      }
      if (peek() == 'L') ++i_;  // Python 2 longs
      v.integer = negative ? -std::int64_t(n) : std::int64_t(n);
    } else if (word("True")) {
      v.kind = PyValue::Kind::boolean;
      v.boolean = true;
    } else if (word("False")) {
      v.kind = PyValue::Kind::boolean;
    } else if (word("None")) {
      v.kind = PyValue::Kind::none;
    } else {
      fail("unexpected character");
    }
    return v;
  }

  std::string_view s_;
  std::size_t i_ = 0;
  std::string where_;
};

struct Descr {
  DType dtype;
  bool big_endian;
};

Descr parse_descr(const std::string& where, const std::string& raw) {
  const std::string d = shown(raw);
  if (d.size() < 2) throw InputError(where, "npy: unsupported dtype '" + d + "'");
  const char order = d[0];
  std::string kind = d.substr(1);
  if (order != '<' && order != '>' && order != '|' && order != '=')
    throw InputError(where, "npy: unsupported dtype '" + d + "'");
  if (kind.rfind("O", 0) == 0)
    throw InputError(where, "npy: object arrays are pickles and are refused (dtype '" + d + "')");
  static const std::map<std::string, DType> kinds{
      {"f8", DType::F64}, {"f4", DType::F32}, {"f2", DType::F16}, {"i8", DType::I64}, {"i4", DType::I32},
      {"i2", DType::I16}, {"i1", DType::I8},  {"u8", DType::U64}, {"u4", DType::U32}, {"u2", DType::U16},
      {"u1", DType::U8},  {"b1", DType::BOOL}};
  auto it = kinds.find(kind);
  if (it == kinds.end()) throw InputError(where, "npy: unsupported dtype '" + d + "'");
  return {it->second, order == '>'};
}

// Parses one .npy image; `where` names it in messages.
TensorEntry parse_npy(const std::string& where, const std::string& file, std::string name,
                      std::span<const std::uint8_t> bytes, Checkpoint& owner) {
  const std::uint8_t* d = bytes.data();
  const std::size_t n = bytes.size();
  if (n < 10 || std::memcmp(d, "\x93NUMPY", 6) != 0) throw InputError(where, "not an .npy file (no \\x93NUMPY magic)");
  const int major = d[6];
  if (major < 1 || major > 3) throw InputError(where, "npy: unsupported format version " + std::to_string(major));
  const std::size_t len_bytes = major == 1 ? 2 : 4;
  if (n < 8 + len_bytes) throw InputError(where, "npy: truncated header");
  std::size_t header_len = 0;
  for (std::size_t i = len_bytes; i-- > 0;) header_len = (header_len << 8) | d[8 + i];
  const std::size_t data_start = 8 + len_bytes + header_len;
  if (data_start > n)
    throw InputError(where, "npy: header length " + std::to_string(header_len) + " runs past the end of the data");
  const std::string_view text(reinterpret_cast<const char*>(d + 8 + len_bytes), header_len);
  const auto dict = HeaderParser(text, where).dict();
  for (const char* key : {"descr", "fortran_order", "shape"})
    if (!dict.count(key)) throw InputError(where, std::string("npy header: missing '") + key + "'");
  const PyValue& descr = dict.at("descr");
  if (descr.kind != PyValue::Kind::string) throw InputError(where, "npy: descr is not a simple dtype string");
  const Descr ty = parse_descr(where, descr.text);
  const PyValue& fortran = dict.at("fortran_order");
  if (fortran.kind != PyValue::Kind::boolean) throw InputError(where, "npy: fortran_order is not True or False");
  const PyValue& shape = dict.at("shape");
  if (shape.kind != PyValue::Kind::tuple) throw InputError(where, "npy: shape is not a tuple");

  TensorEntry e;
  e.name = std::move(name);
  e.file = file;
  e.dtype = ty.dtype;
  for (const auto& item : shape.items) {
    if (item.kind != PyValue::Kind::integer) throw InputError(where, "npy: shape extents must be integers");
    e.shape.push_back(item.integer);
  }
  const std::size_t esize = dtype_size(ty.dtype);
  const std::uint64_t nbytes = checked_byte_size(where, e.name, e.shape, esize, &e.numel);
  if (n - data_start < nbytes)
    throw InputError(where, "npy: the data is truncated (" + std::to_string(n - data_start) + " bytes for " +
                                std::to_string(nbytes) + ")");
  if (n - data_start > nbytes)
    throw InputError(where, "npy: " + std::to_string(n - data_start - nbytes) + " bytes after the array's data");
  e.nbytes = static_cast<std::size_t>(nbytes);
  e.data = d + data_start;
  const bool swap = ty.big_endian && esize > 1;
  if (fortran.boolean && e.shape.size() >= 2) {
    // Column-major: stride 1 along the first axis.
    std::vector<std::int64_t> strides(e.shape.size());
    std::int64_t s = 1;
    for (std::size_t k = 0; k < e.shape.size(); ++k) {
      strides[k] = s;
      s *= e.shape[k];
    }
    auto buffer = detail::gather_c_order(e.data, esize, e.shape, strides, e.numel);
    if (swap) detail::swap_bytes(buffer->data(), esize, e.numel);
    e.data = buffer->data();
    owner.keep_alive(std::move(buffer));
  } else if (swap) {
    auto buffer = std::make_shared<std::vector<std::uint8_t>>(e.data, e.data + e.nbytes);
    detail::swap_bytes(buffer->data(), esize, e.numel);
    e.data = buffer->data();
    owner.keep_alive(std::move(buffer));
  }
  return e;
}

}  // namespace

Checkpoint read_npy(const std::string& path) {
  auto file = std::make_shared<MappedFile>(path);
  Checkpoint ck;
  ck.add_file(path);
  std::string name = std::filesystem::path(path).filename().string();
  if (name.size() > 4 && name.compare(name.size() - 4, 4, ".npy") == 0) name.resize(name.size() - 4);
  name = escape_invalid_utf8(name);  // a file name is any bytes: reports show them escaped (\xNN)
  ck.add_tensor(parse_npy(path, path, name, file->bytes(), ck));
  ck.keep_alive(std::move(file));
  return ck;
}

Checkpoint read_npz(const std::string& path) {
  auto file = std::make_shared<MappedFile>(path);
  Checkpoint ck;
  ck.add_file(path);
  for (const auto& m : detail::read_zip_directory(*file)) {
    if (m.name.empty() || m.name.back() == '/') continue;  // folders
    std::string name = m.name;
    if (name.size() > 4 && name.compare(name.size() - 4, 4, ".npy") == 0) name.resize(name.size() - 4);
    std::shared_ptr<const void> owner;
    const auto bytes = detail::zip_member_bytes(*file, m, owner);
    if (owner) ck.keep_alive(std::move(owner));
    ck.add_tensor(parse_npy(path + ": member '" + m.name + "'", path, name, bytes, ck));
  }
  ck.keep_alive(std::move(file));
  return ck;
}

}  // namespace gradcheck::weights
