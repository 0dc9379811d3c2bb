#include <algorithm>
#include <initializer_list>
#include <iterator>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "builder.hpp"
#include "gradcheck/errors.hpp"
#include "gradcheck/logs/run.hpp"

namespace gradcheck::logs {

using internal::iequals;

const Series* Run::find(std::string_view name) const noexcept {
  for (const auto& s : series)
    if (s.name == name) return &s;
  return nullptr;
}

std::vector<std::string> Run::metric_names() const {
  std::vector<std::string> out;
  out.reserve(series.size());
  for (const auto& s : series) out.push_back(s.name);
  return out;
}

std::int64_t Run::distinct_steps() const {
  // Logs write steps in order, so each series is usually sorted already: merge
  // sorted unique runs instead of sorting every step of every series.
  std::vector<std::int64_t> all, merged, part;
  for (const auto& s : series) {
    const bool clean = std::is_sorted(s.steps.begin(), s.steps.end()) &&
                       std::adjacent_find(s.steps.begin(), s.steps.end()) == s.steps.end();
    if (!clean) {
      part.assign(s.steps.begin(), s.steps.end());
      std::sort(part.begin(), part.end());
      part.erase(std::unique(part.begin(), part.end()), part.end());
    }
    const std::vector<std::int64_t>& p = clean ? s.steps : part;
    if (p == all || std::includes(all.begin(), all.end(), p.begin(), p.end())) continue;
    merged.clear();
    merged.reserve(all.size() + p.size());
    std::set_union(all.begin(), all.end(), p.begin(), p.end(), std::back_inserter(merged));
    all.swap(merged);
  }
  return static_cast<std::int64_t>(all.size());
}

namespace {

std::string lower(std::string_view s) {
  std::string out(s);
  for (auto& c : out)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  return out;
}

bool starts_with_any(const std::string& s, std::initializer_list<std::string_view> prefixes) {
  for (auto p : prefixes)
    if (s.rfind(p, 0) == 0) return true;
  return false;
}

// Whether a word of the lower-cased name `l` (its parts between '/', '_',
// '-', '.' and spaces) names an evaluation: `loss/evaluation`,
// `Loss/Validation`, `loss_eval`.
bool has_eval_word(const std::string& l) {
  std::size_t a = 0;
  while (a <= l.size()) {
    std::size_t b = l.find_first_of("/_-. ", a);
    if (b == std::string::npos) b = l.size();
    const std::string_view word(l.data() + a, b - a);
    if (word == "val" || word == "valid" || word == "validation" || word == "eval" || word == "evaluation" ||
        word == "dev")
      return true;
    a = b + 1;
  }
  return false;
}

bool is_eval_name(const std::string& l) {
  return starts_with_any(l, {"val", "valid", "eval", "test", "dev"}) ||
         l.find("/val") != std::string::npos || l.find("validation") != std::string::npos ||
         l.find("test") != std::string::npos || has_eval_word(l);
}

// The first series whose lower-cased name is in `names` (in the order of
// `names`), else "".
std::string first_named(const Run& run, std::initializer_list<std::string_view> names) {
  for (auto want : names)
    for (const auto& s : run.series)
      if (iequals(s.name, want)) return s.name;
  return {};
}

std::string resolve_override(const Run& run, const std::string& name, const char* option) {
  if (run.find(name) != nullptr) return name;
  for (const auto& s : run.series)
    if (iequals(s.name, name)) return s.name;
  std::string have;
  for (const auto& s : run.series) have += (have.empty() ? "" : ", ") + s.name;
  throw InputError(run.source, std::string(option) + " '" + name + "' is not in the log (it has: " +
                                   (have.empty() ? "no numeric series" : have) + ")");
}

// Names that mark a gradient (norm) series: as a path component
// (`grad_norm/<layer>`, `gradients/<layer>`), as the prefix of the last
// component (`grad_norm_<layer>`) or as its suffix (`<layer>_grad_norm`,
// OLMo's `<layer>_grad_l2_norm`). The
// generic words (`grad`, `grads`, `gradients`) only as a path component, where
// they cannot be part of another metric's name (`grad_scale`).
constexpr std::string_view kComponentMarkers[] = {"grad_2.0_norm", "gradient_norm", "grad_norm", "grad_l2_norm", "gradnorm",
                                                  "gradients", "grads", "grad"};
constexpr std::string_view kAffixMarkers[] = {"grad_2.0_norm", "gradient_norm", "grad_norm", "grad_l2_norm", "gradnorm"};

// What follows or precedes a marker without naming a layer: aggregates over
// all layers, clipping variants, and the split or group prefixes of a global
// norm (`train/grad_norm`).
bool is_aggregate_word(const std::string& w) {
  static constexpr std::string_view kWords[] = {
      "total", "global", "all", "sum", "mean", "avg", "average", "max", "min", "median", "std", "var",
      "norm", "clip", "clipped", "unclipped", "pre_clip", "post_clip", "preclip", "postclip", "before_clip",
      "after_clip", "ratio", "scale", "step", "epoch", "train", "training", "val", "valid", "validation", "eval",
      "test", "metrics", "optim", "optimizer", "model"};
  for (auto k : kWords)
    if (w == k) return true;
  return w.find("loss") != std::string::npos || w.rfind("total", 0) == 0 || w.rfind("global", 0) == 0 ||
         w.rfind("clip", 0) == 0;
}

// `name` without leading and trailing separators ('_', '.', '/', '-').
std::string trim_separators(std::string_view name) {
  std::size_t a = 0, b = name.size();
  auto sep = [](char c) { return c == '_' || c == '.' || c == '/' || c == '-'; };
  while (a < b && sep(name[a])) ++a;
  while (b > a && sep(name[b - 1])) --b;
  return std::string(name.substr(a, b - a));
}

// The letters and digits of `s`, lower-cased: `train/value_loss` ->
// `trainvalueloss`.
std::string key_of(std::string_view s) {
  std::string out;
  for (char c : s) {
    if (c >= 'A' && c <= 'Z') out += static_cast<char>(c - 'A' + 'a');
    else if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')) out += c;
  }
  return out;
}

// The keys of a name's last path component and of its last two
// (`losses/qf1_loss` -> `qf1loss`, `lossesqf1loss`), which the
// reinforcement-learning namings below are matched against.
std::pair<std::string, std::string> tail_keys(std::string_view name) {
  const std::size_t b = name.rfind('/');
  if (b == std::string_view::npos) return {key_of(name), key_of(name)};
  const std::size_t a = name.substr(0, b).rfind('/');
  return {key_of(name.substr(b + 1)), key_of(a == std::string_view::npos ? name : name.substr(a + 1))};
}

bool key_in(const std::pair<std::string, std::string>& keys, std::initializer_list<std::string_view> set) {
  for (auto k : set)
    if (keys.first == k || keys.second == k) return true;
  return false;
}

// A critic's loss: the value function's or the (first) Q-function's.
bool is_critic_loss(std::string_view name) {
  return key_in(tail_keys(name), {"lossv", "lossq", "lossq1", "lossvf", "valueloss", "vfloss", "vloss", "criticloss",
                                  "qloss", "q1loss", "qfloss", "qf1loss", "qvalueloss", "qfunctionloss",
                                  "valuefunctionloss", "lossvalue", "losscritic", "lossesvalue", "lossescritic",
                                  "lossqf1", "lossesqf1"});
}

bool is_policy_loss(std::string_view name) {
  return key_in(tail_keys(name), {"losspi", "piloss", "policyloss", "policygradientloss", "pgloss", "actorloss",
                                  "lossactor", "losspolicy", "lossesactor", "lossespolicy"});
}

}  // namespace

bool is_generator_loss(std::string_view name) {
  return key_in(tail_keys(name), {"lossg", "gloss", "errg", "lossgen", "genloss", "generatorloss", "lossgenerator",
                                  "ggan", "lossggan", "gadv", "ga", "gb", "g"});
}

bool is_discriminator_loss(std::string_view name) {
  return key_in(tail_keys(name), {"lossd", "dloss", "errd", "lossdis", "disloss", "lossdisc", "discloss",
                                  "discriminatorloss", "lossdiscriminator", "dreal", "lossdreal", "da", "db", "d",
                                  "criticloss", "losscritic"});
}

namespace {

// The mean episode return: the training episodes' first, an evaluation's
// without them.
std::string episode_return_of(const Run& run) {
  for (const auto& want : {std::initializer_list<std::string_view>{"averageepret", "eprewmean", "episoderewardmean",
                                                                   "episodicreturn", "episodereturn",
                                                                   "meanepisodereturn", "averagereturn",
                                                                   "averageepisodereturn", "epretmean"},
                           std::initializer_list<std::string_view>{"averagetestepret", "meanreward", "evalreturn",
                                                                   "testreturn", "averageevalreturn"}})
    for (const auto& s : run.series) {
      const std::string last = tail_keys(s.name).first;
      if (key_in({last, last}, want)) return s.name;
    }
  return {};
}

}  // namespace

std::string gradient_layer(std::string_view name) {
  const std::string l = lower(name);
  // Path components of the name, by '/' (positions into `name`).
  std::vector<std::pair<std::size_t, std::size_t>> parts;  // [begin, end)
  for (std::size_t a = 0;;) {
    const std::size_t b = l.find('/', a);
    parts.emplace_back(a, b == std::string::npos ? l.size() : b);
    if (b == std::string::npos) break;
    a = b + 1;
  }
  auto part = [&](std::size_t i) { return l.substr(parts[i].first, parts[i].second - parts[i].first); };
  auto accept = [&](std::size_t begin, std::size_t end) -> std::string {
    if (end <= begin) return {};
    const std::string layer = trim_separators(std::string_view(name).substr(begin, end - begin));
    if (layer.empty() || is_aggregate_word(lower(layer))) return {};
    return layer;
  };
  // A marker component followed by the layer's name (which may hold '/').
  for (std::size_t i = 0; i + 1 < parts.size(); ++i)
    for (auto m : kComponentMarkers)
      if (part(i) == m) return accept(parts[i + 1].first, l.size());
  const std::size_t last = parts.size() - 1;
  const std::string tail = part(last);
  // The layer's name, then a marker as the last component: `fc1.weight/grad_norm`.
  if (last >= 1)
    for (auto m : kAffixMarkers)
      if (tail == m) return accept(parts[last - 1].first, parts[last - 1].second);
  for (auto m : kAffixMarkers) {
    // `grad_norm_layer0`, `grad_norm.fc1`
    if (tail.size() > m.size() + 1 && tail.compare(0, m.size(), m) == 0 &&
        (tail[m.size()] == '_' || tail[m.size()] == '.'))
      return accept(parts[last].first + m.size() + 1, parts[last].second);
    // `fc1_grad_norm`, `encoder.layer.0.grad_norm`
    if (tail.size() > m.size() + 1 && tail.compare(tail.size() - m.size(), m.size(), m) == 0) {
      const char sep = tail[tail.size() - m.size() - 1];
      if (sep == '_' || sep == '.' || sep == '-') return accept(parts[last].first, parts[last].second - m.size() - 1);
    }
  }
  return {};
}

Roles recognise_roles(const Run& run, const ColumnOverrides& overrides) {
  Roles roles;
  // Reinforcement learning: a critic's loss beside a policy's loss or an
  // episode return.
  std::string critic;
  for (const auto& s : run.series) {
    const std::string l = lower(s.name);
    // (`value` is no evaluation word: is_eval_name's prefixes would say so.)
    const bool eval = has_eval_word(l) || l.find("test") != std::string::npos || l.rfind("eval", 0) == 0;
    if (critic.empty() && is_critic_loss(s.name) && !eval) critic = s.name;
    if (roles.policy_loss.empty() && is_policy_loss(s.name) && !eval) roles.policy_loss = s.name;
  }
  roles.episode_return = episode_return_of(run);
  const bool reinforcement = !critic.empty() && (!roles.policy_loss.empty() || !roles.episode_return.empty());
  if (!reinforcement) {
    roles.policy_loss.clear();
    roles.episode_return.clear();
  }
  // A generative adversarial network: a generator's loss beside a
  // discriminator's (a critic's loss beside no policy nor return is a
  // Wasserstein critic's).
  std::string generator, discriminator;
  if (!reinforcement)
    for (const auto& s : run.series) {
      const std::string l = lower(s.name);
      if (has_eval_word(l) || l.find("test") != std::string::npos) continue;
      if (generator.empty() && is_generator_loss(s.name)) generator = s.name;
      if (discriminator.empty() && is_discriminator_loss(s.name)) discriminator = s.name;
    }
  const bool adversarial = !generator.empty() && !discriminator.empty();
  if (!overrides.loss.empty()) {
    roles.loss = resolve_override(run, overrides.loss, "--loss-col");
  } else if (reinforcement) {
    roles.loss = critic;
    roles.critic = true;
  } else if (adversarial) {
    roles.loss = generator;
    roles.discriminator_loss = discriminator;
  } else {
    roles.loss = first_named(run, {"loss", "train_loss", "training_loss", "train/loss", "loss/train",
                                   "train_loss_step", "loss_step", "train/loss_step", "train_loss_epoch",
                                   "loss_epoch", "train/epoch_loss", "epoch_loss", "total_loss", "train_total_loss",
                                   "train/total_loss"});
    if (roles.loss.empty())
      for (const auto& s : run.series) {
        const std::string l = lower(s.name);
        if (l.find("loss") != std::string::npos && !is_eval_name(l)) {
          roles.loss = s.name;
          break;
        }
      }
  }
  if (!overrides.val.empty()) {
    roles.val_loss = resolve_override(run, overrides.val, "--val-col");
  } else {
    roles.val_loss = first_named(run, {"val_loss", "validation_loss", "valid_loss", "eval_loss", "val/loss",
                                       "loss/val", "validation/loss", "val_loss_epoch", "val/epoch_loss",
                                       "validation/epoch_loss", "eval/loss", "val_total_loss", "dev_loss"});
    if (roles.val_loss.empty())
      for (const auto& s : run.series) {
        const std::string l = lower(s.name);
        if (l.find("loss") != std::string::npos && s.name != roles.loss && l.rfind("value", 0) != 0 &&
            starts_with_any(l, {"val", "valid", "eval", "validation/", "dev"})) {
          roles.val_loss = s.name;
          break;
        }
      }
    // ... or with an evaluation word after the loss (TensorBoard's
    // `Loss/Evaluation`, `loss/validation`, `loss_eval`).
    if (roles.val_loss.empty())
      for (const auto& s : run.series) {
        const std::string l = lower(s.name);
        if (l.find("loss") != std::string::npos && has_eval_word(l) && l.find("train") == std::string::npos) {
          roles.val_loss = s.name;
          break;
        }
      }
    // Without a validation loss, a test loss evaluated during training (more
    // than one point: DETR's and DeiT's `test_loss`, each epoch's evaluation
    // on the held-out set) plays its part; a final test is one point.
    if (roles.val_loss.empty()) {
      const std::string test = first_named(run, {"test_loss", "test/loss", "loss/test", "test_total_loss"});
      if (!test.empty() && run.find(test)->size() > 1) roles.val_loss = test;
    }
  }
  if (!overrides.grad.empty()) {
    roles.grad_norm = resolve_override(run, overrides.grad, "--grad-col");
  } else {
    const std::initializer_list<std::string_view> kGradNorms = {
        "grad_norm",       "gradient_norm",       "grad_norm/total",  "total_grad_norm", "global_grad_norm",
        "gradnorm",        "grad_2.0_norm_total", "grad_norm_total",  "train/grad_norm", "grads/norm",
        "optim/total_grad_norm", "optim/grad_norm"};
    roles.grad_norm = first_named(run, kGradNorms);
    // ... under the training's prefix (a nested JSON record's `{"train":
    // {"grad_2.0_norm_total": ...}}`, a TensorBoard tag `training/grad_norm`).
    const auto under_training = [&](const std::string& name) {
      const std::string l = lower(name);
      for (std::string_view prefix : {"train/", "training/"})
        if (l.rfind(prefix, 0) == 0)
          for (auto want : kGradNorms)
            if (std::string_view(l).substr(prefix.size()) == want) return true;
      return false;
    };
    for (const auto& s : run.series)
      if (roles.grad_norm.empty() && under_training(s.name)) roles.grad_norm = s.name;
  }
  roles.lr = first_named(run, {"lr", "learning_rate", "train/lr", "train/learning_rate", "lr-adam", "lr-adamw",
                               "lr-sgd", "epoch_learning_rate", "train/epoch_learning_rate"});
  if (roles.lr.empty())
    for (const auto& s : run.series)
      if (lower(s.name).rfind("lr-", 0) == 0) {
        roles.lr = s.name;
        break;
      }
  for (const auto& s : run.series) {
    if (s.name == roles.grad_norm || s.name == roles.loss || s.name == roles.val_loss || s.name == roles.lr ||
        s.name == roles.discriminator_loss)
      continue;
    std::string layer = gradient_layer(s.name);
    if (layer.empty()) continue;
    roles.tensor_grad_norms.push_back(s.name);
    roles.tensor_names.push_back(std::move(layer));
  }
  return roles;
}

}  // namespace gradcheck::logs
