// Fuzz target: logs::read_text_log on arbitrary bytes (a training loop's
// printed output), and the recognition that chooses it: a run or a refusal,
// never a crash; names printable (they are shown in one-line report rows).
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "fuzz_logs.hpp"
#include "gradcheck/logs/readers.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string path = gradcheck::fuzz::write_input(data, size, "train.log");
  gradcheck::fuzz::refusal_is_fine([&] { gradcheck::fuzz::check_run(gradcheck::logs::read_text_log(path)); });
  (void)gradcheck::logs::detect_log_format(path);
  gradcheck::fuzz::refusal_is_fine([&] { gradcheck::fuzz::check_run(gradcheck::logs::read_log(path)); });
  return 0;
}
