// render_convdiag LOG... --html FILE: the convdiag HTML page for real logs
// plus a hand-filled ActiveReport (the learning-rate range test, overfitting
// curves, an initial-loss mismatch and a NaN tail), so the browser test sees
// every element of the active-check section, including those a healthy
// sample model never produces (the tool's own report is tested beside it).
// Exit 0 when written; 2 (with the reason) on bad input.
#include <cmath>
#include <cstdio>
#include <string>
#include <vector>

#include "gradcheck/diag/active.hpp"
#include "gradcheck/diag/diagnose.hpp"
#include "gradcheck/diag/render.hpp"
#include "gradcheck/diag/report.hpp"
#include "gradcheck/errors.hpp"
#include "gradcheck/logs/readers.hpp"
#include "gradcheck/output.hpp"

namespace d = gradcheck::diag;

// A model whose range test dips near 1e-2 and diverges past 1: the suggested
// rate and the lowest-loss rate must be marked, the NaN tail marked too.
d::ActiveReport sample_active() {
  d::ActiveReport a;
  a.plugin = "samples/mlp/mlp.so";
  d::ModelActive m;
  m.model = "mlp_f64";
  m.dtype = "f64";
  m.values = 4321;
  m.initial_loss = 4.1;
  m.expected_initial_loss = std::log(10.0);
  m.symptoms.push_back({d::SymptomKind::initial_loss_mismatch, "loss", 0, 0, d::Severity::warning,
                        "initial loss 4.1 vs ln(10) = 2.30 (78% off, tolerance 25%)",
                        "Initialise the last layer's weights small and its bias to zero."});
  for (const char* opt : {"gd", "adam"}) {
    d::OverfitAttempt at;
    at.optimizer = opt;
    at.learning_rate = opt[0] == 'g' ? 0.1 : 0.01;
    at.steps = 200;
    at.initial_loss = 4.1;
    for (int i = 0; i < 200; ++i) at.losses.push_back(4.1 * std::exp(-(opt[0] == 'g' ? 0.02 : 0.05) * i) + 1e-4);
    at.final_loss = at.losses.back();
    m.overfit.push_back(at);
  }
  for (int i = 0; i < 100; ++i) {
    const double lr = 1e-6 * std::pow(10.0, 7.0 * i / 99.0);
    const double x = std::log10(lr);
    double loss = 2.3 - 1.2 / (1 + std::exp(-(x + 3) * 2)) + (x > -1 ? std::exp((x + 1) * 4) - 1 : 0);
    if (x > 0.4) loss = NAN;
    m.lr_range.points.push_back({lr, loss});
  }
  m.lr_range.suggested_rate = 1e-3;
  m.lr_range.min_loss_rate = 0.05;
  a.models.push_back(m);
  d::ModelActive crashed;
  crashed.model = "crashy_f32";
  crashed.dtype = "f32";
  crashed.values = 10;
  crashed.failure = "crashy_f32: loss() crashed with signal 11 (SIGSEGV) during the learning-rate range test";
  a.models.push_back(crashed);
  return a;
}

int main(int argc, char** argv) {
  std::vector<std::string> paths;
  std::string html;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--html" && i + 1 < argc) html = argv[++i];
    else paths.push_back(arg);
  }
  if (html.empty() || paths.empty()) {
    std::fprintf(stderr, "usage: render_convdiag LOG... --html FILE\n");
    return 2;
  }
  try {
    d::Report report;
    for (const auto& p : paths) {
      report.logs.push_back(gradcheck::logs::read_log(p));
      report.runs.push_back(d::diagnose(report.logs.back()));
    }
    report.active = sample_active();
    gradcheck::write_file_atomically(html, d::to_html(report));
  } catch (const gradcheck::InputError& e) {
    std::fprintf(stderr, "render_convdiag: %s\n", e.what());
    return 2;
  }
  return 0;
}
