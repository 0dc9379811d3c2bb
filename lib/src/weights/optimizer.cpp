#include "optimizer.hpp"

#include <algorithm>
#include <cmath>
#include <map>
#include <string>
#include <string_view>

#include <spdlog/fmt/fmt.h>

#include "../core/format.hpp"

namespace gradcheck::weights::detail {

namespace {

bool digits(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

// "<prefix>.state.<i>.<key>" split into its parts; false for any other name.
bool split_state(const std::string& name, std::string* prefix, int* index, std::string* key) {
  const std::size_t key_dot = name.rfind('.');
  if (key_dot == std::string::npos) return false;
  if (key_dot == 0) return false;
  const std::size_t index_dot = name.rfind('.', key_dot - 1);
  if (index_dot == std::string::npos) return false;
  const std::string_view idx(name.data() + index_dot + 1, key_dot - index_dot - 1);
  if (!digits(idx) || idx.size() > 6) return false;
  if (index_dot == 5 && name.compare(0, 5, "state") == 0) {
    prefix->clear();  // a state dict saved alone
  } else if (index_dot > 6 && name.compare(index_dot - 6, 6, ".state") == 0) {
    *prefix = name.substr(0, index_dot - 6);
  } else {
    return false;
  }
  *index = std::stoi(std::string(idx));
  *key = name.substr(key_dot + 1);
  return true;
}

bool is_buffer(const std::string& name) {
  for (const char* b : {"running_mean", "running_var", "num_batches_tracked"}) {
    const std::string suffix = b;
    if (name.size() >= suffix.size() && name.compare(name.size() - suffix.size(), suffix.size(), suffix) == 0) return true;
  }
  return false;
}

std::vector<double> values(const TensorEntry& t) {
  std::vector<double> v(t.numel);
  for (std::size_t i = 0; i < v.size(); ++i) v[i] = load_as_double(t.dtype, t.data, i);
  return v;
}

double norm(const std::vector<double>& v) {
  double s = 0;
  for (double x : v) s += x * x;
  return std::sqrt(s);
}

}  // namespace

std::vector<OptimizerReport> analyse_optimizers(const Checkpoint& ck, std::vector<TensorReport>& tensors,
                                                const Thresholds& thresholds) {
  // prefix -> index -> key -> tensor
  std::map<std::string, std::map<int, std::map<std::string, const TensorEntry*>>> states;
  for (const auto& t : ck.tensors()) {
    std::string prefix, key;
    int index = 0;
    if (split_state(t.name, &prefix, &index, &key)) states[prefix][index][key] = &t;
  }
  std::map<std::string, double> scalars;
  for (const auto& [name, value] : ck.scalars()) scalars.emplace(name, value);
  auto scalar = [&](const std::string& name) {
    auto it = scalars.find(name);
    return it == scalars.end() ? std::numeric_limits<double>::quiet_NaN() : it->second;
  };

  std::vector<OptimizerReport> out;
  for (const auto& [prefix, by_index] : states) {
    const std::string dot = prefix.empty() ? "" : prefix + ".";
    OptimizerReport r;
    r.prefix = prefix;
    const auto& first = by_index.begin()->second;
    const bool adam = first.count("exp_avg") && first.count("exp_avg_sq");
    const bool sgd = first.count("momentum_buffer") > 0;
    if (!adam && !sgd) continue;  // another optimizer: its state is reported, not analysed
    r.kind = adam ? "Adam" : "SGD with momentum";
    // Per parameter index: its group's settings.
    struct Group {
      double lr, beta1, beta2, eps;
    };
    std::map<int, Group> group_of;
    for (int g = 0;; ++g) {
      const std::string gp = dot + "param_groups." + std::to_string(g) + ".";
      const double lr = scalar(gp + "lr");
      if (std::isnan(lr)) break;
      if (g == 0) r.lr = lr;
      const Group settings{lr, scalar(gp + "betas.0"), scalar(gp + "betas.1"), scalar(gp + "eps")};
      for (int k = 0;; ++k) {
        const double p = scalar(gp + "params." + std::to_string(k));
        if (std::isnan(p)) break;
        group_of[static_cast<int>(p)] = settings;
      }
    }
    if (group_of.empty()) {
      r.note = "no param_groups with lr and params beside the state: the steps cannot be computed";
      out.push_back(std::move(r));
      continue;
    }
    // The model's parameters: floating weights outside every optimizer, buffers skipped, in file order.
    std::vector<const TensorEntry*> params;
    for (const auto& t : ck.tensors()) {
      std::string p, k;
      int i = 0;
      if (split_state(t.name, &p, &i, &k) || is_buffer(t.name) || !is_floating(t.dtype)) continue;
      if (tensor_role(t.name) != TensorRole::weight) continue;
      bool inside = false;
      for (const auto& [other, unused] : states) inside = inside || (!other.empty() && t.name.rfind(other + ".", 0) == 0);
      if (!inside) params.push_back(&t);
    }
    std::size_t next = 0;
    std::vector<std::pair<int, const TensorEntry*>> matched;
    for (const auto& [index, keys] : by_index) {
      if (!group_of.count(index)) continue;
      const TensorEntry* shape_of = adam ? keys.count("exp_avg") ? keys.at("exp_avg") : nullptr
                                         : keys.count("momentum_buffer") ? keys.at("momentum_buffer") : nullptr;
      if (shape_of == nullptr) continue;
      while (next < params.size() && params[next]->shape != shape_of->shape) ++next;
      if (next == params.size()) {
        r.note = fmt::format("state {} (shape [{}]) matches no remaining weight tensor by order and shape: the steps "
                             "are not attributed",
                             index, fmt::join(shape_of->shape, ","));
        matched.clear();
        break;
      }
      matched.emplace_back(index, params[next++]);
    }
    for (const auto& [index, param] : matched) {
      const auto& keys = by_index.at(index);
      const Group& g = group_of.at(index);
      ParameterStep s;
      s.parameter = param->name;
      s.state = dot + "state." + std::to_string(index);
      s.weight_norm = norm(values(*param));
      if (adam) {
        const std::vector<double> m = values(*keys.at("exp_avg"));
        const std::vector<double> v = values(*keys.at(keys.count("max_exp_avg_sq") ? "max_exp_avg_sq" : "exp_avg_sq"));
        double t = std::numeric_limits<double>::quiet_NaN();
        if (keys.count("step") && keys.at("step")->numel == 1) t = load_as_double(keys.at("step")->dtype, keys.at("step")->data, 0);
        if (std::isnan(t)) t = scalar(s.state + ".step");
        const double bc1 = t > 0 && g.beta1 >= 0 ? 1 - std::pow(g.beta1, t) : 1;
        const double bc2 = t > 0 && g.beta2 >= 0 ? 1 - std::pow(g.beta2, t) : 1;
        const double eps = std::isnan(g.eps) ? 1e-8 : g.eps;
        double sum = 0;
        for (std::size_t j = 0; j < m.size() && j < v.size(); ++j) {
          const double step = g.lr * (m[j] / bc1) / (std::sqrt(std::max(v[j], 0.0) / bc2) + eps);
          sum += step * step;
        }
        s.step_norm = std::sqrt(sum);
      } else {
        s.step_norm = g.lr * norm(values(*keys.at("momentum_buffer")));
      }
      s.update_ratio = s.weight_norm > 0 ? s.step_norm / s.weight_norm : std::numeric_limits<double>::infinity();
      // The flag goes on the parameter, where the question "is my learning rate sane?" is asked.
      for (auto& tr : tensors) {
        if (tr.name != param->name) continue;
        const std::string what = fmt::format("{}'s last step, recomputed from {} (lr {}), is {} of this tensor's norm",
                                             r.kind, s.state, internal::general(g.lr, 3),
                                             internal::general(s.update_ratio, 3));
        if (s.update_ratio > thresholds.update_ratio_high) {
          tr.flags.push_back(Flag::update_ratio_high);
          tr.evidence.push_back(what + fmt::format(" (above {}; healthy training moves about 1e-3): the learning "
                                                   "rate is probably too high",
                                                   internal::general(thresholds.update_ratio_high, 3)));
        } else if (s.update_ratio < thresholds.update_ratio_low) {
          tr.flags.push_back(Flag::update_ratio_low);
          tr.evidence.push_back(what + fmt::format(" (below {}; healthy training moves about 1e-3): the learning "
                                                   "rate is probably too low, or no gradient reaches it",
                                                   internal::general(thresholds.update_ratio_low, 3)));
        }
      }
      r.steps.push_back(std::move(s));
    }
    out.push_back(std::move(r));
  }
  return out;
}

}  // namespace gradcheck::weights::detail
