#include "pages.hpp"

#include <algorithm>
#include <cmath>
#include <set>

#include "charts.hpp"
#include "page.hpp"
#include "../weights/report_notes.hpp"
#include "gradcheck/version.hpp"
#include "gradcheck/weights/render.hpp"

namespace gradcheck::html {
namespace {

namespace w = gradcheck::weights;

std::string flag_explanation(w::Flag f, const w::Thresholds& t) {
  switch (f) {
    case w::Flag::nan: return "a NaN value: the weights are corrupt, training diverged before the save.";
    case w::Flag::inf: return "an infinite value: an overflow reached the weights.";
    case w::Flag::all_zero: return "every value of a matrix is zero: the layer passes nothing (never initialised, or zeroed).";
    case w::Flag::constant: return "every value of a matrix is the same non-zero number: units are symmetric and learn identically.";
    case w::Flag::identical_rows:
      return "two non-zero rows are bit-for-bit equal (rows of at least " + std::to_string(t.identical_rows_min_cols) +
             " values): copied or symmetric units.";
    case w::Flag::exploding:
      return "a |value| above " + format_number(t.exploding_abs) + " (not storable in float16), or a matrix std above " +
             format_number(t.exploding_init_ratio) + "x the largest of the He, Glorot and LeCun initial stds.";
    case w::Flag::vanishing_init_scale:
      return "a matrix std below " + format_number(t.vanishing_init_ratio) +
             "x the smallest of the He, Glorot and LeCun initial stds: signals shrink layer by layer.";
    case w::Flag::unchanged: return "diff: no value changed between the checkpoints (frozen, or never updated).";
    case w::Flag::large_update:
      return "diff: ||after - before|| / ||before|| above " + format_number(t.large_update) +
             ": the update is larger than the weights.";
    case w::Flag::unsafe_pickle:
      return "a file whose pickle names a call that runs code or touches the system: torch.load would run it.";
    case w::Flag::update_ratio_high:
      return "the step the saved optimizer implies is above " + format_number(t.update_ratio_high) +
             " of the weight's norm (healthy: about 1e-3): the learning rate is probably too high.";
    case w::Flag::update_ratio_low:
      return "the step the saved optimizer implies is below " + format_number(t.update_ratio_low) +
             " of the weight's norm (healthy: about 1e-3): the learning rate is too low, or no gradient arrives.";
    case w::Flag::degenerate_blocks:
      return "a quantized tensor with blocks whose scale is NaN or infinite (every value of the block is), or more than " +
             format_number(100 * t.degenerate_zero_scale_fraction) +
             "% of its blocks with scale 0 (each block one repeated value): a broken quantization.";
  }
  return {};
}

// The statistics' fine log-spaced bins regrouped into `n` equal bins over
// [min, max] for display.
std::vector<HistogramBin> display_bins(const w::TensorStats& s, int n = 60) {
  std::vector<HistogramBin> out;
  if (s.histogram.bins.empty() || !std::isfinite(s.min) || !std::isfinite(s.max)) return out;
  double lo = s.min, hi = s.max;
  if (hi <= lo) {
    // One value: a bar a unit wide (or half its magnitude) around it.
    out.push_back({lo - 0.5 * std::max(std::abs(lo), 1.0), hi + 0.5 * std::max(std::abs(hi), 1.0),
                   static_cast<double>(s.histogram.total())});
    return out;
  }
  const double width = (hi - lo) / n;
  for (int i = 0; i < n; ++i) out.push_back({lo + i * width, lo + (i + 1) * width, 0});
  for (const auto& b : s.histogram.bins) {
    const double mid = std::clamp(0.5 * (w::Histogram::lower_edge(b.key) + w::Histogram::upper_edge(b.key)), lo, hi);
    const int k = std::clamp(static_cast<int>((mid - lo) / width), 0, n - 1);
    out[static_cast<std::size_t>(k)].count += static_cast<double>(b.count);
  }
  return out;
}

// At most `limit` rows for a chart (a checkpoint may hold thousands of
// tensors): flagged rows (category != 0) always, then the others in file
// order. Appends to `note` what was left out.
std::vector<BarRow> chart_rows(const std::vector<BarRow>& rows, std::size_t limit, std::string& note) {
  if (rows.size() <= limit) return rows;
  std::size_t flagged = 0;
  for (const auto& r : rows) flagged += r.category != 0 ? 1 : 0;
  std::size_t others = limit > flagged ? limit - flagged : 0;
  std::vector<BarRow> out;
  for (const auto& r : rows)
    if (r.category != 0 || others > 0) {
      if (r.category == 0) --others;
      out.push_back(r);
    }
  note = std::to_string(out.size()) + " of " + std::to_string(rows.size()) +
         " tensors are drawn (every flagged one, then the others in file order); the table lists all.";
  return out;
}

constexpr std::size_t kMaxChartRows = 120;

std::string flags_text(const std::vector<w::Flag>& flags) {
  std::string s;
  for (auto f : flags) {
    if (!s.empty()) s += ' ';
    s += w::to_string(f);
  }
  return s;
}

}  // namespace

std::string weightstats_page(const w::WeightsReport& report, const w::Thresholds& thresholds,
                             std::size_t max_histograms) {
  std::string files;
  for (const auto& f : report.files) files += (files.empty() ? "" : ", ") + f;
  Page page("weightstats report", "weightstats " + std::string(version_string) + (files.empty() ? "" : ", " + files));
  page.verdict(w::verdict_line(report), report.passed());

  // The flags present, each explained once.
  std::set<w::Flag> seen;
  for (const auto& t : report.tensors) seen.insert(t.flags.begin(), t.flags.end());
  for (const auto& d : report.diff) seen.insert(d.flags.begin(), d.flags.end());
  if (!report.unsafe_pickle.empty()) seen.insert(w::Flag::unsafe_pickle);
  if (!seen.empty()) {
    page.heading("Flags found");
    std::vector<std::string> items;
    for (auto f : seen) items.push_back(std::string(w::to_string(f)) + ": " + flag_explanation(f, thresholds));
    page.list(items);
  }

  // A GGUF file's own metadata.
  if (!report.metadata.empty()) {
    page.heading("Metadata");
    // A file column when the keys come from more than one file.
    const bool files = std::any_of(report.metadata.begin(), report.metadata.end(),
                                   [&](const auto& m) { return m.file != report.metadata.front().file; });
    std::vector<std::vector<Cell>> rows;
    for (const auto& m : report.metadata) {
      std::vector<Cell> row;
      if (files) row.push_back(Cell(m.file));
      row.insert(row.end(), {Cell(m.key), Cell(m.type), Cell(m.value.size() > 400 ? m.value.substr(0, 397) + "..." : m.value)});
      rows.push_back(std::move(row));
    }
    page.raw(files ? table({"file", "key", "type", "value"}, rows) : table({"key", "type", "value"}, rows));
  }

  // The weights, then an optimizer's state in a section of its own.
  for (const bool state : {false, true}) {
    const bool any = std::any_of(report.tensors.begin(), report.tensors.end(), [&](const auto& t) {
      return (t.role == w::TensorRole::optimizer_state) == state;
    });
    if (state && !any) break;
    page.heading(state ? "Optimizer state" : "Tensors");
    std::vector<std::vector<Cell>> rows;
    std::vector<std::string> classes;
    for (const auto& t : report.tensors) {
      if ((t.role == w::TensorRole::optimizer_state) != state) continue;
      const auto& s = t.stats;
      rows.push_back({Cell(t.name), Cell(std::string(w::dtype_name(t.dtype))), Cell(shape_text(t.shape)),
                      Cell(format_number(s.mean, 4), "num"), Cell(format_number(s.std, 4), "num"),
                      Cell(format_number(s.min, 4), "num"), Cell(format_number(s.max, 4), "num"),
                      Cell(format_number(100 * s.zero_fraction, 3) + "%", "num"),
                      Cell(flags_text(t.flags), t.flags.empty() ? "" : "flag")});
      classes.push_back(t.flags.empty() ? "" : "flagged");
      for (const auto& e : t.evidence) {
        rows.push_back({Cell(""), Cell(e, "", 8)});
        classes.push_back("evidence");
      }
    }
    page.raw(table({"tensor", "dtype", "shape", "mean", "std", "min", "max", "zeros", "flags"}, rows, classes));
    if (!state) continue;
    if (const std::string note = gradcheck::internal::optimizer_state_note(report); !note.empty())
      page.paragraph(note, "muted");
    for (const auto& line : gradcheck::internal::optimizer_lines(report)) page.paragraph(line);
  }
  // Block scales of the quantized tensors.
  {
    std::vector<std::vector<Cell>> rows;
    std::vector<std::string> classes;
    for (const auto& t : report.tensors) {
      if (!t.quant) continue;
      const auto& q = *t.quant;
      const bool bad = q.zero_scale_blocks > 0 || q.nonfinite_scale_blocks > 0;
      rows.push_back({Cell(t.name), Cell(std::string(w::dtype_name(t.dtype))), Cell(std::to_string(q.blocks), "num"),
                      Cell(format_number(q.scale_min, 4), "num"), Cell(format_number(q.scale_max, 4), "num"),
                      Cell(format_number(q.scale_mean, 4), "num"), Cell(std::to_string(q.zero_scale_blocks), "num"),
                      Cell(std::to_string(q.nonfinite_scale_blocks), "num")});
      classes.push_back(bad ? "flagged" : "");
    }
    if (!rows.empty()) {
      page.heading("Quantization");
      page.paragraph("Statistics above are of the dequantized values, computed as ggml's reference does. Here, each "
                     "quantized tensor's block scales |d| (float16; the super-block scale of the K types): a block "
                     "with scale 0 holds one repeated value, a NaN or infinite scale makes the whole block so.",
                     "muted");
      page.raw(table({"tensor", "storage", "blocks", "min |d|", "max |d|", "mean |d|", "scale 0", "NaN/inf"}, rows,
                     classes));
    }
  }
  for (const auto& line : gradcheck::internal::skipped_lines(report)) page.paragraph(line, "flag");
  for (const auto& line : gradcheck::internal::unsafe_pickle_lines(report)) page.paragraph("unsafe_pickle: " + line, "flag");
  for (const auto& line : gradcheck::internal::pickle_notes(report)) page.paragraph(line, "muted");

  // Initialisation scale: std / He std per matrix, thresholds marked.
  std::vector<BarRow> ratio_rows;
  for (const auto& t : report.tensors) {
    if (!t.matrix || !(t.matrix->he_std > 0) || t.role == w::TensorRole::optimizer_state) continue;
    BarRow r;
    r.label = t.name;
    r.value = t.matrix->ratio_he;
    const bool flagged = std::find(t.flags.begin(), t.flags.end(), w::Flag::vanishing_init_scale) != t.flags.end() ||
                         std::find(t.flags.begin(), t.flags.end(), w::Flag::exploding) != t.flags.end();
    r.category = flagged ? 1 : 0;
    r.tooltip = "std / Glorot std " + format_number(t.matrix->ratio_glorot, 3) + ", std / LeCun std " +
                format_number(t.matrix->ratio_lecun, 3) + "; fan_in " + std::to_string(t.matrix->fan_in) +
                ", fan_out " + std::to_string(t.matrix->fan_out);
    ratio_rows.push_back(std::move(r));
  }
  if (!ratio_rows.empty()) {
    page.heading("Initialisation scale");
    page.paragraph("The std of each matrix divided by the std He (Kaiming normal) initialisation gives it, "
                   "sqrt(2 / fan_in); hover a bar for the Glorot and LeCun ratios. Trained layers usually stay "
                   "within a factor of a few of 1.",
                   "muted");
    BarChartOptions bo;
    bo.title = "std / He initial std";
    bo.x_label = "ratio (log)";
    bo.categories = {"ok", "flagged"};
    bo.markers = {{1.0, "He"}};
    if (thresholds.vanishing_init_ratio > 0) bo.markers.push_back({thresholds.vanishing_init_ratio, "vanishing"});
    if (thresholds.exploding_init_ratio > 0) bo.markers.push_back({thresholds.exploding_init_ratio, w::to_string(w::Flag::exploding)});
    std::string left_out;
    page.raw(bar_chart(chart_rows(ratio_rows, kMaxChartRows, left_out), bo));
    if (!left_out.empty()) page.paragraph(left_out, "muted");
  }

  // Spectral analysis.
  std::vector<BarRow> alpha_rows;
  std::vector<std::vector<Cell>> spec_rows;
  for (const auto& t : report.tensors) {
    if (!t.spectral || t.spectral->eigenvalues == 0) continue;
    const auto& sp = *t.spectral;
    const auto& pl = sp.power_law;
    spec_rows.push_back({Cell(t.name), Cell(sp.exact ? "exact" : "sketch"), Cell(std::to_string(sp.eigenvalues), "num"),
                         Cell(format_number(sp.spectral_norm, 4), "num"), Cell(format_number(sp.sigma_min, 4), "num"),
                         Cell(format_number(sp.stable_rank, 4), "num"), Cell(format_number(sp.condition_number, 4), "num"),
                         Cell(format_number(pl.alpha, 3) + " +- " + format_number(pl.alpha_error, 2), "num"),
                         Cell(format_number(pl.xmin, 4), "num"), Cell(std::to_string(pl.tail_count), "num"),
                         Cell(format_number(pl.ks_distance, 3), "num")});
    BarRow r;
    r.label = t.name;
    r.value = pl.alpha;
    r.category = std::isfinite(pl.alpha) && (pl.alpha < 2 || pl.alpha > 6) ? 4 : 0;
    r.tooltip = "+- " + format_number(pl.alpha_error, 2) + ", tail of " + std::to_string(pl.tail_count) +
                " eigenvalues >= " + format_number(pl.xmin, 4) + ", KS distance " + format_number(pl.ks_distance, 3);
    alpha_rows.push_back(std::move(r));
  }
  if (!spec_rows.empty()) {
    page.heading("Spectrum");
    page.paragraph("A power law p(x) ~ x^-alpha fitted to the tail of the eigenvalues of W^T W (maximum likelihood, "
                   "xmin by the smallest Kolmogorov-Smirnov distance). Martin & Mahoney (2021) find alpha between 2 "
                   "and 6 in well-trained layers; above 6, a layer that learned little; below 2, one over-fitted.",
                   "muted");
    BarChartOptions bo;
    bo.title = "Power-law alpha of the eigenvalue tail";
    bo.x_label = "alpha";
    bo.scale = Scale::linear;
    bo.categories = {"2 <= alpha <= 6", "", "", "", "outside"};
    bo.markers = {{2.0, "2"}, {6.0, "6"}};
    const bool any_alpha =
        std::any_of(alpha_rows.begin(), alpha_rows.end(), [](const BarRow& r) { return std::isfinite(r.value); });
    if (any_alpha) {
      std::string left_out;
      page.raw(bar_chart(chart_rows(alpha_rows, kMaxChartRows, left_out), bo));
      if (!left_out.empty()) page.paragraph(left_out, "muted");
    } else
      page.paragraph("No matrix has enough eigenvalues in its tail for a power-law fit.", "muted");
    page.raw(table({"tensor", "method", "eigenvalues", "spectral norm", "sigma min", "stable rank", "condition",
                    "alpha", "xmin", "tail", "KS"},
                   spec_rows));

    // The tail itself against its fit, per matrix (WeightWatcher's plot): a
    // straight run of points along the line is a good fit; a bend or a gap
    // says alpha summarises the tail poorly.
    std::string grid;
    std::size_t drawn = 0, with_spectrum = 0;
    for (const auto& t : report.tensors) {
      if (!t.spectral || t.spectral->spectrum.empty()) continue;
      ++with_spectrum;
      if (drawn >= max_histograms) continue;
      const auto& sp = *t.spectral;
      PowerLawTailOptions to;
      to.title = t.name + (sp.exact ? "" : "  (top " + std::to_string(sp.spectrum.size()) + ", sketched)");
      grid += power_law_tail_chart(sp.spectrum, sp.power_law.alpha, sp.power_law.xmin, to);
      ++drawn;
    }
    if (drawn > 0) {
      page.heading("Eigenvalue tails", 3);
      page.paragraph("The empirical survival function of the eigenvalues of W^T W on log-log axes (the fraction of "
                     "eigenvalues >= x), the fitted tail (x >= xmin) in its own colour and the power law "
                     "(tail / n) (x / xmin)^(1 - alpha) as a line, xmin dashed. Points along the line: the power "
                     "law describes the tail; a sketched spectrum shows only its top eigenvalues." +
                         (drawn < with_spectrum ? " The first " + std::to_string(drawn) + " of " +
                                                      std::to_string(with_spectrum) + " matrices are shown."
                                                : std::string()),
                     "muted");
      page.begin_grid();
      page.raw(grid);
      page.end_grid();
    }
  }

  if (report.has_diff) {
    page.heading((report.diff_quantization ? "Quantization error: " : "Diff: ") + report.diff_before + " -> " +
                 report.diff_after);
    if (report.diff_quantization)
      page.paragraph("||dequantized - original|| / ||original|| per tensor, largest first: the layers that lost most.",
                     "muted");
    std::vector<BarRow> rows;
    std::vector<std::vector<Cell>> trows;
    std::vector<std::string> classes;
    for (const auto& d : report.diff) {
      BarRow r;
      // The chart's labels are short: the matched (llama.cpp) name; the table has both.
      r.label = d.after_name.empty() ? d.name : d.after_name;
      r.value = d.stats.rel_change;
      r.bound = thresholds.large_update;
      r.category = d.flags.empty() ? 0 : 1;
      r.tooltip = std::to_string(d.stats.changed) + " values changed";
      rows.push_back(std::move(r));
      trows.push_back({Cell(d.after_name.empty() ? d.name : d.name + " -> " + d.after_name +
                                (report.diff_quantization ? " (" + std::string(w::dtype_name(d.after_dtype)) + ")" : "")),
                       Cell(format_number(d.stats.rel_change, 4), "num"),
                       Cell(format_number(d.stats.diff_norm, 4), "num"), Cell(format_number(d.stats.before_norm, 4), "num"),
                       Cell(std::to_string(d.stats.changed), "num"), Cell(flags_text(d.flags), d.flags.empty() ? "" : "flag")});
      classes.push_back(d.flags.empty() ? "" : "flagged");
      for (const auto& e : d.evidence) {
        trows.push_back({Cell(""), Cell(e, "", 5)});
        classes.push_back("evidence");
      }
    }
    if (!rows.empty()) {
      BarChartOptions bo;
      bo.title = std::string(report.diff_quantization ? "Quantization error per tensor" : "Relative change per tensor") +
                 " (tick: " + w::to_string(w::Flag::large_update) + " threshold)";
      bo.x_label = report.diff_quantization ? "||dequantized - original|| / ||original|| (log; tensors kept exact have no bar)"
                                            : "||after - before|| / ||before|| (log; unchanged tensors have no bar)";
      bo.categories = {"ok", "flagged"};
      std::string left_out;
      page.raw(bar_chart(chart_rows(rows, kMaxChartRows, left_out), bo));
      if (!left_out.empty()) page.paragraph(left_out, "muted");
    }
    page.raw(table({"tensor", report.diff_quantization ? "rel. error" : "rel. change", "||after - before||", "||before||",
                    "changed", "flags"},
                   trows, classes));
    if (!report.only_in_before.empty()) page.note("Only in " + report.diff_before, report.only_in_before);
    if (!report.only_in_after.empty()) page.note("Only in " + report.diff_after, report.only_in_after);
    for (const auto& c : report.shape_changed)
      page.note("Shape changed: " + c.name, {shape_text(c.before) + " -> " + shape_text(c.after)});
  }

  std::size_t drawn = 0;
  std::string grid;
  for (const auto& t : report.tensors) {
    if (drawn >= max_histograms) break;
    const auto bins = display_bins(t.stats);
    if (bins.empty()) continue;
    HistogramOptions ho;
    ho.title = t.name + (t.flags.empty() ? "" : "  [" + flags_text(t.flags) + "]");
    ho.x_label = "value";
    if (t.matrix && t.matrix->he_std > 0)
      ho.markers = {{-t.matrix->he_std, "-He std"}, {t.matrix->he_std, "+He std"}};
    grid += histogram(bins, ho);
    ++drawn;
  }
  if (drawn > 0) {
    page.heading("Histograms");
    page.paragraph("Counts on a log scale, so a few outliers or a spike of zeros stay visible; dashed lines at "
                   "+-(He initial std) for matrices." +
                       (drawn < report.tensors.size()
                            ? " The first " + std::to_string(drawn) + " of " + std::to_string(report.tensors.size()) +
                                  " tensors are shown."
                            : std::string()),
                   "muted");
    page.begin_grid();
    page.raw(grid);
    page.end_grid();
  }
  return page.str();
}

}  // namespace gradcheck::html
