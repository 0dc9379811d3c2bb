// The report pages (every result's to_html) built from hand-filled result
// structs: self-contained, the expected sections and charts present, verdicts
// first.
#include <catch2/catch.hpp>

#include <cmath>
#include <string>

#include "gradcheck/diag/render.hpp"
#include "gradcheck/host/plugin_check.hpp"
#include "gradcheck/report.hpp"
#include "gradcheck/weights/render.hpp"
#include "count.hpp"

using namespace gradcheck;

namespace {

using gradcheck::html::test::count;

// No external resource of any kind: the page must work offline.
void require_self_contained(const std::string& page) {
  CHECK(page.rfind("<!DOCTYPE html>", 0) == 0);
  CHECK(page.find("<script") == std::string::npos);
  CHECK(page.find("src=") == std::string::npos);
  CHECK(page.find("href=") == std::string::npos);
  CHECK(page.find("@import") == std::string::npos);
  CHECK(page.find("url(") == std::string::npos);
  CHECK(page.find("prefers-color-scheme:dark") != std::string::npos);
  CHECK(page.find("@media print") != std::string::npos);
}

}  // namespace

TEST_CASE("gradcheck page: verdict first, bars per tensor, scatter, worst entries of the failing tensor", "[pages]") {
  host::PluginReport r;
  r.plugin = "libmodel.so";
  CheckResult m;
  m.name = "mlp_f64";
  m.passed = false;
  m.verdict = Verdict::mismatch;
  for (int b = 0; b < 3; ++b) {
    BlockResult br;
    br.name = "w" + std::to_string(b);
    br.shape = {2, 3};
    br.size = 6;
    br.checked = 6;
    br.max_rel_error = b == 1 ? 0.5 : 1e-9;
    br.max_error_bound = 1e-7;
    br.verdict = b == 1 ? Verdict::mismatch : Verdict::ok;
    if (b == 1) {
      br.mismatches = 6;
      br.hint = "analytic = 2 x numeric <for every entry>";
    }
    for (int e = 0; e < 3; ++e) {
      Entry en;
      en.position = e;
      en.index = {0, e};
      en.numeric = 0.1 * (e + 1);
      en.analytic = b == 1 ? 2 * en.numeric : en.numeric;
      en.verdict = br.verdict;
      br.worst.push_back(en);
    }
    m.blocks.push_back(br);
  }
  r.models.push_back(m);
  const std::string page = host::to_html(r);
  require_self_contained(page);
  CHECK(page == host::to_html(r));
  // The plugin's verdict is the first thing in the body.
  const auto verdict = page.find("class=\"verdict bad\">FAIL libmodel.so");
  REQUIRE(verdict != std::string::npos);
  CHECK(verdict < page.find("<svg"));
  CHECK(count(page, "chart chart-bars") == 1);
  CHECK(count(page, "chart chart-scatter") == 1);
  CHECK(count(page, "class=\"point c1\"") == 3);  // the mismatching tensor's entries, coloured apart
  CHECK(count(page, "class=\"point c2\"") == 6);
  CHECK(page.find("&lt;for every entry&gt;") != std::string::npos);  // the hint, escaped
  CHECK(count(page, "<h3>") == 1);  // worst entries only for the failing tensor
  // The failing tensors with their hints come before any chart.
  const auto summary = page.find("1 of 3 tensors are not ok");
  REQUIRE(summary != std::string::npos);
  CHECK(summary < page.find("<svg"));
  const auto hint_cell = page.find("<td class=\"hint\">analytic = 2 x numeric &lt;for every entry&gt;</td>");
  REQUIRE(hint_cell != std::string::npos);
  CHECK(hint_cell < page.find("<svg"));
  // The worst entries show analytic / numeric: the factor 2 on every row.
  CHECK(page.find("<th>analytic / numeric</th>") != std::string::npos);
  CHECK(count(page, "<td class=\"num\">2</td>") == 3);
  // Too few coordinates for a scale fit: none shown. A tensor with one gets it under its heading.
  CHECK(page.find("Scale fit:") == std::string::npos);
  host::PluginReport fitted = r;
  BlockResult& w1 = fitted.models[0].blocks[1];
  w1.scale = 1 / 1.00101;
  w1.scale_error = 3.5e-5;
  w1.scale_entries = 8192;
  w1.scale_check = 1 / 1.0011;
  // Entries that mismatch alone are left out of the fit: then it is no evidence and not shown.
  CHECK(host::to_html(fitted).find("Scale fit:") == std::string::npos);
  w1.mismatches = 0;
  const std::string fp = host::to_html(fitted);
  CHECK(fp.find("Scale fit: as a whole, analytic = 1.00101 x numeric (+-3.5e-05) over 8192 coordinates; 1.0011 at "
                "4x larger steps") != std::string::npos);

  host::PluginReport crashed;
  crashed.plugin = "bad.so";
  crashed.load_failure = "crashed with signal 11 (SIGSEGV) while loading";
  const std::string cp = host::to_html(crashed);
  CHECK(cp.find("SIGSEGV") != std::string::npos);
  CHECK(cp.find("<svg") == std::string::npos);
}

TEST_CASE("the page of one check: its verdict first, then its model's section", "[pages]") {
  CheckResult m;
  m.name = "dense_layer";
  m.passed = false;
  m.verdict = Verdict::mismatch;
  BlockResult b;
  b.name = "W";
  b.shape = {2, 2};
  b.size = 4;
  b.checked = 4;
  b.mismatches = 1;
  b.max_rel_error = 0.5;
  b.verdict = Verdict::mismatch;
  Entry e;
  e.index = {0, 1};
  e.numeric = 0.25;
  e.analytic = 0.5;
  e.verdict = Verdict::mismatch;
  b.worst.push_back(e);
  m.blocks.push_back(b);
  const std::string page = to_html(m);
  require_self_contained(page);
  CHECK(page == to_html(m));
  const auto verdict = page.find("class=\"verdict bad\">" + verdict_line(m));
  REQUIRE(verdict != std::string::npos);
  CHECK(verdict < page.find("<h2>Model dense_layer"));
  CHECK(count(page, "class=\"verdict ") == 1);  // not repeated under the model's heading
  CHECK(count(page, "chart chart-bars") == 1);
  CHECK(count(page, "chart chart-scatter") == 1);
}

TEST_CASE("weightstats page: flags explained, init-scale bars, histograms, spectral and diff sections", "[pages]") {
  weights::WeightsReport r;
  r.files = {"a.safetensors"};
  weights::TensorReport t;
  t.name = "fc1.weight";
  t.shape = {4, 8};
  t.stats.count = 32;
  t.stats.finite_count = 32;
  t.stats.min = -0.5;
  t.stats.max = 0.5;
  t.stats.std = 0.01;
  t.stats.histogram.bins = {{weights::Histogram::key_of(-0.5), 3}, {weights::Histogram::key_of(0.25), 29}};
  weights::MatrixStats ms;
  ms.fan_in = 8;
  ms.fan_out = 4;
  ms.he_std = 0.5;
  ms.ratio_he = 0.002;
  t.matrix = ms;
  t.flags = {weights::Flag::vanishing_init_scale};
  t.evidence = {"std 0.01 is 0.002x the He std"};
  weights::SpectralStats sp;
  sp.eigenvalues = 4;
  sp.power_law.alpha = 3.5;
  sp.power_law.xmin = 4;
  sp.power_law.tail_count = 2;
  sp.spectrum = {9, 4, 1, 0.25};
  t.spectral = sp;
  r.tensors.push_back(t);
  r.has_diff = true;
  r.diff_before = "a";
  r.diff_after = "b";
  weights::DiffEntry d;
  d.name = "fc1.weight";
  d.stats.rel_change = 2.5;
  d.flags = {weights::Flag::large_update};
  r.diff.push_back(d);

  const std::string page = weights::to_html(r);
  require_self_contained(page);
  CHECK(page == weights::to_html(r));
  CHECK(page.find("class=\"verdict bad\">weightstats: FLAGGED") != std::string::npos);
  CHECK(page.find("vanishing_init_scale: a matrix std below 0.01x") != std::string::npos);
  CHECK(page.find("large_update: diff") != std::string::npos);
  CHECK(count(page, "chart chart-hist") == 1);
  CHECK(count(page, "chart chart-bars") == 3);  // init scale, alpha, diff
  CHECK(count(page, "<tr class=\"flagged\">") == 2);
  CHECK(count(page, "<tr class=\"evidence\">") == 1);
  // The eigenvalue tail against its power law: the 4 eigenvalues, 2 of them
  // in the tail (>= xmin 4), the fit and xmin.
  CHECK(count(page, "chart chart-tail") == 1);
  CHECK(count(page, "class=\"point c1\"") == 2);
  CHECK(count(page, "class=\"series fit c4\"") == 1);
  CHECK(page.find("Eigenvalue tails") != std::string::npos);
}

TEST_CASE("convdiag page: curves with symptom spans and advice, active checks with the rate marked", "[pages]") {
  diag::RunDiagnosis run;
  run.source = "train.csv";
  run.metrics = {"loss", "lr"};
  diag::Curve loss{"loss", "loss", 4, 1, 2, 9, 2, 9, 0, 3, {2, 9, NAN, 3}};
  diag::Curve lr{"lr", "lr", 4, 0, 1e-3, 1e-1, 1e-3, 1e-1, 0, 3, {1e-3, 1e-2, 1e-1, 1e-1}};
  run.curves = {loss, lr};
  run.symptoms.push_back({diag::SymptomKind::divergence, "loss", 1, 2, diag::Severity::error, "rose 4.5x", "Lower the rate."});
  run.symptoms.push_back({diag::SymptomKind::plateau, "other_metric", 0, 3, diag::Severity::warning, "flat", "Wait."});

  diag::ActiveReport active;
  active.plugin = "m.so";
  diag::ModelActive m;
  m.model = "m";
  m.initial_loss = 2.3;
  m.expected_initial_loss = std::log(10.0);
  diag::OverfitAttempt adam;
  adam.optimizer = "adam";
  adam.learning_rate = 0.01;
  adam.steps = 3;
  adam.initial_loss = 2.3;
  adam.final_loss = 0.1;
  adam.losses = {2.0, 1.0, 0.1};
  m.overfit.push_back(adam);
  m.lr_range.points = {{1e-5, 2.3}, {1e-4, 2.0}, {1e-3, 1.5}, {1e-2, 3.0}};
  m.lr_range.suggested_rate = 1e-4;
  m.lr_range.min_loss_rate = 1e-3;
  active.models.push_back(m);

  diag::Report report;
  report.runs = {run};
  report.active = active;
  const std::string page = diag::to_html(report);
  require_self_contained(page);
  CHECK(page == diag::to_html(report));
  const auto verdict = page.find("class=\"verdict bad\">convdiag:");
  REQUIRE(verdict != std::string::npos);
  CHECK(verdict < page.find("<svg"));
  CHECK(count(page, "chart chart-line") == 2 + 2);  // loss, lr; overfit, range test
  CHECK(count(page, "class=\"span span-error\"") == 1);
  CHECK(page.find("Advice: Lower the rate.") != std::string::npos);
  CHECK(page.find("Other findings") != std::string::npos);  // a symptom of a series not drawn
  CHECK(count(page, "class=\"nonfinite ") == 1);
  CHECK(count(page, "class=\"marker\"") == 2);  // suggested and lowest-loss rates
  CHECK(page.find("suggested 0.0001") != std::string::npos);
  CHECK(count(page, "chart chart-bars") == 1);  // initial loss against ln C
}

TEST_CASE("weightstats page: charts of a checkpoint with many tensors draw every flagged one, at most 120 rows",
          "[pages]") {
  weights::WeightsReport r;
  for (int i = 0; i < 300; ++i) {
    weights::TensorReport t;
    t.name = "layer" + std::to_string(i) + ".weight";
    t.shape = {8, 8};
    weights::MatrixStats ms;
    ms.he_std = 0.5;
    ms.ratio_he = i == 250 ? 1e-4 : 1.0;
    t.matrix = ms;
    if (i == 250) t.flags = {weights::Flag::vanishing_init_scale};
    r.tensors.push_back(t);
  }
  const std::string page = weights::to_html(r);
  CHECK(count(page, "<rect class=\"bar ") == 120);
  CHECK(page.find("120 of 300 tensors are drawn") != std::string::npos);
  CHECK(page.find("layer250.weight: 0.0001") != std::string::npos);  // the flagged one is among them
  CHECK(count(page, "<tr") >= 301);  // the table keeps every tensor
}
