/* A plugin written in C against the plugin-abi page, compiled into one shared
 * library per VARIANT: "ok" is a correct quadratic model; every other variant
 * breaks one rule of the ABI or misbehaves at run time in one way, so the
 * host's refusals and isolation can be tested one by one.
 *
 * loss = sum_i 0.5 * a_i * x_i^2 + b . y   over tensors x [2, 3] and y [4],
 * a_i = 1 + i, b drawn from the seed; gradient a_i * x_i and b. */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "gradcheck/plugin.h"

#define V_ok 0
#define V_wrong_version 1
#define V_small_struct 2
#define V_null_name 3
#define V_null_loss 4
#define V_null_create 5
#define V_bad_dtype 6
#define V_negative_num_tensors 7
#define V_bad_rank 8
#define V_negative_extent 9
#define V_overflow_extents 10
#define V_duplicate_names 11
#define V_refuse_host 12
#define V_no_symbol 13
#define V_duplicate_models 14
#define V_crash 20
#define V_abort 21
#define V_exit 22
#define V_hang 23
#define V_error_return 24
#define V_not_written 25
#define V_modifies_values 26
#define V_non_finite 27
#define V_nondeterministic 28
#define V_stateful 29
#define V_create_null 30
#define V_huge_alloc 31
#define V_null_tensor_name 32
#define V_null_last_error 33
#define V_slow 34
#define V_bad_bytes_error 35

#define CAT2(a, b) a##b
#define CAT(a, b) CAT2(a, b)
#define THIS CAT(V_, VARIANT)

typedef struct instance {
  double b[4];
  double accumulator[4];
  int calls;
  char error[64];
} instance;

static void *create(uint64_t seed) {
  instance *inst;
  int i;
  if (THIS == V_create_null) return NULL;
  inst = (instance *)calloc(1, sizeof(instance));
  if (inst == NULL) return NULL;
  /* A tiny LCG keeps the example self-contained; any seeded generator works. */
  for (i = 0; i < 4; ++i) {
    seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
    inst->b[i] = (double)(seed >> 11) / 9007199254740992.0 - 0.5;
  }
  return inst;
}

static void destroy(void *p) { free(p); }

static int init(void *p, void *const *values) {
  double *x = (double *)values[0];
  double *y = (double *)values[1];
  int i;
  (void)p;
  for (i = 0; i < 6; ++i) x[i] = 0.25 * (i - 2);
  for (i = 0; i < 4; ++i) y[i] = 0.5 - 0.1 * i;
  return 0;
}

static int loss(void *p, const void *const *values, double *out, void *const *grads) {
  instance *inst = (instance *)p;
  const double *x = (const double *)values[0];
  const double *y = (const double *)values[1];
  double l = 0;
  int i;
  inst->calls++;
  if (THIS == V_crash) {
    volatile int *nowhere = NULL;
    *nowhere = 1;
  }
  if (THIS == V_abort) abort();
  if (THIS == V_exit) exit(3);
  if (THIS == V_hang)
    for (;;) pause();
  if (THIS == V_error_return) {
    strcpy(inst->error, "the batch file is missing");
    return 7;
  }
  if (THIS == V_bad_bytes_error) { /* a message that is not UTF-8, with a newline */
    strcpy(inst->error, "the batch \xff file\nis missing");
    return 8;
  }
  if (THIS == V_null_last_error) return 5;
  if (THIS == V_slow) {
    struct timespec pause_for = {0, 20000000L}; /* 20 ms a call: a check takes about a second */
    nanosleep(&pause_for, NULL);
  }
  if (THIS == V_huge_alloc) {
    /* Asks for far more than any address-space limit allows, then uses it
     * without checking, as careless code does. */
    double *big = (double *)malloc((size_t)1 << 45);
    big[12345] = 1.0;
    l += big[12345] * 0.0;
  }
  if (THIS == V_modifies_values) ((double *)values[0])[4] += 1.0;
  for (i = 0; i < 6; ++i) l += 0.5 * (1 + i) * x[i] * x[i];
  for (i = 0; i < 4; ++i) l += inst->b[i] * y[i];
  if (THIS == V_nondeterministic) l += 1e-9 * inst->calls;
  if (THIS == V_non_finite) l = NAN;
  *out = l;
  if (grads != NULL) {
    double *gx = (double *)grads[0];
    double *gy = (double *)grads[1];
    for (i = 0; i < 6; ++i) gx[i] = (1 + i) * x[i];
    for (i = 0; i < 4; ++i) {
      if (THIS == V_not_written && i == 3) continue;
      if (THIS == V_stateful) {
        inst->accumulator[i] += inst->b[i];
        gy[i] = inst->accumulator[i];
      } else {
        gy[i] = inst->b[i];
      }
    }
  }
  return 0;
}

static const char *last_error(void *p) { return ((instance *)p)->error; }

#if THIS == V_overflow_extents
static const int64_t shape_x[2] = {INT64_C(4294967296), INT64_C(4294967296)};
#elif THIS == V_negative_extent
static const int64_t shape_x[2] = {2, -3};
#else
static const int64_t shape_x[2] = {2, 3};
#endif
static const int64_t shape_y[1] = {4};

static const gradcheck_tensor_spec tensors[2] = {
    {THIS == V_null_tensor_name ? NULL : "x", THIS == V_bad_rank ? 9 : 2, shape_x},
    {THIS == V_duplicate_names ? "x" : "y", 1, shape_y},
};

static const gradcheck_model model = {
    THIS == V_wrong_version ? 2u : GRADCHECK_ABI_VERSION,
    THIS == V_small_struct ? 16u : (uint32_t)sizeof(gradcheck_model),
    THIS == V_null_name ? NULL : "quadratic",
    THIS == V_bad_dtype ? 3 : GRADCHECK_F64,
    THIS == V_negative_num_tensors ? -1 : 2,
    tensors,
    THIS == V_null_create ? NULL : create,
    destroy,
    init,
    THIS == V_null_loss ? NULL : loss,
    THIS == V_null_last_error ? NULL : last_error,
};

#if THIS != V_no_symbol
static const gradcheck_model *const models[2] = {&model, &model};

const gradcheck_model *const *gradcheck_plugin_models(uint32_t host_abi_version, int32_t *count) {
  if (THIS == V_refuse_host || host_abi_version < GRADCHECK_ABI_VERSION) {
    *count = 0;
    return NULL;
  }
  *count = THIS == V_duplicate_models ? 2 : 1;
  return models;
}
#else
/* Exports something, but not the entry point. */
const gradcheck_model *not_the_entry_point(void) { return &model; }
#endif
