/* The model plugin ABI, version 1 (see the project's plugin-abi page).
 *
 * A plugin is a shared library exporting one C function,
 * gradcheck_plugin_models(), that lists its models. Plain C so that a plugin
 * can be built by any compiler, standard library or language and still load.
 * Version 1 is frozen: later versions only append fields to gradcheck_model,
 * and the host reads struct_size to know which fields a plugin has.
 * C++ users: gradcheck/plugin.hpp writes all of this from a class. */
#ifndef GRADCHECK_PLUGIN_H
#define GRADCHECK_PLUGIN_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define GRADCHECK_ABI_VERSION 1u

/* Default visibility for the entry point, so a plugin built with
 * -fvisibility=hidden still exports it (the declaration below carries it to
 * the plugin's definition). */
#if defined(_WIN32)
#define GRADCHECK_PLUGIN_EXPORT __declspec(dllexport)
#elif defined(__GNUC__) || defined(__clang__)
#define GRADCHECK_PLUGIN_EXPORT __attribute__((visibility("default")))
#else
#define GRADCHECK_PLUGIN_EXPORT
#endif

enum gradcheck_dtype { GRADCHECK_F32 = 1, GRADCHECK_F64 = 2 };

typedef struct gradcheck_tensor_spec {
  const char *name;       /* unique within the model, e.g. "fc1.weight" */
  int32_t rank;           /* 0 to 8 */
  const int64_t *shape;   /* `rank` extents; values are stored row-major */
} gradcheck_tensor_spec;

typedef struct gradcheck_model {
  uint32_t abi_version;   /* GRADCHECK_ABI_VERSION */
  uint32_t struct_size;   /* sizeof(gradcheck_model) where the plugin was built */
  const char *name;       /* unique within the plugin; shown in reports */
  int32_t dtype;          /* enum gradcheck_dtype of every value and gradient buffer */
  int32_t num_tensors;
  const gradcheck_tensor_spec *tensors;   /* the differentiable tensors */
  /* A new instance holding everything the loss needs besides the tensor values
   * (data batch, targets, constants, a layer's fixed upstream gradient dy), every
   * random draw taken from `seed`. NULL on failure. Instances share no mutable
   * state: the host may call several from different threads at once. */
  void *(*create)(uint64_t seed);
  void (*destroy)(void *instance);
  /* Writes the starting value of every tensor into values[i] (product of its
   * extents, float for GRADCHECK_F32, double for GRADCHECK_F64). 0 on success. */
  int (*init)(void *instance, void *const *values);
  /* The scalar loss at `values`; when `grads` is not NULL also d loss / d
   * values[i] into grads[i], every element. Must not change `values`. 0 on
   * success, else nonzero with a message from last_error(). A layer with output
   * y is checked as loss = sum(dy * y). */
  int (*loss)(void *instance, const void *const *values, double *loss,
              void *const *grads);
  const char *(*last_error)(void *instance);   /* may be NULL */
} gradcheck_model;

/* The one symbol a plugin exports, with C linkage and default visibility.
 * Returns an array of `*count` model pointers valid until the library is
 * unloaded, or NULL with *count = 0 when it cannot serve `host_abi_version`. */
GRADCHECK_PLUGIN_EXPORT
const gradcheck_model *const *gradcheck_plugin_models(uint32_t host_abi_version,
                                                      int32_t *count);

#ifdef __cplusplus
}
#endif

#endif /* GRADCHECK_PLUGIN_H */
