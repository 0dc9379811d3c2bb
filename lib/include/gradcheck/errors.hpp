#pragma once
// Errors and exit codes shared by the library and the tools.

#include <stdexcept>
#include <string>

#include "gradcheck/utf8.hpp"

namespace gradcheck {

/// Process exit codes of every gradcheck tool (docs/tools-contract.md).
enum class ExitCode : int {
  ok = 0,         ///< healthy: nothing wrong was found
  problem = 1,    ///< a problem was found in what was inspected
  bad_input = 2,  ///< a usage error or an input that cannot be read
  user_code = 3,  ///< the user's own model code failed (error, crash, time-out)
  inconclusive = 4,  ///< gradcheck: nothing disagrees, but a tensor could not be judged (its
                     ///< derivatives are within the function's noise)
};

/// An input that cannot be used: a file that cannot be read or is malformed, or
/// an argument that makes no sense. `what()` is one line naming the file (when
/// there is one) and the reason; tools print it and exit with ExitCode::bad_input.
/// Both are made safe here, whatever threw: bytes that are not UTF-8 and control
/// characters (text from users' files, paths) are written as `\xNN`, so every
/// message is one line of valid UTF-8.
class InputError : public std::runtime_error {
 public:
  InputError(std::string file, const std::string& reason)
      : InputError(escape_invalid_utf8(file), escape_invalid_utf8(reason), 0) {}
  const std::string& file() const noexcept { return file_; }
  const std::string& reason() const noexcept { return reason_; }

 private:
  InputError(std::string file, std::string reason, int /*escaped*/)
      : std::runtime_error(file.empty() ? reason : file + ": " + reason),
        file_(std::move(file)), reason_(std::move(reason)) {}

  std::string file_;
  std::string reason_;
};

}  // namespace gradcheck
