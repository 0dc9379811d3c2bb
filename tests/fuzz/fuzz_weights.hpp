#pragma once
// What every checkpoint reader promises about the tensors it returns, checked
// on whatever it accepted: sizes consistent with shape and dtype, and every
// byte readable (a sanitizer catches a descriptor that points past its buffer).
#include <cstdint>
#include <string>

#include "fuzz_common.hpp"
#include "gradcheck/weights/checkpoint.hpp"

namespace gradcheck::fuzz {

inline void check_checkpoint(const weights::Checkpoint& ck) {
  for (const auto& t : ck.tensors()) {
    check_name(t.name, /*printable=*/false);
    std::uint64_t numel = 1;
    for (const auto e : t.shape) {
      GRADCHECK_FUZZ_CHECK(e >= 0, t.name);
      GRADCHECK_FUZZ_CHECK(!__builtin_mul_overflow(numel, static_cast<std::uint64_t>(e), &numel), t.name);
    }
    GRADCHECK_FUZZ_CHECK(numel == t.numel, t.name);
    // Block-quantized tensors (GGUF) are whole blocks of dtype_block values.
    GRADCHECK_FUZZ_CHECK(t.numel % weights::dtype_block(t.dtype) == 0, t.name);
    GRADCHECK_FUZZ_CHECK(t.nbytes == t.numel / weights::dtype_block(t.dtype) * weights::dtype_size(t.dtype), t.name);
    GRADCHECK_FUZZ_CHECK(t.nbytes == 0 || t.data != nullptr, t.name);
    unsigned sum = 0;
    for (std::size_t i = 0; i < t.nbytes; ++i) sum += t.data[i];
    volatile unsigned sink = sum;
    (void)sink;
  }
}

}  // namespace gradcheck::fuzz
