#include "gradcheck/weights/report.hpp"

#include <algorithm>
#include <iterator>
#include <cmath>
#include <cstring>
#include <map>
#include <regex>
#include <stdexcept>
#include <utility>

#include <spdlog/fmt/fmt.h>

#include "gradcheck/errors.hpp"
#include "../core/parallel.hpp"
#include "optimizer.hpp"
#include "progress.hpp"

namespace gradcheck::weights {

namespace {

// The one table of flag names (the tools' contract), in the enum's order.
constexpr std::pair<Flag, const char*> kFlagNames[] = {
    {Flag::nan, "nan"},
    {Flag::inf, "inf"},
    {Flag::all_zero, "all_zero"},
    {Flag::constant, "constant"},
    {Flag::identical_rows, "identical_rows"},
    {Flag::exploding, "exploding"},
    {Flag::vanishing_init_scale, "vanishing_init_scale"},
    {Flag::unchanged, "unchanged"},
    {Flag::large_update, "large_update"},
    {Flag::unsafe_pickle, "unsafe_pickle"},
    {Flag::update_ratio_high, "update_ratio_high"},
    {Flag::update_ratio_low, "update_ratio_low"},
    {Flag::degenerate_blocks, "degenerate_blocks"},
};

}  // namespace

const char* to_string(Flag f) noexcept {
  for (const auto& [flag, name] : kFlagNames)
    if (flag == f) return name;
  return "?";
}

Flag flag_from_string(std::string_view name) {
  for (const auto& [flag, text] : kFlagNames)
    if (name == text) return flag;
  throw std::invalid_argument("unknown weights flag \"" + std::string(name) + "\"");
}

bool WeightsReport::passed() const noexcept {
  for (const auto& t : tensors)
    if (!t.flags.empty()) return false;
  for (const auto& d : diff)
    if (!d.flags.empty()) return false;
  return unsafe_pickle.empty();
}

ExitCode exit_code(const WeightsReport& report) noexcept {
  return report.passed() ? ExitCode::ok : ExitCode::problem;
}

const char* to_string(TensorRole role) noexcept {
  return role == TensorRole::optimizer_state ? "optimizer_state" : "weight";
}

TensorRole tensor_role(std::string_view name) {
  // Keras keeps an optimizer's variables apart: optimizer_weights/ in Keras 2's
  // model.save files, optimizer/ in Keras 3's .weights.h5.
  if (name.starts_with("optimizer_weights/") || name.starts_with("optimizer/vars/")) return TensorRole::optimizer_state;
  static constexpr std::string_view keys[] = {"exp_avg", "exp_avg_sq", "max_exp_avg_sq", "momentum_buffer",
                                              "step",    "square_avg", "acc_delta",      "sum",
                                              "mu",      "eta",        "ax",             "prev",
                                              "step_size"};
  // The last three dot-separated parts: state, an index, a key.
  std::string_view parts[3];
  std::string_view rest = name;
  for (int k = 2; k >= 0; --k) {
    const std::size_t dot = rest.rfind('.');
    if (dot == std::string_view::npos && k > 0) return TensorRole::weight;
    parts[k] = dot == std::string_view::npos ? rest : rest.substr(dot + 1);
    rest = dot == std::string_view::npos ? std::string_view() : rest.substr(0, dot);
  }
  const bool index = !parts[1].empty() && std::all_of(parts[1].begin(), parts[1].end(),
                                                      [](char c) { return c >= '0' && c <= '9'; });
  const bool key = std::find(std::begin(keys), std::end(keys), parts[2]) != std::end(keys);
  return parts[0] == "state" && index && key ? TensorRole::optimizer_state : TensorRole::weight;
}

void assign_flags(TensorReport& t, const Thresholds& th) {
  t.flags.clear();
  t.evidence.clear();
  auto flag = [&](Flag f, std::string why) {
    t.flags.push_back(f);
    t.evidence.push_back(std::move(why));
  };
  const TensorStats& s = t.stats;
  if (!is_floating(t.dtype)) return;
  if (s.nan_count > 0) flag(Flag::nan, fmt::format("{} of {} values are NaN", s.nan_count, s.count));
  if (s.inf_count > 0) flag(Flag::inf, fmt::format("{} of {} values are infinite", s.inf_count, s.count));
  if (t.quant && t.quant->blocks > 0) {
    const QuantHealth& q = *t.quant;
    const bool all_zero = s.finite_count == s.count && s.zero_count == s.count;
    const bool many_zero = !all_zero && double(q.zero_scale_blocks) > th.degenerate_zero_scale_fraction * double(q.blocks);
    if (q.nonfinite_scale_blocks > 0 || many_zero) {
      std::string why;
      if (q.nonfinite_scale_blocks > 0)
        why = fmt::format("{} of {} {} blocks have a NaN or infinite scale", q.nonfinite_scale_blocks, q.blocks,
                          dtype_name(t.dtype));
      if (many_zero)
        why += fmt::format("{}{} of {} {} blocks have scale 0 (all their values equal)", why.empty() ? "" : "; ",
                           q.zero_scale_blocks, q.blocks, dtype_name(t.dtype));
      flag(Flag::degenerate_blocks, std::move(why));
    }
  }
  if (t.role == TensorRole::optimizer_state) return;  // its scale is not a weight's
  const bool matrix = t.shape.size() >= 2 && s.count > 0;
  bool degenerate = false;
  if (matrix && s.finite_count == s.count && s.zero_count == s.count) {
    flag(Flag::all_zero, fmt::format("all {} values are 0", s.count));
    degenerate = true;
  } else if (matrix && s.count > 1 && s.finite_count == s.count && s.min == s.max) {
    flag(Flag::constant, fmt::format("all {} values equal {:.6g}", s.count, s.min));
    degenerate = true;
  }
  if (t.matrix && !degenerate && t.matrix->identical_rows > 0 && t.matrix->cols >= th.identical_rows_min_cols) {
    flag(Flag::identical_rows,
         fmt::format("{} of {} rows repeat an earlier row (rows {} and {} are identical)", t.matrix->identical_rows,
                     t.matrix->rows, t.matrix->identical_first, t.matrix->identical_second));
  }
  if (s.finite_count > 0 && s.abs_max > th.exploding_abs) {
    flag(Flag::exploding, fmt::format("|w| reaches {:.4g}, above {:.6g} (the largest float16)", s.abs_max,
                                      th.exploding_abs));
  } else if (t.matrix && !degenerate && s.finite_count > 0) {
    const MatrixStats& m = *t.matrix;
    const double largest = std::max({m.he_std, m.glorot_std, m.lecun_std});
    const double smallest = std::min({m.he_std, m.glorot_std, m.lecun_std});
    if (s.std > th.exploding_init_ratio * largest) {
      flag(Flag::exploding, fmt::format("std {:.4g} is {:.0f}x the largest init std {:.4g} (He, fan_in {})", s.std,
                                        s.std / largest, largest, m.fan_in));
    } else if (s.std < th.vanishing_init_ratio * smallest) {
      flag(Flag::vanishing_init_scale,
           fmt::format("std {:.4g} is {:.2g}x the smallest init std {:.4g} (fan_in {}, fan_out {})", s.std,
                       s.std / smallest, smallest, m.fan_in, m.fan_out));
    }
  }
}

namespace {

// std::regex_error's what() is the standard library's own wording (and differs
// between libraries): say what is wrong from its code.
const char* regex_problem(std::regex_constants::error_type code) {
  namespace rc = std::regex_constants;
  switch (code) {
    case rc::error_collate: return "an unknown collating element";
    case rc::error_ctype: return "an unknown character class";
    case rc::error_escape: return "a bad escape or a trailing backslash";
    case rc::error_backref: return "a back-reference to a group that does not exist";
    case rc::error_brack: return "an unmatched [ or ]";
    case rc::error_paren: return "an unmatched ( or )";
    case rc::error_brace: return "an unmatched { or }";
    case rc::error_badbrace: return "a bad {m,n} count";
    case rc::error_range: return "a bad character range such as [z-a]";
    case rc::error_space: return "it is too large to compile";
    case rc::error_badrepeat: return "*, +, ? or { with nothing to repeat";
    case rc::error_complexity: return "it is too complex to match";
    case rc::error_stack: return "it is too complex to match";
    default: return "it cannot be compiled";
  }
}

std::regex compile_filter(const std::string& filter) {
  try {
    return std::regex(filter, std::regex::ECMAScript);
  } catch (const std::regex_error& e) {
    throw InputError("", "--filter \"" + filter + "\" is not a valid regular expression (" + regex_problem(e.code()) + ")");
  }
}

std::vector<const TensorEntry*> select(const Checkpoint& ck, const std::string& filter) {
  std::vector<const TensorEntry*> out;
  if (filter.empty()) {
    for (const auto& t : ck.tensors()) out.push_back(&t);
    return out;
  }
  const std::regex re = compile_filter(filter);
  for (const auto& t : ck.tensors())
    if (std::regex_search(t.name, re)) out.push_back(&t);
  return out;
}

TensorView view_of(const TensorEntry& t) { return {t.dtype, t.data, t.numel, t.shape}; }

// A phase of ReportOptions::progress (empty when it is).
detail::ProgressFn phase_progress(const ReportOptions& options, std::string_view phase) {
  if (!options.progress) return {};
  return [&options, phase](std::int64_t done, std::int64_t total) { options.progress(phase, done, total); };
}

}  // namespace

WeightsReport report_checkpoint(const Checkpoint& checkpoint, const ReportOptions& options) {
  WeightsReport report;
  report.files = checkpoint.files();
  report.unsafe_pickle = checkpoint.unsafe_globals();
  report.uninterpreted = checkpoint.uninterpreted();
  report.metadata = checkpoint.metadata();
  report.skipped = checkpoint.skipped();
  const auto selected = select(checkpoint, options.filter);
  std::vector<TensorView> views;
  views.reserve(selected.size());
  for (const auto* t : selected) views.push_back(view_of(*t));
  auto analyses = detail::analyse_tensors(views, {options.threads}, phase_progress(options, progress_phase::analysing));
  for (std::size_t i = 0; i < selected.size(); ++i) {
    TensorReport r;
    r.name = selected[i]->name;
    r.file = selected[i]->file;
    r.dtype = selected[i]->dtype;
    r.shape = selected[i]->shape;
    r.stats = std::move(analyses[i].stats);
    r.matrix = analyses[i].matrix;
    r.quant = analyses[i].quant;
    r.role = tensor_role(r.name);
    assign_flags(r, options.thresholds);
    report.tensors.push_back(std::move(r));
  }
  report.optimizers = detail::analyse_optimizers(checkpoint, report.tensors, options.thresholds);
  if (options.spectral) {
    std::vector<std::size_t> todo;
    for (std::size_t i = 0; i < views.size(); ++i)
      if (views[i].shape.size() >= 2 && views[i].numel > 0 && is_floating(views[i].dtype)) todo.push_back(i);
    // One tensor per task; each analysis is sequential, so results do not depend on threads.
    const detail::ProgressFn phase = phase_progress(options, progress_phase::spectral);
    detail::TensorProgress progress(phase, static_cast<std::int64_t>(todo.size()));
    gradcheck::internal::parallel_for(todo.size(), options.threads, [&](std::size_t task, std::size_t worker) {
      const std::size_t i = todo[task];
      SpectralStats s = spectral_analysis(views[i], options.spectral_options);
      if (s.eigenvalues > 0) report.tensors[i].spectral = s;
      progress.finished();
      progress.poll(worker);
    });
    progress.report();
  }
  return report;
}

std::optional<std::string> llama_cpp_name(std::string_view name) {
  // convert_hf_to_gguf.py's mapping (gguf-py's tensor_mapping.py) for the
  // Llama family, suffix (.weight / .bias) kept.
  std::string_view suffix;
  for (std::string_view s : {std::string_view(".weight"), std::string_view(".bias")})
    if (name.ends_with(s)) suffix = s;
  if (suffix.empty()) return std::nullopt;
  const std::string_view stem = name.substr(0, name.size() - suffix.size());
  auto with = [&](std::string_view base) { return std::string(base) + std::string(suffix); };
  if (stem == "model.embed_tokens") return with("token_embd");
  if (stem == "model.norm") return with("output_norm");
  if (stem == "lm_head") return with("output");
  constexpr std::string_view layers = "model.layers.";
  if (!stem.starts_with(layers)) return std::nullopt;
  std::string_view rest = stem.substr(layers.size());
  const std::size_t dot = rest.find('.');
  if (dot == 0 || dot == std::string_view::npos) return std::nullopt;
  const std::string_view layer = rest.substr(0, dot);
  if (!std::all_of(layer.begin(), layer.end(), [](char c) { return c >= '0' && c <= '9'; })) return std::nullopt;
  rest = rest.substr(dot + 1);
  static constexpr std::pair<std::string_view, std::string_view> kLayer[] = {
      {"self_attn.q_proj", "attn_q"},       {"self_attn.k_proj", "attn_k"},
      {"self_attn.v_proj", "attn_v"},       {"self_attn.o_proj", "attn_output"},
      {"self_attn.q_norm", "attn_q_norm"},  {"self_attn.k_norm", "attn_k_norm"},
      {"mlp.gate_proj", "ffn_gate"},        {"mlp.up_proj", "ffn_up"},
      {"mlp.down_proj", "ffn_down"},        {"input_layernorm", "attn_norm"},
      {"post_attention_layernorm", "ffn_norm"},
  };
  for (const auto& [hf, gguf] : kLayer)
    if (rest == hf) return "blk." + std::string(layer) + "." + with(gguf);
  return std::nullopt;
}

namespace {

// The llama.cpp conversion's rotary reordering: within each head of
// `head_dim` rows, the row that Hugging Face holds at j * head_dim / 2 + i
// (j = 0, 1) is stored at 2 * i + j. Returns the Hugging Face row of each
// stored row, or an empty vector when the rows do not split into heads.
std::vector<std::uint64_t> rotary_rows(std::int64_t rows, std::int64_t heads) {
  if (heads <= 0 || rows <= 0 || rows % (2 * heads) != 0) return {};
  const std::int64_t head_dim = rows / heads, half = head_dim / 2;
  std::vector<std::uint64_t> from(static_cast<std::size_t>(rows));
  for (std::int64_t h = 0; h < heads; ++h)
    for (std::int64_t i = 0; i < half; ++i)
      for (std::int64_t j = 0; j < 2; ++j)
        from[std::size_t(h * head_dim + 2 * i + j)] = std::uint64_t(h * head_dim + j * half + i);
  return from;
}

// A GGUF checkpoint's number-valued metadata key, or -1.
double metadata_number(const Checkpoint& ck, std::string_view key) {
  for (const auto& m : ck.metadata())
    if (m.key == key && m.number) return *m.number;
  return -1;
}
bool is_llama_gguf(const Checkpoint& ck) {
  for (const auto& m : ck.metadata())
    if (m.key == "general.architecture") return m.value == "llama";
  return false;
}

}  // namespace

void add_diff(WeightsReport& report, const Checkpoint& before, const Checkpoint& after, const ReportOptions& options) {
  report.has_diff = true;
  if (!before.files().empty()) report.diff_before = before.files().front();
  if (!after.files().empty()) report.diff_after = after.files().front();
  const auto b = select(before, options.filter);
  const auto a = select(after, options.filter);
  // Matched by name, or by llama.cpp's name for a Hugging Face name on either side.
  auto key = [](const std::string& n) { return llama_cpp_name(n).value_or(n); };
  std::map<std::string, const TensorEntry*> after_by_key;
  for (const auto* t : a) after_by_key.emplace(key(t->name), t);
  struct Pair {
    TensorView before, after;
    std::string name, after_name;
    std::int64_t heads = 0;     // > 0: the rotary reordering applies
    bool reorder_before = false;  // which side holds the Hugging Face order
  };
  std::vector<Pair> pairs;
  std::map<const TensorEntry*, bool> matched;
  const bool llama_before = is_llama_gguf(before), llama_after = is_llama_gguf(after);
  for (const auto* t : b) {
    auto it = after_by_key.find(key(t->name));
    if (it == after_by_key.end()) {
      report.only_in_before.push_back(t->name);
      continue;
    }
    const TensorEntry* u = it->second;
    after_by_key.erase(it);
    matched[u] = true;
    if (t->shape != u->shape) {
      report.shape_changed.push_back({t->name, t->shape, u->shape});
      continue;
    }
    Pair p{view_of(*t), view_of(*u), t->name, u->name == t->name ? std::string() : u->name};
    // A Hugging Face attn_q / attn_k against a llama GGUF's: rows reordered.
    const bool hf_before = llama_after && !llama_before && u->name != t->name;
    const bool hf_after = llama_before && !llama_after && u->name != t->name;
    const std::string& gguf_name = hf_before ? u->name : t->name;
    const Checkpoint& gguf = hf_before ? after : before;
    if ((hf_before || hf_after) && !t->shape.empty()) {
      const bool q = gguf_name.ends_with(".attn_q.weight") || gguf_name.ends_with(".attn_q.bias");
      const bool k = gguf_name.ends_with(".attn_k.weight") || gguf_name.ends_with(".attn_k.bias");
      const double heads = metadata_number(gguf, "llama.attention.head_count");
      const double kv = metadata_number(gguf, "llama.attention.head_count_kv");
      if (q && heads > 0) p.heads = std::int64_t(heads);
      if (k && heads > 0) p.heads = std::int64_t(kv > 0 ? kv : heads);
      p.reorder_before = hf_before;
      const TensorView& hf = hf_before ? p.before : p.after;
      if (is_block_quantized(hf.dtype) || rotary_rows(t->shape[0], p.heads).empty()) p.heads = 0;
    }
    if (is_block_quantized(t->dtype) || is_block_quantized(u->dtype)) report.diff_quantization = true;
    pairs.push_back(std::move(p));
  }
  for (const auto* t : a)
    if (!matched.count(t)) report.only_in_after.push_back(t->name);

  // Reordered copies are made a batch at a time (at most 1 GiB of copies).
  std::vector<DiffStats> stats(pairs.size());
  const detail::ProgressFn phase = phase_progress(options, progress_phase::comparing);
  constexpr std::size_t kBatchBytes = std::size_t(1) << 30;
  for (std::size_t first = 0; first < pairs.size();) {
    std::size_t last = first, bytes = 0;
    std::vector<std::vector<std::uint8_t>> copies;
    std::vector<std::pair<TensorView, TensorView>> batch;
    while (last < pairs.size() && (last == first || bytes < kBatchBytes)) {
      Pair& p = pairs[last++];
      std::pair<TensorView, TensorView> views{p.before, p.after};
      if (p.heads > 0) {
        TensorView& hf = p.reorder_before ? views.first : views.second;
        const auto from = rotary_rows(hf.shape[0], p.heads);
        const std::size_t row = static_cast<std::size_t>(hf.numel / std::uint64_t(hf.shape[0])) * dtype_size(hf.dtype);
        std::vector<std::uint8_t> copy(row * from.size());
        for (std::size_t r = 0; r < from.size(); ++r) std::memcpy(copy.data() + r * row, hf.data + from[r] * row, row);
        hf.data = copy.data();
        bytes += copy.size();
        copies.push_back(std::move(copy));
      }
      batch.push_back(views);
    }
    const std::size_t offset = first, total = pairs.size();
    const detail::ProgressFn batch_progress =
        phase ? detail::ProgressFn([&phase, offset, total](std::int64_t done, std::int64_t) {
          phase(std::int64_t(offset) + done, std::int64_t(total));
        })
              : detail::ProgressFn();
    const auto part = detail::diff_tensors(batch, {options.threads}, batch_progress);
    std::copy(part.begin(), part.end(), stats.begin() + std::ptrdiff_t(first));
    first = last;
  }
  for (std::size_t i = 0; i < pairs.size(); ++i) {
    DiffEntry e;
    e.name = pairs[i].name;
    e.after_name = pairs[i].after_name;
    e.before_dtype = pairs[i].before.dtype;
    e.after_dtype = pairs[i].after.dtype;
    e.stats = stats[i];
    // Integer buffers (position ids, counters) are not trained, and an
    // optimizer's moments are not weights (they may change by any factor): no flags.
    if (!is_floating(pairs[i].before.dtype) || tensor_role(e.name) == TensorRole::optimizer_state) {
      report.diff.push_back(std::move(e));
      continue;
    }
    // Against a quantized file, tensors kept as they were are expected.
    if (e.stats.changed == 0 && pairs[i].before.numel > 0 && !report.diff_quantization) {
      e.flags.push_back(Flag::unchanged);
      e.evidence.push_back(fmt::format("none of the {} values changed", pairs[i].before.numel));
    } else if (e.stats.rel_change > options.thresholds.large_update) {
      e.flags.push_back(Flag::large_update);
      e.evidence.push_back(fmt::format("||dW||/||W|| = {:.4g} (||dW|| {:.4g}, ||W|| {:.4g}), above {:.3g}",
                                       e.stats.rel_change, e.stats.diff_norm, e.stats.before_norm,
                                       options.thresholds.large_update));
    }
    report.diff.push_back(std::move(e));
  }
  if (report.diff_quantization)
    std::stable_sort(report.diff.begin(), report.diff.end(), [](const DiffEntry& x, const DiffEntry& y) {
      const double a = std::isnan(x.stats.rel_change) ? -1 : x.stats.rel_change;
      const double c = std::isnan(y.stats.rel_change) ? -1 : y.stats.rel_change;
      return a > c;
    });
}

}  // namespace gradcheck::weights
