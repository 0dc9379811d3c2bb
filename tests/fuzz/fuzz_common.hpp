#pragma once
// Shared by the fuzz targets: inputs become files (the readers take paths),
// and the properties every parser promises are checked on every input.
//
// The same sources are compiled twice: with libFuzzer (clang, tools/fuzz.sh)
// and with replay_main.cpp (any compiler, ctest), so what the fuzzers found
// stays tested in every build, sanitizer builds included.

#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <string_view>

#include "gradcheck/errors.hpp"
#include "gradcheck/utf8.hpp"

namespace gradcheck::fuzz {

// A failed property is a crash: libFuzzer saves the input, replay reports it.
[[noreturn]] inline void fail(const char* what, const std::string& detail) {
  std::fprintf(stderr, "fuzz property violated: %s: %s\n", what, detail.c_str());
  std::abort();
}
#define GRADCHECK_FUZZ_CHECK(cond, detail) \
  do {                                     \
    if (!(cond)) ::gradcheck::fuzz::fail(#cond, (detail)); \
  } while (0)

// One directory per process, removed at exit: in memory (/dev/shm) when the
// machine has it, since a fuzzer writes one file per execution; the replay
// tests' folder under the build tree when GRADCHECK_FUZZ_SCRATCH names one.
inline const std::filesystem::path& scratch_dir() {
  namespace fs = std::filesystem;
  // Removed by the guard's destructor when the process exits (an atexit
  // handler would run after the path itself had been destroyed).
  struct Guard {
    fs::path dir;
    Guard() {
      std::error_code ec;
      // The replay tests name a folder under the build tree (GRADCHECK_FUZZ_SCRATCH).
      const char* chosen = std::getenv("GRADCHECK_FUZZ_SCRATCH");
      const fs::path base = chosen && *chosen ? fs::path(chosen)
                            : fs::is_directory("/dev/shm", ec) && ::access("/dev/shm", W_OK) == 0
                                ? fs::path("/dev/shm")
                                : fs::temp_directory_path();
      dir = base / ("gradcheck_fuzz_" + std::to_string(::getpid()));
      fs::create_directories(dir);
    }
    ~Guard() {
      std::error_code ignored;
      fs::remove_all(dir, ignored);
    }
  };
  static const Guard guard;
  return guard.dir;
}

// Whether the current input holds the JSON library's tag text itself: messages
// quote names from the file, and a name may say anything.
inline bool& input_mentions_json_tag() {
  static bool mentions = false;
  return mentions;
}

// Notes the current input (write_input does; a target that writes no file calls it).
inline void note_input(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  input_mentions_json_tag() = text.find("json.exception") != std::string_view::npos;
}

// Writes the input to `name` inside the scratch directory and returns its path.
inline std::string write_input(const std::uint8_t* data, std::size_t size, const std::string& name) {
  note_input(data, size);
  const std::filesystem::path p = scratch_dir() / name;
  std::ofstream out(p, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(size));
  out.close();
  if (!out) fail("write_input", p.string());
  return p.string();
}

// A name a reader accepted from a file, as reports will show it: valid UTF-8
// and, with `printable`, no control characters either.
inline void check_name(const std::string& name, bool printable) {
  GRADCHECK_FUZZ_CHECK(valid_utf8(name, printable), escape_invalid_utf8(name));
}

// Runs a parser on untrusted bytes. Refusal is fine, as an InputError whose
// message is one line naming a file (the contract's "one-line reason naming
// the file"), of valid UTF-8 without control characters (bytes that are not
// UTF-8 shown as \xNN) and in the project's words (no JSON library's tag).
// Any other exception escapes, which the fuzzer reports as a crash.
template <class F>
void refusal_is_fine(F&& parse) {
  try {
    parse();
  } catch (const InputError& e) {
    const std::string msg = e.what();
    GRADCHECK_FUZZ_CHECK(!e.file().empty(), msg);
    GRADCHECK_FUZZ_CHECK(msg.find('\n') == std::string::npos && msg.find('\r') == std::string::npos, msg);
    GRADCHECK_FUZZ_CHECK(valid_utf8(msg, /*printable=*/true), escape_invalid_utf8(msg));
    GRADCHECK_FUZZ_CHECK(msg.find("json.exception") == std::string::npos || input_mentions_json_tag(), msg);
  }
}

}  // namespace gradcheck::fuzz
