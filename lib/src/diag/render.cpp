// Presentation of a diag::Report (gradcheck/diag/render.hpp) and of its logs'
// part (../diag/report_parts.hpp); the active checks' part is in
// lib/src/active/render.cpp.

#include "gradcheck/diag/render.hpp"
#include "gradcheck/utf8.hpp"
#include "../core/format.hpp"
#include "../core/json_out.hpp"
#include "../diag/report_parts.hpp"

#include <cmath>
#include <nlohmann/json.hpp>
#include <set>

#include "../html/pages.hpp"
#include "gradcheck/output.hpp"
#include "gradcheck/version.hpp"
#include "symptom_json.hpp"

namespace gradcheck::diag {
namespace {

using gradcheck::internal::general;

}  // namespace

namespace internal {

std::string runs_json(const std::vector<RunDiagnosis>& runs) {
  using json = nlohmann::ordered_json;
  json out;
  out["tool"] = "convdiag";
  out["schema"] = 1;
  out["version"] = version_string;
  bool healthy = true;
  json jruns = json::array();
  for (const auto& r : runs) {
    healthy = healthy && r.healthy();
    json jr;
    jr["source"] = r.source;
    jr["metrics"] = r.metrics;
    jr["steps"] = r.steps;
    jr["healthy"] = r.healthy();
    json sym = json::array();
    for (const auto& s : r.symptoms) sym.push_back(internal::symptom_json(s));
    jr["symptoms"] = std::move(sym);
    json roles = json::object();
    auto put = [&](const char* k, const std::string& v) { roles[k] = v.empty() ? json(nullptr) : json(v); };
    put("loss", r.roles.loss);
    put("val_loss", r.roles.val_loss);
    put("grad_norm", r.roles.grad_norm);
    put("lr", r.roles.lr);
    put("policy_loss", r.roles.policy_loss);
    put("episode_return", r.roles.episode_return);
    put("discriminator_loss", r.roles.discriminator_loss);
    jr["roles"] = std::move(roles);
    jr["notes"] = r.notes;
    jruns.push_back(std::move(jr));
  }
  out["healthy"] = healthy;
  out["runs"] = std::move(jruns);
  return gradcheck::internal::dump_utf8(std::move(out), 2) + "\n";
}

std::string sparkline(const std::vector<double>& values, bool log_scale) {
  static const char* const kBars[] = {"▁", "▂", "▃", "▄", "▅", "▆", "▇", "█"};
  auto tr = [&](double v) { return log_scale ? std::log10(v) : v; };
  double lo = INFINITY, hi = -INFINITY;
  for (double v : values)
    if (std::isfinite(v) && (!log_scale || v > 0)) {
      lo = std::min(lo, tr(v));
      hi = std::max(hi, tr(v));
    }
  std::string out;
  for (double v : values) {
    if (!std::isfinite(v) || (log_scale && v <= 0)) {
      out += ' ';
      continue;
    }
    int level = hi > lo ? static_cast<int>(std::lround((tr(v) - lo) / (hi - lo) * 7)) : 3;
    out += kBars[std::clamp(level, 0, 7)];
  }
  return out;
}

std::string runs_verdict_line(const std::vector<RunDiagnosis>& runs, bool color) {
  Style st{color};
  std::size_t count = 0, bad_runs = 0;
  std::vector<std::string> kinds;
  std::set<std::string> seen;
  bool error = false;
  for (const auto& r : runs) {
    count += r.symptoms.size();
    if (!r.healthy()) ++bad_runs;
    for (const auto& s : r.symptoms) {
      error = error || s.severity == Severity::error;
      if (seen.insert(to_string(s.kind)).second) kinds.push_back(to_string(s.kind));
    }
  }
  const std::string n = std::to_string(runs.size()) + (runs.size() == 1 ? " run" : " runs");
  if (count == 0) return "convdiag: " + st.green("healthy") + " (" + n + ")";
  std::string list;
  for (const auto& k : kinds) list += (list.empty() ? "" : ", ") + k;
  const std::string head = std::to_string(count) + (count == 1 ? " symptom" : " symptoms");
  return "convdiag: " + (error ? st.red(head) : st.yellow(head)) + " in " + std::to_string(bad_runs) + " of " + n +
         " (" + list + ")";
}

std::string runs_text(const std::vector<RunDiagnosis>& runs, bool color) {
  Style st{color};
  // The verdict first (the contract's "one-line verdict first"): a reader, or
  // `head -1`, gets the answer before the detail.
  const std::string verdict = runs_verdict_line(runs, color) + "\n";
  std::string out = verdict + "\n";
  for (const auto& r : runs) {
    out += st.bold(r.source) + "  " + st.dim(std::to_string(r.steps) + " steps, " + std::to_string(r.metrics.size()) +
                                             " metrics") + "\n";
    std::size_t width = 0;
    for (const auto& c : r.curves) width = std::max(width, c.name.size());
    for (const auto& c : r.curves) {
      const bool log_scale = c.min > 0 && c.max / c.min > 100;
      std::string line = "  " + c.name + std::string(width - c.name.size(), ' ') + "  ";
      line += sparkline(c.shape, log_scale);
      line += "  " + general(c.first, 4) + " → " + general(c.last, 4) + "  (min " + general(c.min, 4) + ", max " + general(c.max, 4) +
              (log_scale ? ", log scale" : "") + ")";
      if (c.non_finite > 0) line += "  " + st.red(std::to_string(c.non_finite) + " non-finite");
      out += line + "\n";
    }
    for (const auto& s : r.symptoms) {
      const std::string tag = s.severity == Severity::error ? st.red(std::string("✗ ") + to_string(s.kind)) : st.yellow(std::string("! ") + to_string(s.kind));
      out += "  " + tag + "  " + s.metric + ", steps " + std::to_string(s.step_start) + "–" +
             std::to_string(s.step_end) + "\n";
      out += "      " + s.evidence + "\n";
      out += "      " + st.dim("→ " + s.advice) + "\n";
    }
    for (const auto& n : r.notes) out += "  " + st.dim("note: " + n) + "\n";
    if (r.healthy()) out += "  " + st.green("✓ healthy") + "\n";
    out += "\n";
  }
  // Several runs scroll the first line away: repeat it as the summary.
  if (runs.size() > 1)
    out += verdict;
  else
    out.pop_back();  // no blank line at the end
  return escape_invalid_utf8(out, /*printable=*/false);  // paths and names: \xNN for bytes that are not UTF-8
}

}  // namespace internal

std::string verdict_line(const Report& report, bool color) {
  if (!report.active) return internal::runs_verdict_line(report.runs, color);
  const std::string active = internal::active_verdict_line(*report.active, color);
  if (report.runs.empty()) return active;
  // One line for both: the logs' verdict, then the active checks' without its "convdiag: ".
  static constexpr std::string_view head = "convdiag: ";
  return internal::runs_verdict_line(report.runs, color) + "; " + active.substr(head.size());
}

std::string to_text(const Report& report, const TextOptions& options) {
  std::string text;
  if (options.quiet) {
    text = verdict_line(report, options.color) + "\n";
  } else {
    if (!report.runs.empty() || !report.active) text += internal::runs_text(report.runs, options.color);
    if (report.active) {
      if (!text.empty()) {
        // With both parts, the first line is the whole report's verdict, as --quiet prints it.
        text.replace(0, text.find('\n'), verdict_line(report, options.color));
        text += "\n";
      }
      text += internal::active_text(*report.active, options.color);
    }
  }
  return escape_invalid_utf8(text, /*printable=*/false);  // paths and names: \xNN for bytes that are not UTF-8
}

std::string to_json(const Report& report) {
  return report.active ? internal::runs_and_active_json(report.runs, *report.active)
                       : internal::runs_json(report.runs);
}

std::string to_html(const Report& report) { return html::convdiag_page(report); }

}  // namespace gradcheck::diag
