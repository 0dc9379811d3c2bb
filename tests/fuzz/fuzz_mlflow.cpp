// Fuzz target: an MLflow file store whose one run has the input as a metric
// file (metrics/train/loss) and as its meta.yaml, read as the store
// (expand_log_sources) and as the run (read_log). Notes hold names from
// meta.yaml: they must be valid UTF-8 without control characters.
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <string>

#include "fuzz_logs.hpp"
#include "gradcheck/logs/readers.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  namespace fs = std::filesystem;
  const fs::path run = gradcheck::fuzz::scratch_dir() / "mlruns" / "0" / "5f1e";
  fs::create_directories(run / "metrics" / "train");
  gradcheck::fuzz::write_input(data, size, "mlruns/0/5f1e/metrics/train/loss");
  gradcheck::fuzz::write_input(data, size, "mlruns/0/5f1e/meta.yaml");
  gradcheck::fuzz::write_input(data, size, "mlruns/0/meta.yaml");
  const auto sources = gradcheck::logs::expand_log_sources({(gradcheck::fuzz::scratch_dir() / "mlruns").string()});
  for (const auto& s : sources) gradcheck::fuzz::check_name(s.note, /*printable=*/true);
  gradcheck::fuzz::refusal_is_fine([&] { gradcheck::fuzz::check_run(gradcheck::logs::read_log(run.string())); });
  return 0;
}
