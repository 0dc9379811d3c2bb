// Fuzz target: logs::read_log_context on arbitrary bytes as the config.json
// and the adapter_config.json beside a valid trainer_state.json. It never
// throws; what it says is a class count and notes of printable UTF-8.
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <string>

#include "fuzz_logs.hpp"
#include "gradcheck/logs/readers.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  namespace fs = std::filesystem;
  fs::create_directories(gradcheck::fuzz::scratch_dir() / "checkpoint-2");
  static const char state[] = R"({"log_history": [{"loss": 2.0, "step": 1}, {"loss": 1.5, "step": 2}]})";
  const std::string path = gradcheck::fuzz::write_input(reinterpret_cast<const std::uint8_t*>(state),
                                                        sizeof state - 1, "checkpoint-2/trainer_state.json");
  (void)gradcheck::fuzz::write_input(data, size, "checkpoint-2/config.json");
  (void)gradcheck::fuzz::write_input(data, size, "checkpoint-2/adapter_config.json");
  const gradcheck::logs::LogContext context = gradcheck::logs::read_log_context(path);
  GRADCHECK_FUZZ_CHECK(context.classes >= 0, std::to_string(context.classes));
  GRADCHECK_FUZZ_CHECK(context.classes != 1, "one class");
  for (const auto& note : context.notes) gradcheck::fuzz::check_name(note, /*printable=*/true);
  gradcheck::fuzz::check_name(context.base_model, /*printable=*/true);
  return 0;
}
