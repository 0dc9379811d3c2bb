// Fuzz target: logs::read_keras_history on arbitrary bytes.
#include <cstddef>
#include <cstdint>

#include "fuzz_logs.hpp"
#include "gradcheck/logs/readers.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string path = gradcheck::fuzz::write_input(data, size, "history.json");
  gradcheck::fuzz::refusal_is_fine([&] { gradcheck::fuzz::check_run(gradcheck::logs::read_keras_history(path)); });
  return 0;
}
