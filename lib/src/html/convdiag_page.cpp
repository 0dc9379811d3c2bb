#include <algorithm>
#include <cmath>
#include <numeric>

#include "../diag/report_parts.hpp"
#include "charts.hpp"
#include "page.hpp"
#include "pages.hpp"
#include "gradcheck/version.hpp"

namespace gradcheck::html {
namespace {

namespace d = gradcheck::diag;

// The curve as (step, value) in step order: the full series when the log is
// at hand, else the diagnosis's bucket means spread over the curve's steps.
LineSeries curve_series(const d::Curve& c, const logs::Run* run, int color) {
  LineSeries s;
  s.name = c.name;
  s.color = color;
  const logs::Series* full = run != nullptr ? run->find(c.name) : nullptr;
  if (full != nullptr && full->size() > 0) {
    std::vector<std::size_t> order(full->size());
    std::iota(order.begin(), order.end(), std::size_t{0});
    std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) { return full->steps[a] < full->steps[b]; });
    for (std::size_t i : order) {
      s.x.push_back(static_cast<double>(full->steps[i]));
      s.y.push_back(full->values[i]);
    }
    return s;
  }
  const std::size_t n = c.shape.size();
  for (std::size_t i = 0; i < n; ++i) {
    const double f = n > 1 ? static_cast<double>(i) / static_cast<double>(n - 1) : 0.0;
    s.x.push_back(static_cast<double>(c.first_step) + f * static_cast<double>(c.last_step - c.first_step));
    s.y.push_back(c.shape[i]);
  }
  return s;
}

std::string step_range(const d::Symptom& s) {
  return s.step_start == s.step_end ? "step " + std::to_string(s.step_start)
                                    : "steps " + std::to_string(s.step_start) + " to " + std::to_string(s.step_end);
}

void symptom_note(Page& page, const d::Symptom& s) {
  std::vector<std::string> lines;
  if (!s.evidence.empty()) lines.push_back(s.evidence);
  if (!s.advice.empty()) lines.push_back("Advice: " + s.advice);
  page.note(std::string(to_string(s.kind)) + " in " + s.metric + ", " + step_range(s), lines,
            s.severity == d::Severity::error ? "error" : "warning");
}

// One chart of the curves with the given roles, with its symptoms beside it.
void curve_chart(Page& page, const d::RunDiagnosis& r, const logs::Run* run, const std::vector<std::string>& roles,
                 const std::string& title, const std::string& y_label, std::vector<bool>& symptom_shown) {
  std::vector<LineSeries> series;
  std::vector<std::string> names;
  for (const auto& role : roles)
    for (const auto& c : r.curves)
      if (c.role == role) {
        series.push_back(curve_series(c, run, static_cast<int>(series.size())));
        names.push_back(c.name);
      }
  if (series.empty()) return;
  LineChartOptions o;
  o.title = title;
  o.x_label = run != nullptr && !run->step_name.empty() ? run->step_name : "step";
  o.y_label = y_label;
  std::vector<const d::Symptom*> mine;
  for (std::size_t i = 0; i < r.symptoms.size(); ++i) {
    const auto& s = r.symptoms[i];
    if (std::find(names.begin(), names.end(), s.metric) == names.end()) continue;
    o.spans.push_back({static_cast<double>(s.step_start), static_cast<double>(s.step_end), to_string(s.kind),
                       s.severity == d::Severity::error ? "error" : "warning"});
    mine.push_back(&s);
    symptom_shown[i] = true;
  }
  page.begin_row();
  page.raw(line_chart(series, o));
  page.raw("<div class=\"side\">");
  if (mine.empty()) page.paragraph("No symptom in " + title + ".", "muted");
  for (const auto* s : mine) symptom_note(page, *s);
  page.raw("</div>");
  page.end_row();
}

void active_section(Page& page, const d::ActiveReport& active) {
  page.heading("Active checks on " + active.plugin);
  page.verdict(active.healthy() ? "active checks: healthy (" + std::to_string(active.models.size()) + " models)"
                                : "active checks: problems found",
               active.healthy());
  for (const auto& m : active.models) {
    page.heading("Model " + m.model + " (" + m.dtype + ", " + std::to_string(m.values) + " values)", 3);
    if (!m.failure.empty()) page.note("The model's code failed", {m.failure}, "error");
    for (const auto& s : m.symptoms) symptom_note(page, s);

    if (m.failure.empty() || m.initial_loss != 0) {
      std::vector<BarRow> rows;
      BarRow r;
      r.label = "initial loss";
      r.value = m.initial_loss;
      bool off = false;
      if (m.expected_initial_loss) {
        r.bound = *m.expected_initial_loss;
        r.tooltip = "ln(C) = " + format_number(*m.expected_initial_loss);
        for (const auto& s : m.symptoms) off = off || s.kind == diag::SymptomKind::initial_loss_mismatch;
      }
      r.category = off ? 1 : 0;
      rows.push_back(r);
      BarChartOptions bo;
      bo.title = m.expected_initial_loss ? "Initial loss against ln(C), the loss of a uniform guess (tick)"
                                         : "Initial loss (give --classes to compare it with ln C)";
      bo.x_label = "loss";
      bo.scale = Scale::linear;
      page.raw(bar_chart(rows, bo));
    }

    std::vector<LineSeries> fit;
    for (const auto& a : m.overfit) {
      LineSeries s;
      s.name = a.optimizer + " (lr " + format_number(a.learning_rate, 3) + ")";
      s.color = static_cast<int>(fit.size());
      for (std::size_t i = 0; i < a.losses.size(); ++i) {
        s.x.push_back(static_cast<double>(i + 1));
        s.y.push_back(a.losses[i]);
      }
      fit.push_back(std::move(s));
    }
    if (!fit.empty()) {
      LineChartOptions o;
      o.title = "Overfitting one batch: the loss per optimiser step";
      o.x_label = "step";
      o.y_label = "loss";
      page.raw(line_chart(fit, o));
    }

    const auto& lr = m.lr_range;
    if (!lr.points.empty()) {
      LineSeries s;
      s.name = "loss";
      for (const auto& p : lr.points) {
        s.x.push_back(p.learning_rate);
        s.y.push_back(p.loss);
      }
      LineChartOptions o;
      o.title = "Learning-rate range test";
      o.x_label = "learning rate (log)";
      o.y_label = "loss";
      o.x_scale = Scale::log;
      if (lr.suggested_rate) o.markers.push_back({*lr.suggested_rate, "suggested " + format_number(*lr.suggested_rate, 3)});
      if (lr.min_loss_rate) o.markers.push_back({*lr.min_loss_rate, "lowest loss " + format_number(*lr.min_loss_rate, 3)});
      page.raw(line_chart({s}, o));
      if (!lr.note.empty()) page.paragraph(lr.note, "muted");
    }
  }
}

}  // namespace

std::string convdiag_page(const d::Report& report) {
  const std::vector<d::RunDiagnosis>& runs = report.runs;
  const std::vector<logs::Run>& logs = report.logs;
  const d::ActiveReport* active = report.active ? &*report.active : nullptr;
  std::string sources;
  for (const auto& r : runs) sources += (sources.empty() ? "" : ", ") + r.source;
  if (active != nullptr) sources += (sources.empty() ? "" : ", ") + active->plugin;
  Page page("convdiag report", "convdiag " + std::string(version_string) + (sources.empty() ? "" : ", " + sources));
  bool healthy = true;
  for (const auto& r : runs) healthy = healthy && r.healthy();
  if (!runs.empty()) page.verdict(d::internal::runs_verdict_line(runs, false), healthy);
  if (active != nullptr && runs.empty())
    page.verdict(active->healthy() ? "convdiag: healthy" : "convdiag: problems found by the active checks",
                 active->healthy());

  for (const auto& r : runs) {
    const logs::Run* run = nullptr;
    for (const auto& l : logs)
      if (l.source == r.source) run = &l;
    page.heading("Run " + r.source);
    page.paragraph(std::to_string(r.steps) + " steps; series: " +
                       [&] {
                         std::string s;
                         for (const auto& m : r.metrics) s += (s.empty() ? "" : ", ") + m;
                         return s;
                       }() +
                       (run == nullptr ? " (curves drawn from the diagnosis's 48-point summary)" : ""),
                   "muted");
    for (const auto& n : r.notes) page.note("Note", {n});
    std::vector<bool> shown(r.symptoms.size(), false);
    curve_chart(page, r, run, {"loss", "val_loss", "discriminator_loss"}, "loss", "loss", shown);
    curve_chart(page, r, run, {"grad_norm"}, "gradient norm", "norm", shown);
    curve_chart(page, r, run, {"lr"}, "learning rate", "rate", shown);
    curve_chart(page, r, run, {"episode_return"}, "episode return", "return", shown);
    bool heading = false;
    for (std::size_t i = 0; i < r.symptoms.size(); ++i) {
      if (shown[i]) continue;
      if (!heading) page.heading("Other findings", 3);
      heading = true;
      symptom_note(page, r.symptoms[i]);
    }
  }
  if (active != nullptr) active_section(page, *active);
  return page.str();
}

}  // namespace gradcheck::html
