// Fuzz target: host::validate_model, the host's check of a plugin's
// descriptor before any of its code runs, on descriptors built from the bytes.
// Only what the ABI lets a plugin get wrong is drawn (field values, NULLs,
// names, ranks, extents); the arrays themselves are as long as the descriptor
// says whenever their counts are in range, since reading past a plugin's own
// array is no fault the host can detect. An accepted descriptor must describe
// consistent offsets and counts.
#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "fuzz_common.hpp"
#include "gradcheck/plugin.h"
#include "gradcheck/host/loader.hpp"

namespace {

class Bytes {
 public:
  Bytes(const std::uint8_t* d, std::size_t n) : d_(d), n_(n) {}
  template <class T>
  T take() {
    T v{};
    const std::size_t k = std::min(sizeof(T), n_ - i_);
    std::memcpy(&v, d_ + i_, k);
    i_ += k;
    return v;
  }
  // A string of up to 15 bytes (embedded NULs end it early, as C sees it).
  std::string text() {
    const std::size_t len = std::min<std::size_t>(take<std::uint8_t>() & 15, n_ - i_);
    std::string s(reinterpret_cast<const char*>(d_ + i_), len);
    i_ += len;
    return s;
  }

 private:
  const std::uint8_t* d_;
  std::size_t n_, i_ = 0;
};

void* create(std::uint64_t) { return nullptr; }
void destroy(void*) {}
int init(void*, void* const*) { return 0; }
int loss(void*, const void* const*, double*, void* const*) { return 0; }

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  gradcheck::fuzz::note_input(data, size);
  Bytes in(data, size);
  const auto flags = in.take<std::uint16_t>();
  const bool exact = (flags & 1) != 0;  // most descriptors valid in the header, so the tensors get fuzzed
  gradcheck_model m{};
  m.abi_version = exact ? GRADCHECK_ABI_VERSION : in.take<std::uint32_t>();
  m.struct_size = exact ? sizeof(gradcheck_model) : in.take<std::uint32_t>();
  const std::string model_name = in.text();
  m.name = (flags & 2) ? nullptr : model_name.c_str();
  m.dtype = exact ? GRADCHECK_F32 + ((flags >> 2) & 1) : in.take<std::int32_t>();
  m.create = (flags & 8) ? nullptr : create;
  m.destroy = (flags & 16) ? nullptr : destroy;
  m.init = (flags & 32) ? nullptr : init;
  m.loss = (flags & 64) ? nullptr : loss;
  m.last_error = nullptr;
  m.num_tensors = (flags & 128) ? in.take<std::int32_t>() : in.take<std::uint8_t>() % 9;
  const int n = std::clamp(m.num_tensors, 0, 64);
  std::vector<std::string> names(n);
  std::vector<std::array<std::int64_t, 8>> shapes(n);
  std::vector<gradcheck_tensor_spec> specs(n);
  for (int t = 0; t < n; ++t) {
    const auto tf = in.take<std::uint8_t>();
    names[t] = in.text();
    specs[t].name = (tf & 1) ? nullptr : names[t].c_str();
    specs[t].rank = (tf & 2) ? in.take<std::int32_t>() : (tf >> 4) % 9;
    const int rank = std::clamp(specs[t].rank, 0, 8);
    for (int d = 0; d < rank; ++d)
      shapes[t][d] = (tf & 4) ? in.take<std::int64_t>() : static_cast<std::int64_t>(in.take<std::uint8_t>());
    specs[t].shape = (tf & 8) ? nullptr : shapes[t].data();
  }
  // A count beyond what was built would make the validator read past our own
  // array; keep the drawn count only when it is negative or fits.
  if (m.num_tensors > n) m.num_tensors = n;
  m.tensors = (flags & 256) ? nullptr : specs.data();

  namespace gp = gradcheck::host;
  gradcheck::fuzz::refusal_is_fine([&] {
    const gp::ModelInfo info = gp::validate_model(&m, 0, "fuzz_plugin.so");
    GRADCHECK_FUZZ_CHECK(info.tensors.size() == static_cast<std::size_t>(m.num_tensors), info.name);
    gradcheck::fuzz::check_name(info.name, /*printable=*/true);
    std::size_t offset = 0;
    for (const auto& t : info.tensors) {
      GRADCHECK_FUZZ_CHECK(t.offset == offset, t.name);
      gradcheck::fuzz::check_name(t.name, /*printable=*/true);
      offset += t.count;
    }
    GRADCHECK_FUZZ_CHECK(offset == info.num_values, info.name);
    // Every flat index maps back to a tensor and a multi-index inside its shape
    // (a few of them: a model may declare 2^62 values).
    for (std::size_t k = 0; k < 4 && info.num_values > 0; ++k) {
      const std::size_t i = in.take<std::uint64_t>() % info.num_values;
      (void)gp::describe_index(info, i);
    }
  });
  // The NULL descriptor pointer itself.
  if (flags & 512) gradcheck::fuzz::refusal_is_fine([] { gp::validate_model(nullptr, 3, "fuzz_plugin.so"); });
  return 0;
}
