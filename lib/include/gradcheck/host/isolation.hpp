#pragma once
// Running untrusted code (a user's plugin) in a forked child process that
// streams messages back, so a segfault, abort, exit(), uncaught exception or
// hang in that code ends as a described outcome instead of taking the tool
// down. Linux (fork, process groups, PR_SET_PDEATHSIG).
//
// The child runs `body`, which sends messages (JSON text by convention; the
// channel carries any bytes) with Channel::send and wraps each call into user
// code in a Channel::Call so the parent can enforce a per-call time limit. The
// parent receives the messages in order as they arrive, then learns how the
// child ended.

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

namespace gradcheck::host {

struct ChildOptions {
  /// Longest time one guarded call (Channel::Call) may run; past it the child's
  /// whole process group is killed (SIGKILL) and the outcome is timed_out.
  /// <= 0: no limit.
  double call_timeout_seconds = 60.0;
  /// Address-space limit of the child (RLIMIT_AS) in bytes, so a runaway
  /// allocation fails inside the child instead of exhausting the machine.
  /// 0: no limit.
  std::size_t memory_limit_bytes = 0;
  /// Send the child's standard output to standard error, so what user code
  /// prints never mixes into a report written to standard output.
  bool stdout_to_stderr = true;
};

/// The child's end: thread-safe.
class Channel {
 public:
  /// Sends one message (length-prefixed frame on a pipe); the parent's
  /// on_message sees exactly these bytes. Blocks while the pipe is full.
  void send(std::string_view message);

  /// RAII marker around one call into user code: while it lives, the parent
  /// counts the call's time against call_timeout_seconds. `label` (e.g. "loss()
  /// of model 'mlp'") names the call in a time-out report. Nesting on one
  /// thread: the inner call replaces the outer one until it ends.
  class Call {
   public:
    Call(Channel& channel, std::string_view label);
    ~Call();
    Call(const Call&) = delete;
    Call& operator=(const Call&) = delete;

   private:
    void* slot_;
    std::int64_t saved_start_;
  };

  // Internal: built by run_in_child.
  Channel(int fd, void* shared) : fd_(fd), shared_(shared) {}

 private:
  friend class Call;
  void send_frame(char type, std::string_view payload);
  int fd_;
  void* shared_;
};

enum class Ending {
  returned,   ///< body returned; exit_code is its value
  exception,  ///< body let a C++ exception escape; description has what()
  exited,     ///< the process exited without body returning (user code called exit())
  signaled,   ///< killed by a signal (segfault, abort, ...); signal is set
  timed_out,  ///< a Call ran past call_timeout_seconds; the group was killed
};

struct ChildOutcome {
  Ending ending = Ending::returned;
  int exit_code = 0;        ///< returned: body's value; exited: the status passed to exit()
  int signal = 0;           ///< signaled: the signal number
  std::string description;  ///< one line: "crashed with SIGSEGV (Segmentation fault) during loss() of model 'm'", ...
  bool returned() const noexcept { return ending == Ending::returned; }
};

/// Forks; the child runs body(channel) and the parent calls on_message for each
/// message as it arrives, enforcing the per-call time limit, until the child
/// ends. The description of an abnormal ending names the call that was running
/// (its Call label) when there was one. If on_message throws, the child's group
/// is killed and the exception propagates. Call it from a single-threaded
/// process (fork copies only the calling thread); the parent flushes stdio
/// first so buffered output is not written twice. In the child SIGSEGV, SIGBUS,
/// SIGFPE, SIGILL and SIGABRT have their default action: a handler the calling
/// program installed (a test framework, a crash reporter) never runs for the
/// body's faults.
ChildOutcome run_in_child(const std::function<int(Channel&)>& body,
                          const std::function<void(std::string_view)>& on_message,
                          const ChildOptions& options = {});

/// "SIGSEGV (Segmentation fault)".
std::string signal_description(int signal);

}  // namespace gradcheck::host
