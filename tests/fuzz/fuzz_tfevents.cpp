// Fuzz target: logs::read_tfevents on arbitrary bytes, and read_log_context on
// them (the model_config text summary the Hugging Face Trainer writes): it
// never throws, and says a class count and notes of printable UTF-8.
#include <cstddef>
#include <cstdint>
#include <string>

#include "fuzz_logs.hpp"
#include "gradcheck/logs/readers.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string path = gradcheck::fuzz::write_input(data, size, "events.out.tfevents.1700000000.fuzz.1.0");
  gradcheck::fuzz::refusal_is_fine([&] { gradcheck::fuzz::check_run(gradcheck::logs::read_tfevents(path)); });
  const gradcheck::logs::LogContext context = gradcheck::logs::read_log_context(path);
  GRADCHECK_FUZZ_CHECK(context.classes >= 0 && context.classes != 1, std::to_string(context.classes));
  for (const auto& note : context.notes) gradcheck::fuzz::check_name(note, /*printable=*/true);
  return 0;
}
