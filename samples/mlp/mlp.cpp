// The MLP plugin: a two-layer ReLU network with softmax cross-entropy in f32
// and f64, and its two pieces (a linear layer, the loss alone) checked on
// their own.
#include "mlp.hpp"

GRADCHECK_EXPORT_MODELS(samples::Mlp<float>, samples::Mlp<double>, samples::Linear<float>, samples::Linear<double>,
                        samples::SoftmaxCrossEntropy<float>, samples::SoftmaxCrossEntropy<double>)
