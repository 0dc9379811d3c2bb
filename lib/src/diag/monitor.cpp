#include "gradcheck/diag/monitor.hpp"


#include <algorithm>
#include <cerrno>
#include <cstring>

#include "stats.hpp"
#include "gradcheck/errors.hpp"
#include "../core/format.hpp"
#include "../core/log.hpp"

namespace gradcheck::diag {
namespace {

using gradcheck::internal::general;

std::shared_ptr<spdlog::logger> logger() {
  static const std::shared_ptr<spdlog::logger> log = gradcheck::internal::logger("monitor");
  return log;
}

void put_number(std::string& out, double v) {
  if (std::isnan(v)) out += "\"NaN\"";
  else if (std::isinf(v)) out += v > 0 ? "\"Infinity\"" : "\"-Infinity\"";
  else out += general(v, 9);
}

void put_key(std::string& out, const std::string& key) {
  out += ",\"";
  for (char c : key) {
    if (c == '"' || c == '\\') out += '\\';
    if (static_cast<unsigned char>(c) < 0x20) continue;  // names are identifiers; drop control bytes
    out += c;
  }
  out += "\":";
}

}  // namespace

TrainingMonitor::TrainingMonitor(MonitorOptions options) : options_(std::move(options)) {
  if (!options_.log_path.empty()) {
    log_ = std::fopen(options_.log_path.c_str(), "w");
    if (log_ == nullptr) throw InputError(options_.log_path, std::string("cannot create the log: ") + std::strerror(errno));
  }
}

TrainingMonitor::~TrainingMonitor() {
  if (log_ != nullptr) std::fclose(log_);
}

void TrainingMonitor::flush() {
  if (log_ != nullptr) std::fflush(log_);
}

void TrainingMonitor::alert(const std::string& kind, const std::string& subject, std::int64_t step,
                            const std::string& message) {
  auto& done = raised_[kind + '\n' + subject];
  if (done) return;
  done = true;
  alerts_.push_back(Alert{kind, subject, step, message});
  if (options_.warn) logger()->warn("step {}: {} ({}): {}", step, kind, subject, message);
}

void TrainingMonitor::write_line(const StepStats& s) {
  if (log_ == nullptr) return;
  std::string line = "{\"step\":" + std::to_string(s.step);
  put_key(line, "loss");
  put_number(line, s.loss);
  if (s.val_loss) {
    put_key(line, "val_loss");
    put_number(line, *s.val_loss);
  }
  if (!std::isnan(s.grad_norm)) {
    put_key(line, "grad_norm");
    put_number(line, s.grad_norm);
  }
  if (!std::isnan(s.lr)) {
    put_key(line, "lr");
    put_number(line, s.lr);
  }
  for (const auto& t : s.tensors) {
    if (!std::isnan(t.grad_norm)) put_key(line, "grad_norm/" + t.name), put_number(line, t.grad_norm);
    if (!std::isnan(t.weight_norm)) put_key(line, "weight_norm/" + t.name), put_number(line, t.weight_norm);
    if (!std::isnan(t.update_norm) && !std::isnan(t.weight_norm) && t.weight_norm > 0)
      put_key(line, "update_ratio/" + t.name), put_number(line, t.update_norm / t.weight_norm);
    if (!std::isnan(t.dead_fraction)) put_key(line, "dead_fraction/" + t.name), put_number(line, t.dead_fraction);
  }
  line += "}\n";
  std::fwrite(line.data(), 1, line.size(), log_);
}

// Why tensor t's update ratio is low, from the numbers the loop gave: no
// gradient reaches it (zero or vanished, with the dead units of the step), or
// its gradient is healthy and the learning rate is too low.
std::string TrainingMonitor::low_ratio_cause(const TensorStep& t, const StepStats& s) const {
  const MonitorOptions& o = options_;
  // Dead units anywhere in the network, most first.
  std::string dead_text;
  double worst_dead = 0;
  for (const auto& [name, h] : history_) {
    if (h.recent_dead.empty()) continue;
    const double d = median(h.recent_dead);
    if (d > o.dead_fraction && d > worst_dead) {
      worst_dead = d;
      dead_text = general(100 * d, 4) + "% of the units of " + name + " are dead";
    }
  }
  const auto it = history_.find(t.name);
  const bool measured = it != history_.end() && !it->second.recent_grad.empty();
  if (!measured) {
    if (!dead_text.empty())
      return ": " + dead_text + ", and dead ReLUs pass no gradient: the units died (often after a learning rate "
             "too high), this is not a learning rate too low; use LeakyReLU, lower the peak learning rate, check the bias "
             "initialisation";
    return ": the learning rate is probably too low, or no gradient reaches the tensor (log its gradient norm to "
           "tell which)";
  }
  const History& h = it->second;
  const double now = median(h.recent_grad);
  const double early = h.early_grad.empty() ? 0.0 : median(h.early_grad);
  // The largest tensor gradient of this step: what a layer that learns gets.
  double largest = 0;
  for (const auto& other : s.tensors)
    if (std::isfinite(other.grad_norm)) largest = std::max(largest, other.grad_norm);
  std::string why;
  if (now == 0)
    why = "it gets no gradient (its gradient norm is 0" + (early > 0 ? ", " + general(early, 4) + " early" : std::string()) + ")";
  else if (early > 0 && now <= o.gradient_faded * early)
    why = "its gradient vanished (norm " + general(now, 4) + ", " + general(now / early, 4) + " of its early " + general(early, 4) + ")";
  else if (largest > 0 && now <= o.vanishing_gradient * largest)
    why = "its gradient vanished (norm " + general(now, 4) + ", " + general(now / largest, 4) + " of the largest tensor's " + general(largest, 4) + ")";
  if (!why.empty())
    return ": " + why + (dead_text.empty() ? std::string() : " and " + dead_text) +
           ": no gradient reaches it (dead units or vanishing gradients), which a larger learning rate cannot fix; " +
           (dead_text.empty() ? "use ReLU-family activations with He initialisation, normalisation or residual "
                                "connections"
                              : "dead ReLUs often follow a learning rate too high: lower it, use LeakyReLU, check the "
                                "bias initialisation");
  return " while its gradient is healthy (norm " + general(now, 4) +
         (early > 0 ? ", " + general(now / early, 4) + " of its early " + general(early, 4) : std::string()) +
         "): the learning rate is probably too low";
}

void TrainingMonitor::record(const StepStats& s) {
  write_line(s);
  ++steps_;
  const MonitorOptions& o = options_;

  if (!std::isfinite(s.loss))
    alert("nan", "loss", s.step, "the loss is " + general(s.loss, 4) + ": lower the learning rate by 10x, clip gradients, look for log(0) or division by zero");
  if (s.val_loss && !std::isfinite(*s.val_loss))
    alert("nan", "val_loss", s.step, "the validation loss is " + general(*s.val_loss, 4));
  if (!std::isnan(s.grad_norm) && !std::isfinite(s.grad_norm))
    alert("nan", "grad_norm", s.step, "the gradient norm is " + general(s.grad_norm, 4) + ": clip gradients, lower the learning rate");

  if (std::isfinite(s.loss)) {
    if (!have_ema_) {
      ema_ = first_ema_ = best_ema_ = s.loss;
      have_ema_ = true;
    } else {
      ema_ += 0.1 * (s.loss - ema_);
    }
    if (steps_ <= o.warmup) first_ema_ = std::max(first_ema_, ema_);
    best_ema_ = std::min(best_ema_, ema_);
    const double ref = std::max({std::abs(best_ema_), first_ema_ - best_ema_, 1e-12});
    if (steps_ > o.warmup && ema_ - best_ema_ >= o.divergence_rise * ref) {
      if (++above_ >= o.patience)
        alert("divergence", "loss", s.step,
              "the smoothed loss rose from its best " + general(best_ema_, 4) + " to " + general(ema_, 4) +
                  ": lower the learning rate by 10x, clip gradients");
    } else {
      above_ = 0;
    }
  }

  if (std::isfinite(s.grad_norm)) {
    if (early_grad_.size() < o.warmup) {
      early_grad_.push_back(s.grad_norm);
    } else {
      const double base = median(early_grad_);
      if (base > 0 && s.grad_norm > o.exploding_factor * base)
        alert("exploding_gradient", "grad_norm", s.step,
              "the gradient norm " + general(s.grad_norm, 4) + " is " + general(s.grad_norm / base, 4) + "x its early median " + general(base, 4) +
                  ": clip gradients, lower the learning rate, check the initialisation");
    }
  }

  // What explains a tensor's update ratio: its gradient norms and the dead
  // units of the step (activations may be listed after the weights).
  for (const auto& t : s.tensors) {
    if (!std::isfinite(t.grad_norm) && !std::isfinite(t.dead_fraction)) continue;
    History& h = history_[t.name];
    if (std::isfinite(t.grad_norm)) {
      if (h.early_grad.size() < o.warmup) h.early_grad.push_back(t.grad_norm);
      h.recent_grad.push_back(t.grad_norm);
      if (h.recent_grad.size() > o.ratio_window) h.recent_grad.erase(h.recent_grad.begin());
    }
    if (std::isfinite(t.dead_fraction)) {
      h.recent_dead.push_back(t.dead_fraction);
      if (h.recent_dead.size() > o.ratio_window) h.recent_dead.erase(h.recent_dead.begin());
    }
  }

  for (const auto& t : s.tensors) {
    // Biases start at zero (or one), so their ratio says nothing about the
    // learning rate; the 1e-3 rule of thumb is about weight matrices.
    const bool bias = t.name.size() >= 4 && (t.name.compare(t.name.size() - 4, 4, "bias") == 0 ||
                                             t.name.compare(t.name.size() - 2, 2, ".b") == 0);
    if (!bias && std::isfinite(t.update_norm) && std::isfinite(t.weight_norm) && t.weight_norm > 0) {
      auto& w = ratios_[t.name];
      w.push_back(t.update_norm / t.weight_norm);
      if (w.size() > o.ratio_window) w.erase(w.begin());
      if (w.size() == o.ratio_window) {
        const double r = median(w);
        if (r > o.update_ratio_high)
          alert("update_ratio_high", t.name, s.step,
                "update/weight ratio " + general(r, 4) + " (median of " + std::to_string(w.size()) +
                    " steps) is far above ~1e-3: the learning rate is probably too high");
        else if (r < o.update_ratio_low)
          alert("update_ratio_low", t.name, s.step,
                "update/weight ratio " + general(r, 4) + " (median of " + std::to_string(w.size()) +
                    " steps) is far below ~1e-3" + low_ratio_cause(t, s));
      }
    }
    if (std::isfinite(t.dead_fraction) && t.dead_fraction > o.dead_fraction)
      alert("dead_units", t.name, s.step,
            general(100 * t.dead_fraction, 4) + "% of the units never activate on the batch (dead ReLUs): check the bias "
            "initialisation, lower the learning rate, or use LeakyReLU");
  }
}

}  // namespace gradcheck::diag
