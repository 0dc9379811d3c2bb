// The buggy twins: the mistakes a learner makes in a first backward pass, each
// in f32 and f64. The bugs are written in relu_layer.hpp and mlp.hpp next to
// the correct lines they replace (search for "BUG").
//
//   relu_no_mask_*                   ReLU backward without the mask       -> x
//   softmax_ce_no_onehot_*           softmax CE gradient without - onehot -> logits
//   linear_bias_not_summed_*         bias gradient of one example only    -> bias
//   softmax_ce_missing_batch_factor_* mean loss, summed gradient (x batch) -> logits
#include "mlp.hpp"
#include "relu_layer.hpp"

using samples::LossBug;

GRADCHECK_EXPORT_MODELS(samples::ReluLayer<float, true>, samples::ReluLayer<double, true>,
                        samples::SoftmaxCrossEntropy<float, LossBug::no_onehot>,
                        samples::SoftmaxCrossEntropy<double, LossBug::no_onehot>,
                        samples::Linear<float, true>, samples::Linear<double, true>,
                        samples::SoftmaxCrossEntropy<float, LossBug::missing_batch_factor>,
                        samples::SoftmaxCrossEntropy<double, LossBug::missing_batch_factor>)
