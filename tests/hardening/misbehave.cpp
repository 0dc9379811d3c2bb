// Test plugins that misbehave in the ways tests/plugin does not already cover,
// one shared library per VARIANT. Each exports two models in this order:
// "victim", whose code misbehaves, and "bystander", a correct quadratic that
// the tool must still check afterwards (proof that the tool survived and
// went on in a fresh child). Written against plugin.h alone, as a user's
// plugin would be.
#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <new>
#include <stdexcept>
#include <string>

#include "gradcheck/plugin.h"

#define V_heap_overflow 1
#define V_stack_overflow 2
#define V_throw_int 3
#define V_throw_in_create 4
#define V_throw_in_entry 5
#define V_terminate 6
#define V_exit0 7
#define V_div_zero 8
#define V_hang_signals_blocked 9
#define V_fork_linger 10
#define V_huge_new 11
#define V_leak_growing 12
#define V_close_fds 13
#define V_scribble_fds 14
#define V_nan_grad 15
#define V_inf_loss 16
#define V_long_error 17
#define V_last_error_crash 18
#define V_init_error 19
#define V_healthy 20
#define CAT2(a, b) a##b
#define CAT(a, b) CAT2(a, b)
#define THIS CAT(V_, VARIANT)

namespace {

const std::int64_t shape[1] = {3};
const gradcheck_tensor_spec specs[1] = {{"w", 1, shape}};

struct Instance {
  std::string error;
};

// Keeps the compiler from proving the recursion infinite or the division constant.
volatile int zero = 0;
volatile int seven = 7;

int recurse(int depth);
// Called through volatile pointers so that neither the compiler nor its
// warnings see the unbounded recursion or the throw inside noexcept.
int (*volatile recurse_again)(int) = recurse;
int recurse(int depth) {
  volatile char pad[4096];
  pad[0] = static_cast<char>(depth);
  return recurse_again(depth + 1) + pad[0];
}

void thrower() { throw std::runtime_error("thrown through noexcept"); }
void (*volatile throw_it)() = thrower;
void never_returns_normally() noexcept {
  // An exception leaving a noexcept function: std::terminate, i.e. abort().
  throw_it();
}

void* create(std::uint64_t) {
  if (THIS == V_throw_in_create) throw std::runtime_error("no GPU found while creating the model");
  return new Instance;
}

void destroy(void* p) { delete static_cast<Instance*>(p); }

int init(void* p, void* const* values) {
  auto* inst = static_cast<Instance*>(p);
  if (THIS == V_hang_signals_blocked) {
    // Busy, deaf to every signal that can be blocked: only SIGKILL ends it.
    sigset_t all;
    sigfillset(&all);
    sigprocmask(SIG_BLOCK, &all, nullptr);
    volatile unsigned long spins = 0;
    for (;;) spins = spins + 1;
  }
  if (THIS == V_init_error) {
    inst->error = "weights file 'init.bin' not found";
    return -1;
  }
  for (int i = 0; i < 3; ++i) static_cast<double*>(values[0])[i] = 0.5 * (i + 1);
  return 0;
}

int loss(void* p, const void* const* values, double* out, void* const* grads) {
  auto* inst = static_cast<Instance*>(p);
  const double* w = static_cast<const double*>(values[0]);
  switch (THIS) {
    case V_heap_overflow: {
      // Writes past the host's 3-element gradient buffer until the memory ends.
      volatile double* g = static_cast<double*>(grads ? grads[0] : const_cast<double*>(w));
      for (std::size_t i = 0;; ++i) g[i] = 1.0;
    }
    case V_stack_overflow: return recurse(0);
    case V_throw_int: throw 42;
    case V_terminate: never_returns_normally(); break;
    case V_exit0: std::exit(0);
    case V_div_zero: {
      volatile int quotient = seven / zero;  // nothing constant: the division must happen
      (void)quotient;
      break;
    }
    case V_fork_linger:
      // A helper process that outlives the call and keeps every inherited
      // descriptor (the host's pipe included) open for a minute.
      if (::fork() == 0) {
        ::sleep(60);
        ::_exit(0);
      }
      break;
    case V_huge_new: {
      // 32 TiB: more than any machine gives; the bad_alloc escapes into the host.
      double* big = new double[std::size_t{1} << 42];
      big[0] = 1;
      *out = big[0];
      break;
    }
    case V_leak_growing: {
      // 64 MiB more per call, touched and never freed, as a cache that grows.
      char* block = new char[std::size_t{64} << 20];
      std::memset(block, 1, std::size_t{64} << 20);
      break;
    }
    case V_close_fds:
      for (int fd = 3; fd < 1024; ++fd) ::close(fd);
      break;
    case V_scribble_fds: {
      // A stray writer: junk into every descriptor it did not open.
      const char junk[] = "\xff\xff\xff\x7fZjunk from the model\n";
      for (int fd = 3; fd < 64; ++fd) (void)!::write(fd, junk, sizeof junk);
      break;
    }
    case V_long_error:
      inst->error.assign(std::size_t{1} << 20, 'e');
      inst->error.replace(0, 24, "first line\nsecond line\n");
      return 2;
    case V_last_error_crash: return 9;
    default: break;
  }
  double l = 0;
  for (int i = 0; i < 3; ++i) l += 0.5 * (i + 1) * w[i] * w[i];
  if (THIS == V_inf_loss) l = 1.0 / static_cast<double>(zero);
  *out = l;
  if (grads != nullptr)
    for (int i = 0; i < 3; ++i) static_cast<double*>(grads[0])[i] = (i + 1) * w[i];
  if (THIS == V_nan_grad && grads != nullptr) static_cast<double*>(grads[0])[1] = 0.0 / static_cast<double>(zero);
  return 0;
}

const char* last_error(void* p) {
  // Returns a pointer into nowhere: the host's call to last_error crashes.
  if (THIS == V_last_error_crash) return reinterpret_cast<const char*>(std::uintptr_t{16});
  return static_cast<Instance*>(p)->error.c_str();
}

// The bystander: the same quadratic, correct, sharing no code path with the
// victim's misbehaviour.
void* ok_create(std::uint64_t) { return new Instance; }
int ok_init(void*, void* const* values) {
  for (int i = 0; i < 3; ++i) static_cast<double*>(values[0])[i] = 0.25 * (i + 1);
  return 0;
}
int ok_loss(void*, const void* const* values, double* out, void* const* grads) {
  const double* w = static_cast<const double*>(values[0]);
  double l = 0;
  for (int i = 0; i < 3; ++i) l += 0.5 * (i + 1) * w[i] * w[i];
  *out = l;
  if (grads != nullptr)
    for (int i = 0; i < 3; ++i) static_cast<double*>(grads[0])[i] = (i + 1) * w[i];
  return 0;
}

const gradcheck_model victim{GRADCHECK_ABI_VERSION, sizeof(gradcheck_model), "victim", GRADCHECK_F64, 1, specs,
                             create, destroy, init, loss, last_error};
const gradcheck_model bystander{GRADCHECK_ABI_VERSION, sizeof(gradcheck_model), "bystander", GRADCHECK_F64, 1, specs,
                                ok_create, destroy, ok_init, ok_loss, nullptr};
const gradcheck_model* const models[2] = {&victim, &bystander};

}  // namespace

extern "C" __attribute__((visibility("default"))) const gradcheck_model* const* gradcheck_plugin_models(
    std::uint32_t, std::int32_t* count) {
  if (THIS == V_throw_in_entry) throw std::runtime_error("cannot read the model's config file");
  *count = 2;
  return models;
}
