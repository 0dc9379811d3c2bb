// A C++ plugin that does not use the adapter and lets an exception escape
// loss() into the host: the host must report it, not die.
#include <stdexcept>

#include "gradcheck/plugin.h"

namespace {
const std::int64_t shape[1] = {3};
const gradcheck_tensor_spec specs[1] = {{"x", 1, shape}};
int instance_tag = 0;

void* create(std::uint64_t) { return &instance_tag; }
void destroy(void*) {}
int init(void*, void* const* values) {
  for (int i = 0; i < 3; ++i) static_cast<double*>(values[0])[i] = i;
  return 0;
}
int loss(void*, const void* const*, double*, void* const*) { throw std::logic_error("index 7 out of range"); }

const gradcheck_model model{GRADCHECK_ABI_VERSION, sizeof(gradcheck_model), "escapes", GRADCHECK_F64, 1, specs,
                            create, destroy, init, loss, nullptr};
const gradcheck_model* const models[1] = {&model};
}  // namespace

extern "C" const gradcheck_model* const* gradcheck_plugin_models(std::uint32_t, std::int32_t* count) {
  *count = 1;
  return models;
}
