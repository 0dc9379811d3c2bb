#pragma once
// Where tests write their files: one directory per test process under the
// build tree (GRADCHECK_SCRATCH_DIR/<pid>), removed when the process ends,
// whether its tests passed or failed. Nothing goes to /tmp; a process that
// crashes leaves its directory under build/, never on the machine at large.

#include <unistd.h>

#include <filesystem>
#include <string>
#include <system_error>

namespace gradcheck::test {

/// The calling process's scratch directory, created on first use.
inline const std::filesystem::path& scratch_root() {
  namespace fs = std::filesystem;
  struct Guard {
    fs::path dir;
    Guard() : dir(fs::path(GRADCHECK_SCRATCH_DIR) / std::to_string(::getpid())) { fs::create_directories(dir); }
    ~Guard() {
      // A forked child that returns through exit() must not remove its parent's files.
      if (dir.filename() != std::to_string(::getpid())) return;
      std::error_code ignored;
      fs::remove_all(dir, ignored);
    }
  };
  static const Guard guard;
  return guard.dir;
}

/// A fresh directory `name` inside the scratch root (emptied if it exists).
inline std::filesystem::path scratch_dir(const std::string& name) {
  namespace fs = std::filesystem;
  const fs::path d = scratch_root() / name;
  std::error_code ignored;
  fs::remove_all(d, ignored);
  fs::create_directories(d);
  return d;
}

}  // namespace gradcheck::test
