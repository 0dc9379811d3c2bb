#include "gradcheck/host/isolation.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <exception>
#include <mutex>
#include <stdexcept>
#include <string>
#include <vector>

#include "gradcheck/utf8.hpp"

namespace gradcheck::host {
namespace {

constexpr int kSlots = 256;
constexpr std::size_t kLabelSize = 160;

// One per child thread that makes guarded calls. The parent reads it while the
// child runs: `started_ns` (CLOCK_MONOTONIC, 0 when idle) is published after
// the label, with release order.
struct alignas(64) Slot {  // a cache line of its own: threads time calls side by side
  std::atomic<std::int64_t> started_ns;
  char label[kLabelSize];
};

// Lives in a MAP_SHARED anonymous mapping made before fork, so the parent sees
// the child's call timers without any message per call.
struct Shared {
  std::atomic<int> next_slot;
  Slot slots[kSlots];
};
static_assert(std::atomic<std::int64_t>::is_always_lock_free, "call timers need lock-free atomics across processes");

std::int64_t monotonic_ns() {
  timespec ts{};
  ::clock_gettime(CLOCK_MONOTONIC, &ts);
  return std::max<std::int64_t>(1, static_cast<std::int64_t>(ts.tv_sec) * 1000000000LL + ts.tv_nsec);
}

// This process's pid, set by run_in_child in each child right after fork:
// thread_slot runs once per guarded call, and getpid() is a system call.
pid_t current_child = 0;

// Slot of the calling thread in this child. Keyed by pid: a thread of the
// parent that forks again must not reuse the index of an earlier child.
Slot* thread_slot(Shared* shared) {
  thread_local pid_t owner = 0;
  thread_local int index = 0;
  const pid_t me = current_child;
  if (owner != me) {
    owner = me;
    // More threads than slots share the last one: rare, and only blurs labels.
    index = std::min(shared->next_slot.fetch_add(1, std::memory_order_relaxed), kSlots - 1);
  }
  return &shared->slots[index];
}

std::mutex& send_mutex() {
  static std::mutex m;
  return m;
}

bool write_all(int fd, const char* p, std::size_t n) {
  while (n > 0) {
    const ssize_t w = ::write(fd, p, n);
    if (w < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    p += w;
    n -= static_cast<std::size_t>(w);
  }
  return true;
}

// The label of a call still running in the child, if any (the one that was
// running when it crashed or hung).
std::string active_call(const Shared* shared, std::int64_t* started = nullptr) {
  for (const Slot& s : shared->slots) {
    const std::int64_t t = s.started_ns.load(std::memory_order_acquire);
    if (t != 0) {
      if (started) *started = t;
      return std::string(s.label, ::strnlen(s.label, kLabelSize));
    }
  }
  return {};
}

std::string during(const std::string& label) { return label.empty() ? std::string() : " during " + label; }

[[noreturn]] void child_main(int fd, Shared* shared, pid_t parent, const std::function<int(Channel&)>& body,
                             const ChildOptions& options) {
  ::setpgid(0, 0);
  // The user's code dies of its own faults here, plainly: handlers the
  // calling program installed (a test framework, a crash reporter) must not
  // run in the child and report its crash as their own.
  for (int sig : {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT}) ::signal(sig, SIG_DFL);
  // Dies with the tool (Ctrl-C reaches only the tool's process group).
  ::prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (::getppid() != parent) ::_exit(125);
  if (options.stdout_to_stderr) ::dup2(STDERR_FILENO, STDOUT_FILENO);
  if (options.memory_limit_bytes > 0) {
    rlimit lim{options.memory_limit_bytes, options.memory_limit_bytes};
    ::setrlimit(RLIMIT_AS, &lim);
  }
  Channel channel(fd, shared);
  int code = 0;
  char kind = 'R';
  std::string text;
  try {
    code = body(channel);
    text = std::to_string(code);
  } catch (const std::exception& e) {
    kind = 'X';
    text = e.what();
  } catch (...) {
    kind = 'X';
    text = "unknown exception type";
  }
  std::fflush(nullptr);
  try {
    std::lock_guard lock(send_mutex());
    const std::uint32_t len = static_cast<std::uint32_t>(text.size() + 1);
    char header[5];
    std::memcpy(header, &len, 4);
    header[4] = kind;
    if (write_all(fd, header, 5)) write_all(fd, text.data(), text.size());
  } catch (...) {
  }
  ::_exit(kind == 'R' ? (code & 0xff) : 70);
}

}  // namespace

void Channel::send(std::string_view message) { send_frame('M', message); }

void Channel::send_frame(char type, std::string_view payload) {
  if (payload.size() >= 0xffffffffu) throw std::length_error("message too long for the channel");
  const std::uint32_t len = static_cast<std::uint32_t>(payload.size() + 1);
  char header[5];
  std::memcpy(header, &len, 4);
  header[4] = type;
  std::lock_guard lock(send_mutex());
  if (!write_all(fd_, header, 5) || !write_all(fd_, payload.data(), payload.size()))
    throw std::runtime_error(std::string("cannot send to the parent process: ") + std::strerror(errno));
}

Channel::Call::Call(Channel& channel, std::string_view label) {
  Slot* slot = thread_slot(static_cast<Shared*>(channel.shared_));
  slot_ = slot;
  saved_start_ = slot->started_ns.load(std::memory_order_relaxed);
  const std::size_t n = std::min(label.size(), kLabelSize - 1);
  std::memcpy(slot->label, label.data(), n);
  slot->label[n] = '\0';
  slot->started_ns.store(monotonic_ns(), std::memory_order_release);
}

Channel::Call::~Call() { static_cast<Slot*>(slot_)->started_ns.store(saved_start_, std::memory_order_release); }

std::string signal_description(int sig) {
  const char* abbrev = ::sigabbrev_np(sig);
  const char* text = ::strsignal(sig);
  std::string out = abbrev ? std::string("SIG") + abbrev : "signal " + std::to_string(sig);
  if (text) out += std::string(" (") + text + ")";
  return out;
}

ChildOutcome run_in_child(const std::function<int(Channel&)>& body,
                          const std::function<void(std::string_view)>& on_message, const ChildOptions& options) {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) throw std::runtime_error(std::string("pipe: ") + std::strerror(errno));
  void* mem = ::mmap(nullptr, sizeof(Shared), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  if (mem == MAP_FAILED) {
    ::close(fds[0]);
    ::close(fds[1]);
    throw std::runtime_error(std::string("mmap: ") + std::strerror(errno));
  }
  auto* shared = new (mem) Shared{};
  std::fflush(nullptr);
  const pid_t parent = ::getpid();
  const pid_t pid = ::fork();
  if (pid < 0) {
    const int err = errno;
    ::close(fds[0]);
    ::close(fds[1]);
    ::munmap(mem, sizeof(Shared));
    throw std::runtime_error(std::string("fork: ") + std::strerror(err));
  }
  if (pid == 0) {
    current_child = ::getpid();
    ::close(fds[0]);
    child_main(fds[1], shared, parent, body, options);
  }
  ::setpgid(pid, pid);  // also done in the child: whichever runs first
  ::close(fds[1]);
  const int fd = fds[0];
  ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK);

  std::string buffer;
  bool eof = false;
  bool reaped = false;
  int status = 0;
  char final_kind = 0;
  std::string final_text;
  ChildOutcome outcome;

  auto kill_group = [&] {
    ::kill(-pid, SIGKILL);
    ::kill(pid, SIGKILL);
  };
  auto cleanup = [&] {
    if (!reaped) {
      while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
      }
      reaped = true;
    }
    ::kill(-pid, SIGKILL);  // grandchildren left behind by user code, if any
    ::close(fd);
    ::munmap(mem, sizeof(Shared));
  };
  auto read_available = [&] {
    char chunk[65536];
    for (;;) {
      const ssize_t n = ::read(fd, chunk, sizeof chunk);
      if (n > 0) {
        buffer.append(chunk, static_cast<std::size_t>(n));
        continue;
      }
      if (n == 0) eof = true;
      else if (errno == EINTR) continue;
      else if (errno != EAGAIN && errno != EWOULDBLOCK) eof = true;
      break;
    }
    std::size_t pos = 0;
    while (buffer.size() - pos >= 5) {
      std::uint32_t len;
      std::memcpy(&len, buffer.data() + pos, 4);
      if (buffer.size() - pos - 4 < len) break;
      const char type = buffer[pos + 4];
      std::string_view payload(buffer.data() + pos + 5, len - 1);
      if (type == 'M') {
        try {
          on_message(payload);
        } catch (...) {
          kill_group();
          cleanup();
          throw;
        }
      } else {
        final_kind = type;
        final_text.assign(payload);
      }
      pos += 4 + len;
    }
    buffer.erase(0, pos);
  };

  const std::int64_t timeout_ns =
      options.call_timeout_seconds > 0 ? static_cast<std::int64_t>(options.call_timeout_seconds * 1e9) : 0;
  for (;;) {
    if (!eof) {
      pollfd p{fd, POLLIN, 0};
      const int r = ::poll(&p, 1, 50);
      if (r > 0) read_available();
    } else {
      ::usleep(10000);
    }
    if (timeout_ns > 0) {
      std::int64_t started = 0;
      const std::string label = active_call(shared, &started);
      if (started != 0 && monotonic_ns() - started > timeout_ns) {
        kill_group();
        read_available();
        outcome.ending = Ending::timed_out;
        char secs[32];
        std::snprintf(secs, sizeof secs, "%g", options.call_timeout_seconds);
        outcome.description = "timed out after " + std::string(secs) + " s" + during(label) + " (killed)";
        cleanup();
        return outcome;
      }
    }
    const pid_t w = ::waitpid(pid, &status, WNOHANG);
    if (w == pid) {
      reaped = true;
      // Whatever the child wrote before ending is still in the pipe.
      if (!eof) read_available();
      break;
    }
  }

  const std::string label = active_call(shared);
  if (final_kind == 'R') {
    outcome.ending = Ending::returned;
    outcome.exit_code = std::atoi(final_text.c_str());
    outcome.description = "finished (" + final_text + ")";
  } else if (final_kind == 'X') {
    outcome.ending = Ending::exception;
    outcome.description = "uncaught C++ exception: " + escape_invalid_utf8(final_text);  // the user's code's bytes
  } else if (WIFSIGNALED(status)) {
    outcome.ending = Ending::signaled;
    outcome.signal = WTERMSIG(status);
    outcome.description = "crashed with " + signal_description(outcome.signal) + during(label);
  } else {
    outcome.ending = Ending::exited;
    outcome.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    outcome.description = "exited with status " + std::to_string(outcome.exit_code) + during(label) +
                          " (the code called exit())";
  }
  cleanup();
  return outcome;
}

}  // namespace gradcheck::host
