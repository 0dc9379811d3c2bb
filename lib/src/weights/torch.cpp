// PyTorch checkpoints written by torch.save (zip layout, PyTorch >= 1.6):
// `<prefix>/data.pkl` (a pickle of the object), `<prefix>/data/<key>` (the raw
// storages), `<prefix>/byteorder` ("little" or "big"; absent means little).
//
// The pickle is interpreted, never executed: a small stack machine knows the
// opcodes pickle protocol 2 emits for a state_dict and only these globals:
// collections.OrderedDict, torch._utils._rebuild_tensor_v2,
// torch._utils._rebuild_parameter and the torch.*Storage types. Anything else
// is refused with the name of what it would have called.

#include <cstdio>
#include <cstring>
#include <optional>
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

struct PValue;
using PList = std::vector<PValue>;
using PDict = std::vector<std::pair<PValue, PValue>>;

struct Global {
  std::string module, name;
};
struct Storage {
  DType dtype;
  std::string key;
  std::uint64_t numel;
};
struct Tensor {
  std::shared_ptr<const Storage> storage;
  std::int64_t offset = 0;
  std::vector<std::int64_t> shape, stride;
};
struct Mark {};

struct PValue {
  std::variant<std::monostate, bool, std::int64_t, double, std::string, std::shared_ptr<PList> /*tuple or list*/,
               std::shared_ptr<PDict>, Global, std::shared_ptr<const Storage>, std::shared_ptr<const Tensor>, Mark>
      v;
  bool is_tuple = false;
};

std::optional<DType> storage_dtype(const std::string& name) {
  static const std::map<std::string, DType> types{
      {"DoubleStorage", DType::F64},        {"FloatStorage", DType::F32},
      {"HalfStorage", DType::F16},          {"BFloat16Storage", DType::BF16},
      {"Float8_e4m3fnStorage", DType::F8_E4M3}, {"Float8_e5m2Storage", DType::F8_E5M2},
      {"LongStorage", DType::I64},          {"IntStorage", DType::I32},
      {"ShortStorage", DType::I16},         {"CharStorage", DType::I8},
      {"ByteStorage", DType::U8},           {"BoolStorage", DType::BOOL}};
  auto it = types.find(name);
  if (it == types.end()) return std::nullopt;
  return it->second;
}

class Unpickler {
 public:
  Unpickler(std::string where, std::span<const std::uint8_t> bytes) : where_(std::move(where)), b_(bytes) {}

  PValue run() {
    for (;;) {
      const std::uint8_t op = byte();
      switch (op) {
        case 0x80: byte(); break;  // PROTO
        case '.': return pop();  // STOP
        case 'N': push({}); break;
        case 0x88: push(bool_(true)); break;
        case 0x89: push(bool_(false)); break;
        case 'K': push(int_(static_cast<std::int64_t>(uint(1)))); break;
        case 'M': push(int_(static_cast<std::int64_t>(uint(2)))); break;
        case 'J': push(int_(static_cast<std::int32_t>(static_cast<std::uint32_t>(uint(4))))); break;
        case 0x8a: {  // LONG1: little-endian two's complement of n bytes
          const std::size_t n = uint(1);
          if (n > 8) fail("integer too large");
          std::uint64_t v = 0;
          for (std::size_t i = 0; i < n; ++i) v |= std::uint64_t(byte()) << (8 * i);
          if (n > 0 && n < 8 && (v >> (8 * n - 1)) & 1) v |= ~std::uint64_t(0) << (8 * n);
          push(int_(static_cast<std::int64_t>(v)));
          break;
        }
        case 'G': {  // BINFLOAT, big-endian
          std::uint64_t v = 0;
          for (int i = 0; i < 8; ++i) v = (v << 8) | byte();
          double d;
          std::memcpy(&d, &v, 8);
          push({d});
          break;
        }
        case 'X': push(str(static_cast<std::size_t>(uint(4)))); break;   // BINUNICODE
        case 0x8c: push(str(static_cast<std::size_t>(uint(1)))); break;  // SHORT_BINUNICODE
        case 'T': push(str(static_cast<std::size_t>(uint(4)))); break;   // BINSTRING
        case 'U': push(str(static_cast<std::size_t>(uint(1)))); break;   // SHORT_BINSTRING
        case 'c': {                                                      // GLOBAL
          Global g{line(), line()};
          push({g});
          break;
        }
        case '(': push({Mark{}}); break;
        case ')': push(tuple({})); break;
        case 't': push(tuple(pop_mark())); break;
        case 0x85: { auto a = pop(); push(tuple({a})); break; }
        case 0x86: { auto b2 = pop(), a = pop(); push(tuple({a, b2})); break; }
        case 0x87: { auto c = pop(), b2 = pop(), a = pop(); push(tuple({a, b2, c})); break; }
        case ']': push({std::make_shared<PList>()}); break;
        case 'l': { PValue l{std::make_shared<PList>(pop_mark())}; push(l); break; }
        case 'a': { auto x = pop(); list(top()).push_back(x); break; }
        case 'e': { auto xs = pop_mark(); auto& l = list(top()); l.insert(l.end(), xs.begin(), xs.end()); break; }
        case '}': push({std::make_shared<PDict>()}); break;
        case 's': { auto v = pop(), k = pop(); dict(top()).emplace_back(k, v); break; }
        case 'u': {
          auto xs = pop_mark();
          if (xs.size() % 2) fail("SETITEMS with an odd number of items");
          auto& d = dict(top());
          for (std::size_t i = 0; i < xs.size(); i += 2) d.emplace_back(xs[i], xs[i + 1]);
          break;
        }
        case 'q': memo_[uint(1)] = top(); break;
        case 'r': memo_[uint(4)] = top(); break;
        case 'h': push(memo(uint(1))); break;
        case 'j': push(memo(uint(4))); break;
        case 'Q': push(persistent_load(pop())); break;
        case 'R': { auto args = pop(), fn = pop(); push(reduce(fn, args)); break; }
        case 'b': {  // BUILD: only the state_dict's `_metadata` attribute, which carries no tensors
          pop();
          const PValue& obj = top();
          if (!std::holds_alternative<std::shared_ptr<PDict>>(obj.v) &&
              !std::holds_alternative<std::shared_ptr<const Tensor>>(obj.v))
            fail("BUILD on an object that is not a dict or tensor");
          break;
        }
        default: {
          char hex[8];
          std::snprintf(hex, sizeof hex, "0x%02x", op);
          fail(std::string("pickle opcode ") + hex + " is not one torch.save emits for a state_dict; refused");
        }
      }
    }
  }

 private:
  [[noreturn]] void fail(const std::string& why) const {
    throw InputError(where_, "data.pkl: " + why + " (at byte " + std::to_string(pos_) + ")");
  }
  std::uint8_t byte() {
    if (pos_ >= b_.size()) fail("the pickle ends without STOP");
    return b_[pos_++];
  }
  std::uint64_t uint(int n) {
    std::uint64_t v = 0;
    for (int i = 0; i < n; ++i) v |= std::uint64_t(byte()) << (8 * i);
    return v;
  }
  PValue str(std::size_t n) {
    if (n > b_.size() - pos_) fail("a string runs past the end of the pickle");
    std::string s(reinterpret_cast<const char*>(b_.data() + pos_), n);
    pos_ += n;
    return {s};
  }
  std::string line() {
    std::string s;
    for (char c; (c = char(byte())) != '\n';) s += c;
    return s;
  }
  static PValue bool_(bool x) { return {x}; }
  static PValue int_(std::int64_t x) { return {x}; }
  static PValue tuple(PList items) {
    PValue v{std::make_shared<PList>(std::move(items))};
    v.is_tuple = true;
    return v;
  }
  void push(PValue v) {
    if (stack_.size() > 1'000'000) fail("the pickle stack grows without bound");
    stack_.push_back(std::move(v));
  }
  PValue pop() {
    if (stack_.empty()) fail("stack underflow");
    PValue v = std::move(stack_.back());
    stack_.pop_back();
    if (std::holds_alternative<Mark>(v.v)) fail("unexpected MARK");
    return v;
  }
  const PValue& top() {
    if (stack_.empty()) fail("stack underflow");
    return stack_.back();
  }
  PList pop_mark() {
    PList items;
    while (true) {
      if (stack_.empty()) fail("no MARK on the stack");
      PValue v = std::move(stack_.back());
      stack_.pop_back();
      if (std::holds_alternative<Mark>(v.v)) break;
      items.push_back(std::move(v));
    }
    return PList(items.rbegin(), items.rend());
  }
  PValue memo(std::uint64_t i) {
    auto it = memo_.find(i);
    if (it == memo_.end()) fail("memo key " + std::to_string(i) + " was never stored");
    return it->second;
  }
  PList& list(const PValue& v) {
    auto* p = std::get_if<std::shared_ptr<PList>>(&v.v);
    if (!p || v.is_tuple) fail("APPEND to something that is not a list");
    return **p;
  }
  PDict& dict(const PValue& v) {
    auto* p = std::get_if<std::shared_ptr<PDict>>(&v.v);
    if (!p) fail("SETITEM on something that is not a dict");
    return **p;
  }
  const PList& tuple_items(const PValue& v, const char* what) {
    auto* p = std::get_if<std::shared_ptr<PList>>(&v.v);
    if (!p) fail(std::string(what) + " is not a tuple");
    return **p;
  }
  std::int64_t integer(const PValue& v, const char* what) {
    auto* p = std::get_if<std::int64_t>(&v.v);
    if (!p) fail(std::string(what) + " is not an integer");
    return *p;
  }
  std::vector<std::int64_t> ints(const PValue& v, const char* what) {
    std::vector<std::int64_t> out;
    for (const auto& x : tuple_items(v, what)) out.push_back(integer(x, what));
    return out;
  }

  PValue persistent_load(const PValue& pid) {
    const PList& t = tuple_items(pid, "a persistent id");
    auto* tag = t.empty() ? nullptr : std::get_if<std::string>(&t[0].v);
    if (t.size() != 5 || !tag || *tag != "storage") fail("a persistent id that is not ('storage', type, key, location, numel)");
    auto* type = std::get_if<Global>(&t[1].v);
    if (!type || type->module != "torch") fail("a storage whose type is not a torch storage class");
    const auto dtype = storage_dtype(type->name);
    if (!dtype) fail("storage type torch." + type->name + " is not supported");
    auto* key = std::get_if<std::string>(&t[2].v);
    if (!key) fail("a storage key that is not a string");
    const std::int64_t numel = integer(t[4], "a storage's element count");
    if (numel < 0) fail("a negative storage size");
    return {std::make_shared<const Storage>(Storage{*dtype, *key, static_cast<std::uint64_t>(numel)})};
  }

  PValue reduce(const PValue& fn, const PValue& args) {
    auto* g = std::get_if<Global>(&fn.v);
    if (!g) fail("REDUCE on something that is not a global");
    const PList& a = tuple_items(args, "REDUCE arguments");
    if (g->module == "collections" && g->name == "OrderedDict") {
      if (!a.empty()) fail("OrderedDict built from arguments");
      return {std::make_shared<PDict>()};
    }
    if (g->module == "torch._utils" && g->name == "_rebuild_tensor_v2") {
      if (a.size() < 4) fail("_rebuild_tensor_v2 with too few arguments");
      auto* s = std::get_if<std::shared_ptr<const Storage>>(&a[0].v);
      if (!s) fail("_rebuild_tensor_v2 without a storage");
      auto t = std::make_shared<Tensor>();
      t->storage = *s;
      t->offset = integer(a[1], "a storage offset");
      t->shape = ints(a[2], "a tensor size");
      t->stride = ints(a[3], "a tensor stride");
      return {std::shared_ptr<const Tensor>(std::move(t))};
    }
    if (g->module == "torch._utils" && g->name == "_rebuild_parameter") {
      if (a.empty() || !std::holds_alternative<std::shared_ptr<const Tensor>>(a[0].v))
        fail("_rebuild_parameter without a tensor");
      return a[0];
    }
    fail("refused to call " + g->module + "." + g->name +
         ": only the tensors of a state_dict are read, and the pickle is never executed");
  }

  std::string where_;
  std::span<const std::uint8_t> b_;
  std::size_t pos_ = 0;
  std::vector<PValue> stack_;
  std::map<std::uint64_t, PValue> memo_;
};

std::string key_text(const PValue& k) {
  if (auto* s = std::get_if<std::string>(&k.v)) return *s;
  if (auto* i = std::get_if<std::int64_t>(&k.v)) return std::to_string(*i);
  return "?";
}

// Collects tensors from a state_dict, or from dicts and lists that hold
// state_dicts (a training checkpoint {"model": ..., "epoch": 3}): nested
// names are joined with '.'; values that are not tensors are skipped.
void collect(const PValue& v, const std::string& prefix, int depth,
             std::vector<std::pair<std::string, std::shared_ptr<const Tensor>>>& out) {
  if (depth > 32) return;
  auto join = [&](const std::string& k) { return prefix.empty() ? k : prefix + "." + k; };
  if (auto* t = std::get_if<std::shared_ptr<const Tensor>>(&v.v)) {
    out.emplace_back(prefix, *t);
  } else if (auto* d = std::get_if<std::shared_ptr<PDict>>(&v.v)) {
    for (const auto& [k, x] : **d) collect(x, join(key_text(k)), depth + 1, out);
  } else if (auto* l = std::get_if<std::shared_ptr<PList>>(&v.v)) {
    for (std::size_t i = 0; i < (*l)->size(); ++i) collect((**l)[i], join(std::to_string(i)), depth + 1, out);
  }
}

}  // namespace

Checkpoint read_torch(const std::string& path) {
  auto file = std::make_shared<MappedFile>(path);
  if (file->size() >= 2 && file->data()[0] == 0x80)
    throw InputError(path, "a legacy (pre-1.6, non-zip) torch.save file: not supported; re-save it with a current PyTorch");
  const auto members = detail::read_zip_directory(*file);
  const detail::ZipMember* pkl = nullptr;
  for (const auto& m : members) {
    const auto slash = m.name.find('/');
    if (slash != std::string::npos && m.name.compare(slash, std::string::npos, "/data.pkl") == 0) {
      if (pkl) throw InputError(path, "more than one data.pkl in the archive");
      pkl = &m;
    }
  }
  if (!pkl) throw InputError(path, "no <archive>/data.pkl: not a torch.save checkpoint");
  const std::string prefix = pkl->name.substr(0, pkl->name.size() - 8);  // keeps the '/'
  std::map<std::string, const detail::ZipMember*> by_name;
  for (const auto& m : members) by_name[m.name] = &m;

  Checkpoint ck;
  ck.add_file(path);
  std::shared_ptr<const void> owner;
  const auto pickle = detail::zip_member_bytes(*file, *pkl, owner);
  if (owner) ck.keep_alive(std::move(owner));
  bool big_endian = false;
  if (auto it = by_name.find(prefix + "byteorder"); it != by_name.end()) {
    std::shared_ptr<const void> o;
    const auto b = detail::zip_member_bytes(*file, *it->second, o);
    const std::string order(reinterpret_cast<const char*>(b.data()), b.size());
    if (order != "little" && order != "big") throw InputError(path, "byteorder is neither little nor big");
    big_endian = order == "big";
  }

  const PValue root = Unpickler(path, pickle).run();
  std::vector<std::pair<std::string, std::shared_ptr<const Tensor>>> tensors;
  collect(root, "", 0, tensors);

  std::map<std::string, std::span<const std::uint8_t>> storages;
  for (const auto& [name, t] : tensors) {
    const Storage& s = *t->storage;
    const std::size_t esize = dtype_size(s.dtype);
    auto found = storages.find(s.key);
    if (found == storages.end()) {
      auto it = by_name.find(prefix + "data/" + s.key);
      if (it == by_name.end()) throw InputError(path, "tensor '" + name + "': storage " + s.key + " is missing");
      std::shared_ptr<const void> o;
      auto bytes = detail::zip_member_bytes(*file, *it->second, o);
      if (o) ck.keep_alive(std::move(o));
      const std::uint64_t need = checked_byte_size(path, name, {static_cast<std::int64_t>(s.numel)}, esize, nullptr);
      if (bytes.size() != need)
        throw InputError(path, "storage " + s.key + " holds " + std::to_string(bytes.size()) + " bytes, expected " +
                                   std::to_string(need) + " (" + std::to_string(s.numel) + " x " +
                                   std::string(dtype_name(s.dtype)) + ")");
      if (big_endian && esize > 1) {
        auto swapped = std::make_shared<std::vector<std::uint8_t>>(bytes.begin(), bytes.end());
        detail::swap_bytes(swapped->data(), esize, s.numel);
        bytes = {swapped->data(), swapped->size()};
        ck.keep_alive(std::move(swapped));
      }
      found = storages.emplace(s.key, bytes).first;
    }
    TensorEntry e;
    e.name = escape_invalid_utf8(name);  // pickled keys are any bytes: reports show them escaped (\xNN)
    e.file = path;
    e.dtype = s.dtype;
    e.shape = t->shape;
    const std::uint64_t nbytes = checked_byte_size(path, name, e.shape, esize, &e.numel);
    e.nbytes = static_cast<std::size_t>(nbytes);
    if (t->stride.size() != t->shape.size())
      throw InputError(path, "tensor '" + name + "': stride and size have different lengths");
    if (t->offset < 0) throw InputError(path, "tensor '" + name + "': negative storage offset");
    // The last element reached must lie inside the storage.
    std::uint64_t last = static_cast<std::uint64_t>(t->offset);
    bool c_contiguous = true;
    std::int64_t expected_stride = 1;
    for (std::size_t k = t->shape.size(); k-- > 0;) {
      if (t->stride[k] < 0) throw InputError(path, "tensor '" + name + "': negative stride");
      if (t->shape[k] > 1 && t->stride[k] != expected_stride) c_contiguous = false;
      expected_stride *= t->shape[k];
      if (t->shape[k] > 0) {
        const auto extent = static_cast<std::uint64_t>(t->shape[k] - 1);
        const auto stride = static_cast<std::uint64_t>(t->stride[k]);
        if (stride != 0 && extent > (UINT64_MAX - last) / stride)
          throw InputError(path, "tensor '" + name + "': its strides overflow");
        last += extent * stride;
      }
    }
    if (e.numel > 0 && last >= s.numel)
      throw InputError(path, "tensor '" + name + "': offset, size and stride reach element " + std::to_string(last) +
                                 " of a storage of " + std::to_string(s.numel));
    const std::uint8_t* base = found->second.data();
    if (c_contiguous) {
      e.data = base + static_cast<std::size_t>(t->offset) * esize;
    } else {
      auto buffer = detail::gather_c_order(base + static_cast<std::size_t>(t->offset) * esize, esize, e.shape,
                                           t->stride, e.numel);
      e.data = buffer->data();
      ck.keep_alive(std::move(buffer));
    }
    ck.add_tensor(std::move(e));
  }
  ck.keep_alive(std::move(file));
  return ck;
}

}  // namespace gradcheck::weights
