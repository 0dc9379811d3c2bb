#include "gradcheck/host/plugin_check.hpp"
#include "gradcheck/utf8.hpp"
#include "../core/json_out.hpp"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <sstream>

#include "gradcheck/check.hpp"
#include "gradcheck/host/isolation.hpp"
#include "gradcheck/version.hpp"
#include "gradcheck/weights/checkpoint.hpp"
#include "gradcheck/weights/dtype.hpp"
#include "../checker/engine_impl.hpp"
#include "../core/format.hpp"
#include "../core/parallel.hpp"
#include "../html/pages.hpp"
#include "model_children.hpp"

namespace gradcheck::host {
namespace {

using json = nlohmann::json;
using host::Channel;

json info_to_json(const ModelInfo& m) {
  json t = json::array();
  for (const auto& ti : m.tensors) t.push_back({{"name", ti.name}, {"shape", ti.shape}});
  return {{"name", m.name}, {"dtype", to_string(m.dtype)}, {"tensors", t}};
}

// Rebuilds what the parent needs of a ModelInfo (the child validated it).
ModelInfo info_from_json(const json& j) {
  ModelInfo m;
  m.name = j.at("name").get<std::string>();
  m.dtype = j.at("dtype").get<std::string>() == "f32" ? Dtype::f32 : Dtype::f64;
  for (const auto& t : j.at("tensors")) {
    TensorInfo ti;
    ti.name = t.at("name").get<std::string>();
    ti.shape = t.at("shape").get<std::vector<std::int64_t>>();
    ti.count = 1;
    for (auto e : ti.shape) ti.count *= static_cast<std::size_t>(e);
    ti.offset = m.num_values;
    m.num_values += ti.count;
    m.tensors.push_back(std::move(ti));
  }
  return m;
}

// The child's listing of the plugin's models, and the parent's reading of it.
json models_message(const Plugin& p) {
  json list = json::array();
  for (const auto& m : p.models()) list.push_back(info_to_json(m));
  return {{"type", "models"}, {"models", list}};
}
std::vector<ModelInfo> models_from_message(const json& j) {
  std::vector<ModelInfo> models;
  for (const auto& m : j.at("models")) models.push_back(info_from_json(m));
  return models;
}

// Whether the options ask for this model (all of them when none is named).
bool selected_by(const PluginCheckOptions& o, const std::string& name) {
  return o.models.empty() || std::find(o.models.begin(), o.models.end(), name) != o.models.end();
}

void send(Channel& ch, const json& j) { ch.send(gradcheck::internal::dump_utf8(j)); }

// Reports already name the model, so a call's label names only the function.
std::string call_label(const std::string& fn, const std::string&) { return fn; }

// Host-check problems of one model, gathered from every thread; one per kind.
class ProblemSink {
 public:
  void add(std::vector<host::Problem> problems) {
    if (problems.empty()) return;
    std::lock_guard lock(mutex_);
    for (auto& p : problems)
      if (kinds_.insert(p.kind).second) problems_.push_back(std::move(p));
  }
  std::vector<host::Problem> take() {
    std::lock_guard lock(mutex_);
    return problems_;
  }
  bool has(ProblemKind kind) {
    std::lock_guard lock(mutex_);
    return kinds_.count(kind) > 0;
  }

 private:
  std::mutex mutex_;
  std::set<ProblemKind> kinds_;
  std::vector<host::Problem> problems_;
};

// Auto mode chose fast mode. Tensors it left inconclusive along random
// directions (derivatives within the function's noise), and tensors it could
// verify only coarsely (a relative error bound above 1e-3, where a constant
// factor such as x1.001 hides: usual in f32), get a full check: every
// coordinate, or a seeded sample within a budget of 10x the fast check's
// evaluations or 512 coordinates a tensor, whichever is more (512 give the
// scale fit a standard error near 1e-4 in f32), with the scale fit over
// them. Their results replace the fast ones; what is still inconclusive stays
// so and makes the verdict INCONCLUSIVE.
template <class T, class Factory>
void follow_up_coarse(CheckResult& result, Factory& factory, const Vector<T>& x, const Layout& layout,
                      const CheckOptions& co) {
  if (!result.passed) return;
  constexpr double kCoarse = 1e-3;
  CheckOptions fo = co;
  fo.mode = Mode::full;
  fo.check_reentrancy = false;
  std::int64_t largest = 0;
  for (const auto& b : result.blocks)
    if (b.verdict == Verdict::inconclusive || b.max_error_bound > kCoarse) {
      fo.only_blocks.push_back(b.name);
      largest = std::max(largest, b.size);
    }
  if (fo.only_blocks.empty()) return;
  // Evaluations per coordinate of a full check: 8 in f32 (the whole
  // Richardson table), about 3 in f64 (one central difference settles most).
  const std::int64_t per_coordinate = std::is_same_v<T, float> ? 8 : 3;
  const std::int64_t coordinates = 10 * result.evaluations / per_coordinate;
  const std::int64_t per_block =
      std::max<std::int64_t>(coordinates / static_cast<std::int64_t>(fo.only_blocks.size()), 512);
  if (largest > per_block) fo.max_per_block = co.max_per_block > 0 ? std::min(co.max_per_block, per_block) : per_block;
  const CheckResult full = check_loss<T>(factory, x, layout, fo);
  for (std::size_t b = 0; b < result.blocks.size(); ++b) {
    const BlockResult& before = result.blocks[b];
    if (std::find(fo.only_blocks.begin(), fo.only_blocks.end(), before.name) == fo.only_blocks.end()) continue;
    const BlockResult& f = full.blocks[b];
    const std::string why = before.verdict == Verdict::inconclusive
                                ? "inconclusive along random directions"
                                : "verified along random directions only to " +
                                      gradcheck::internal::fixed(100 * before.max_error_bound, 2) + "%";
    result.notes.push_back(f.name + ": " + why + "; " + std::to_string(f.checked) + " of " + std::to_string(f.size) +
                           " coordinates then compared one by one: " + to_string(f.verdict));
    result.blocks[b] = f;
    // Fast mode's advice to run full mode has been followed.
    const std::string advice = f.name + ": inconclusive along random directions (";
    std::erase_if(result.notes, [&](const std::string& n) { return n.rfind(advice, 0) == 0; });
  }
  for (const auto& n : full.notes) result.notes.push_back(n);
  for (const auto& p : full.problems) result.problems.push_back(p);
  result.evaluations += full.evaluations;
  result.seconds += full.seconds;
  gradcheck::detail::impl::settle_verdict(result);
}

CheckResult failed_result(const ModelInfo& info, Mode mode, const std::string& message) {
  CheckResult r;
  r.name = info.name;
  r.dtype = info.dtype;
  r.mode = mode == Mode::fast ? Mode::fast : Mode::full;
  r.verdict = Verdict::inconclusive;
  r.passed = false;
  r.problems.push_back({ProblemKind::model_error, message});
  return r;
}

Mode effective_mode(const PluginCheckOptions& o, const ModelInfo& info) {
  if (o.mode != Mode::automatic) return o.mode;
  return static_cast<std::int64_t>(info.num_values) > o.fast_above ? Mode::fast : Mode::full;
}

// Overwrites the starting values of the tensors the checkpoint names.
void apply_weights(const weights::Checkpoint& ckpt, const std::string& path, const ModelInfo& info,
                   std::vector<double>& x) {
  std::map<std::string, const weights::TensorEntry*> by_name;
  for (const auto& t : ckpt.tensors()) by_name[t.name] = &t;
  std::size_t matched = 0;
  for (const auto& t : info.tensors) {
    auto it = by_name.find(t.name);
    if (it == by_name.end()) continue;
    const auto& e = *it->second;
    if (e.shape != t.shape) {
      auto fmt = [](const std::vector<std::int64_t>& s) {
        std::string out = "[";
        for (std::size_t i = 0; i < s.size(); ++i) out += (i ? ", " : "") + std::to_string(s[i]);
        return out + "]";
      };
      throw InputError(path, "tensor '" + t.name + "' has shape " + fmt(e.shape) + " but model '" + info.name +
                                 "' declares " + fmt(t.shape));
    }
    weights::convert_to_double(e.dtype, e.data, 0, t.count, x.data() + t.offset);
    ++matched;
  }
  if (matched == 0) throw InputError(path, "no tensor of model '" + info.name + "' is in the file");
}

// Checks one model inside the child.
template <class T>
CheckResult check_model(const Plugin& plugin, std::size_t index, const PluginCheckOptions& o, Channel& ch,
                        const weights::Checkpoint* ckpt) {
  const ModelInfo& info = plugin.models()[index];
  const Mode mode = effective_mode(o, info);
  const std::string loss_label = call_label("loss()", info.name);
  ProblemSink sink;
  const int threads = gradcheck::internal::resolve_threads(o.threads);
  std::vector<std::unique_ptr<ModelInstance>> instances(static_cast<std::size_t>(threads));
  auto instance = [&](std::size_t t) -> ModelInstance& {
    if (!instances.at(t)) {
      Channel::Call call(ch, call_label("create()", info.name));
      instances[t] = std::make_unique<ModelInstance>(plugin, index, o.seed);
    }
    return *instances[t];
  };
  try {
    std::vector<double> x0;
    {
      ModelInstance& first = instance(0);
      Channel::Call call(ch, call_label("init()", info.name));
      x0 = first.init();
    }
    if (ckpt) {
      apply_weights(*ckpt, o.weights, info, x0);
      instance(0).round_to_dtype(x0);
    }
    Vector<T> x(static_cast<Eigen::Index>(x0.size()));
    for (std::size_t i = 0; i < x0.size(); ++i) x(static_cast<Eigen::Index>(i)) = static_cast<T>(x0[i]);

    Layout layout;
    for (const auto& t : info.tensors) layout.add(t.name, t.shape);

    CheckOptions co;
    co.seed = o.seed;
    co.threads = threads;
    co.rtol = o.rtol;
    co.atol = o.atol;
    co.max_per_block = o.max_per_tensor;
    co.worst_entries = o.worst_entries;

    // Progress for the parent, at most four messages a second.
    std::atomic<std::int64_t> evaluations{0};
    std::atomic<std::int64_t> last_progress{0};
    const auto t0 = std::chrono::steady_clock::now();
    auto progress = [&] {
      const std::int64_t n = evaluations.fetch_add(1, std::memory_order_relaxed) + 1;
      if (!o.progress) return;
      const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0).count();
      std::int64_t last = last_progress.load(std::memory_order_relaxed);
      if (ms - last < 250 || !last_progress.compare_exchange_strong(last, ms)) return;
      send(ch, {{"type", "progress"}, {"model", info.name}, {"evaluations", n}, {"seconds", ms / 1000.0}});
    };

    // The loss through the host checks; a failed call gives NaN and a problem.
    auto evaluate = [&sink, &ch, &loss_label, &progress](ModelInstance& m, const Vector<T>& v, Vector<T>* grad,
                                                         const Changes& changes) -> double {
      progress();
      thread_local std::vector<double> gd;
      gd.assign(grad ? static_cast<std::size_t>(v.size()) : 0, 0.0);
      double loss = std::nan("");
      std::vector<host::Problem> problems;
      {
        Channel::Call call(ch, loss_label);
        problems = m.loss(std::span<const T>(v.data(), static_cast<std::size_t>(v.size())), loss, gd, changes);
      }
      const bool failed =
          std::any_of(problems.begin(), problems.end(), [](const auto& p) { return p.kind == ProblemKind::model_error; });
      sink.add(std::move(problems));
      if (failed) loss = std::nan("");
      if (grad)
        for (Eigen::Index i = 0; i < v.size(); ++i) (*grad)(i) = static_cast<T>(gd[static_cast<std::size_t>(i)]);
      return loss;
    };

    // Fast mode (directions, then bisection to the faulty coordinates) is the
    // checker's; both modes see the model through the same per-thread loss.
    co.mode = mode == Mode::fast ? Mode::fast : Mode::full;
    auto factory = per_thread([&](int t) {
      ModelInstance* m = &instance(static_cast<std::size_t>(t));
      return [m, &evaluate](const Vector<T>& v, Vector<T>* grad, const Changes& changes = {}) {
        return evaluate(*m, v, grad, changes);
      };
    });
    CheckResult result = check_loss<T>(factory, x, layout, co);
    if (o.mode == Mode::automatic && co.mode == Mode::fast) follow_up_coarse<T>(result, factory, x, layout, co);
    result.name = info.name;
    // Host problems first (their messages name the tensor and index); the
    // checker's own findings only where they add a kind. An unwritten gradient
    // also reads as NaN to the checker: that is not a second problem.
    std::vector<gradcheck::Problem> merged;
    std::set<ProblemKind> kinds;
    for (auto& p : sink.take())
      if (kinds.insert(p.kind).second) merged.push_back({p.kind, p.message});
    for (auto& p : result.problems) {
      if (p.kind == ProblemKind::non_finite && kinds.count(ProblemKind::gradient_not_written)) continue;
      if (kinds.insert(p.kind).second) merged.push_back(std::move(p));
    }
    result.problems = std::move(merged);
    if (!result.problems.empty()) result.passed = false;
    return result;
  } catch (const ModelError& e) {
    return failed_result(info, mode, e.problem().message);
  }
}

}  // namespace

Mode parse_mode(const std::string& s) {
  try {
    return mode_from_string(s);
  } catch (const std::invalid_argument&) {
    throw InputError("", "--mode must be auto, full or fast, not '" + s + "'");
  }
}

bool PluginCheckOptions::is_valid(std::string* error) const {
  auto fail = [&](const std::string& why) {
    if (error) *error = why;
    return false;
  };
  if (threads < 0) return fail("threads must not be negative (0: all cores)");
  if (!(timeout_seconds > 0)) return fail("the time-out must be positive");
  if (max_per_tensor < 0) return fail("max-per-tensor must not be negative");
  if (fast_above < 0) return fail("fast_above must not be negative");
  if (std::isnan(rtol) || std::isnan(atol)) return fail("tolerances must be numbers");
  return true;
}

bool user_code_failed(const CheckResult& result) {
  return std::any_of(result.problems.begin(), result.problems.end(),
                     [](const auto& p) { return p.kind == ProblemKind::model_error; });
}

bool PluginReport::passed() const {
  return load_failure.empty() && std::all_of(models.begin(), models.end(), [](const auto& m) { return m.passed; });
}

bool PluginReport::user_code_failed() const {
  return !load_failure.empty() ||
         std::any_of(models.begin(), models.end(), [](const auto& m) { return host::user_code_failed(m); });
}

bool PluginReport::inconclusive() const {
  return passed() && std::any_of(models.begin(), models.end(), [](const auto& m) { return m.verdict == Verdict::inconclusive; });
}

ExitCode exit_code(const PluginReport& report) {
  if (report.user_code_failed()) return ExitCode::user_code;
  if (!report.passed()) return ExitCode::problem;
  return report.inconclusive() ? ExitCode::inconclusive : ExitCode::ok;
}

std::vector<ModelInfo> list_models(const std::string& plugin_path, double timeout_seconds) {
  std::vector<ModelInfo> models;
  host::ChildOptions co;
  co.call_timeout_seconds = timeout_seconds;
  ModelChildren hooks;  // names no model: the child only lists them
  hooks.prepare = [](const Plugin& p, Channel& ch, std::vector<std::string>&, bool) {
    send(ch, models_message(p));
    return 0;
  };
  hooks.on_message = [&](const json& j) {
    if (j.at("type").get<std::string>() == "models") models = models_from_message(j);
  };
  const std::string failure = run_models_in_children(plugin_path, {}, hooks, co);
  if (!failure.empty()) throw ModelError({ProblemKind::model_error, failure});
  return models;
}

PluginReport check_plugin(const std::string& plugin_path, const PluginCheckOptions& options) {
  std::string why;
  if (!options.is_valid(&why)) throw InputError("", why);
  PluginReport report;
  report.plugin = plugin_path;
  // The first child lists the models and checks the names asked for before it
  // starts (one fork and one dlopen, not a listing child and then a checking
  // one); a later child, after a model crashed its predecessor, checks the rest.
  std::vector<ModelInfo> all;
  std::map<std::string, CheckResult> done;
  host::ChildOptions co;
  co.call_timeout_seconds = options.timeout_seconds;
  co.memory_limit_bytes = options.memory_limit_bytes;
  std::optional<weights::Checkpoint> ckpt;
  ModelChildren hooks;
  hooks.prepare = [&](const Plugin& p, Channel& ch, std::vector<std::string>& names, bool first) {
    if (first) {
      send(ch, models_message(p));
      try {
        for (const auto& name : options.models) (void)p.find(name);
      } catch (const InputError& e) {
        send_input_error(ch, e);
        return 2;
      }
      for (const auto& m : p.models())
        if (selected_by(options, m.name)) names.push_back(m.name);
    }
    if (!options.weights.empty()) {
      try {
        ckpt = weights::open_checkpoint(options.weights);
      } catch (const InputError& e) {
        send_input_error(ch, e);
        return 2;
      }
    }
    return 0;
  };
  hooks.run = [&](const Plugin& p, std::size_t k, Channel& ch) {
    const CheckResult r = p.models()[k].dtype == Dtype::f32
                              ? check_model<float>(p, k, options, ch, ckpt ? &*ckpt : nullptr)
                              : check_model<double>(p, k, options, ch, ckpt ? &*ckpt : nullptr);
    return json::parse(gradcheck::to_json(r));
  };
  hooks.on_result = [&](const json& j) {
    CheckResult r = check_result_from_json(j.dump());
    done[r.name] = std::move(r);
  };
  hooks.on_failure = [&](const std::string& name, const std::string& message, double seconds) {
    const auto it = std::find_if(all.begin(), all.end(), [&](const ModelInfo& m) { return m.name == name; });
    done[name] = failed_result(*it, effective_mode(options, *it), message);
    done[name].seconds = seconds;
  };
  hooks.on_message = [&](const json& j) {
    const std::string type = j.at("type").get<std::string>();
    if (type == "models") {
      all = models_from_message(j);
    } else if (type == "progress" && options.progress) {
      options.progress(j.at("model").get<std::string>(), j.at("evaluations").get<std::int64_t>(),
                       j.at("seconds").get<double>());
    }
  };
  report.load_failure = run_models_in_children(plugin_path, {}, hooks, co);
  if (!report.load_failure.empty()) return report;
  for (const auto& m : all)
    if (selected_by(options, m.name)) report.models.push_back(std::move(done.at(m.name)));
  return report;
}

std::string to_json(const PluginReport& report, int indent) {
  json j;
  j["tool"] = "gradcheck";
  j["schema"] = 1;
  j["version"] = gradcheck::version_string;
  j["plugin"] = report.plugin;
  j["passed"] = report.passed();
  j["models"] = json::array();
  for (const auto& m : report.models) j["models"].push_back(json::parse(gradcheck::to_json(m)));
  if (!report.load_failure.empty()) j["load_failure"] = report.load_failure;
  return gradcheck::internal::dump_utf8(std::move(j), indent) + "\n";
}

std::string verdict_line(const PluginReport& report, bool color) {
  const auto paint = [&](const char* code, const std::string& s) {
    return color ? "\x1b[" + std::string(code) + "m" + s + "\x1b[0m" : s;
  };
  if (!report.load_failure.empty()) return paint("31;1", "ERROR") + " " + report.plugin + ": " + report.load_failure;
  const std::size_t n = report.models.size();
  const std::size_t failed =
      static_cast<std::size_t>(std::count_if(report.models.begin(), report.models.end(), [](const auto& m) { return !m.passed; }));
  const std::string models = std::to_string(n) + (n == 1 ? " model" : " models");
  if (failed == 0 && report.inconclusive()) {
    const auto unsure = std::count_if(report.models.begin(), report.models.end(),
                                      [](const auto& m) { return m.verdict == Verdict::inconclusive; });
    return paint("33;1", "INCONCLUSIVE") + " " + report.plugin + ": " + models + " checked, " + std::to_string(unsure) +
           " with tensors whose derivatives are within the function's noise; nothing disagrees";
  }
  if (failed == 0) return paint("32;1", "PASS") + " " + report.plugin + ": " + models + " checked, gradients agree";
  return paint("31;1", "FAIL") + " " + report.plugin + ": " + std::to_string(failed) + " of " + models + " failed" +
         (report.user_code_failed() ? " (the model's code failed)" : "");
}

std::string to_text(const PluginReport& report, const TextOptions& options) {
  std::string out = verdict_line(report, options.color) + "\n";
  if (report.load_failure.empty() && !options.quiet)
    for (const auto& m : report.models) out += "\n" + gradcheck::to_text(m, options);
  return escape_invalid_utf8(out, /*printable=*/false);
}

std::string to_html(const PluginReport& report) { return html::gradcheck_page(report); }

std::string models_listing(const std::vector<ModelInfo>& models) {
  std::ostringstream out;
  for (const auto& m : models) {
    out << m.name << "  " << to_string(m.dtype) << "  " << m.tensors.size()
        << (m.tensors.size() == 1 ? " tensor  " : " tensors  ") << m.num_values << " values\n";
    for (const auto& t : m.tensors) {
      out << "    " << t.name << " [";
      for (std::size_t i = 0; i < t.shape.size(); ++i) out << (i ? ", " : "") << t.shape[i];
      out << "]\n";
    }
  }
  return out.str();
}

}  // namespace gradcheck::host
