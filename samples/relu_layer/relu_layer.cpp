// The ReLU layer plugin: `gradcheck relu_layer.so` checks relu_f32 and relu_f64.
#include "relu_layer.hpp"

GRADCHECK_EXPORT_MODELS(samples::ReluLayer<float>, samples::ReluLayer<double>)
