#include "gradcheck/weights/render.hpp"
#include "gradcheck/utf8.hpp"
#include "../core/format.hpp"
#include "../core/json_out.hpp"
#include "report_notes.hpp"

#include <algorithm>
#include <cmath>

#include <nlohmann/json.hpp>
#include <spdlog/fmt/fmt.h>

#include "../html/pages.hpp"
#include "gradcheck/output.hpp"
#include "gradcheck/version.hpp"

namespace gradcheck::weights {

namespace {

// At most this many bins per tensor in the JSON histogram (a line per bin in a
// report chart; the full 2^-7 histogram stays in the library's TensorStats).
constexpr std::size_t kJsonHistogramBins = 256;

using internal::json_number;

nlohmann::json flags_json(const std::vector<Flag>& flags) {
  nlohmann::json a = nlohmann::json::array();
  for (Flag f : flags) a.push_back(to_string(f));
  return a;
}

// A statistic in the table: "-" when undefined (a tensor with no finite value).
std::string num(double v) { return std::isnan(v) ? "-" : internal::general(v, 4); }

std::string flags_text(const std::vector<Flag>& flags) {
  std::string s;
  for (Flag f : flags) {
    if (!s.empty()) s += ',';
    s += to_string(f);
  }
  return s;
}

}  // namespace

std::string to_json(const WeightsReport& r) {
  nlohmann::json j;
  j["tool"] = "weightstats";
  j["schema"] = 1;
  j["version"] = version_string;
  j["passed"] = r.passed();
  j["files"] = r.files;
  nlohmann::json file_flags = nlohmann::json::array();
  for (const auto& f : r.unsafe_pickle)
    file_flags.push_back({{"file", f.file}, {"flag", to_string(Flag::unsafe_pickle)}, {"global", f.global},
                          {"offset", f.offset}, {"reason", f.reason}});
  j["file_flags"] = std::move(file_flags);
  nlohmann::json uninterpreted = nlohmann::json::array();
  for (const auto& u : r.uninterpreted) uninterpreted.push_back({{"file", u.file}, {"classes", u.classes}});
  j["uninterpreted"] = std::move(uninterpreted);
  nlohmann::json optimizers = nlohmann::json::array();
  for (const auto& o : r.optimizers) {
    nlohmann::json steps = nlohmann::json::array();
    for (const auto& st : o.steps)
      steps.push_back({{"parameter", st.parameter}, {"state", st.state}, {"step_norm", internal::json_number(st.step_norm)},
                       {"weight_norm", internal::json_number(st.weight_norm)},
                       {"update_ratio", internal::json_number(st.update_ratio)}});
    optimizers.push_back({{"prefix", o.prefix}, {"kind", o.kind}, {"lr", internal::json_number(o.lr)},
                          {"parameters", std::move(steps)}, {"note", o.note}});
  }
  j["optimizers"] = std::move(optimizers);
  nlohmann::json metadata = nlohmann::json::array();
  for (const auto& m : r.metadata) {
    nlohmann::json v = m.number ? json_number(*m.number) : nlohmann::json(m.value);
    if (m.type == "bool") v = m.value == "true";
    metadata.push_back({{"file", m.file}, {"key", m.key}, {"type", m.type}, {"value", std::move(v)}});
  }
  j["metadata"] = std::move(metadata);
  nlohmann::json skipped = nlohmann::json::array();
  for (const auto& k : r.skipped)
    skipped.push_back({{"file", k.file}, {"name", k.name}, {"type", k.type}, {"bytes", k.bytes}, {"reason", k.reason}});
  j["skipped"] = std::move(skipped);
  nlohmann::json tensors = nlohmann::json::array();
  for (const auto& t : r.tensors) {
    const TensorStats& s = t.stats;
    nlohmann::json o;
    o["name"] = t.name;
    o["file"] = t.file;
    o["dtype"] = std::string(dtype_name(t.dtype));
    o["shape"] = t.shape;
    o["count"] = s.count;
    o["mean"] = json_number(s.mean);
    o["std"] = json_number(s.std);
    o["min"] = json_number(s.min);
    o["max"] = json_number(s.max);
    o["abs_max"] = json_number(s.abs_max);
    o["l2_norm"] = json_number(s.l2_norm);
    o["zero_fraction"] = json_number(s.zero_fraction);
    o["nan_count"] = s.nan_count;
    o["inf_count"] = s.inf_count;
    o["role"] = to_string(t.role);
    o["flags"] = flags_json(t.flags);
    o["evidence"] = t.evidence;
    o["finite_count"] = s.finite_count;
    o["p1"] = json_number(s.p1);
    o["p50"] = json_number(s.p50);
    o["p99"] = json_number(s.p99);
    o["kurtosis"] = json_number(s.kurtosis);
    {
      // The histogram for reports: value-ordered non-empty bins of relative
      // width 2^-mantissa_bits, as fine as 256 bins allow.
      const Histogram::Coarse h = s.histogram.coarsened(kJsonHistogramBins);
      nlohmann::json lower = nlohmann::json::array(), upper = nlohmann::json::array(),
                     counts = nlohmann::json::array();
      for (const auto& b : h.bins) {
        lower.push_back(json_number(b.lower));
        upper.push_back(json_number(b.upper));
        counts.push_back(b.count);
      }
      o["histogram"] = {{"scale", "log"},
                        {"mantissa_bits", h.mantissa_bits},
                        {"lower", std::move(lower)},
                        {"upper", std::move(upper)},
                        {"counts", std::move(counts)}};
    }
    if (t.matrix) {
      const MatrixStats& m = *t.matrix;
      o["matrix"] = {{"rows", m.rows},           {"cols", m.cols},
                     {"fan_in", m.fan_in},       {"fan_out", m.fan_out},
                     {"he_std", m.he_std},       {"glorot_std", m.glorot_std},
                     {"lecun_std", m.lecun_std}, {"ratio_he", json_number(m.ratio_he)},
                     {"ratio_glorot", json_number(m.ratio_glorot)}, {"ratio_lecun", json_number(m.ratio_lecun)},
                     {"identical_rows", m.identical_rows}, {"dead_rows", m.dead_rows},
                     {"dead_cols", m.dead_cols}};
    }
    if (t.quant) {
      const QuantHealth& q = *t.quant;
      o["quant"] = {{"blocks", q.blocks},
                    {"zero_scale_blocks", q.zero_scale_blocks},
                    {"nonfinite_scale_blocks", q.nonfinite_scale_blocks},
                    {"scale_min", json_number(q.scale_min)},
                    {"scale_max", json_number(q.scale_max)},
                    {"scale_mean", json_number(q.scale_mean)},
                    {"scale_std", json_number(q.scale_std)}};
    }
    if (t.spectral) {
      const SpectralStats& sp = *t.spectral;
      o["spectral"] = {{"exact", sp.exact},
                       {"eigenvalues", sp.eigenvalues},
                       {"spectral_norm", json_number(sp.spectral_norm)},
                       {"sigma_min", json_number(sp.sigma_min)},
                       {"stable_rank", json_number(sp.stable_rank)},
                       {"condition_number", json_number(sp.condition_number)},
                       {"alpha", json_number(sp.power_law.alpha)},
                       {"alpha_error", json_number(sp.power_law.alpha_error)},
                       {"xmin", json_number(sp.power_law.xmin)},
                       {"ks_distance", json_number(sp.power_law.ks_distance)},
                       {"tail_count", sp.power_law.tail_count}};
    }
    tensors.push_back(std::move(o));
  }
  j["tensors"] = std::move(tensors);
  nlohmann::json diff = nlohmann::json::array();
  for (const auto& d : r.diff) {
    diff.push_back({{"name", d.name},
                    {"after_name", d.after_name.empty() ? d.name : d.after_name},
                    {"before_dtype", std::string(dtype_name(d.before_dtype))},
                    {"after_dtype", std::string(dtype_name(d.after_dtype))},
                    {"rel_change", json_number(d.stats.rel_change)},
                    {"flags", flags_json(d.flags)},
                    {"evidence", d.evidence},
                    {"diff_norm", json_number(d.stats.diff_norm)},
                    {"before_norm", json_number(d.stats.before_norm)},
                    {"changed", d.stats.changed},
                    {"non_finite_pairs", d.stats.non_finite_pairs}});
  }
  j["diff"] = std::move(diff);
  if (r.has_diff) {
    j["diff_quantization"] = r.diff_quantization;
    j["diff_before"] = r.diff_before;
    j["diff_after"] = r.diff_after;
    j["only_in_before"] = r.only_in_before;
    j["only_in_after"] = r.only_in_after;
    nlohmann::json changed = nlohmann::json::array();
    for (const auto& c : r.shape_changed) changed.push_back({{"name", c.name}, {"before", c.before}, {"after", c.after}});
    j["shape_changed"] = std::move(changed);
  }
  return gradcheck::internal::dump_utf8(std::move(j), 2) + "\n";
}

std::string verdict_line(const WeightsReport& r, bool color) {
  std::size_t flagged = 0;
  for (const auto& t : r.tensors) flagged += !t.flags.empty();
  std::size_t diff_flagged = 0;
  for (const auto& d : r.diff) diff_flagged += !d.flags.empty();
  std::string s = fmt::format("weightstats: {}, {} tensor{} in {} file{}, {} flagged", r.passed() ? "ok" : "FLAGGED",
                              r.tensors.size(), r.tensors.size() == 1 ? "" : "s", r.files.size(),
                              r.files.size() == 1 ? "" : "s", flagged);
  if (r.has_diff) s += fmt::format("; diff: {} compared, {} flagged", r.diff.size(), diff_flagged);
  if (!r.skipped.empty()) s += fmt::format("; {} tensor{} not read", r.skipped.size(), r.skipped.size() == 1 ? "" : "s");
  if (!r.unsafe_pickle.empty()) {
    std::size_t files = 0;
    for (const auto& f : r.files)
      files += std::any_of(r.unsafe_pickle.begin(), r.unsafe_pickle.end(), [&](const auto& u) { return u.file == f; });
    s += fmt::format("; unsafe pickle in {} file{}", files, files == 1 ? "" : "s");
  }
  const Style style{color};
  return r.passed() ? style.green(s) : style.red(s);
}

std::string to_text(const WeightsReport& r, const TextOptions& options) {
  const Style style{options.color};
  std::string out;
  if (!options.quiet) {
    // The verdict first; the table ends with it again as a summary under a long table.
    out += style.bold(verdict_line(r, options.color)) + "\n";
    // A GGUF file's own metadata: the first keys, the rest in JSON.
    constexpr std::size_t kShownKeys = 40;
    for (std::size_t i = 0; i < r.metadata.size();) {
      const std::string& file = r.metadata[i].file;
      std::size_t n = 0, shown = 0;
      while (i + n < r.metadata.size() && r.metadata[i + n].file == file) ++n;
      out += style.bold(fmt::format("metadata of {} ({} key{})", file, n, n == 1 ? "" : "s")) + "\n";
      for (; shown < n && shown < kShownKeys; ++shown) {
        const MetadataEntry& m = r.metadata[i + shown];
        std::string value = m.value.size() > 160 ? m.value.substr(0, 157) + "..." : m.value;
        out += fmt::format("  {} = {}", m.key, escape_invalid_utf8(value, true)) + style.dim(" (" + m.type + ")") + "\n";
      }
      if (n > shown) out += style.dim(fmt::format("  ... {} more keys (--format json lists them all)", n - shown)) + "\n";
      i += n;
    }
    std::size_t name_w = 4, shape_w = 5;
    for (const auto& t : r.tensors) {
      name_w = std::max(name_w, t.name.size());
      shape_w = std::max(shape_w, internal::shape_text(t.shape, ',').size());
    }
    name_w = std::min<std::size_t>(name_w, 60);
    if (!r.tensors.empty()) {
      out += style.bold(fmt::format("{:<{}} {:<7} {:<{}} {:>10} {:>10} {:>10} {:>10} {:>6}  {}", "name", name_w, "dtype",
                                    "shape", shape_w, "mean", "std", "min", "max", "zero%", "flags")) + "\n";
    }
    // The weights, then an optimizer's state in a section of its own.
    std::vector<const TensorReport*> ordered;
    for (const auto& t : r.tensors)
      if (t.role != TensorRole::optimizer_state) ordered.push_back(&t);
    const std::size_t weights = ordered.size();
    for (const auto& t : r.tensors)
      if (t.role == TensorRole::optimizer_state) ordered.push_back(&t);
    for (std::size_t k = 0; k < ordered.size(); ++k) {
      const TensorReport& t = *ordered[k];
      if (k == weights) out += style.bold("optimizer state") + "\n";
      const TensorStats& s = t.stats;
      const std::string zeros = std::isnan(s.zero_fraction) ? "-" : internal::fixed(100.0 * s.zero_fraction, 1);
      std::string line = fmt::format("{:<{}} {:<7} {:<{}} {:>10} {:>10} {:>10} {:>10} {:>6}  {}", t.name, name_w,
                                     dtype_name(t.dtype), internal::shape_text(t.shape, ','), shape_w, num(s.mean), num(s.std),
                                     num(s.min), num(s.max), zeros, flags_text(t.flags));
      out += (t.flags.empty() ? line : style.red(line)) + "\n";
      for (std::size_t i = 0; i < t.flags.size(); ++i)
        out += "    " + style.yellow(to_string(t.flags[i])) + ": " + t.evidence[i] + "\n";
      if (t.quant && (t.quant->zero_scale_blocks > 0 || t.quant->nonfinite_scale_blocks > 0)) {
        const QuantHealth& q = *t.quant;
        out += style.dim(fmt::format("    blocks: {}, scales |d| {} to {} (mean {}), {} with scale 0, {} NaN or infinite",
                                     q.blocks, num(q.scale_min), num(q.scale_max), num(q.scale_mean),
                                     q.zero_scale_blocks, q.nonfinite_scale_blocks)) + "\n";
      }
      if (t.spectral) {
        const SpectralStats& sp = *t.spectral;
        out += style.dim(fmt::format("    spectral{}: ||W||_2 {}, stable rank {}, condition {}, alpha {} +- {} ({} eigenvalues >= {})",
                                     sp.exact ? "" : " (top-k sketch)", num(sp.spectral_norm), num(sp.stable_rank),
                                     std::isinf(sp.condition_number) ? "inf" : num(sp.condition_number),
                                     num(sp.power_law.alpha), num(sp.power_law.alpha_error), sp.power_law.tail_count,
                                     num(sp.power_law.xmin))) + "\n";
      }
    }
    if (const std::string note = internal::optimizer_state_note(r); !note.empty()) out += style.dim(note) + "\n";
    for (const auto& line : internal::optimizer_lines(r)) out += line + "\n";

    for (const auto& line : internal::skipped_lines(r)) out += style.yellow(line) + "\n";
    for (const auto& line : internal::unsafe_pickle_lines(r)) out += style.red(std::string("unsafe_pickle: ") + line) + "\n";
    for (const auto& line : internal::pickle_notes(r)) out += style.dim(line) + "\n";
    if (r.has_diff) {
      if (r.diff_quantization)
        out += style.bold(fmt::format("quantization error {} -> {}: ||dequantized - original|| / ||original||, "
                                      "largest first", r.diff_before, r.diff_after)) + "\n";
      else
        out += style.bold(fmt::format("diff {} -> {}", r.diff_before, r.diff_after)) + "\n";
      // Names matched through a mapping are shown as "before -> after", in a column of their own width.
      std::size_t diff_w = 4;
      bool mapped = false;
      for (const auto& d : r.diff) {
        diff_w = std::max(diff_w, d.name.size() + (d.after_name.empty() ? 0 : 4 + d.after_name.size()));
        mapped |= !d.after_name.empty();
      }
      diff_w = mapped ? std::min<std::size_t>(diff_w, 80) : name_w;
      for (const auto& d : r.diff) {
        const std::string name = d.after_name.empty() ? d.name : d.name + " -> " + d.after_name;
        const std::string value = std::isinf(d.stats.rel_change) ? "inf" : num(d.stats.rel_change);
        std::string line =
            r.diff_quantization
                ? fmt::format("  {:<{}} rel_error {:>10}  {} -> {}  {}", name, diff_w, value,
                              dtype_name(d.before_dtype), dtype_name(d.after_dtype), flags_text(d.flags))
                : fmt::format("  {:<{}} rel_change {:>10}  {}", name, diff_w, value, flags_text(d.flags));
        out += (d.flags.empty() ? line : style.red(line)) + "\n";
        for (std::size_t i = 0; i < d.flags.size(); ++i)
          out += "    " + style.yellow(to_string(d.flags[i])) + ": " + d.evidence[i] + "\n";
      }
      for (const auto& n : r.only_in_before) out += "  " + n + ": only in " + r.diff_before + "\n";
      for (const auto& n : r.only_in_after) out += "  " + n + ": only in " + r.diff_after + "\n";
      for (const auto& c : r.shape_changed)
        out += "  " + c.name + ": shape " + internal::shape_text(c.before, ',') + " -> " +
               internal::shape_text(c.after, ',') + ", not compared\n";
    }
  }
  out += verdict_line(r, options.color) + "\n";
  return escape_invalid_utf8(out, /*printable=*/false);  // paths and names: \xNN for bytes that are not UTF-8
}

std::string to_html(const WeightsReport& report, const Thresholds& thresholds) {
  return html::weightstats_page(report, thresholds);
}

}  // namespace gradcheck::weights
