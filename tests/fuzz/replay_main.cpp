// Replays fuzz inputs without libFuzzer: `fuzz_replay TARGET DIR|FILE...`
// sends every file under the given folders (corpus seeds and saved crashes)
// once through TARGET's entry point (its LLVMFuzzerTestOneInput, compiled as
// gradcheck_fuzz_TARGET). Exits non-zero when a folder is missing or
// holds no file, so a moved corpus cannot turn the test into a no-op; a crash
// or a violated property aborts with the input's name printed first.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <exception>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#define GRADCHECK_FUZZ_TARGET(name) extern "C" int gradcheck_fuzz_##name(const std::uint8_t* data, std::size_t size);
#include "fuzz_targets.inc"
#undef GRADCHECK_FUZZ_TARGET

namespace {

using Entry = int (*)(const std::uint8_t*, std::size_t);
struct Target {
  const char* name;
  Entry entry;
};
#define GRADCHECK_FUZZ_TARGET(name) {#name, &gradcheck_fuzz_##name},
constexpr Target kTargets[] = {
#include "fuzz_targets.inc"
};
#undef GRADCHECK_FUZZ_TARGET

}  // namespace

int main(int argc, char** argv) {
  namespace fs = std::filesystem;
  if (argc < 3) {
    std::fprintf(stderr, "usage: %s TARGET DIR|FILE...\n", argv[0]);
    return 2;
  }
  Entry entry = nullptr;
  for (const auto& t : kTargets)
    if (std::string(t.name) == argv[1]) entry = t.entry;
  if (!entry) {
    std::fprintf(stderr, "%s: no fuzz target named '%s'\n", argv[0], argv[1]);
    return 2;
  }
  std::size_t total = 0;
  for (int a = 2; a < argc; ++a) {
    std::vector<fs::path> files;
    std::error_code ec;
    if (fs::is_regular_file(argv[a], ec)) {
      files.emplace_back(argv[a]);
    } else if (fs::is_directory(argv[a], ec)) {
      for (const auto& e : fs::recursive_directory_iterator(argv[a]))
        if (e.is_regular_file() && e.path().filename().string()[0] != '.') files.push_back(e.path());
    } else {
      std::fprintf(stderr, "%s: no such file or folder\n", argv[a]);
      return 2;
    }
    if (files.empty()) {
      std::fprintf(stderr, "%s: holds no input\n", argv[a]);
      return 2;
    }
    std::sort(files.begin(), files.end());
    for (const auto& f : files) {
      std::ifstream in(f, std::ios::binary);
      const std::vector<char> bytes{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
      std::fprintf(stderr, "replaying %s (%zu bytes)\n", f.c_str(), bytes.size());
      try {
        entry(reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size());
      } catch (const std::exception& e) {
        std::fprintf(stderr, "%s: escaped the parser: %s\n", f.c_str(), e.what());
        return 1;
      }
      ++total;
    }
  }
  std::printf("%zu inputs replayed\n", total);
  return 0;
}
