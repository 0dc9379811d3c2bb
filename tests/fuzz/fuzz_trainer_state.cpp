// Fuzz target: logs::read_trainer_state on arbitrary bytes as a
// trainer_state.json, given as the file and as its checkpoint folder (which
// must agree).
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>

#include "fuzz_logs.hpp"
#include "gradcheck/logs/readers.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  namespace fs = std::filesystem;
  fs::create_directories(gradcheck::fuzz::scratch_dir() / "checkpoint-500");
  const std::string path = gradcheck::fuzz::write_input(data, size, "checkpoint-500/trainer_state.json");
  const std::string folder = fs::path(path).parent_path().string();
  std::optional<gradcheck::logs::Run> from_file, from_folder;
  gradcheck::fuzz::refusal_is_fine([&] { from_file = gradcheck::logs::read_trainer_state(path); });
  gradcheck::fuzz::refusal_is_fine([&] { from_folder = gradcheck::logs::read_log(folder); });
  GRADCHECK_FUZZ_CHECK(from_file.has_value() == from_folder.has_value(), "file and folder disagree");
  if (from_file) {
    gradcheck::fuzz::check_run(*from_file);
    GRADCHECK_FUZZ_CHECK(gradcheck::fuzz::same_run(*from_file, *from_folder), "file and folder read differently");
  }
  return 0;
}
