#include <cmath>

#include "charts.hpp"
#include "page.hpp"
#include "pages.hpp"
#include "gradcheck/options.hpp"
#include "gradcheck/report.hpp"
#include "gradcheck/version.hpp"

namespace gradcheck::html {
namespace {

// Category (colour) per verdict, shared by the bars, the scatter and the legend.
int verdict_category(Verdict v) {
  switch (v) {
    case Verdict::ok: return 2;
    case Verdict::mismatch: return 1;
    case Verdict::kink: return 4;
    case Verdict::inconclusive: return 6;
  }
  return 6;
}

const std::vector<std::string>& verdict_legend() {
  // Indexed by category: only 1, 2, 4 and 6 are used; the others stay unnamed
  // and are dropped from the legend below.
  static const std::vector<std::string> names = {"", "mismatch", "ok", "", "kink", "", "inconclusive"};
  return names;
}

// The legend names for categories actually present (empty names are skipped
// by keeping the index: the legend draws one entry per non-empty name).
std::vector<std::string> legend_for(const std::vector<bool>& present) {
  std::vector<std::string> out = verdict_legend();
  for (std::size_t i = 0; i < out.size(); ++i)
    if (i >= present.size() || !present[i]) out[i].clear();
  return out;
}

std::string entry_position(const Entry& e) {
  if (e.directional) return "direction " + std::to_string(e.position);
  std::string s = e.index.empty() ? std::to_string(e.position) : shape_text(e.index);
  if (e.output >= 0) s += " out " + std::to_string(e.output);
  return s;
}

// analytic / numeric for the worst-entry table: the factor a scaling bug
// shows. "0 / 0" and "x / 0" are named rather than printed as NaN or inf.
std::string ratio_text(double analytic, double numeric) {
  if (!std::isfinite(analytic) || !std::isfinite(numeric)) return "-";
  if (numeric == 0) return analytic == 0 ? "0 / 0" : "x / 0";
  return format_number(analytic / numeric, 4);
}

std::string cell_class(Verdict v) {
  return v == Verdict::ok ? "ok" : v == Verdict::mismatch ? "bad" : "warn";
}

// One check: `verdict` false when the page already opens with it.
void model_section(Page& page, const CheckResult& m, bool verdict = true) {
  page.heading("Model " + m.name + " (" + to_string(m.dtype) + ")");
  if (verdict) page.verdict(verdict_line(m, false), m.passed);
  page.paragraph(std::string(to_string(m.mode)) + " mode, " + std::to_string(m.blocks.size()) + " tensors, " +
                     std::to_string(m.evaluations) + " evaluations, " + format_number(m.seconds, 3) +
                     " s, noise level " + format_number(m.noise, 3) + (m.noise_estimated ? "" : " (fallback)"),
                 "muted");

  for (const auto& p : m.problems) page.note(std::string("Problem: ") + to_string(p.kind), {p.message}, "error");

  // A failing report is read for what to fix: the tensors that are not ok,
  // each with its hint, before any chart.
  std::vector<std::vector<Cell>> failing;
  std::vector<std::string> failing_classes;
  for (const auto& b : m.blocks) {
    if (b.verdict == Verdict::ok) continue;
    failing.push_back({Cell(b.name), Cell(shape_text(b.shape)), Cell(to_string(b.verdict), cell_class(b.verdict)),
                       Cell(std::to_string(b.mismatches) + " of " + std::to_string(b.checked), "num"),
                       Cell(format_number(b.max_rel_error, 3), "num"), Cell(format_number(b.max_error_bound, 3), "num"),
                       Cell(b.hint.empty() ? std::string("(no pattern recognised)") : b.hint, "hint")});
    failing_classes.push_back(b.verdict == Verdict::mismatch ? "flagged" : "");
  }
  if (!failing.empty()) {
    page.paragraph(std::to_string(failing.size()) + " of " + std::to_string(m.blocks.size()) +
                       (m.blocks.size() == 1 ? " tensor is" : " tensors are") +
                       " not ok; the hint says what the pattern of the errors suggests. Each one's worst entries "
                       "are listed further down.",
                   "lead");
    page.raw(table({"tensor", "shape", "verdict", "mismatches", "largest rel. error", "error bound", "hint"}, failing,
                   failing_classes));
  }

  if (!m.blocks.empty()) {
    std::vector<BarRow> rows;
    std::vector<bool> present(8, false);
    for (const auto& b : m.blocks) {
      BarRow r;
      r.label = b.name;
      r.value = b.max_rel_error;
      r.bound = b.max_error_bound;
      r.category = verdict_category(b.verdict);
      present[static_cast<std::size_t>(r.category)] = true;
      r.tooltip = std::string(to_string(b.verdict)) + ", " + std::to_string(b.checked) + " of " +
                  std::to_string(b.size) + " checked";
      if (b.mismatches > 0) r.tooltip += ", " + std::to_string(b.mismatches) + " mismatches";
      rows.push_back(std::move(r));
    }
    BarChartOptions bo;
    bo.title = "Largest relative error per tensor (tick: largest relative error bound)";
    bo.x_label = "relative error |analytic - numeric| / scale (log)";
    bo.categories = legend_for(present);
    page.raw(bar_chart(rows, bo));

    std::vector<ScatterPoint> pts;
    std::vector<bool> spresent(8, false);
    for (const auto& b : m.blocks)
      for (const auto& e : b.worst) {
        ScatterPoint p;
        p.x = e.numeric;
        p.y = e.analytic;
        p.category = verdict_category(e.verdict);
        spresent[static_cast<std::size_t>(p.category)] = true;
        p.label = b.name + " " + entry_position(e) + " (" + to_string(e.verdict) + ", rel. error " +
                  format_number(e.rel_error, 3) + ")";
        pts.push_back(std::move(p));
      }
    if (!pts.empty()) {
      ScatterOptions so;
      so.title = "Analytic vs numeric (kept entries)";
      so.x_label = "numeric";
      so.y_label = "analytic";
      so.diagonal = true;
      so.width = 560;
      so.categories = legend_for(spresent);
      page.begin_row();
      page.raw(scatter(pts, so));
      page.raw("<div class=\"side\">");
      page.paragraph("Each dot is one compared derivative: the most suspicious entries of every tensor. "
                     "A correct gradient puts them on the dashed line y = x; a bug moves a tensor's dots off it "
                     "(a factor turns the line, a sign flips it, a missing term drops dots to 0).",
                     "muted");
      page.raw("</div>");
      page.end_row();
    }
  }

  for (const auto& b : m.blocks) {
    if (b.verdict == Verdict::ok) continue;
    page.heading(b.name + " " + shape_text(b.shape) + ": " + to_string(b.verdict), 3);
    if (!b.hint.empty()) page.note("Hint", {b.hint}, b.verdict == Verdict::mismatch ? "error" : "warning");
    // Over the entries that do not mismatch: evidence only when none does.
    if (b.mismatches == 0 && b.scale_entries >= CheckOptions{}.scale_min_entries && !scale_fit_text(b).empty())
      page.paragraph("Scale fit: " + scale_fit_text(b) +
                         ". A constant factor in the backward pass moves this away from 1 even when no single "
                         "coordinate shows it; rounding in the function moves it less at larger steps.",
                     "muted");
    if (b.mismatches == 0 && !consistency_text(b).empty())
      page.paragraph("Consistency: " + consistency_text(b) +
                         ". Each error bound is a worst case, several times the typical error; errors that each fit "
                         "within their bounds but are this large together are a derivative slightly off throughout.",
                     "muted");
    std::vector<std::vector<Cell>> rows;
    for (const auto& e : b.worst)
      rows.push_back({Cell(entry_position(e)), Cell(format_number(e.analytic, 8), "num"),
                      Cell(format_number(e.numeric, 8), "num"), Cell(ratio_text(e.analytic, e.numeric), "num"),
                      Cell(format_number(std::abs(e.analytic - e.numeric), 3), "num"),
                      Cell(format_number(e.rel_error, 3), "num"), Cell(format_number(e.error_bound, 3), "num"),
                      Cell(format_number(e.tolerance, 3), "num"), Cell(to_string(e.verdict), cell_class(e.verdict))});
    page.paragraph("The entries the checker kept, most suspicious first. A ratio analytic / numeric that is the same "
                   "on every row is a constant factor (2: counted twice; -1: a sign; the batch size: a missing mean); "
                   "0 where numeric is not: a missing term.",
                   "muted");
    page.raw(table({"entry", "analytic", "numeric", "analytic / numeric", "|difference|", "rel. error", "error bound",
                    "tolerance", "verdict"},
                   rows));
  }
  if (!m.notes.empty()) {
    page.heading("Notes", 3);
    page.list(m.notes, "muted");
  }
}

}  // namespace

std::string gradcheck_page(const host::PluginReport& report) {
  Page page("gradcheck report", "gradcheck " + std::string(version_string) + ", plugin " + report.plugin);
  TextOptions quiet;
  quiet.quiet = true;
  std::string line = host::to_text(report, quiet);
  while (!line.empty() && line.back() == '\n') line.pop_back();
  page.verdict(line, report.passed());
  if (!report.load_failure.empty()) {
    page.note("The plugin failed while loading", {report.load_failure}, "error");
    return page.str();
  }

  std::vector<std::vector<Cell>> rows;
  std::vector<std::string> classes;
  for (const auto& m : report.models) {
    std::int64_t mismatches = 0;
    for (const auto& b : m.blocks) mismatches += b.mismatches;
    rows.push_back({Cell(m.name), Cell(to_string(m.dtype)), Cell(to_string(m.mode)),
                    Cell(m.passed ? "pass" : "FAIL", m.passed ? "ok" : "bad"), Cell(to_string(m.verdict)),
                    Cell(std::to_string(m.blocks.size()), "num"), Cell(std::to_string(mismatches), "num"),
                    Cell(std::to_string(m.problems.size()), "num"), Cell(std::to_string(m.evaluations), "num"),
                    Cell(format_number(m.seconds, 3), "num")});
    classes.push_back(m.passed ? "" : "flagged");
  }
  page.heading("Models");
  page.raw(table({"model", "dtype", "mode", "result", "verdict", "tensors", "mismatches", "problems", "evaluations",
                  "seconds"},
                 rows, classes));
  for (const auto& m : report.models) model_section(page, m);
  return page.str();
}

std::string check_page(const CheckResult& result) {
  Page page("gradcheck report", "gradcheck " + std::string(version_string) + ", " + result.name);
  page.verdict(verdict_line(result, false), result.passed);
  model_section(page, result, /*verdict=*/false);
  return page.str();
}

}  // namespace gradcheck::html
