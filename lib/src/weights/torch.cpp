// PyTorch checkpoints written by torch.save (zip layout, PyTorch >= 1.6):
// `<prefix>/data.pkl` (a pickle of the object), `<prefix>/data/<key>` (the raw
// storages), `<prefix>/byteorder` ("little" or "big"; absent means little).
//
// The pickle is interpreted, never executed: a small stack machine knows the
// opcodes of pickle protocols 0-5 (out-of-band buffers aside) and calls
// nothing. It understands collections.OrderedDict, the tensor rebuilds
// (torch._utils._rebuild_tensor_v2, _rebuild_parameter[_with_state]) and the
// torch.*Storage types; every other global becomes an inert placeholder that
// records its name and absorbs its arguments and state (REDUCE, NEWOBJ, BUILD,
// SETITEMS, APPENDS) without being called, so the tensors of a whole module, a
// Lightning checkpoint or any container are still found. Every global the
// pickle names is checked against the calls that run code or touch the system
// when torch.load unpickles the file (the safety scan: an unsafe_pickle
// finding, not an error).

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <map>
#include <set>
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
struct Object;

struct PValue {
  std::variant<std::monostate, bool, std::int64_t, double, std::string, std::shared_ptr<PList> /*tuple or list*/,
               std::shared_ptr<PDict>, Global, std::shared_ptr<const Storage>, std::shared_ptr<const Tensor>, Mark,
               std::shared_ptr<Object>>
      v;
  bool is_tuple = false;
};

// What a global the reader does not interpret would have built: its name, the
// arguments it would have been called with, the state BUILD would have set,
// and the items and elements added to it. Never called.
struct Object {
  std::string cls;  // "module.name"
  PList args;
  PList state;
  PDict items;
  PList elements;
};

// Why a global is unsafe to unpickle, or nullptr: the calls that run code or
// touch the system when pickle.load (and so torch.load) meets them, after the
// deny-lists of public pickle scanners. Whole modules, or single names.
const char* unsafe_reason(const std::string& module, const std::string& name) {
  static const std::map<std::string, const char*> modules{
      {"os", "runs commands and touches files"},        {"posix", "runs commands and touches files"},
      {"nt", "runs commands and touches files"},        {"subprocess", "runs commands"},
      {"pty", "runs commands"},                         {"commands", "runs commands"},
      {"popen2", "runs commands"},                      {"runpy", "runs code"},
      {"code", "runs code"},                            {"codeop", "compiles code"},
      {"imp", "imports code"},                          {"importlib", "imports code"},
      {"pickle", "unpickles more data"},                {"_pickle", "unpickles more data"},
      {"marshal", "loads code objects"},                {"types", "builds code and functions"},
      {"ctypes", "calls native code"},                  {"sys", "changes the interpreter"},
      {"shutil", "copies and deletes files"},           {"tempfile", "creates files"},
      {"socket", "opens network connections"},          {"webbrowser", "opens a browser"},
      {"http", "opens network connections"},            {"httplib", "opens network connections"},
      {"urllib", "opens network connections"},          {"urllib2", "opens network connections"},
      {"requests", "opens network connections"},        {"aiohttp", "opens network connections"},
      {"ftplib", "opens network connections"},          {"smtplib", "opens network connections"},
      {"telnetlib", "opens network connections"},       {"asyncio", "runs commands and tasks"},
      {"multiprocessing", "starts processes"},          {"signal", "changes signal handlers"},
      {"pdb", "runs a debugger"},                       {"bdb", "runs a debugger"},
      {"timeit", "runs code"},                          {"trace", "runs code"},
      {"profile", "runs code"},                         {"cProfile", "runs code"},
      {"venv", "creates environments"},                 {"pip", "installs packages"},
      {"ensurepip", "installs packages"},               {"site", "changes the import path"}};
  static const std::map<std::string, const char*> names{
      {"builtins.eval", "evaluates code"},          {"builtins.exec", "runs code"},
      {"builtins.compile", "compiles code"},        {"builtins.__import__", "imports any module"},
      {"builtins.open", "opens files"},             {"builtins.getattr", "reaches any attribute (getattr chains)"},
      {"builtins.setattr", "changes any attribute"}, {"builtins.delattr", "deletes attributes"},
      {"builtins.globals", "reaches the interpreter's globals"}, {"builtins.vars", "reaches objects' dicts"},
      {"builtins.breakpoint", "runs a debugger"},   {"builtins.input", "reads the terminal"},
      {"builtins.apply", "calls any function"},     {"builtins.execfile", "runs a file"},
      {"operator.attrgetter", "reaches any attribute"}, {"operator.methodcaller", "calls any method"},
      {"functools.partial", "calls any function"},  {"functools.reduce", "calls any function"},
      {"numpy.testing._private.utils.runstring", "runs code"},
      {"torch.load", "loads another pickle"},       {"torch.serialization.load", "loads another pickle"},
      {"torch.hub.load", "downloads and runs code"}, {"torch.hub.load_state_dict_from_url", "downloads files"},
      {"torch._inductor.codecache.compile_file", "compiles code"},
      {"pydoc.pipepager", "runs commands"},         {"uuid._get_command_stdout", "runs commands"},
      {"_osx_support._read_output", "runs commands"}, {"distutils.spawn.spawn", "runs commands"}};
  // Protocol 2 spells builtins as Python 2's __builtin__.
  const std::string mod = module == "__builtin__" ? "builtins" : module;
  if (auto it = names.find(mod + "." + name); it != names.end()) return it->second;
  for (std::string m = mod;;) {
    if (auto it = modules.find(m); it != modules.end()) return it->second;
    const auto dot = m.rfind('.');
    if (dot == std::string::npos) break;
    m.resize(dot);
  }
  return nullptr;
}

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
  Unpickler(const Unpickler&) = delete;
  Unpickler& operator=(const Unpickler&) = delete;
  ~Unpickler() {
    for (auto& l : lists_) l->clear();
    for (auto& d : dicts_) d->clear();
    for (auto& o : objects_) *o = Object{};
  }

  // After run(): the unsafe globals the pickle names (with the byte offset of
  // their opcode), and the classes kept as inert placeholders.
  std::vector<PickleFinding> unsafe;
  std::set<std::string> uninterpreted;

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
        case 0x8a: push(long_bytes(static_cast<std::size_t>(uint(1)))); break;  // LONG1
        case 'G': {  // BINFLOAT, big-endian
          std::uint64_t v = 0;
          for (int i = 0; i < 8; ++i) v = (v << 8) | byte();
          double d;
          std::memcpy(&d, &v, 8);
          push({d});
          break;
        }
        case 0x8b: push(long_bytes(static_cast<std::size_t>(uint(4)))); break;  // LONG4
        case 'I': {  // INT (text; I00/I01 are booleans)
          const std::string t = line();
          if (t == "00" || t == "01") push(bool_(t == "01"));
          else push(int_(text_int(t)));
          break;
        }
        case 'L': {  // LONG (text, trailing L)
          std::string t = line();
          if (!t.empty() && t.back() == 'L') t.pop_back();
          push(t.size() > 18 ? PValue{} : int_(text_int(t)));
          break;
        }
        case 'F': {  // FLOAT (text)
          const std::string t = line();
          char* end = nullptr;
          const double d = std::strtod(t.c_str(), &end);
          if (end == t.c_str()) fail("FLOAT that is not a number");
          push({d});
          break;
        }
        case 'S': push({line()}); break;  // STRING (text, quoted)
        case 'V': push({line()}); break;  // UNICODE (text, raw-unicode-escaped)
        case 'X': push(str(static_cast<std::size_t>(uint(4)))); break;   // BINUNICODE
        case 0x8c: push(str(static_cast<std::size_t>(uint(1)))); break;  // SHORT_BINUNICODE
        case 0x8d: push(str(size8())); break;                            // BINUNICODE8
        case 'T': push(str(static_cast<std::size_t>(uint(4)))); break;   // BINSTRING
        case 'U': push(str(static_cast<std::size_t>(uint(1)))); break;   // SHORT_BINSTRING
        case 'B': push(str(static_cast<std::size_t>(uint(4)))); break;   // BINBYTES
        case 'C': push(str(static_cast<std::size_t>(uint(1)))); break;   // SHORT_BINBYTES
        case 0x8e: push(str(size8())); break;                            // BINBYTES8
        case 0x96: push(str(size8())); break;                            // BYTEARRAY8
        case 0x97:
        case 0x98: fail("out-of-band pickle buffers are not used by torch.save; refused");
        case 'c': {  // GLOBAL
          const std::size_t at = pos_ - 1;
          std::string module = line();
          std::string name = line();
          push({global(std::move(module), std::move(name), at)});
          break;
        }
        case 0x93: {  // STACK_GLOBAL
          const std::size_t at = pos_ - 1;
          const PValue name = pop(), module = pop();
          auto* n = std::get_if<std::string>(&name.v);
          auto* m = std::get_if<std::string>(&module.v);
          if (!n || !m) fail("STACK_GLOBAL of something that is not two strings");
          push({global(*m, *n, at)});
          break;
        }
        case 'i': {  // INST: module and name lines, arguments above a MARK
          const std::size_t at = pos_ - 1;
          std::string module = line();
          std::string name = line();
          const Global g = global(std::move(module), std::move(name), at);
          push(call({g}, pop_mark()));
          break;
        }
        case 'o': {  // OBJ: class and arguments above a MARK
          PList xs = pop_mark();
          if (xs.empty()) fail("OBJ without a class");
          const PValue cls = xs.front();
          push(call(cls, PList(xs.begin() + 1, xs.end())));
          break;
        }
        case 0x81: {  // NEWOBJ: cls.__new__(cls, *args)
          const PValue args = pop(), cls = pop();
          push(call(cls, tuple_items(args, "NEWOBJ arguments")));
          break;
        }
        case 0x92: {  // NEWOBJ_EX: cls, args, kwargs
          pop();
          const PValue args = pop(), cls = pop();
          push(call(cls, tuple_items(args, "NEWOBJ_EX arguments")));
          break;
        }
        case 0x82: push(extension(uint(1))); break;  // EXT1
        case 0x83: push(extension(uint(2))); break;  // EXT2
        case 0x84: push(extension(uint(4))); break;  // EXT4
        case 'd': {  // DICT from the items above a MARK
          PList xs = pop_mark();
          if (xs.size() % 2) fail("DICT with an odd number of items");
          auto d = new_dict();
          for (std::size_t i = 0; i < xs.size(); i += 2) d->emplace_back(xs[i], xs[i + 1]);
          push({d});
          break;
        }
        case 0x8f: push({new_list()}); break;  // EMPTY_SET (kept as a list)
        case 0x90: {                                          // ADDITEMS
          auto xs = pop_mark();
          add_elements(top(), xs);
          break;
        }
        case 0x91: { PValue l{new_list(pop_mark())}; push(l); break; }  // FROZENSET
        case '0': pop_any(); break;         // POP
        case '1': pop_mark(); break;        // POP_MARK
        case '2': push(top()); break;       // DUP
        case 0x94: {                        // MEMOIZE
          const std::uint64_t key = memo_.size();
          memo_[key] = top();
          break;
        }
        case 0x95: uint(8); break;          // FRAME: a length hint
        case 'g': push(memo(static_cast<std::uint64_t>(text_int(line())))); break;  // GET (text)
        case 'p': memo_[static_cast<std::uint64_t>(text_int(line()))] = top(); break;  // PUT (text)
        case 'P': fail("a text persistent id: torch.save writes binary ones; refused");
        case '(': push({Mark{}}); break;
        case ')': push(tuple({})); break;
        case 't': push(tuple(pop_mark())); break;
        case 0x85: { auto a = pop(); push(tuple({a})); break; }
        case 0x86: { auto b2 = pop(), a = pop(); push(tuple({a, b2})); break; }
        case 0x87: { auto c = pop(), b2 = pop(), a = pop(); push(tuple({a, b2, c})); break; }
        case ']': push({new_list()}); break;
        case 'l': { PValue l{new_list(pop_mark())}; push(l); break; }
        case 'a': { auto x = pop(); add_elements(top(), {x}); break; }
        case 'e': { auto xs = pop_mark(); add_elements(top(), xs); break; }
        case '}': push({new_dict()}); break;
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
        case 'R': { auto args = pop(), fn = pop(); push(call(fn, tuple_items(args, "REDUCE arguments"))); break; }
        case 'b': {  // BUILD: a placeholder keeps the state; a state_dict's `_metadata` carries no tensors
          PValue state = pop();
          if (auto* o = std::get_if<std::shared_ptr<Object>>(&top().v)) (*o)->state.push_back(std::move(state));
          break;
        }
        default: {
          char hex[8];
          std::snprintf(hex, sizeof hex, "0x%02x", op);
          fail(std::string("pickle opcode ") + hex + " is not one of pickle protocols 0-5; refused");
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
  // Every container the pickle builds, so that the destructor can empty them:
  // a pickle can make cycles (a list appended to itself, a memo'd dict set
  // into itself), which shared ownership alone would never free.
  std::shared_ptr<PList> new_list(PList items = {}) {
    auto l = std::make_shared<PList>(std::move(items));
    lists_.push_back(l);
    return l;
  }
  std::shared_ptr<PDict> new_dict() {
    auto d = std::make_shared<PDict>();
    dicts_.push_back(d);
    return d;
  }
  PValue tuple(PList items) {
    PValue v{new_list(std::move(items))};
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
  // APPEND(S) and ADDITEMS: to a list or set, or absorbed by a placeholder.
  void add_elements(const PValue& target, const PList& xs) {
    if (auto* o = std::get_if<std::shared_ptr<Object>>(&target.v)) {
      (*o)->elements.insert((*o)->elements.end(), xs.begin(), xs.end());
      return;
    }
    auto* p = std::get_if<std::shared_ptr<PList>>(&target.v);
    if (!p || target.is_tuple) fail("APPEND to something that is not a list");
    (*p)->insert((*p)->end(), xs.begin(), xs.end());
  }
  // SETITEM(S): to a dict, or absorbed by a placeholder.
  PDict& dict(const PValue& v) {
    if (auto* o = std::get_if<std::shared_ptr<Object>>(&v.v)) return (*o)->items;
    auto* p = std::get_if<std::shared_ptr<PDict>>(&v.v);
    if (!p) fail("SETITEM on something that is not a dict");
    return **p;
  }
  PValue pop_any() {
    if (stack_.empty()) fail("stack underflow");
    PValue v = std::move(stack_.back());
    stack_.pop_back();
    return v;
  }
  std::size_t size8() {
    const std::uint64_t n = uint(8);
    if (n > b_.size()) fail("a length runs past the end of the pickle");
    return static_cast<std::size_t>(n);
  }
  // LONG1/LONG4: little-endian two's complement of n bytes; wider than 64 bits
  // (a random generator's state) is kept as None, since no tensor needs it.
  PValue long_bytes(std::size_t n) {
    if (n > b_.size() - pos_) fail("an integer runs past the end of the pickle");
    if (n > 8) {
      pos_ += n;
      return {};
    }
    std::uint64_t v = 0;
    for (std::size_t i = 0; i < n; ++i) v |= std::uint64_t(byte()) << (8 * i);
    if (n > 0 && n < 8 && (v >> (8 * n - 1)) & 1) v |= ~std::uint64_t(0) << (8 * n);
    return int_(static_cast<std::int64_t>(v));
  }
  std::int64_t text_int(const std::string& t) {
    errno = 0;
    char* end = nullptr;
    const long long v = std::strtoll(t.c_str(), &end, 10);
    if (t.empty() || end != t.c_str() + t.size() || errno == ERANGE) fail("a text integer that is not one");
    return v;
  }
  // A named global: checked against the unsafe calls, never resolved.
  Global global(std::string module, std::string name, std::size_t at) {
    if (module.size() > 1000 || name.size() > 1000) fail("a global name longer than 1000 bytes");
    if (const char* why = unsafe_reason(module, name)) {
      const std::string shown = (module == "__builtin__" ? std::string("builtins") : module) + "." + name;
      unsafe.push_back({where_, escape_invalid_utf8(shown), static_cast<std::uint64_t>(at), why});
    }
    return {std::move(module), std::move(name)};
  }
  PValue extension(std::uint64_t code) {
    return {Global{"<extension>", std::to_string(code)}};
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

  // REDUCE, NEWOBJ, OBJ, INST: what the tensors need is interpreted; any
  // other callable becomes a placeholder that records the call.
  PValue call(const PValue& fn, const PList& a) {
    auto* g = std::get_if<Global>(&fn.v);
    if (!g) {
      // Calling a placeholder (a getattr chain's result, a bound method): inert too.
      std::string what = "a call";
      if (auto* o = std::get_if<std::shared_ptr<Object>>(&fn.v)) what = (*o)->cls + "(...)";
      return placeholder(what, a);
    }
    if (g->module == "collections" && g->name == "OrderedDict") {
      auto d = new_dict();
      // OrderedDict(pairs): keep the pairs.
      if (!a.empty())
        if (auto* l = std::get_if<std::shared_ptr<PList>>(&a[0].v))
          for (const auto& kv : **l)
            if (auto* p = std::get_if<std::shared_ptr<PList>>(&kv.v); p && (*p)->size() == 2)
              d->emplace_back((**p)[0], (**p)[1]);
      return {d};
    }
    if ((g->module == "builtins" || g->module == "__builtin__") &&
        (g->name == "set" || g->name == "frozenset" || g->name == "list" || g->name == "tuple")) {
      // set(list): a container of its argument's elements.
      auto l = new_list();
      if (!a.empty())
        if (auto* p = std::get_if<std::shared_ptr<PList>>(&a[0].v)) *l = **p;
      return {l};
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
    if (g->module == "torch._utils" && (g->name == "_rebuild_parameter" || g->name == "_rebuild_parameter_with_state")) {
      if (a.empty() || !std::holds_alternative<std::shared_ptr<const Tensor>>(a[0].v))
        fail(g->name + " without a tensor");
      return a[0];
    }
    return placeholder(g->module + "." + g->name, a);
  }
  PValue placeholder(std::string cls, const PList& args) {
    if (cls.rfind("__builtin__.", 0) == 0) cls = "builtins." + cls.substr(12);
    cls = escape_invalid_utf8(cls);
    // An unsafe global is reported as such, not among the harmless placeholders.
    const bool unsafe_call = std::any_of(unsafe.begin(), unsafe.end(), [&](const auto& f) { return f.global == cls; });
    if (!unsafe_call) uninterpreted.insert(cls);
    auto o = std::make_shared<Object>();
    objects_.push_back(o);
    o->cls = std::move(cls);
    o->args = args;
    return {o};
  }

  std::vector<std::shared_ptr<PList>> lists_;
  std::vector<std::shared_ptr<PDict>> dicts_;
  std::vector<std::shared_ptr<Object>> objects_;
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
struct Found {
  std::vector<std::pair<std::string, std::shared_ptr<const Tensor>>> tensors;
  std::vector<std::pair<std::string, double>> scalars;
  // Containers already walked: each is walked once, under its first name, so
  // that shared or cyclic references (a list holding itself twice) stay linear.
  std::set<const void*> seen;
};

void collect(const PValue& v, const std::string& prefix, int depth, Found& out) {
  if (depth > 32) return;
  auto join = [&](const std::string& k) { return prefix.empty() ? k : prefix + "." + k; };
  if (auto* t = std::get_if<std::shared_ptr<const Tensor>>(&v.v)) {
    out.tensors.emplace_back(prefix, *t);
  } else if (auto* i = std::get_if<std::int64_t>(&v.v)) {
    if (out.scalars.size() < 100'000) out.scalars.emplace_back(prefix, static_cast<double>(*i));
  } else if (auto* d = std::get_if<double>(&v.v)) {
    if (out.scalars.size() < 100'000) out.scalars.emplace_back(prefix, *d);
  } else if (auto* b = std::get_if<bool>(&v.v)) {
    if (out.scalars.size() < 100'000) out.scalars.emplace_back(prefix, *b ? 1.0 : 0.0);
  } else if (auto* d = std::get_if<std::shared_ptr<PDict>>(&v.v)) {
    if (!out.seen.insert(d->get()).second) return;
    for (const auto& [k, x] : **d) collect(x, join(key_text(k)), depth + 1, out);
  } else if (auto* l = std::get_if<std::shared_ptr<PList>>(&v.v)) {
    if (!out.seen.insert(l->get()).second) return;
    for (std::size_t i = 0; i < (*l)->size(); ++i) collect((**l)[i], join(std::to_string(i)), depth + 1, out);
  } else if (auto* o = std::get_if<std::shared_ptr<Object>>(&v.v)) {
    if (!out.seen.insert(o->get()).second) return;
    // A placeholder: its state (an nn.Module's `_parameters`, `_buffers` and
    // `_modules` add no name, so a whole module's tensors are named as its
    // state_dict names them), its items, elements and arguments.
    for (const auto& st : (*o)->state) {
      if (auto* d = std::get_if<std::shared_ptr<PDict>>(&st.v)) {
        for (const auto& [k, x] : **d) {
          const std::string key = key_text(k);
          const bool transparent = key == "_parameters" || key == "_buffers" || key == "_modules";
          collect(x, transparent ? prefix : join(key), depth + 1, out);
        }
      } else {
        collect(st, prefix, depth + 1, out);
      }
    }
    for (const auto& [k, x] : (*o)->items) collect(x, join(key_text(k)), depth + 1, out);
    for (std::size_t i = 0; i < (*o)->elements.size(); ++i)
      collect((*o)->elements[i], join(std::to_string(i)), depth + 1, out);
    for (std::size_t i = 0; i < (*o)->args.size(); ++i) collect((*o)->args[i], join(std::to_string(i)), depth + 1, out);
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

  Unpickler unpickler(path, pickle);
  const PValue root = unpickler.run();
  for (auto& f : unpickler.unsafe) ck.add_unsafe(std::move(f));
  if (!unpickler.uninterpreted.empty())
    ck.add_uninterpreted(path, {unpickler.uninterpreted.begin(), unpickler.uninterpreted.end()});
  Found found;
  collect(root, "", 0, found);
  for (auto& [name, value] : found.scalars) ck.add_scalar(escape_invalid_utf8(name), value);
  const auto& tensors = found.tensors;

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
