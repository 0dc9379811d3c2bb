// Presentation of the active checks, the active part of a diag::Report
// (../diag/report_parts.hpp): run entries for the contract's JSON, the detailed
// "active" array, and the terminal section.

#include <algorithm>
#include <cmath>
#include <nlohmann/json.hpp>
#include <set>

#include "gradcheck/utf8.hpp"
#include "active_json.hpp"
#include "../core/format.hpp"
#include "../core/json_out.hpp"
#include "../diag/report_parts.hpp"
#include "gradcheck/diag/active.hpp"
#include "gradcheck/output.hpp"

namespace gradcheck::diag {
namespace {

using json = nlohmann::ordered_json;

using gradcheck::internal::general;

std::string source_of(const ActiveReport& r, const ModelActive& m) { return r.plugin + ":" + m.model; }

}  // namespace

namespace internal {

std::vector<RunDiagnosis> active_runs(const ActiveReport& report) {
  std::vector<RunDiagnosis> runs;
  for (const auto& m : report.models) {
    RunDiagnosis d;
    d.source = source_of(report, m);
    d.metrics = {"loss"};
    for (const auto& a : m.overfit) d.steps = std::max<std::int64_t>(d.steps, a.steps);
    d.roles.loss = "loss";
    d.symptoms = m.symptoms;
    d.notes = m.notes;
    if (!m.lr_range.note.empty()) d.notes.push_back("learning-rate range test: " + m.lr_range.note);
    runs.push_back(std::move(d));
  }
  return runs;
}

std::string runs_and_active_json(const std::vector<RunDiagnosis>& runs, const ActiveReport& active) {
  std::vector<RunDiagnosis> all = runs;
  const auto extra = active_runs(active);
  all.insert(all.end(), extra.begin(), extra.end());
  json out = json::parse(runs_json(all));
  // A model whose code failed has no symptom but is not healthy: its run says
  // what happened.
  bool healthy = out.at("healthy").get<bool>() && active.healthy();
  for (std::size_t i = 0; i < active.models.size(); ++i) {
    const auto& m = active.models[i];
    if (m.failure.empty()) continue;
    json& run = out["runs"][runs.size() + i];
    run["healthy"] = false;
    run["failure"] = m.failure;
  }
  out["healthy"] = healthy;
  out["plugin"] = active.plugin;
  if (!active.load_failure.empty()) out["load_failure"] = active.load_failure;
  // One object per model: what a child sends its parent (active_json.hpp).
  json models = json::array();
  for (const auto& m : active.models) models.push_back(json::parse(detail::model_to_json(m)));
  out["active"] = std::move(models);
  return gradcheck::internal::dump_utf8(std::move(out), 2) + "\n";
}

std::string active_verdict_line(const ActiveReport& report, bool color) {
  Style st{color};
  const std::string head = "convdiag: " + report.plugin + ": ";
  if (!report.load_failure.empty()) return head + st.red("the plugin's code failed while loading");
  const std::string n = std::to_string(report.models.size()) + (report.models.size() == 1 ? " model" : " models");
  std::size_t failed = 0, count = 0, bad = 0;
  bool error = false;
  std::vector<std::string> kinds;
  std::set<std::string> seen;
  for (const auto& m : report.models) {
    if (!m.failure.empty()) ++failed;
    if (!m.symptoms.empty()) ++bad;
    count += m.symptoms.size();
    for (const auto& s : m.symptoms) {
      error = error || s.severity == Severity::error;
      if (seen.insert(to_string(s.kind)).second) kinds.push_back(to_string(s.kind));
    }
  }
  std::string line = head;
  if (failed) line += st.red("model code failed in " + std::to_string(failed) + " of " + n);
  if (count) {
    std::string list;
    for (const auto& k : kinds) list += (list.empty() ? "" : ", ") + k;
    const std::string c = std::to_string(count) + (count == 1 ? " symptom" : " symptoms");
    line += (failed ? "; " : "") + (error ? st.red(c) : st.yellow(c)) + " in " + std::to_string(bad) + " of " + n +
            " (" + list + ")";
  }
  if (!failed && !count) line += st.green("healthy") + " (" + n + ")";
  return line;
}

std::string active_text(const ActiveReport& report, bool color) {
  Style st{color};
  std::string out;
  if (!report.load_failure.empty()) out += st.red("✗ ") + report.plugin + ": " + report.load_failure + "\n\n";
  for (const auto& m : report.models) {
    out += st.bold(source_of(report, m)) + "  " +
           st.dim(m.dtype + ", " + std::to_string(m.values) + " values, " + std::to_string(m.evaluations) +
                  " evaluations") +
           "\n";
    if (!m.failure.empty()) {
      out += "  " + st.red("✗ model code failed") + "  " + m.failure + "\n\n";
      continue;
    }
    std::string init = "  loss at init   " + general(m.initial_loss, 4);
    if (m.mean_initial_loss) init += "  mean over seeds " + general(*m.mean_initial_loss, 4);
    if (m.expected_initial_loss) init += "  (ln C = " + general(*m.expected_initial_loss, 4) + ")";
    out += init + "\n";
    for (const auto& a : m.overfit) {
      const bool log_scale = std::all_of(a.losses.begin(), a.losses.end(), [](double v) { return v > 0; });
      std::vector<double> curve = {a.initial_loss};
      curve.insert(curve.end(), a.losses.begin(), a.losses.end());
      // At most 48 characters: every k-th point.
      std::vector<double> shown;
      const std::size_t k = std::max<std::size_t>(1, (curve.size() + 47) / 48);
      for (std::size_t i = 0; i < curve.size(); i += k) shown.push_back(curve[i]);
      std::string line = "  overfit " + a.optimizer + std::string(a.optimizer.size() < 5 ? 5 - a.optimizer.size() : 0, ' ') +
                         sparkline(shown, log_scale) + "  " + general(a.initial_loss, 4) + " → " + general(a.final_loss, 4) +
                         " in " + std::to_string(a.steps) + " steps at rate " + general(a.learning_rate, 4) + "  ";
      line += a.reached ? st.green("goal reached") : st.yellow("goal " + general(a.goal, 4) + " not reached");
      out += line + "\n";
    }
    if (!m.lr_range.points.empty()) {
      std::vector<double> losses;
      bool positive = true;
      for (const auto& p : m.lr_range.points) {
        losses.push_back(p.loss);
        positive = positive && (!std::isfinite(p.loss) || p.loss > 0);
      }
      std::vector<double> shown;
      const std::size_t k = std::max<std::size_t>(1, (losses.size() + 47) / 48);
      for (std::size_t i = 0; i < losses.size(); i += k) shown.push_back(losses[i]);
      std::string line = "  lr range test  " + sparkline(shown, positive) + "  rates " +
                         general(m.lr_range.points.front().learning_rate, 4) + " → " +
                         general(m.lr_range.points.back().learning_rate, 4);
      if (m.lr_range.suggested_rate)
        line += "  suggested rate " + st.bold(general(*m.lr_range.suggested_rate, 4));
      if (m.lr_range.min_loss_rate) line += " (lowest loss at " + general(*m.lr_range.min_loss_rate, 4) + ")";
      out += line + "\n";
    }
    for (const auto& s : m.symptoms) {
      const std::string tag = s.severity == Severity::error ? st.red(std::string("✗ ") + to_string(s.kind)) : st.yellow(std::string("! ") + to_string(s.kind));
      out += "  " + tag + "\n";
      out += "      " + s.evidence + "\n";
      out += "      " + st.dim("→ " + s.advice) + "\n";
    }
    for (const auto& n : m.notes) out += "  " + st.dim("note: " + n) + "\n";
    if (!m.lr_range.note.empty()) out += "  " + st.dim("note: learning-rate range test: " + m.lr_range.note) + "\n";
    if (m.healthy()) out += "  " + st.green("✓ healthy") + "\n";
    out += "\n";
  }
  out += active_verdict_line(report, color) + "\n";
  return escape_invalid_utf8(out, /*printable=*/false);  // paths and names: \xNN for bytes that are not UTF-8
}

}  // namespace internal
}  // namespace gradcheck::diag
