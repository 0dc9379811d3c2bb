// Fuzz target: a .json log of unknown kind, as read_log finds out what it is
// (JSON Lines, trainer_state.json, Keras History, a list of records) from its
// content; and the same bytes as `log.txt`, which is JSON Lines when it opens
// with '{' and CSV otherwise. detect_log_format never throws.
#include <cstddef>
#include <cstdint>

#include "fuzz_logs.hpp"
#include "gradcheck/logs/readers.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string path = gradcheck::fuzz::write_input(data, size, "metrics.json");
  (void)gradcheck::logs::detect_log_format(path);
  gradcheck::fuzz::refusal_is_fine([&] { gradcheck::fuzz::check_run(gradcheck::logs::read_log(path)); });
  const std::string txt = gradcheck::fuzz::write_input(data, size, "log.txt");
  (void)gradcheck::logs::detect_log_format(txt);
  gradcheck::fuzz::refusal_is_fine([&] { gradcheck::fuzz::check_run(gradcheck::logs::read_log(txt)); });
  return 0;
}
