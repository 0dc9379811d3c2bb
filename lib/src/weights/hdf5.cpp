// Keras HDF5 reader, through the HDF5 C library (Debian's libhdf5-dev), which
// is opened with dlopen when the first HDF5 file is read (below).
//
// Layouts (Keras's own saving code):
//  - Keras 2 `model.save_weights("x.h5")` (keras/src/saving/legacy/hdf5_format.py):
//    the root's attribute `layer_names` lists the layers; each layer's group
//    has `weight_names` ("dense/kernel:0"), each the path of a dataset inside
//    that group.
//  - Keras 2 `model.save("x.h5")`: the same under the group `model_weights`,
//    and the optimizer's variables under `optimizer_weights` (its own
//    `weight_names`).
//  - Keras 3 `.weights.h5` (keras/src/saving/saving_lib.py): groups by object
//    path (`layers/dense/vars`) holding datasets named 0, 1, ...; a `.keras`
//    file is a zip holding it as `model.weights.h5` (read from memory).
//  - Any other HDF5 file: every numeric dataset, named by its path.
// Contiguous, unfiltered datasets of a plain file are used in place in the
// memory-mapped file; the others are read through H5Dread into buffers.

#include <dlfcn.h>
#include <hdf5.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <map>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cstring>
#include <memory>
#include <type_traits>
#include <string>
#include <vector>

#include "gradcheck/errors.hpp"
#include "gradcheck/mapped_file.hpp"
#include "gradcheck/utf8.hpp"
#include "gradcheck/weights/checkpoint.hpp"
#include "layout.hpp"
#include "zip.hpp"

namespace gradcheck::weights {

namespace {

// --- libhdf5, opened when an HDF5 file is read ------------------------------
// libhdf5 and the libraries it needs (about 35 on Debian: curl, krb5, ldap,
// gnutls, ...) take about 30 ms to load and relocate. Linked, they would be
// paid by every program that links gradcheck, at every start (`--help`
// included), HDF5 file or not. So libhdf5 is opened with dlopen the first time
// an HDF5 file is read (by the SONAME the build found, then by the path it
// found it at), and its functions are called through this table. Types,
// constants and signatures still come from hdf5.h: decltype(&f) does not refer
// to f itself, and a name the header maps to a versioned one (H5Lvisit)
// expands alike in the member and in the symbol looked up.
#define GRADCHECK_HDF5_FUNCTIONS(X) \
  X(H5Aclose) X(H5Aexists) X(H5Aget_space) X(H5Aget_type) \
  X(H5Aopen) X(H5Aread) X(H5Dclose) X(H5Dget_create_plist) \
  X(H5Dget_offset) X(H5Dget_space) X(H5Dget_storage_size) X(H5Dget_type) \
  X(H5Dopen2) X(H5Dread) X(H5Eset_auto2) X(H5Fclose) \
  X(H5Fget_create_plist) X(H5Fopen) X(H5Gclose) X(H5Gopen2) \
  X(H5Iget_type) X(H5Lexists) X(H5Lvisit) X(H5Oclose) \
  X(H5Oopen) X(H5Pclose) X(H5Pcreate) X(H5Pget_layout) \
  X(H5Pget_nfilters) X(H5Pget_userblock) X(H5Pset_fapl_core) X(H5Pset_file_image) \
  X(H5Sclose) X(H5Sget_simple_extent_dims) X(H5Sget_simple_extent_ndims) X(H5Sget_simple_extent_npoints) \
  X(H5Sget_simple_extent_type) X(H5Tclose) X(H5Tcopy) X(H5Tget_class) \
  X(H5Tget_ebias) X(H5Tget_fields) X(H5Tget_nmembers) X(H5Tget_norm) \
  X(H5Tget_offset) X(H5Tget_order) X(H5Tget_precision) X(H5Tget_sign) \
  X(H5Tget_size) X(H5Tis_variable_str) X(H5Tset_size) X(H5free_memory) \
  X(H5open)

struct Hdf5Library {
#define GRADCHECK_HDF5_MEMBER(f) decltype(&::f) f = nullptr;
  GRADCHECK_HDF5_FUNCTIONS(GRADCHECK_HDF5_MEMBER)
#undef GRADCHECK_HDF5_MEMBER
  const hid_t* file_access_class = nullptr;  // H5P_FILE_ACCESS, once H5open ran
  const hid_t* c_s1 = nullptr;               // H5T_C_S1, once H5open ran
};

// Filled once, in the process that reads (before it forks its reading child).
Hdf5Library h5;

// H5F_ACC_RDONLY's value: the macro also calls H5check() and H5open() by name.
constexpr unsigned kReadOnly = 0x0000u;

#define GRADCHECK_HDF5_NAME_(f) #f
#define GRADCHECK_HDF5_NAME(f) GRADCHECK_HDF5_NAME_(f)

// Opens libhdf5 and finds every function the reader calls; a refusal naming
// `path` when it cannot (not installed, or another ABI than the build's).
void open_hdf5_library(const std::string& path) {
  static const std::string error = []() -> std::string {
    // GRADCHECK_HDF5_LIBRARY names another build of the same HDF5 version.
    const char* chosen = std::getenv("GRADCHECK_HDF5_LIBRARY");
    const bool env = chosen != nullptr && *chosen != '\0';
    void* lib = ::dlopen(env ? chosen : GRADCHECK_HDF5_SONAME, RTLD_NOW | RTLD_LOCAL);
    if (lib == nullptr) {
      const char* why = ::dlerror();
      const std::string first = why != nullptr ? why : "not found";
      if (!env) lib = ::dlopen(GRADCHECK_HDF5_PATH, RTLD_NOW | RTLD_LOCAL);
      if (lib == nullptr)
        return std::string("reading HDF5 needs the HDF5 library (") +
               (env ? "GRADCHECK_HDF5_LIBRARY" : GRADCHECK_HDF5_SONAME ", Debian's libhdf5-103-1") +
               "), which cannot be loaded: " + escape_invalid_utf8(first);
    }
    Hdf5Library found;
    std::string missing;
    auto find = [&](const char* name, auto& slot) {
      void* sym = ::dlsym(lib, name);
      if (sym == nullptr && missing.empty()) missing = name;
      slot = reinterpret_cast<std::remove_reference_t<decltype(slot)>>(sym);
    };
#define GRADCHECK_HDF5_FIND(f) find(GRADCHECK_HDF5_NAME(f), found.f);
    GRADCHECK_HDF5_FUNCTIONS(GRADCHECK_HDF5_FIND)
#undef GRADCHECK_HDF5_FIND
    find("H5P_CLS_FILE_ACCESS_ID_g", found.file_access_class);
    find("H5T_C_S1_g", found.c_s1);
    if (!missing.empty())
      return std::string("the HDF5 library loaded as ") + (env ? escape_invalid_utf8(chosen) : GRADCHECK_HDF5_SONAME) + " has no " + missing +
             ": it is not the HDF5 version gradcheck was built with (" H5_VERS_INFO ")";
    h5 = found;
    return "";
  }();
  if (!error.empty()) throw InputError(path, error);
}

#undef GRADCHECK_HDF5_NAME
#undef GRADCHECK_HDF5_NAME_
#undef GRADCHECK_HDF5_FUNCTIONS

// An HDF5 identifier closed when it goes out of scope.
class Id {
 public:
  Id() = default;
  explicit Id(hid_t id, herr_t (*close)(hid_t)) : id_(id), close_(close) {}
  Id(const Id&) = delete;
  Id& operator=(const Id&) = delete;
  Id(Id&& o) noexcept : id_(o.id_), close_(o.close_) { o.id_ = H5I_INVALID_HID; }
  Id& operator=(Id&& o) noexcept {
    if (this != &o) {
      reset();
      id_ = o.id_;
      close_ = o.close_;
      o.id_ = H5I_INVALID_HID;
    }
    return *this;
  }
  ~Id() { reset(); }
  hid_t get() const { return id_; }
  bool ok() const { return id_ >= 0; }

 private:
  void reset() {
    if (id_ >= 0 && close_ != nullptr) close_(id_);
    id_ = H5I_INVALID_HID;
  }
  hid_t id_ = H5I_INVALID_HID;
  herr_t (*close_)(hid_t) = nullptr;
};

// A dense dataset read into memory may not be larger than this many times the
// file plus 1 MiB: a shape, or a chunked dataset with no stored chunks, must
// not decide an allocation on its own (compressed weights shrink by far less).
constexpr std::uint64_t kMaxExpansion = 16;

class H5Reader {
 public:
  H5Reader(std::string path, std::uint64_t file_size, std::shared_ptr<MappedFile> mapping)
      : path_(std::move(path)), file_size_(file_size), mapping_(std::move(mapping)) {}

  Checkpoint read(hid_t file) {
    ck_.add_file(path_);
    if (has_attribute(file, "layer_names")) {
      keras2(file, "");
    } else if (group_exists(file, "model_weights") && has_attribute(group(file, "model_weights").get(), "layer_names")) {
      const Id weights = group(file, "model_weights");
      keras2(weights.get(), "");
      if (group_exists(file, "optimizer_weights")) {
        const Id opt = group(file, "optimizer_weights");
        if (has_attribute(opt.get(), "weight_names"))
          for (const auto& w : strings(opt.get(), "weight_names")) dataset(opt.get(), w, "optimizer_weights/" + shown(w));
      }
    } else {
      every_dataset(file);
    }
    if (mapping_) ck_.keep_alive(mapping_);
    return std::move(ck_);
  }

 private:
  [[noreturn]] void fail(const std::string& what) const { throw InputError(path_, what); }

  static std::string shown(const std::string& weight_name) {
    // Keras 2 names variables "dense/kernel:0"; Keras shows "dense/kernel".
    std::string s = weight_name;
    const auto colon = s.rfind(':');
    if (colon != std::string::npos && colon + 1 < s.size() &&
        std::all_of(s.begin() + static_cast<std::ptrdiff_t>(colon) + 1, s.end(), [](char c) { return c >= '0' && c <= '9'; }))
      s.resize(colon);
    return escape_invalid_utf8(s);
  }

  bool has_attribute(hid_t obj, const char* name) const { return h5.H5Aexists(obj, name) > 0; }

  bool group_exists(hid_t loc, const std::string& name) const {
    if (h5.H5Lexists(loc, name.c_str(), H5P_DEFAULT) <= 0) return false;
    Id obj(h5.H5Oopen(loc, name.c_str(), H5P_DEFAULT), h5.H5Oclose);
    return obj.ok() && h5.H5Iget_type(obj.get()) == H5I_GROUP;
  }

  Id group(hid_t loc, const std::string& name) const {
    Id g(h5.H5Gopen2(loc, name.c_str(), H5P_DEFAULT), h5.H5Gclose);
    if (!g.ok()) fail("cannot open the group '" + escape_invalid_utf8(name) + "'");
    return g;
  }

  // An attribute holding an array of strings (fixed-length, as Keras writes
  // them with NumPy bytes, or variable-length).
  std::vector<std::string> strings(hid_t obj, const char* name) const {
    Id attr(h5.H5Aopen(obj, name, H5P_DEFAULT), h5.H5Aclose);
    if (!attr.ok()) fail(std::string("cannot open the attribute '") + name + "'");
    Id type(h5.H5Aget_type(attr.get()), h5.H5Tclose);
    Id space(h5.H5Aget_space(attr.get()), h5.H5Sclose);
    if (!type.ok() || !space.ok() || h5.H5Tget_class(type.get()) != H5T_STRING)
      fail(std::string("the attribute '") + name + "' is not an array of strings");
    const hssize_t n = h5.H5Sget_simple_extent_npoints(space.get());
    if (n < 0 || static_cast<std::uint64_t>(n) > file_size_)
      fail(std::string("the attribute '") + name + "' has an impossible size");
    std::vector<std::string> out;
    if (h5.H5Tis_variable_str(type.get()) > 0) {
      std::vector<char*> ptrs(static_cast<std::size_t>(n), nullptr);
      Id mem(h5.H5Tcopy(*h5.c_s1), h5.H5Tclose);
      h5.H5Tset_size(mem.get(), H5T_VARIABLE);
      const bool read = n == 0 || h5.H5Aread(attr.get(), mem.get(), ptrs.data()) >= 0;
      if (read)
        for (char* p : ptrs) out.emplace_back(p != nullptr ? p : "");
      // The strings HDF5 allocated, also those of a read that failed halfway.
      for (char* p : ptrs)
        if (p != nullptr) h5.H5free_memory(p);
      if (!read) fail(std::string("cannot read the attribute '") + name + "'");
    } else {
      const std::size_t size = h5.H5Tget_size(type.get());
      if (size == 0 || size > file_size_ || static_cast<std::uint64_t>(n) * size > 16 * file_size_ + (1 << 20))
        fail(std::string("the attribute '") + name + "' has an impossible size");
      std::vector<char> buf(static_cast<std::size_t>(n) * size);
      if (n > 0 && h5.H5Aread(attr.get(), type.get(), buf.data()) < 0) fail(std::string("cannot read the attribute '") + name + "'");
      for (hssize_t i = 0; i < n; ++i) {
        const char* p = buf.data() + static_cast<std::size_t>(i) * size;
        out.emplace_back(p, strnlen(p, size));
      }
    }
    return out;
  }

  void keras2(hid_t root, const std::string& prefix) {
    for (const auto& layer : strings(root, "layer_names")) {
      if (!group_exists(root, layer)) fail("layer '" + escape_invalid_utf8(layer) + "' is listed in layer_names but has no group");
      const Id g = group(root, layer);
      if (!has_attribute(g.get(), "weight_names")) continue;
      for (const auto& w : strings(g.get(), "weight_names")) dataset(g.get(), w, prefix + shown(w));
    }
  }

  static herr_t visit(hid_t loc, const char* name, const H5L_info_t* info, void* self) {
    auto* r = static_cast<H5Reader*>(self);
    if (info->type != H5L_TYPE_HARD) return 0;  // soft and external links: not followed
    Id obj(h5.H5Oopen(loc, name, H5P_DEFAULT), h5.H5Oclose);
    if (obj.ok() && h5.H5Iget_type(obj.get()) == H5I_DATASET) r->datasets_.emplace_back(name);
    return 0;
  }

  void every_dataset(hid_t file) {
    if (h5.H5Lvisit(file, H5_INDEX_NAME, H5_ITER_INC, &H5Reader::visit, this) < 0)
      fail("cannot walk the file's groups: a damaged HDF5 structure");
    for (const auto& d : datasets_) dataset(file, d, escape_invalid_utf8(d), /*skip_other_types=*/true);
  }

  // Only the standard layouts: IEEE binary16/32/64 and full-width integers,
  // either byte order. They are read as they are stored (memory type = file
  // type, so HDF5 converts nothing) and byte-swapped here: libhdf5's float
  // conversion writes out of bounds on float types with impossible fields
  // (found by fuzzing; tests/fuzz/regressions/keras_h5).
  bool to_dtype(hid_t type, DType* out, bool* big_endian) const {
    const H5T_class_t cls = h5.H5Tget_class(type);
    const std::size_t size = h5.H5Tget_size(type);
    const H5T_order_t order = h5.H5Tget_order(type);
    *big_endian = order == H5T_ORDER_BE;
    if (cls == H5T_FLOAT || cls == H5T_INTEGER) {
      if (order != H5T_ORDER_LE && order != H5T_ORDER_BE) return false;
      if (h5.H5Tget_precision(type) != size * 8 || h5.H5Tget_offset(type) != 0) return false;
    }
    if (cls == H5T_FLOAT) {
      std::size_t spos = 0, epos = 0, esize = 0, mpos = 0, msize = 0;
      if (h5.H5Tget_fields(type, &spos, &epos, &esize, &mpos, &msize) < 0) return false;
      const std::size_t ebias = h5.H5Tget_ebias(type);
      const bool implied = h5.H5Tget_norm(type) == H5T_NORM_IMPLIED;
      auto ieee = [&](std::size_t s, std::size_t e, std::size_t es, std::size_t ms, std::size_t bias) {
        return implied && spos == s && epos == e && esize == es && mpos == 0 && msize == ms && ebias == bias;
      };
      if (size == 2 && ieee(15, 10, 5, 10, 15)) *out = DType::F16;
      else if (size == 4 && ieee(31, 23, 8, 23, 127)) *out = DType::F32;
      else if (size == 8 && ieee(63, 52, 11, 52, 1023)) *out = DType::F64;
      else return false;
      return true;
    }
    if (cls == H5T_INTEGER) {
      const bool is_signed = h5.H5Tget_sign(type) == H5T_SGN_2;
      switch (size) {
        case 1: *out = is_signed ? DType::I8 : DType::U8; return true;
        case 2: *out = is_signed ? DType::I16 : DType::U16; return true;
        case 4: *out = is_signed ? DType::I32 : DType::U32; return true;
        case 8: *out = is_signed ? DType::I64 : DType::U64; return true;
        default: return false;
      }
    }
    if (cls == H5T_ENUM && size == 1 && h5.H5Tget_nmembers(type) == 2) {  // h5py's bool
      *out = DType::BOOL;
      *big_endian = false;
      return true;
    }
    return false;
  }

  void dataset(hid_t loc, const std::string& where, const std::string& name, bool skip_other_types = false) {
    const std::string shown_where = escape_invalid_utf8(where);
    if (h5.H5Lexists(loc, where.c_str(), H5P_DEFAULT) <= 0)
      fail("the weight '" + shown_where + "' named in weight_names is not in the file");
    Id d(h5.H5Dopen2(loc, where.c_str(), H5P_DEFAULT), h5.H5Dclose);
    if (!d.ok()) fail("cannot open the dataset '" + shown_where + "'");
    Id type(h5.H5Dget_type(d.get()), h5.H5Tclose);
    Id space(h5.H5Dget_space(d.get()), h5.H5Sclose);
    if (!type.ok() || !space.ok()) fail("the dataset '" + shown_where + "' has no readable type or shape");
    TensorEntry e;
    e.name = name;
    e.file = path_;
    bool big_endian = false;
    if (!to_dtype(type.get(), &e.dtype, &big_endian)) {
      if (skip_other_types) return;  // strings, compounds, references: not weights
      fail("the weight '" + shown_where + "' is not a numeric dataset of a standard type (IEEE float, integer, bool)");
    }
    const H5S_class_t sclass = h5.H5Sget_simple_extent_type(space.get());
    if (sclass == H5S_NULL) return;
    const int rank = h5.H5Sget_simple_extent_ndims(space.get());
    if (rank < 0 || rank > H5S_MAX_RANK) fail("the dataset '" + shown_where + "' has an invalid shape");
    std::vector<hsize_t> dims(static_cast<std::size_t>(rank));
    if (rank > 0 && h5.H5Sget_simple_extent_dims(space.get(), dims.data(), nullptr) < 0)
      fail("the dataset '" + shown_where + "' has an invalid shape");
    for (hsize_t x : dims) {
      if (x > static_cast<hsize_t>(INT64_MAX)) fail("the dataset '" + shown_where + "' has an extent beyond 2^63");
      e.shape.push_back(static_cast<std::int64_t>(x));
    }
    const std::uint64_t bytes = checked_byte_size(path_, name, e.shape, dtype_size(e.dtype), &e.numel);
    e.nbytes = static_cast<std::size_t>(bytes);
    if (bytes == 0) {
      ck_.add_tensor(std::move(e));
      return;
    }
    // In place: a contiguous, unfiltered, little-endian dataset of a plain file.
    if (mapping_ && !big_endian) {
      Id dcpl(h5.H5Dget_create_plist(d.get()), h5.H5Pclose);
      const haddr_t offset = h5.H5Dget_offset(d.get());
      if (dcpl.ok() && h5.H5Pget_layout(dcpl.get()) == H5D_CONTIGUOUS && h5.H5Pget_nfilters(dcpl.get()) == 0 &&
          offset != HADDR_UNDEF && h5.H5Dget_storage_size(d.get()) == bytes && offset <= mapping_->size() &&
          bytes <= mapping_->size() - offset) {
        e.data = mapping_->data() + offset;
        ck_.add_tensor(std::move(e));
        return;
      }
    }
    if (bytes > kMaxExpansion * file_size_ + (1u << 20))
      fail("the dataset '" + shown_where + "' declares " + std::to_string(bytes) + " bytes, far more than the file (" +
           std::to_string(file_size_) + " bytes) can hold");
    auto buf = std::make_shared<std::vector<std::uint8_t>>(static_cast<std::size_t>(bytes));
    if (h5.H5Dread(d.get(), type.get(), H5S_ALL, H5S_ALL, H5P_DEFAULT, buf->data()) < 0)
      fail("cannot read the dataset '" + shown_where + "': its data is damaged or truncated");
    if (big_endian) detail::swap_bytes(buf->data(), dtype_size(e.dtype), e.numel);
    e.data = buf->data();
    ck_.keep_alive(std::move(buf));
    ck_.add_tensor(std::move(e));
  }

  std::string path_;
  std::uint64_t file_size_;
  std::shared_ptr<MappedFile> mapping_;
  Checkpoint ck_;
  std::vector<std::string> datasets_;
};

// HDF5's error stack would print to stderr on every failed call: turned off
// once (the reader turns failures into InputError itself).
void quiet_hdf5() {
  static const bool once = [] {
    h5.H5open();
    h5.H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);
    return true;
  }();
  (void)once;
}

constexpr unsigned char kSignature[8] = {0x89, 'H', 'D', 'F', '\r', '\n', 0x1a, '\n'};

bool has_signature(const std::uint8_t* data, std::size_t size) {
  // The superblock sits at 0, 512, 1024, 2048... (after a user block).
  for (std::size_t at = 0; at + 8 <= size; at = at == 0 ? 512 : at * 2)
    if (std::memcmp(data + at, kSignature, 8) == 0) return true;
  return false;
}

Checkpoint read_image(const std::string& path, const std::uint8_t* data, std::size_t size) {
  quiet_hdf5();
  if (!has_signature(data, size)) throw InputError(path, "not an HDF5 file (no HDF5 signature)");
  Id fapl(h5.H5Pcreate(*h5.file_access_class), h5.H5Pclose);
  if (!fapl.ok() || h5.H5Pset_fapl_core(fapl.get(), 1 << 16, 0) < 0 ||
      h5.H5Pset_file_image(fapl.get(), const_cast<std::uint8_t*>(data), size) < 0)
    throw InputError(path, "cannot open the HDF5 image in memory");
  // The core driver refuses a name that exists on disk (it would be the
  // backing file): the image gets a name of its own.
  const std::string name = "gradcheck-memory-image:" + path + ":model.weights.h5";
  Id file(h5.H5Fopen(name.c_str(), kReadOnly, fapl.get()), h5.H5Fclose);
  if (!file.ok()) throw InputError(path, "model.weights.h5 is not a readable HDF5 file: its superblock or root group is damaged");
  H5Reader reader(path, size, nullptr);
  return reader.read(file.get());
}

// In the child: `mapping` is the parent's (inherited by fork), so datasets used
// in place are found at the same offsets there.
Checkpoint read_h5_here(const std::string& path, std::shared_ptr<MappedFile> mapping) {
  quiet_hdf5();
  if (!has_signature(mapping->data(), mapping->size())) throw InputError(path, "not an HDF5 file (no HDF5 signature)");
  Id fapl(h5.H5Pcreate(*h5.file_access_class), h5.H5Pclose);
  Id file(h5.H5Fopen(path.c_str(), kReadOnly, fapl.get()), h5.H5Fclose);
  if (!file.ok()) throw InputError(path, "not a readable HDF5 file: its superblock or root group is damaged");
  // Dataset offsets are relative to the superblock, which a user block moves:
  // then every dataset is read through HDF5.
  Id fcpl(h5.H5Fget_create_plist(file.get()), h5.H5Pclose);
  hsize_t userblock = 0;
  const std::uint64_t size = mapping->size();
  if (!fcpl.ok() || h5.H5Pget_userblock(fcpl.get(), &userblock) < 0 || userblock != 0) mapping.reset();
  H5Reader reader(path, size, mapping);
  return reader.read(file.get());
}

Checkpoint read_archive_here(const std::string& path) {
  auto zip = std::make_shared<MappedFile>(path);
  for (const auto& m : detail::read_zip_directory(*zip)) {
    if (m.name != "model.weights.h5") continue;
    std::shared_ptr<const void> owner;
    const auto bytes = detail::zip_member_bytes(*zip, m, owner);
    Checkpoint ck = read_image(path, bytes.data(), bytes.size());
    ck.keep_alive(owner);
    ck.keep_alive(zip);
    return ck;
  }
  throw InputError(path, "a .keras archive without model.weights.h5");
}

// --- Isolation -------------------------------------------------------------
// libhdf5 is not hardened against malformed files: fuzzing found a
// use-after-free in h5.H5Aexists and out-of-bounds writes in its conversions on
// crafted headers (tests/fuzz/regressions/keras_h5). So the file is parsed in
// a forked child, which sends the tensors back through a pipe: each tensor's
// name, type and shape, and its bytes, or for a dataset used in place its
// offset in the file, which the parent maps itself. A child that dies or
// hangs is a refusal naming the file, never a crash of the caller.

constexpr int kChildSeconds = 120;

void put_u64(std::string& out, std::uint64_t v) { out.append(reinterpret_cast<const char*>(&v), 8); }
void put_str(std::string& out, const std::string& s) {
  put_u64(out, s.size());
  out += s;
}

bool write_all(int fd, const char* p, std::size_t n) {
  while (n > 0) {
    const ssize_t w = ::write(fd, p, n);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return false;
    p += w;
    n -= static_cast<std::size_t>(w);
  }
  return true;
}

// The child's side: runs the reader, streams the result (tag 'T' per tensor,
// 'E' for a refusal, 'Z' at the end).
void child_main(int fd, const std::string& path, bool archive, const std::shared_ptr<MappedFile>& mapping) {
  const std::uint8_t* base = archive ? nullptr : mapping->data();
  const std::size_t base_size = mapping->size();
  std::string out;
  try {
    Checkpoint ck = archive ? read_archive_here(path) : read_h5_here(path, mapping);
    if (!write_all(fd, "O", 1)) return;
    for (const auto& t : ck.tensors()) {
      out.clear();
      out += 'T';
      put_str(out, t.name);
      put_u64(out, static_cast<std::uint64_t>(t.dtype));
      put_u64(out, t.shape.size());
      for (auto d : t.shape) put_u64(out, static_cast<std::uint64_t>(d));
      put_u64(out, t.numel);
      put_u64(out, t.nbytes);
      const bool in_place = base != nullptr && t.data >= base && t.data + t.nbytes <= base + base_size;
      out += in_place ? 'M' : 'B';
      if (in_place) put_u64(out, static_cast<std::uint64_t>(t.data - base));
      if (!write_all(fd, out.data(), out.size())) return;
      if (!in_place && !write_all(fd, reinterpret_cast<const char*>(t.data), t.nbytes)) return;
    }
    write_all(fd, "Z", 1);
  } catch (const InputError& e) {
    out = "E";
    put_str(out, e.reason());
    write_all(fd, out.data(), out.size());
  } catch (const std::exception& e) {
    out = "E";
    put_str(out, std::string("cannot read it: ") + e.what());
    write_all(fd, out.data(), out.size());
  }
}

class PipeReader {
 public:
  PipeReader(int fd, std::chrono::steady_clock::time_point deadline) : fd_(fd), deadline_(deadline) {}
  // Reads exactly n bytes; false at end of stream or time-out.
  bool read(void* dst, std::size_t n) {
    auto* p = static_cast<char*>(dst);
    while (n > 0) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline_ - std::chrono::steady_clock::now()).count();
      if (left <= 0) return timed_out_ = true, false;
      pollfd pfd{fd_, POLLIN, 0};
      const int r = ::poll(&pfd, 1, static_cast<int>(std::min<long long>(left, 1000)));
      if (r < 0 && errno == EINTR) continue;
      if (r <= 0) continue;
      const ssize_t got = ::read(fd_, p, n);
      if (got < 0 && errno == EINTR) continue;
      if (got <= 0) return false;
      p += got;
      n -= static_cast<std::size_t>(got);
    }
    return true;
  }
  bool u64(std::uint64_t& v) { return read(&v, 8); }
  bool str(std::string& s, std::uint64_t max) {
    std::uint64_t n = 0;
    if (!u64(n) || n > max) return false;
    s.resize(static_cast<std::size_t>(n));
    return read(s.data(), s.size());
  }
  bool timed_out() const { return timed_out_; }

 private:
  int fd_;
  std::chrono::steady_clock::time_point deadline_;
  bool timed_out_ = false;
};

// Keras 3 stores a layer's variables by index (layers/dense/vars/0); the
// archive's config.json says each top-level layer's class and options, which
// fix the order its build() creates them in (trainable ones first, as
// Layer.save_own_variables writes them). Renamed for the usual layers when the
// count matches ("dense/kernel", as Keras names the variable's path); any
// other layer, or a config that cannot be read, keeps the paths.
void name_keras3_variables(const MappedFile& zip, std::vector<TensorEntry>& tensors) {
  nlohmann::json config;
  try {
    for (const auto& m : detail::read_zip_directory(zip)) {
      if (m.name != "config.json") continue;
      std::shared_ptr<const void> owner;
      const auto bytes = detail::zip_member_bytes(zip, m, owner);
      config = nlohmann::json::parse(bytes.begin(), bytes.end());
    }
  } catch (const std::exception&) {
    return;  // the weights are read; only their names stay paths
  }
  const nlohmann::json* layers = nullptr;
  if (config.is_object() && config.contains("config") && config["config"].is_object() &&
      config["config"].contains("layers") && config["config"]["layers"].is_array())
    layers = &config["config"]["layers"];
  if (layers == nullptr) return;
  auto flag = [](const nlohmann::json& c, const char* key) {
    return !c.contains(key) || !c[key].is_boolean() || c[key].get<bool>();  // Keras's defaults are true
  };
  std::map<std::string, std::vector<std::string>> names;  // layer name -> variable names in order
  for (const auto& layer : *layers) {
    if (!layer.is_object() || !layer.contains("class_name") || !layer["class_name"].is_string() ||
        !layer.contains("config") || !layer["config"].is_object() || !layer["config"].contains("name") ||
        !layer["config"]["name"].is_string())
      continue;
    const std::string cls = layer["class_name"].get<std::string>();
    const auto& c = layer["config"];
    std::vector<std::string> vars;
    if (cls == "Dense" || cls == "EinsumDense" || cls.starts_with("Conv")) {
      vars = {"kernel"};
      if (flag(c, "use_bias")) vars.push_back("bias");
    } else if (cls == "BatchNormalization") {
      if (flag(c, "scale")) vars.push_back("gamma");
      if (flag(c, "center")) vars.push_back("beta");
      vars.push_back("moving_mean");
      vars.push_back("moving_variance");
    } else if (cls == "LayerNormalization") {
      if (flag(c, "scale")) vars.push_back("gamma");
      if (flag(c, "center")) vars.push_back("beta");
    } else if (cls == "Embedding") {
      vars = {"embeddings"};
    } else {
      continue;
    }
    names[c["name"].get<std::string>()] = std::move(vars);
  }
  // Count each layer's variables in the file, then rename where they match.
  std::map<std::string, std::size_t> count;
  auto parse = [](const std::string& n, std::string* layer, std::size_t* index) {
    if (!n.starts_with("layers/")) return false;
    const auto vars = n.find("/vars/", 7);
    if (vars == std::string::npos || n.find('/', 7) != vars) return false;
    const std::string i = n.substr(vars + 6);
    if (i.empty() || i.size() > 6 || !std::all_of(i.begin(), i.end(), [](char ch) { return ch >= '0' && ch <= '9'; }))
      return false;
    *layer = n.substr(7, vars - 7);
    *index = std::stoul(i);
    return true;
  };
  std::string layer;
  std::size_t index = 0;
  for (const auto& t : tensors)
    if (parse(t.name, &layer, &index)) ++count[layer];
  for (auto& t : tensors) {
    if (!parse(t.name, &layer, &index)) continue;
    const auto it = names.find(layer);
    if (it == names.end() || it->second.size() != count[layer] || index >= it->second.size()) continue;
    t.name = escape_invalid_utf8(layer + "/" + it->second[index]);
  }
}

Checkpoint read_isolated(const std::string& path, bool archive) {
  auto mapping = std::make_shared<MappedFile>(path);  // cannot-open errors come from here, in this process
  open_hdf5_library(path);  // here, so that the child only calls it
  int fds[2];
  if (::pipe(fds) != 0) throw InputError(path, std::string("cannot create a pipe: ") + std::strerror(errno));
  std::fflush(nullptr);
  const pid_t pid = ::fork();
  if (pid < 0) {
    ::close(fds[0]);
    ::close(fds[1]);
    throw InputError(path, std::string("cannot fork to read it: ") + std::strerror(errno));
  }
  if (pid == 0) {
    ::close(fds[0]);
    child_main(fds[1], path, archive, mapping);
    ::_exit(0);
  }
  ::close(fds[1]);
  Checkpoint ck;
  std::vector<TensorEntry> got;
  std::string refusal;
  bool complete = false;
  PipeReader in(fds[0], std::chrono::steady_clock::now() + std::chrono::seconds(kChildSeconds));
  const std::uint64_t limit = kMaxExpansion * mapping->size() + (1u << 20);
  std::uint64_t received = 0;
  char tag = 0;
  if (in.read(&tag, 1)) {
    if (tag == 'E') {
      in.str(refusal, 1 << 16);
    } else if (tag == 'O') {
      ck.add_file(path);
      while (in.read(&tag, 1) && tag == 'T') {
        TensorEntry e;
        std::uint64_t dtype = 0, rank = 0;
        char where = 0;
        if (!in.str(e.name, 1 << 20) || !in.u64(dtype) || dtype > static_cast<std::uint64_t>(DType::BOOL) ||
            !in.u64(rank) || rank > 64)
          break;
        e.dtype = static_cast<DType>(dtype);
        e.file = path;
        bool ok = true;
        for (std::uint64_t k = 0; k < rank && ok; ++k) {
          std::uint64_t d = 0;
          ok = in.u64(d);
          e.shape.push_back(static_cast<std::int64_t>(d));
        }
        std::uint64_t nbytes = 0;
        if (!ok || !in.u64(e.numel) || !in.u64(nbytes) || !in.read(&where, 1)) break;
        e.nbytes = static_cast<std::size_t>(nbytes);
        if (where == 'M') {
          std::uint64_t offset = 0;
          if (!in.u64(offset) || offset > mapping->size() || nbytes > mapping->size() - offset) break;
          e.data = mapping->data() + offset;
        } else {
          received += nbytes;
          if (received > limit) break;
          auto buf = std::make_shared<std::vector<std::uint8_t>>(static_cast<std::size_t>(nbytes));
          if (!in.read(buf->data(), buf->size())) break;
          e.data = buf->data();
          ck.keep_alive(std::move(buf));
        }
        got.push_back(std::move(e));
      }
      complete = tag == 'Z';
    }
  }
  const bool timed_out = in.timed_out();
  ::close(fds[0]);
  if (timed_out) ::kill(pid, SIGKILL);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (!refusal.empty()) throw InputError(path, refusal);
  if (timed_out)
    throw InputError(path, "the HDF5 library did not finish reading it within " + std::to_string(kChildSeconds) +
                               " s: a malformed HDF5 file");
  if (WIFSIGNALED(status))
    throw InputError(path, std::string("the HDF5 library crashed reading it (") + strsignal(WTERMSIG(status)) +
                               "): a malformed HDF5 file");
  if (!complete) throw InputError(path, "the HDF5 library stopped before the end of it: a malformed HDF5 file");
  if (archive) name_keras3_variables(*mapping, got);
  for (auto& e : got) ck.add_tensor(std::move(e));
  ck.keep_alive(std::move(mapping));
  return ck;
}

}  // namespace

Checkpoint read_keras_h5(const std::string& path) { return read_isolated(path, false); }

Checkpoint read_keras_archive(const std::string& path) { return read_isolated(path, true); }

}  // namespace gradcheck::weights
