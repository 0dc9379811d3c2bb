// The sample plugins through the host alone (no checker): central differences
// per tensor. Correct samples agree everywhere; each buggy twin disagrees in
// its guilty tensor and nowhere else. The gradcheck tool's own tests run the
// same plugins end to end.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <map>
#include <string>

#include "gradcheck/host/loader.hpp"
#include "support/central_difference.hpp"

using namespace gradcheck::host;

namespace {

// Largest |analytic - numeric| of each tensor relative to the tensor's largest
// |numeric|.
std::map<std::string, double> tensor_errors(const Plugin& p, std::size_t k) {
  ModelInstance m(p, k, 2024);
  const std::vector<double> x = m.init();
  std::vector<double> g(x.size());
  double loss = 0;
  const auto problems = m.loss_twice(x, loss, g);
  for (const auto& pr : problems) FAIL_CHECK(gradcheck::to_string(pr.kind) << ": " << pr.message);
  const bool f32 = m.info().dtype == gradcheck::Dtype::f32;
  std::map<std::string, double> out;
  for (const auto& t : m.info().tensors) {
    double worst = 0, scale = 1e-12;
    for (std::size_t i = t.offset; i < t.offset + t.count; ++i) {
      const double h = (f32 ? 1e-2 : 1e-6) * std::max(1.0, std::abs(x[i]));
      const double numeric = gradcheck::test::central_difference(m, x, i, h);
      worst = std::max(worst, std::abs(g[i] - numeric));
      scale = std::max(scale, std::abs(numeric));
    }
    out[t.name] = worst / scale;
  }
  return out;
}

}  // namespace

TEST_CASE("correct samples agree with central differences in every tensor", "[samples]") {
  for (const char* path : {SAMPLE_RELU, SAMPLE_MLP, SAMPLE_FOCAL}) {
    Plugin p(path);
    for (std::size_t k = 0; k < p.models().size(); ++k) {
      const bool f32 = p.models()[k].dtype == gradcheck::Dtype::f32;
      for (const auto& [tensor, err] : tensor_errors(p, k)) {
        INFO(p.models()[k].name << " " << tensor);
        CHECK(err < (f32 ? 2e-2 : 1e-6));
      }
    }
  }
}

TEST_CASE("each buggy twin is wrong in its guilty tensor and nowhere else", "[samples]") {
  const std::map<std::string, std::string> guilty = {
      {"relu_no_mask", "x"},
      {"softmax_ce_no_onehot", "logits"},
      {"linear_bias_not_summed", "bias"},
      {"softmax_ce_missing_batch_factor", "logits"},
  };
  Plugin p(SAMPLE_BUGGY);
  REQUIRE(p.models().size() == 2 * guilty.size());
  for (std::size_t k = 0; k < p.models().size(); ++k) {
    const std::string& name = p.models()[k].name;
    const std::string base = name.substr(0, name.size() - 4);  // without _f32 / _f64
    REQUIRE(guilty.count(base) == 1);
    const bool f32 = p.models()[k].dtype == gradcheck::Dtype::f32;
    for (const auto& [tensor, err] : tensor_errors(p, k)) {
      INFO(name << " " << tensor << " relative error " << err);
      if (tensor == guilty.at(base)) CHECK(err > 0.1);
      else CHECK(err < (f32 ? 2e-2 : 1e-6));
    }
  }
}
