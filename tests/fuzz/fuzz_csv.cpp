// Fuzz target: logs::read_csv on arbitrary bytes, read twice: by one thread,
// and by three with chunks of a few bytes, which must agree (the reader
// promises results independent of the thread count), on the run or on the
// refusal's message.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>

#include "fuzz_logs.hpp"
#include "gradcheck/logs/readers.hpp"

namespace {

struct Outcome {
  std::optional<gradcheck::logs::Run> run;
  std::string error;
};

Outcome read(const std::string& path, int threads, std::size_t chunk) {
  gradcheck::logs::ReadOptions options;
  options.threads = threads;
  options.min_chunk_bytes = chunk;
  Outcome o;
  gradcheck::fuzz::refusal_is_fine([&] {
    try {
      o.run = gradcheck::logs::read_csv(path, options);
    } catch (const gradcheck::InputError& e) {
      o.error = e.what();
      throw;
    }
  });
  return o;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string path = gradcheck::fuzz::write_input(data, size, "metrics.csv");
  const Outcome one = read(path, 1, std::size_t{4} << 20);
  const Outcome many = read(path, 3, 16);
  GRADCHECK_FUZZ_CHECK(one.run.has_value() == many.run.has_value(), one.error + " | " + many.error);
  if (one.run) {
    gradcheck::fuzz::check_run(*one.run);
    GRADCHECK_FUZZ_CHECK(gradcheck::fuzz::same_run(*one.run, *many.run), "1 vs 3 threads");
  } else {
    GRADCHECK_FUZZ_CHECK(one.error == many.error, one.error + " | " + many.error);
  }
  return 0;
}
