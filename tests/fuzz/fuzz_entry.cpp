// libFuzzer's entry point for one target: the target's source compiles its
// entry as GRADCHECK_FUZZ_ENTRY (gradcheck_fuzz_<target>, see CMakeLists.txt),
// so that every target can also live in the one replay program.
#include <cstddef>
#include <cstdint>

extern "C" int GRADCHECK_FUZZ_ENTRY(const std::uint8_t* data, std::size_t size);

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  return GRADCHECK_FUZZ_ENTRY(data, size);
}
