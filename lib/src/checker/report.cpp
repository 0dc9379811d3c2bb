#include "gradcheck/report.hpp"
#include "gradcheck/utf8.hpp"
#include "../core/json_out.hpp"

#include <cmath>
#include <stdexcept>

#include <nlohmann/json.hpp>

#include "../core/format.hpp"
#include "../core/json_error.hpp"
#include "../html/pages.hpp"
#include "gradcheck/options.hpp"
#include "gradcheck/output.hpp"

namespace gradcheck {

namespace {

using json = nlohmann::json;
using internal::general;
using internal::json_number;
using internal::scientific;

std::string shape_str(const std::vector<std::int64_t>& shape) {
  std::string s = "[";
  for (std::size_t k = 0; k < shape.size(); ++k) {
    if (k > 0) s += "x";
    s += std::to_string(shape[k]);
  }
  return s + "]";
}

std::string pad(const std::string& s, std::size_t w) { return s.size() >= w ? s : s + std::string(w - s.size(), ' '); }

std::string entry_label(const BlockResult& b, const Entry& e) {
  std::string s = b.name;
  if (e.directional) return s + " <direction " + std::to_string(e.position) + ">";
  if (!e.index.empty()) {
    s += "[";
    for (std::size_t k = 0; k < e.index.size(); ++k) s += (k ? "," : "") + std::to_string(e.index[k]);
    s += "]";
  }
  if (e.output >= 0) s = "out[" + std::to_string(e.output) + "] / " + s;
  return s;
}

// JSON has no NaN or infinity: null is read back as NaN (json_number writes it).
double get_number(const json& j) { return j.is_null() ? std::nan("") : j.get<double>(); }

}  // namespace

std::string scale_fit_text(const BlockResult& b) {
  if (b.scale_entries < 2 || !std::isfinite(b.scale) || !std::isfinite(b.scale_error) || b.scale == 0) return "";
  std::string s = "as a whole, analytic = " + general(1 / b.scale, 6) + " x numeric (+-" +
                  general(b.scale_error / (b.scale * b.scale), 2) + ") over " + std::to_string(b.scale_entries) +
                  " coordinates";
  if (std::isfinite(b.scale_check) && b.scale_check != 0) s += "; " + general(1 / b.scale_check, 6) + " at 4x larger steps";
  return s;
}

std::string consistency_text(const BlockResult& b) {
  if (b.consistency_entries < 2 || !std::isfinite(b.consistency) || !std::isfinite(b.consistency_limit)) return "";
  return "as a whole, (numeric - analytic) / error bound has an RMS of " + general(b.consistency, 3) + " over " +
         std::to_string(b.consistency_entries) + " coordinates (noise stays below " + general(b.consistency_limit, 3) +
         ")";
}

std::string verdict_line(const CheckResult& r, bool color) {
  Style st{color};
  std::vector<std::string> bad, kinks, unsure;
  for (const auto& b : r.blocks) {
    if (b.verdict == Verdict::mismatch) bad.push_back(b.name);
    if (b.verdict == Verdict::kink) kinks.push_back(b.name);
    if (b.verdict == Verdict::inconclusive) unsure.push_back(b.name);
  }
  // Passing with a tensor nobody could judge is not a pass: the line says so.
  const bool undecided = r.passed && !unsure.empty();
  std::string head = !r.passed ? st.red("FAIL") : undecided ? st.yellow("INCONCLUSIVE") : st.green("PASS");
  std::string s = head + " " + r.name + " (" + to_string(r.dtype) + ", " + to_string(r.mode) + "): ";
  auto join = [](const std::vector<std::string>& v) {
    std::string o;
    for (std::size_t k = 0; k < v.size() && k < 4; ++k) o += (k ? ", " : "") + v[k];
    if (v.size() > 4) o += ", ...";
    return o;
  };
  if (!bad.empty()) s += std::to_string(bad.size()) + " of " + std::to_string(r.blocks.size()) + " tensors mismatch: " + join(bad);
  else if (!r.problems.empty()) s += std::string(to_string(r.problems.front().kind)) + ": " + r.problems.front().message;
  else if (undecided) {
    s += std::to_string(unsure.size()) + " of " + std::to_string(r.blocks.size()) +
         " tensors inconclusive (their derivatives are within the function's noise): " + join(unsure);
    const std::size_t agree = r.blocks.size() - unsure.size();
    if (agree > 0) s += "; the other " + (agree == 1 ? std::string("agrees") : std::to_string(agree) + " agree");
    if (!kinks.empty()) s += " (kinks in " + join(kinks) + ")";
  } else {
    s += r.blocks.size() == 1 ? "its tensor agrees" : "all " + std::to_string(r.blocks.size()) + " tensors agree";
    if (!kinks.empty()) s += " (kinks in " + join(kinks) + ")";
  }
  if (!bad.empty() && !r.problems.empty()) s += std::string("; ") + to_string(r.problems.front().kind);
  return s;
}

std::string to_text(const CheckResult& r, const TextOptions& opt) {
  Style st{opt.color};
  std::string out = verdict_line(r, opt.color) + "\n";
  if (opt.quiet) return escape_invalid_utf8(out, /*printable=*/false);
  std::size_t wname = 6, wshape = 5, wchecked = 9;
  auto checked_str = [](const BlockResult& b) { return std::to_string(b.checked) + "/" + std::to_string(b.size); };
  for (const auto& b : r.blocks) {
    wname = std::max(wname, b.name.size());
    wshape = std::max(wshape, shape_str(b.shape).size());
    wchecked = std::max(wchecked, checked_str(b).size() + 2);
  }
  out += "  " + pad("tensor", wname) + "  " + pad("shape", wshape) + "  " + pad("checked", wchecked) +
         pad("max rel err", 13) + pad("verdict", 14) + "hint\n";
  for (const auto& b : r.blocks) {
    std::string verdict = to_string(b.verdict);
    std::string colored = b.verdict == Verdict::mismatch ? st.red(pad(verdict, 14))
                          : b.verdict == Verdict::ok     ? st.green(pad(verdict, 14))
                                                         : st.yellow(pad(verdict, 14));
    out += "  " + pad(b.name, wname) + "  " + pad(shape_str(b.shape), wshape) + "  " + pad(checked_str(b), wchecked) +
           pad(scientific(b.max_rel_error, 2), 13) + colored + b.hint + "\n";
  }
  for (const auto& b : r.blocks) {
    // An inconclusive tensor still has evidence as a whole: how far its scale
    // fit allows a constant factor to be off (3 standard errors).
    if (b.verdict == Verdict::inconclusive && b.scale_entries >= CheckOptions{}.scale_min_entries &&
        !scale_fit_text(b).empty()) {
      const std::string bound =
          ": no constant factor off by more than " +
          general(100 * (std::abs(1 / b.scale - 1) + 3 * b.scale_error / (b.scale * b.scale)), 2) +
          "% (3 standard errors)\n";
      out += "\n  " + b.name + ": " + std::to_string(b.inconclusive) + " of " + std::to_string(b.checked) +
             " coordinates are inconclusive (their noise is wider than half their derivative); " +
             scale_fit_text(b) + bound;
    }
    if (b.verdict != Verdict::mismatch && b.verdict != Verdict::kink) continue;
    out += "\n  " + st.bold(b.name) + ": " + std::to_string(b.mismatches) + " mismatch, " + std::to_string(b.kinks) +
           " kink, " + std::to_string(b.inconclusive) + " inconclusive of " + std::to_string(b.checked) + " checked\n";
    // The fit leaves mismatching entries out: it is evidence only when no entry
    // mismatches alone (the scale test's own finding).
    if (b.mismatches == 0 && !scale_fit_text(b).empty()) out += "    " + scale_fit_text(b) + "\n";
    if (b.mismatches == 0 && !consistency_text(b).empty()) out += "    " + consistency_text(b) + "\n";
    std::size_t wentry = 5;
    for (const auto& e : b.worst) wentry = std::max(wentry, entry_label(b, e).size());
    wentry += 2;
    out += "    " + pad("entry", wentry) + pad("analytic", 14) + pad("numeric", 14) + pad("error bound", 13) + "verdict\n";
    int shown = 0;
    for (const auto& e : b.worst) {
      if (shown++ >= opt.worst_entries) break;
      out += "    " + pad(entry_label(b, e), wentry) + pad(general(e.analytic, 6), 14) + pad(general(e.numeric, 6), 14) +
             pad(scientific(e.error_bound, 2), 13) + to_string(e.verdict);
      if (e.verdict == Verdict::kink || (e.verdict == Verdict::mismatch && std::abs(e.left - e.right) > 3 * e.error_bound))
        out += "  (left " + general(e.left, 6) + ", right " + general(e.right, 6) + ")";
      out += "\n";
    }
  }
  for (const auto& p : r.problems) out += "\n  " + st.red(to_string(p.kind)) + ": " + p.message + "\n";
  for (const auto& n : r.notes) out += "  note: " + n + "\n";
  out += st.dim("\n  " + std::to_string(r.evaluations) + " evaluations in " + internal::fixed(r.seconds, 2) +
                " s; method " + to_string(r.method) + "; noise level " + general(r.noise, 2) +
                (r.noise_estimated ? "" : " (fallback: estimation failed)") + "\n");
  return escape_invalid_utf8(out, /*printable=*/false);  // names and messages: \xNN for bytes that are not UTF-8
}

std::string to_json(const CheckResult& r, int indent) {
  json j;
  j["name"] = r.name;
  j["dtype"] = to_string(r.dtype);
  j["passed"] = r.passed;
  j["verdict"] = to_string(r.verdict);
  j["mode"] = to_string(r.mode);
  j["method"] = to_string(r.method);
  j["evaluations"] = r.evaluations;
  j["seconds"] = r.seconds;
  j["noise"] = json_number(r.noise);
  j["noise_estimated"] = r.noise_estimated;
  j["problems"] = json::array();
  for (const auto& p : r.problems) j["problems"].push_back({{"kind", to_string(p.kind)}, {"message", p.message}});
  j["notes"] = r.notes;
  j["tensors"] = json::array();
  for (const auto& b : r.blocks) {
    json t;
    t["name"] = b.name;
    t["shape"] = b.shape;
    t["size"] = b.size;
    t["checked"] = b.checked;
    t["verdict"] = to_string(b.verdict);
    t["max_rel_error"] = json_number(b.max_rel_error);
    t["max_error_bound"] = json_number(b.max_error_bound);
    t["mismatches"] = b.mismatches;
    t["kinks"] = b.kinks;
    t["inconclusive"] = b.inconclusive;
    t["rechecked"] = b.rechecked;
    t["hint"] = b.hint;
    t["hint_kind"] = to_string(b.hint_kind);
    t["scale"] = json_number(b.scale);
    t["scale_error"] = json_number(b.scale_error);
    t["scale_entries"] = b.scale_entries;
    t["scale_check"] = json_number(b.scale_check);
    t["scale_check_error"] = json_number(b.scale_check_error);
    t["consistency"] = json_number(b.consistency);
    t["consistency_entries"] = b.consistency_entries;
    t["consistency_limit"] = json_number(b.consistency_limit);
    t["worst"] = json::array();
    for (const auto& e : b.worst) {
      json w;
      w["index"] = e.index;
      w["position"] = e.position;
      w["output"] = e.output;
      w["analytic"] = json_number(e.analytic);
      w["numeric"] = json_number(e.numeric);
      w["error_bound"] = json_number(e.error_bound);
      w["rounding"] = json_number(e.rounding);
      w["tolerance"] = json_number(e.tolerance);
      w["rel_error"] = json_number(e.rel_error);
      w["left"] = json_number(e.left);
      w["right"] = json_number(e.right);
      w["verdict"] = to_string(e.verdict);
      w["directional"] = e.directional;
      w["rechecked"] = e.rechecked;
      w["quick"] = e.quick;
      t["worst"].push_back(std::move(w));
    }
    j["tensors"].push_back(std::move(t));
  }
  return internal::dump_utf8(std::move(j), indent);
}

std::string to_html(const CheckResult& result) { return html::check_page(result); }

ExitCode exit_code(const CheckResult& result) noexcept {
  for (const auto& p : result.problems)
    if (p.kind == ProblemKind::model_error) return ExitCode::user_code;
  if (!result.passed) return ExitCode::problem;
  return result.verdict == Verdict::inconclusive ? ExitCode::inconclusive : ExitCode::ok;
}

CheckResult check_result_from_json(const std::string& text) {
  try {
    const json j = json::parse(text);
    CheckResult r;
    r.name = j.at("name").get<std::string>();
    r.dtype = dtype_from_string(j.at("dtype").get<std::string>());
    r.passed = j.at("passed").get<bool>();
    r.verdict = verdict_from_string(j.at("verdict").get<std::string>());
    r.mode = mode_from_string(j.at("mode").get<std::string>());
    r.method = method_from_string(j.at("method").get<std::string>());
    r.evaluations = j.at("evaluations").get<std::int64_t>();
    r.seconds = j.at("seconds").get<double>();
    r.noise = get_number(j.at("noise"));
    r.noise_estimated = j.at("noise_estimated").get<bool>();
    for (const auto& p : j.at("problems")) r.problems.push_back(
          {problem_kind_from_string(p.at("kind").get<std::string>()), p.at("message").get<std::string>()});
    r.notes = j.at("notes").get<std::vector<std::string>>();
    for (const auto& t : j.at("tensors")) {
      BlockResult b;
      b.name = t.at("name").get<std::string>();
      b.shape = t.at("shape").get<std::vector<std::int64_t>>();
      b.size = t.at("size").get<std::int64_t>();
      b.checked = t.at("checked").get<std::int64_t>();
      b.verdict = verdict_from_string(t.at("verdict").get<std::string>());
      b.max_rel_error = get_number(t.at("max_rel_error"));
      b.max_error_bound = get_number(t.at("max_error_bound"));
      b.mismatches = t.at("mismatches").get<std::int64_t>();
      b.kinks = t.at("kinks").get<std::int64_t>();
      b.inconclusive = t.at("inconclusive").get<std::int64_t>();
      b.rechecked = t.value("rechecked", std::int64_t{0});
      b.hint = t.at("hint").get<std::string>();
      b.hint_kind = hint_kind_from_string(t.at("hint_kind").get<std::string>());
      // Reports written before the scale test have no fit.
      if (t.contains("scale")) {
        b.scale = get_number(t.at("scale"));
        b.scale_error = get_number(t.at("scale_error"));
        b.scale_entries = t.at("scale_entries").get<std::int64_t>();
        b.scale_check = get_number(t.at("scale_check"));
        b.scale_check_error = get_number(t.at("scale_check_error"));
      }
      // Reports written before the consistency test have none.
      if (t.contains("consistency")) {
        b.consistency = get_number(t.at("consistency"));
        b.consistency_entries = t.at("consistency_entries").get<std::int64_t>();
        b.consistency_limit = get_number(t.at("consistency_limit"));
      }
      for (const auto& w : t.at("worst")) {
        Entry e;
        e.index = w.at("index").get<std::vector<std::int64_t>>();
        e.position = w.at("position").get<std::int64_t>();
        e.output = w.at("output").get<std::int64_t>();
        e.analytic = get_number(w.at("analytic"));
        e.numeric = get_number(w.at("numeric"));
        e.error_bound = get_number(w.at("error_bound"));
        if (w.contains("rounding")) e.rounding = get_number(w.at("rounding"));
        e.tolerance = get_number(w.at("tolerance"));
        e.rel_error = get_number(w.at("rel_error"));
        e.left = get_number(w.at("left"));
        e.right = get_number(w.at("right"));
        e.verdict = verdict_from_string(w.at("verdict").get<std::string>());
        e.directional = w.value("directional", false);
        e.rechecked = w.value("rechecked", false);
        e.quick = w.value("quick", false);
        b.worst.push_back(std::move(e));
      }
      r.blocks.push_back(std::move(b));
    }
    return r;
  } catch (const nlohmann::json::exception& e) {
    throw std::invalid_argument("malformed check result JSON: " + internal::json_error_text(text, e));
  }
}

}  // namespace gradcheck
