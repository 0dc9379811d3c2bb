// Active checks on a plugin model: loss at init, overfitting the plugin's own
// batch, and a learning-rate range test, each run in a forked child.

#include "gradcheck/diag/active.hpp"
#include "gradcheck/diag/report.hpp"


#include <algorithm>
#include <chrono>
#include <cmath>
#include <limits>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <span>

#include "../core/format.hpp"
#include "active_json.hpp"
#include "gradcheck/errors.hpp"
#include "gradcheck/host/isolation.hpp"
#include "gradcheck/host/plugin_check.hpp"
#include "gradcheck/host/loader.hpp"
#include "../core/log.hpp"
#include "../host/model_children.hpp"

namespace gradcheck::diag {
namespace {

using host::Channel;
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

using gradcheck::internal::general;

// The model's loss and gradient through the host checks, each call guarded by
// the per-call time-out. An error return ends the model's checks (ModelError);
// other host findings (an unwritten gradient, modified values) are kept once
// each as notes, since they explain a failure to overfit.
class Objective {
 public:
  Objective(host::ModelInstance& instance, Channel& channel, ModelActive& out)
      : instance_(instance), channel_(channel), out_(out) {}

  double operator()(std::span<const double> x, std::span<double> grad) {
    ++out_.evaluations;
    double loss = kNaN;
    std::vector<host::Problem> problems;
    {
      Channel::Call call(channel_, "loss()");
      problems = instance_.loss(x, loss, grad);
    }
    for (auto& p : problems) {
      if (p.kind == ProblemKind::model_error) throw host::ModelError(std::move(p));
      // A non-finite loss is what a too-large rate does: the optimisers judge it.
      if (p.kind == ProblemKind::non_finite) continue;
      if (std::find(kinds_.begin(), kinds_.end(), p.kind) == kinds_.end()) {
        kinds_.push_back(p.kind);
        out_.notes.push_back(std::string(to_string(p.kind)) + ": " + p.message);
      }
    }
    return loss;
  }

  void round(std::span<double> x) const noexcept { instance_.round_to_dtype(x); }

 private:
  host::ModelInstance& instance_;
  Channel& channel_;
  ModelActive& out_;
  std::vector<ProblemKind> kinds_;
};

// The starting point shared by every experiment.
struct Start {
  std::vector<double> x;
  double loss = 0;
  std::vector<double> grad;
};

// A loss that rose this far above its start has diverged: the run is stopped.
bool diverged(double loss, double initial) {
  return !std::isfinite(loss) || loss > initial + 10.0 * std::max(std::abs(initial), 1e-12);
}

// Thins a curve to about 250 points, keeping the last one.
std::vector<double> thin(const std::vector<double>& losses, int& stride) {
  const std::size_t n = losses.size();
  stride = static_cast<int>(std::max<std::size_t>(1, (n + 249) / 250));
  std::vector<double> out;
  for (std::size_t i = 0; i < n; ++i)
    if ((i + 1) % static_cast<std::size_t>(stride) == 0 || i + 1 == n) out.push_back(losses[i]);
  return out;
}

// One optimiser run at one rate from the start; stops at the goal or on divergence.
OverfitAttempt descend(Objective& f, const Start& s, bool adam, double lr, int steps, double goal) {
  OverfitAttempt a;
  a.optimizer = adam ? "adam" : "gd";
  a.learning_rate = lr;
  a.initial_loss = s.loss;
  a.final_loss = s.loss;
  a.goal = goal;
  std::vector<double> x = s.x, g = s.grad, m(x.size(), 0.0), v(x.size(), 0.0), losses;
  // Standard Adam (Kingma & Ba 2015) with bias correction.
  const double b1 = 0.9, b2 = 0.999, eps = 1e-8;
  double b1t = 1, b2t = 1;
  for (int step = 1; step <= steps; ++step) {
    if (adam) {
      b1t *= b1;
      b2t *= b2;
      for (std::size_t i = 0; i < x.size(); ++i) {
        m[i] = b1 * m[i] + (1 - b1) * g[i];
        v[i] = b2 * v[i] + (1 - b2) * g[i] * g[i];
        x[i] -= lr * (m[i] / (1 - b1t)) / (std::sqrt(v[i] / (1 - b2t)) + eps);
      }
    } else {
      for (std::size_t i = 0; i < x.size(); ++i) x[i] -= lr * g[i];
    }
    // The model sees its own dtype: the iterate is kept at what it evaluates.
    f.round(x);
    const double loss = f(x, g);
    losses.push_back(loss);
    a.steps = step;
    if (std::isfinite(loss) && loss < a.final_loss) a.final_loss = loss;
    if (a.final_loss <= goal) {
      a.reached = true;
      break;
    }
    if (diverged(loss, s.loss)) {
      a.diverged = true;
      break;
    }
  }
  a.losses = thin(losses, a.loss_stride);
  return a;
}

// The loss to reach: 99% below the start, or near zero for a positive loss.
double overfit_goal(double initial, const ActiveOptions& o) {
  if (initial > 0) return std::max((1 - o.overfit_reduction) * initial, o.overfit_floor);
  return initial - o.overfit_reduction * std::abs(initial);
}

// Tries the rates in order and keeps the first that reaches the goal, else the
// one that got lowest.
OverfitAttempt overfit(Objective& f, const Start& s, bool adam, const std::vector<double>& rates,
                       const ActiveOptions& o) {
  const double goal = overfit_goal(s.loss, o);
  std::optional<OverfitAttempt> best;
  std::vector<double> tried;
  for (double lr : rates) {
    if (std::find(tried.begin(), tried.end(), lr) != tried.end()) continue;
    tried.push_back(lr);
    OverfitAttempt a = descend(f, s, adam, lr, o.overfit_steps, goal);
    const bool reached = a.reached;
    if (!best || a.final_loss < best->final_loss) best = std::move(a);
    if (reached) break;
  }
  best->rates_tried = std::move(tried);
  return *best;
}

// Smith's range test: one gradient step per rate, rates growing geometrically.
LrRangeTest lr_range_test(Objective& f, const Start& s, const ActiveOptions& o) {
  LrRangeTest t;
  std::vector<double> x = s.x, g = s.grad;
  double lowest = s.loss;
  const double ratio = o.lr_max / o.lr_min;
  for (int i = 0; i < o.lr_steps; ++i) {
    const double lr = o.lr_min * std::pow(ratio, static_cast<double>(i) / (o.lr_steps - 1));
    for (std::size_t k = 0; k < x.size(); ++k) x[k] -= lr * g[k];
    f.round(x);
    const double loss = f(x, g);
    t.points.push_back({lr, loss});
    if (!std::isfinite(loss)) break;
    lowest = std::min(lowest, loss);
    const double scale = std::max({std::abs(lowest), 1e-3 * std::abs(s.loss), 1e-12});
    if (loss > lowest + (o.lr_stop_factor - 1) * scale) break;
  }
  // The finite prefix of the sweep (it stops at the first non-finite loss).
  std::size_t n = 0;
  while (n < t.points.size() && std::isfinite(t.points[n].loss)) ++n;
  if (n == 0) {
    t.note = "the loss was non-finite from the first rate (" + general(o.lr_min, 4) + ")";
    return t;
  }
  std::size_t imin = 0;
  for (std::size_t i = 1; i < n; ++i)
    if (t.points[i].loss < t.points[imin].loss) imin = i;
  t.min_loss_rate = t.points[imin].learning_rate;
  if (!(t.points[imin].loss < s.loss)) {
    t.note = "the loss never fell below its value at init (" + general(s.loss, 4) + ")";
    return t;
  }
  if (n < 5) {
    t.note = "the sweep ended after " + std::to_string(n) + " rates, too few to judge a slope";
    return t;
  }
  // Centred running mean over 5 points, then the slope against log(rate) by
  // central differences; the steepest descent is the most negative slope.
  std::vector<double> smooth(n);
  for (std::size_t i = 0; i < n; ++i) {
    const std::size_t lo = i >= 2 ? i - 2 : 0, hi = std::min(n - 1, i + 2);
    double sum = 0;
    for (std::size_t k = lo; k <= hi; ++k) sum += t.points[k].loss;
    smooth[i] = sum / static_cast<double>(hi - lo + 1);
  }
  std::optional<std::size_t> steepest;
  double best_slope = 0;
  for (std::size_t i = 1; i + 1 < n; ++i) {
    const double slope = (smooth[i + 1] - smooth[i - 1]) /
                         (std::log(t.points[i + 1].learning_rate) - std::log(t.points[i - 1].learning_rate));
    if (slope < best_slope) {
      best_slope = slope;
      steepest = i;
    }
  }
  if (!steepest) {
    t.note = "the smoothed loss never decreased during the sweep";
    return t;
  }
  t.suggested_rate = std::min(t.points[*steepest].learning_rate, 0.1 * *t.min_loss_rate);
  return t;
}

// The mean loss at init over instances made with seeds seed, seed+1, ...
// (the first is the optimisers' instance, already evaluated).
double mean_initial_loss(const host::Plugin& plugin, std::size_t index, const ActiveOptions& o, Channel& ch,
                         double first, ModelActive& m) {
  double sum = first;
  for (int k = 1; k < o.initial_loss_seeds; ++k) {
    std::unique_ptr<host::ModelInstance> other;
    {
      Channel::Call call(ch, "create()");
      other = std::make_unique<host::ModelInstance>(plugin, index, o.seed + static_cast<std::uint64_t>(k));
    }
    std::vector<double> x;
    {
      Channel::Call call(ch, "init()");
      x = other->init();
    }
    Objective f(*other, ch, m);
    sum += f(x, {});
  }
  return sum / o.initial_loss_seeds;
}

bool initial_loss_mismatch(double mean, double expected, const ActiveOptions& o) {
  const double off = std::abs(mean - expected);
  return !(off <= o.initial_loss_tolerance * expected || off <= o.initial_loss_tolerance_nats);
}

Symptom initial_loss_symptom(const ModelActive& m, int classes, const ActiveOptions& o) {
  const double expected = *m.expected_initial_loss;
  const double mean = *m.mean_initial_loss;
  Symptom s;
  s.kind = SymptomKind::initial_loss_mismatch;
  s.metric = "loss";
  s.severity = Severity::warning;
  const double off = (mean - expected) / expected;
  s.evidence = "mean loss at init " + general(mean, 4) + " over " + std::to_string(o.initial_loss_seeds) +
               " seeds (this seed " + general(m.initial_loss, 4) + "), expected ln(" + std::to_string(classes) + ") = " +
               general(expected, 4) + " for a uniform guess over " + std::to_string(classes) + " classes (" +
               (off > 0 ? "+" : "") + general(100 * off, 4) + "%; tolerance the larger of ±" +
               general(100 * o.initial_loss_tolerance, 4) + "% and ±" + general(o.initial_loss_tolerance_nats, 4) + " nat)";
  s.advice = off > 0 ? "the final layer's initial logits are too large: scale its weights down (and zero its bias); "
                       "check the softmax and the label encoding, and that --classes is right"
                     : "the loss starts below a uniform guess: check that --classes is right, the label encoding, "
                       "and that the labels do not leak into the inputs";
  return s;
}

Symptom overfit_symptom(const ModelActive& m, const ActiveOptions& o) {
  Symptom s;
  s.kind = SymptomKind::cannot_overfit_batch;
  s.metric = "loss";
  s.severity = Severity::error;
  std::int64_t steps = 0;
  std::string parts;
  for (const auto& a : m.overfit) {
    steps = std::max<std::int64_t>(steps, a.steps);
    parts += (parts.empty() ? "" : "; ") + a.optimizer + " best " + general(a.final_loss, 4) + " (rate " +
             general(a.learning_rate, 4) + ", " + std::to_string(a.rates_tried.size()) + " rates tried)";
  }
  s.step_end = steps;
  const double goal = m.overfit.empty() ? 0 : m.overfit.front().goal;
  s.evidence = "from " + general(m.initial_loss, 4) + " at init, in " + std::to_string(o.overfit_steps) +
               " steps: " + parts + "; goal " + general(goal, 4) + " (" + general(100 * o.overfit_reduction, 4) + "% lower)";
  s.advice = "the model, the loss or its gradient is wrong: run gradcheck on it";
  return s;
}

// Every check on one model, inside the child. A failure of the model's code
// ends the model's checks with `failure` set.
ModelActive check_model(const host::Plugin& plugin, std::size_t index, const ActiveOptions& o, Channel& ch) {
  const host::ModelInfo& info = plugin.models()[index];
  ModelActive m;
  m.model = info.name;
  m.dtype = to_string(info.dtype);
  m.values = static_cast<std::int64_t>(info.num_values);
  const auto t0 = std::chrono::steady_clock::now();
  try {
    std::unique_ptr<host::ModelInstance> instance;
    {
      Channel::Call call(ch, "create()");
      instance = std::make_unique<host::ModelInstance>(plugin, index, o.seed);
    }
    Start s;
    {
      Channel::Call call(ch, "init()");
      s.x = instance->init();
    }
    Objective f(*instance, ch, m);
    s.grad.assign(s.x.size(), 0.0);
    s.loss = f(s.x, s.grad);
    m.initial_loss = s.loss;
    if (o.classes > 1 && std::isfinite(s.loss)) {
      m.expected_initial_loss = std::log(static_cast<double>(o.classes));
      m.mean_initial_loss = mean_initial_loss(plugin, index, o, ch, s.loss, m);
    }
    bool finite_grad = std::all_of(s.grad.begin(), s.grad.end(), [](double v) { return std::isfinite(v); });
    if (!std::isfinite(s.loss) || !finite_grad) {
      Symptom nan;
      nan.kind = SymptomKind::nan;
      nan.metric = "loss";
      nan.severity = Severity::error;
      nan.evidence = std::isfinite(s.loss) ? "the gradient at init's values has non-finite entries"
                                           : "the loss at init's values is " + general(s.loss, 4);
      nan.advice = advice_for(SymptomKind::nan);
      m.symptoms.push_back(std::move(nan));
      m.notes.push_back("the other checks need a finite loss and gradient at init and did not run");
    } else {
      if (m.mean_initial_loss && initial_loss_mismatch(*m.mean_initial_loss, *m.expected_initial_loss, o))
        m.symptoms.push_back(initial_loss_symptom(m, o.classes, o));
      m.lr_range = lr_range_test(f, s, o);
      std::vector<double> gd_rates;
      if (m.lr_range.suggested_rate) gd_rates.push_back(*m.lr_range.suggested_rate);
      gd_rates.insert(gd_rates.end(), o.gd_rates.begin(), o.gd_rates.end());
      m.overfit.push_back(overfit(f, s, false, gd_rates, o));
      m.overfit.push_back(overfit(f, s, true, o.adam_rates, o));
      if (std::none_of(m.overfit.begin(), m.overfit.end(), [](const auto& a) { return a.reached; }))
        m.symptoms.push_back(overfit_symptom(m, o));
    }
  } catch (const host::ModelError& e) {
    // The host's messages already name the model.
    m.failure = e.problem().message;
  }
  m.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return m;
}

}  // namespace

bool ActiveOptions::is_valid(std::string* error) const {
  auto fail = [&](const std::string& why) {
    if (error) *error = why;
    return false;
  };
  if (plugin.empty()) return fail("no plugin given");
  if (classes < 0 || classes == 1) return fail("--classes must be at least 2 (or 0: unknown)");
  if (!(timeout_seconds > 0)) return fail("the time-out must be positive");
  if (!(initial_loss_tolerance > 0) || !(initial_loss_tolerance_nats >= 0))
    return fail("the initial-loss tolerances must be positive");
  if (initial_loss_seeds < 1) return fail("initial_loss_seeds must be at least 1");
  if (overfit_steps < 1) return fail("overfit_steps must be at least 1");
  if (!(overfit_reduction > 0 && overfit_reduction < 1)) return fail("overfit_reduction must be in (0, 1)");
  if (!(overfit_floor >= 0)) return fail("overfit_floor must not be negative");
  if (!(lr_min > 0 && lr_max > lr_min && std::isfinite(lr_max))) return fail("need 0 < lr_min < lr_max");
  if (lr_steps < 2) return fail("lr_steps must be at least 2");
  if (!(lr_stop_factor > 1)) return fail("lr_stop_factor must exceed 1");
  auto positive = [](const std::vector<double>& v) {
    return !v.empty() && std::all_of(v.begin(), v.end(), [](double r) { return r > 0 && std::isfinite(r); });
  };
  if (!positive(gd_rates) || !positive(adam_rates)) return fail("the overfit rates must be positive");
  return true;
}

ActiveReport run_active_checks(const ActiveOptions& options) {
  std::string why;
  if (!options.is_valid(&why)) throw InputError(options.plugin, why);
  ActiveReport report;
  report.plugin = options.plugin;
  std::vector<host::ModelInfo> all;
  try {
    all = host::list_models(options.plugin, options.timeout_seconds);
  } catch (const host::ModelError& e) {
    report.load_failure = e.problem().message;
    return report;
  }
  for (const auto& name : options.models)
    if (std::none_of(all.begin(), all.end(), [&](const auto& m) { return m.name == name; })) {
      std::string have;
      for (const auto& m : all) have += (have.empty() ? "" : ", ") + m.name;
      throw InputError(options.plugin, "no model named '" + name + "' (models: " + have + ")");
    }
  std::vector<std::string> selected;
  for (const auto& m : all)
    if (options.models.empty() ||
        std::find(options.models.begin(), options.models.end(), m.name) != options.models.end())
      selected.push_back(m.name);

  // One child runs the models in turn; when it dies, the model it was running
  // is blamed and the rest go on in a fresh child.
  std::map<std::string, ModelActive> done;
  host::ChildOptions co;
  co.call_timeout_seconds = options.timeout_seconds;
  host::ModelChildren hooks;
  hooks.run = [&](const host::Plugin& p, std::size_t index, Channel& ch) {
    return nlohmann::json::parse(detail::model_to_json(check_model(p, index, options, ch)));
  };
  hooks.on_result = [&](const nlohmann::json& j) {
    ModelActive m = detail::model_from_json(j.dump());
    done[m.model] = std::move(m);
  };
  hooks.on_failure = [&](const std::string& name, const std::string& why, double seconds) {
    gradcheck::internal::logger("active")->debug("{}", why);
    ModelActive m;
    m.model = name;
    const auto it = std::find_if(all.begin(), all.end(), [&](const auto& i) { return i.name == name; });
    m.dtype = to_string(it->dtype);
    m.values = static_cast<std::int64_t>(it->num_values);
    m.failure = why;
    m.seconds = seconds;
    done[name] = std::move(m);
  };
  host::run_models_in_children(options.plugin, selected, hooks, co);
  for (const auto& name : selected) report.models.push_back(std::move(done.at(name)));
  return report;
}

bool Report::healthy() const noexcept {
  for (const auto& r : runs)
    if (!r.healthy()) return false;
  return !active || active->healthy();
}

bool Report::user_code_failed() const noexcept { return active && active->user_code_failed(); }

ExitCode exit_code(const Report& report) noexcept {
  if (report.user_code_failed()) return ExitCode::user_code;
  return report.healthy() ? ExitCode::ok : ExitCode::problem;
}

}  // namespace gradcheck::diag
