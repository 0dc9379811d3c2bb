#include <dlfcn.h>
#include <elf.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <limits>
#include <set>
#include <string>

#include "gradcheck/errors.hpp"
#include "gradcheck/mapped_file.hpp"
#include "gradcheck/plugin.h"
#include "gradcheck/host/loader.hpp"
#include "../core/utf8.hpp"

namespace gradcheck::host {


namespace {

[[noreturn]] void refuse(const std::string& plugin_path, const std::string& model, const std::string& reason) {
  throw InputError(plugin_path, "model " + model + ": " + reason + "; plugin refused");
}

// dlopen maps the segments a library's program headers name, so a truncated
// file makes the dynamic loader itself die of SIGBUS reading past its end:
// check first that every loadable segment lies within the file. Anything that
// is not a 64-bit ELF file is left to dlopen, which explains it.
void check_elf_complete(const std::string& path) {
  const MappedFile file(path);
  const std::uint8_t* d = file.data();
  const std::size_t n = file.size();
  if (n < sizeof(Elf64_Ehdr) || std::memcmp(d, ELFMAG, SELFMAG) != 0 || d[EI_CLASS] != ELFCLASS64) return;
  Elf64_Ehdr eh;
  std::memcpy(&eh, d, sizeof eh);
  if (eh.e_phentsize != sizeof(Elf64_Phdr) || eh.e_phoff > n || eh.e_phnum > (n - eh.e_phoff) / sizeof(Elf64_Phdr))
    throw InputError(path, "truncated or corrupt shared library: its program headers run past the end of the file");
  for (std::size_t i = 0; i < eh.e_phnum; ++i) {
    Elf64_Phdr ph;
    std::memcpy(&ph, d + eh.e_phoff + i * sizeof(Elf64_Phdr), sizeof ph);
    if (ph.p_type == PT_LOAD && (ph.p_offset > n || ph.p_filesz > n - ph.p_offset))
      throw InputError(path, "truncated shared library: a loadable segment ends at byte " +
                                 std::to_string(ph.p_offset + ph.p_filesz) + " but the file has " +
                                 std::to_string(n) + " bytes");
  }
}

}  // namespace

ModelInfo validate_model(const gradcheck_model* m, std::size_t index, const std::string& plugin_path) {
  std::string who = "#" + std::to_string(index);
  if (m == nullptr) refuse(plugin_path, who, "the model pointer is NULL");
  // Read nothing past abi_version and struct_size until they say the fields exist.
  if (m->abi_version != GRADCHECK_ABI_VERSION)
    refuse(plugin_path, who,
           "abi_version is " + std::to_string(m->abi_version) + ", this host speaks " +
               std::to_string(GRADCHECK_ABI_VERSION));
  if (m->struct_size < sizeof(gradcheck_model))
    refuse(plugin_path, who,
           "struct_size is " + std::to_string(m->struct_size) + ", version 1 needs at least " +
               std::to_string(sizeof(gradcheck_model)));
  if (m->name == nullptr) refuse(plugin_path, who, "name is NULL");
  if (m->name[0] == '\0') refuse(plugin_path, who, "name is empty");
  if (!gradcheck::internal::valid_utf8(m->name, /*printable=*/true)) refuse(plugin_path, who, "name is not printable UTF-8 (control characters or bad bytes)");
  ModelInfo info;
  info.name = m->name;
  who = "'" + info.name + "'";
  if (m->create == nullptr) refuse(plugin_path, who, "create is NULL");
  if (m->destroy == nullptr) refuse(plugin_path, who, "destroy is NULL");
  if (m->init == nullptr) refuse(plugin_path, who, "init is NULL");
  if (m->loss == nullptr) refuse(plugin_path, who, "loss is NULL");
  if (m->dtype == GRADCHECK_F32) info.dtype = Dtype::f32;
  else if (m->dtype == GRADCHECK_F64) info.dtype = Dtype::f64;
  else refuse(plugin_path, who, "dtype is " + std::to_string(m->dtype) + " (known: 1 = f32, 2 = f64)");
  if (m->num_tensors < 0) refuse(plugin_path, who, "num_tensors is " + std::to_string(m->num_tensors));
  if (m->num_tensors > 0 && m->tensors == nullptr)
    refuse(plugin_path, who, "tensors is NULL but num_tensors is " + std::to_string(m->num_tensors));
  std::set<std::string> names;
  std::int64_t total = 0;
  for (std::int32_t t = 0; t < m->num_tensors; ++t) {
    const gradcheck_tensor_spec& s = m->tensors[t];
    const std::string field = "tensors[" + std::to_string(t) + "]";
    if (s.name == nullptr) refuse(plugin_path, who, field + ".name is NULL");
    if (s.name[0] == '\0') refuse(plugin_path, who, field + ".name is empty");
    if (!gradcheck::internal::valid_utf8(s.name, /*printable=*/true))
      refuse(plugin_path, who, field + ".name is not printable UTF-8 (control characters or bad bytes)");
    TensorInfo ti;
    ti.name = s.name;
    const std::string tfield = field + " ('" + ti.name + "')";
    if (!names.insert(ti.name).second) refuse(plugin_path, who, tfield + ": the name is used twice");
    if (s.rank < 0 || s.rank > 8)
      refuse(plugin_path, who, tfield + ".rank is " + std::to_string(s.rank) + " (must be 0 to 8)");
    if (s.rank > 0 && s.shape == nullptr) refuse(plugin_path, who, tfield + ".shape is NULL");
    std::int64_t count = 1;
    for (std::int32_t d = 0; d < s.rank; ++d) {
      const std::int64_t e = s.shape[d];
      if (e < 0) refuse(plugin_path, who, tfield + ".shape[" + std::to_string(d) + "] is " + std::to_string(e));
      if (__builtin_mul_overflow(count, e, &count))
        refuse(plugin_path, who, tfield + ".shape: the product of the extents overflows int64");
      ti.shape.push_back(e);
    }
    if (__builtin_add_overflow(total, count, &total))
      refuse(plugin_path, who, tfield + ": the model's total value count overflows int64");
    ti.count = static_cast<std::size_t>(count);
    ti.offset = static_cast<std::size_t>(total - count);
    info.tensors.push_back(std::move(ti));
  }
  info.num_values = static_cast<std::size_t>(total);
  return info;
}

Plugin::Plugin(const std::string& path) : path_(path) {
  namespace fs = std::filesystem;
  std::error_code ec;
  const auto st = fs::status(path, ec);
  if (ec || !fs::exists(st)) throw InputError(path, "no such file");
  if (fs::is_directory(st)) throw InputError(path, "is a directory, not a plugin");
  // A bare file name would make dlopen search the library path, not the folder
  // the user means.
  const std::string open_path = path.find('/') == std::string::npos ? "./" + path : path;
  check_elf_complete(path);
  ::dlerror();
  handle_ = ::dlopen(open_path.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (handle_ == nullptr) {
    const char* err = ::dlerror();
    throw InputError(path, std::string("cannot load the plugin: ") + (err ? err : "dlopen failed"));
  }
  try {
    ::dlerror();
    void* sym = ::dlsym(handle_, "gradcheck_plugin_models");
    if (sym == nullptr)
      throw InputError(path, "not a gradcheck plugin: it does not export gradcheck_plugin_models "
                             "(C linkage, default visibility; see plugin.h)");
    using Entry = const gradcheck_model* const* (*)(std::uint32_t, std::int32_t*);
    std::int32_t count = 0;
    const gradcheck_model* const* list = reinterpret_cast<Entry>(sym)(GRADCHECK_ABI_VERSION, &count);
    if (list == nullptr)
      throw InputError(path, "gradcheck_plugin_models returned NULL: the plugin cannot serve host ABI version " +
                                 std::to_string(GRADCHECK_ABI_VERSION));
    if (count <= 0) throw InputError(path, "gradcheck_plugin_models lists " + std::to_string(count) + " models");
    std::set<std::string> names;
    for (std::int32_t i = 0; i < count; ++i) {
      ModelInfo info = validate_model(list[i], static_cast<std::size_t>(i), path);
      if (!names.insert(info.name).second)
        throw InputError(path, "model '" + info.name + "': name: two models have this name; plugin refused");
      raw_.push_back(list[i]);
      infos_.push_back(std::move(info));
    }
  } catch (...) {
    ::dlclose(handle_);
    throw;
  }
}

Plugin::~Plugin() {
  if (handle_ != nullptr) ::dlclose(handle_);
}

std::size_t Plugin::find(std::string_view name) const {
  for (std::size_t i = 0; i < infos_.size(); ++i)
    if (infos_[i].name == name) return i;
  std::string have;
  for (const auto& m : infos_) have += (have.empty() ? "" : ", ") + m.name;
  throw InputError(path_, "no model named '" + std::string(name) + "' (models: " + have + ")");
}

std::vector<std::int64_t> unravel_index(std::span<const std::int64_t> shape, std::size_t i) {
  std::vector<std::int64_t> idx(shape.size());
  for (std::size_t d = shape.size(); d-- > 0;) {
    const auto e = static_cast<std::size_t>(shape[d]);
    idx[d] = e == 0 ? 0 : static_cast<std::int64_t>(i % e);
    if (e != 0) i /= e;
  }
  return idx;
}

std::string describe_index(const ModelInfo& info, std::size_t i) {
  auto it = std::upper_bound(info.tensors.begin(), info.tensors.end(), i,
                             [](std::size_t v, const TensorInfo& t) { return v < t.offset; });
  // Skip back over empty tensors that share the offset.
  while (it != info.tensors.begin()) {
    --it;
    if (i < it->offset + it->count) break;
  }
  if (info.tensors.empty() || i >= it->offset + it->count) return "value " + std::to_string(i);
  std::string out = it->name;
  if (!it->shape.empty()) {
    out += '[';
    const auto idx = unravel_index(it->shape, i - it->offset);
    for (std::size_t d = 0; d < idx.size(); ++d) out += (d ? ", " : "") + std::to_string(idx[d]);
    out += ']';
  }
  return out;
}

}  // namespace gradcheck::host
