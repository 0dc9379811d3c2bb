// A small training program that makes a labelled corpus of real training runs
// for convdiag: an MLP on a generated spiral dataset (CS231n's three-armed
// spiral), softmax cross-entropy, SGD with momentum or Adam. Its gradient is
// checked with gradcheck before training; every step feeds the training-loop
// monitor, which writes the JSON Lines log convdiag reads; the trained weights
// are saved as a safetensors checkpoint (weightstats reads it). Run with good
// and with bad settings it produces runs whose problem is known.
//
//   train --config good_sgd --seed 1 --log run.jsonl [--checkpoint run.safetensors]
//   train --corpus DIR [--seeds N]     all configurations; prints detection
//                                      and false-alarm rates of convdiag's
//                                      detectors on them

#include <CLI/CLI.hpp>
#include <Eigen/Core>
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <map>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "gradcheck/check.hpp"
#include "gradcheck/diag/diagnose.hpp"
#include "gradcheck/diag/monitor.hpp"
#include "gradcheck/errors.hpp"
#include "gradcheck/layout.hpp"
#include "gradcheck/logs/readers.hpp"
#include "gradcheck/weights/safetensors_writer.hpp"

namespace {

using Mat = Eigen::MatrixXd;
using Vec = Eigen::VectorXd;
using RowMap = Eigen::Map<const Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>>;

enum class Act { relu, sigmoid, tanh };
enum class Opt { sgd, adam };

struct Config {
  std::string name;
  std::vector<int> hidden;     // hidden layer widths
  Act act = Act::relu;
  Opt opt = Opt::sgd;
  double lr = 0.05;
  double momentum = 0.9;
  int train_per_class = 300;
  double label_noise = 0.0;    // fraction of training labels drawn at random
  double init_scale = 1.0;     // times the He (ReLU) or Xavier (sigmoid/tanh) scale
  double bias_init = 0.0;
  int steps = 1500;
  int batch = 64;
  /// The symptom kinds convdiag is expected to report (empty: healthy).
  std::set<std::string> expected;
  /// Kinds that are neither expected nor a false alarm (LABELLING.md's
  /// "accepted, not required" in tools/bench/convdiag): a healthy run's
  /// small-batch loss near zero has isolated jumps of 5-30x its level, which
  /// the labelling rule for `spike` marks.
  std::set<std::string> accepted = {};
};

std::vector<Config> configs() {
  std::vector<Config> c;
  c.push_back({"good_sgd", {64, 64}, Act::relu, Opt::sgd, 0.05, 0.9, 300, 0, 1, 0, 1500, 64, {}, {"spike"}});
  c.push_back({"good_adam", {64, 64}, Act::relu, Opt::adam, 3e-3, 0, 300, 0, 1, 0, 1500, 64, {}, {"spike"}});
  c.push_back({"good_tanh", {48, 48}, Act::tanh, Opt::sgd, 0.05, 0.9, 300, 0, 1, 0, 1500, 32, {}, {"spike"}});
  c.push_back({"lr_high", {64, 64}, Act::relu, Opt::sgd, 8.0, 0.9, 300, 0, 1, 0, 1500, 64,
               {"nan", "divergence", "oscillation", "exploding_gradient", "spike"}});
  c.push_back({"lr_low", {64, 64}, Act::relu, Opt::sgd, 1e-5, 0.0, 300, 0, 1, 0, 1500, 64, {"plateau"}});
  c.push_back({"tiny_data_big_model", {256, 256}, Act::relu, Opt::adam, 3e-3, 0, 8, 0.25, 1, 0, 1500, 24,
               {"overfitting"}});
  c.push_back({"deep_sigmoid", std::vector<int>(10, 32), Act::sigmoid, Opt::sgd, 0.05, 0.9, 300, 0, 1, 0, 1500, 64,
               {"plateau", "vanishing_gradient"}});
  c.push_back({"huge_init", {64, 64}, Act::relu, Opt::sgd, 0.05, 0.9, 300, 0, 30, 0, 1500, 64,
               {"nan", "divergence", "oscillation", "exploding_gradient", "spike", "plateau"}});
  c.push_back({"dead_relu", {64, 64}, Act::relu, Opt::sgd, 0.05, 0.9, 300, 0, 1, -10, 1500, 64,
               {"plateau", "vanishing_gradient"}});
  return c;
}

// The spiral: class k's points lie on an arm r = t, angle 4(k + t) + noise.
void spiral(int per_class, int classes, double noise, std::mt19937_64& rng, Mat& x, std::vector<int>& y) {
  std::normal_distribution<double> z(0.0, 1.0);
  x.resize(2, per_class * classes);
  y.resize(static_cast<std::size_t>(per_class * classes));
  for (int k = 0; k < classes; ++k)
    for (int i = 0; i < per_class; ++i) {
      const double r = per_class > 1 ? static_cast<double>(i) / (per_class - 1) : 0.5;
      const double t = 4.0 * (k + r) + noise * z(rng);
      const int col = k * per_class + i;
      x(0, col) = r * std::sin(t);
      x(1, col) = r * std::cos(t);
      y[static_cast<std::size_t>(col)] = k;
    }
}

struct Mlp {
  std::vector<int> sizes;  // input, hidden..., classes
  Act act = Act::relu;
  gradcheck::Layout layout;

  Mlp(int in, const std::vector<int>& hidden, int classes, Act a) : act(a) {
    sizes.push_back(in);
    sizes.insert(sizes.end(), hidden.begin(), hidden.end());
    sizes.push_back(classes);
    for (std::size_t l = 0; l + 1 < sizes.size(); ++l) {
      layout.add("fc" + std::to_string(l + 1) + ".weight", {sizes[l + 1], sizes[l]});
      layout.add("fc" + std::to_string(l + 1) + ".bias", {sizes[l + 1]});
    }
  }
  std::size_t layers() const { return sizes.size() - 1; }
  const gradcheck::Block& w(std::size_t l) const { return layout.blocks()[2 * l]; }
  const gradcheck::Block& b(std::size_t l) const { return layout.blocks()[2 * l + 1]; }

  Vec init(double scale, double bias, std::mt19937_64& rng) const {
    Vec theta = Vec::Zero(layout.size());
    std::normal_distribution<double> z(0.0, 1.0);
    for (std::size_t l = 0; l < layers(); ++l) {
      const double fan_in = sizes[l];
      const double sd = scale * (act == Act::relu ? std::sqrt(2.0 / fan_in) : std::sqrt(1.0 / fan_in));
      for (std::int64_t i = 0; i < w(l).size(); ++i) theta[w(l).offset + i] = sd * z(rng);
      if (l + 1 < layers())
        for (std::int64_t i = 0; i < b(l).size(); ++i) theta[b(l).offset + i] = bias;
    }
    return theta;
  }

  Mat activate(const Mat& z) const {
    switch (act) {
      case Act::relu: return z.cwiseMax(0.0);
      case Act::sigmoid: return (1.0 / (1.0 + (-z.array()).exp())).matrix();
      case Act::tanh: return z.array().tanh().matrix();
    }
    return z;
  }
  // d act / dz expressed through the activation a.
  Mat dact(const Mat& a) const {
    switch (act) {
      case Act::relu: return (a.array() > 0).cast<double>().matrix();
      case Act::sigmoid: return (a.array() * (1.0 - a.array())).matrix();
      case Act::tanh: return (1.0 - a.array().square()).matrix();
    }
    return a;
  }

  // Mean softmax cross-entropy of the batch; writes the gradient when asked and
  // the fraction of dead units of each hidden layer.
  double loss(const Vec& theta, const Mat& x, const std::vector<int>& y, Vec* grad,
              std::vector<double>* dead = nullptr) const {
    const std::size_t L = layers();
    std::vector<Mat> a(L + 1);
    a[0] = x;
    for (std::size_t l = 0; l < L; ++l) {
      RowMap W(theta.data() + w(l).offset, sizes[l + 1], sizes[l]);
      Eigen::Map<const Vec> bias(theta.data() + b(l).offset, sizes[l + 1]);
      Mat z = W * a[l];
      z.colwise() += bias;
      a[l + 1] = l + 1 < L ? activate(z) : z;
    }
    const Mat& logits = a[L];
    const double n = static_cast<double>(x.cols());
    Mat p(logits.rows(), logits.cols());
    double total = 0;
    for (Eigen::Index c = 0; c < logits.cols(); ++c) {
      const double m = logits.col(c).maxCoeff();
      const Vec e = (logits.col(c).array() - m).exp().matrix();
      const double s = e.sum();
      p.col(c) = e / s;
      total += -(logits(y[static_cast<std::size_t>(c)], c) - m - std::log(s));
    }
    if (dead != nullptr) {
      dead->clear();
      for (std::size_t l = 1; l < L; ++l) {
        const Eigen::VectorXd active = (a[l].array() > 0).cast<double>().rowwise().sum();
        dead->push_back(static_cast<double>((active.array() == 0).count()) / static_cast<double>(active.size()));
      }
    }
    if (grad != nullptr) {
      grad->setZero(layout.size());
      Mat delta = p;
      for (Eigen::Index c = 0; c < delta.cols(); ++c) delta(y[static_cast<std::size_t>(c)], c) -= 1.0;
      delta /= n;
      for (std::size_t l = L; l-- > 0;) {
        Eigen::Map<Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>> gW(
            grad->data() + w(l).offset, sizes[l + 1], sizes[l]);
        Eigen::Map<Vec> gb(grad->data() + b(l).offset, sizes[l + 1]);
        gW = delta * a[l].transpose();
        gb = delta.rowwise().sum();
        if (l > 0) {
          RowMap W(theta.data() + w(l).offset, sizes[l + 1], sizes[l]);
          delta = ((W.transpose() * delta).array() * dact(a[l]).array()).matrix();
        }
      }
    }
    return total / n;
  }
};

Mat columns(const Mat& x, const std::vector<int>& idx) {
  Mat out(x.rows(), static_cast<Eigen::Index>(idx.size()));
  for (std::size_t i = 0; i < idx.size(); ++i) out.col(static_cast<Eigen::Index>(i)) = x.col(idx[i]);
  return out;
}

// Checks the model's gradient on a small batch before training: a bug here
// would make every run of the corpus mislabelled.
bool check_gradient(const Config& cfg) {
  std::mt19937_64 rng(12345);
  Mlp net(2, std::vector<int>(cfg.hidden.size(), 5), 3, cfg.act);
  Vec theta = net.init(1.0, 0.1, rng);
  Mat x;
  std::vector<int> y;
  spiral(4, 3, 0.2, rng, x, y);
  gradcheck::CheckOptions options;
  options.max_per_block = 12;
  options.seed = 7;
  const auto result = gradcheck::check_loss(
      [&](const Vec& t, Vec* g) { return net.loss(t, x, y, g); }, theta, net.layout, options);
  if (!result.passed) {
    std::fprintf(stderr, "train: gradient check of %s failed\n", cfg.name.c_str());
    for (const auto& b : result.blocks)
      std::fprintf(stderr, "  %s: %s (max rel error %.3g)\n", b.name.c_str(), gradcheck::to_string(b.verdict),
                   b.max_rel_error);
  }
  return result.passed;
}

// The weights as a checkpoint, in f32 as training code usually saves them,
// tensors named as in the log ("fc1.weight" [out, in], row-major).
void save_checkpoint(const Mlp& net, const Vec& theta, const Config& cfg, std::uint64_t seed, int steps,
                     const std::string& path) {
  gradcheck::weights::SafetensorsWriter writer;
  for (const auto& block : net.layout.blocks()) {
    std::vector<float> values(static_cast<std::size_t>(block.size()));
    for (std::int64_t i = 0; i < block.size(); ++i)
      values[static_cast<std::size_t>(i)] = static_cast<float>(theta[block.offset + i]);
    writer.add(block.name, block.shape, values);
  }
  writer.add_metadata("format", "pt");
  writer.add_metadata("config", cfg.name);
  writer.add_metadata("seed", std::to_string(seed));
  writer.add_metadata("steps", std::to_string(steps));
  writer.write(path);
}

// Trains one run, saves its weights to `checkpoint_path` (when not empty);
// returns the monitor's alerts.
std::vector<gradcheck::diag::Alert> train(const Config& cfg, std::uint64_t seed, const std::string& log_path,
                                          const std::string& checkpoint_path, bool warn) {
  std::mt19937_64 rng(seed);
  Mat xtr, xval;
  std::vector<int> ytr, yval;
  spiral(cfg.train_per_class, 3, 0.2, rng, xtr, ytr);
  spiral(200, 3, 0.2, rng, xval, yval);
  if (cfg.label_noise > 0) {
    std::uniform_real_distribution<double> u(0, 1);
    std::uniform_int_distribution<int> k(0, 2);
    for (auto& label : ytr)
      if (u(rng) < cfg.label_noise) label = k(rng);
  }
  Mlp net(2, cfg.hidden, 3, cfg.act);
  Vec theta = net.init(cfg.init_scale, cfg.bias_init, rng);
  Vec velocity = Vec::Zero(theta.size()), m1 = velocity, m2 = velocity, grad;

  gradcheck::diag::MonitorOptions mo;
  mo.log_path = log_path;
  mo.warn = warn;
  gradcheck::diag::TrainingMonitor monitor(mo);

  std::vector<int> order(ytr.size());
  for (std::size_t i = 0; i < order.size(); ++i) order[i] = static_cast<int>(i);
  std::size_t cursor = order.size();
  const int batch = std::min<int>(cfg.batch, static_cast<int>(order.size()));
  std::vector<double> dead;
  int steps_run = 0;
  for (int step = 0; step < cfg.steps; ++step) {
    steps_run = step + 1;
    if (cursor + static_cast<std::size_t>(batch) > order.size()) {
      std::shuffle(order.begin(), order.end(), rng);
      cursor = 0;
    }
    std::vector<int> idx(order.begin() + static_cast<std::ptrdiff_t>(cursor),
                         order.begin() + static_cast<std::ptrdiff_t>(cursor) + batch);
    cursor += static_cast<std::size_t>(batch);
    std::vector<int> yb;
    for (int i : idx) yb.push_back(ytr[static_cast<std::size_t>(i)]);
    const double loss = net.loss(theta, columns(xtr, idx), yb, &grad, &dead);

    Vec update;
    if (cfg.opt == Opt::sgd) {
      velocity = cfg.momentum * velocity - cfg.lr * grad;
      update = velocity;
    } else {
      const double b1 = 0.9, b2 = 0.999, eps = 1e-8;
      m1 = b1 * m1 + (1 - b1) * grad;
      m2 = b2 * m2 + (1 - b2) * grad.cwiseProduct(grad);
      const double c1 = 1 - std::pow(b1, step + 1), c2 = 1 - std::pow(b2, step + 1);
      update = -cfg.lr * ((m1 / c1).array() / ((m2 / c2).array().sqrt() + eps)).matrix();
    }
    theta += update;

    gradcheck::diag::StepStats s;
    s.step = step;
    s.loss = loss;
    s.grad_norm = grad.norm();
    s.lr = cfg.lr;
    if (step % 50 == 49 || step == cfg.steps - 1) s.val_loss = net.loss(theta, xval, yval, nullptr);
    for (const auto& block : net.layout.blocks()) {
      gradcheck::diag::TensorStep t;
      t.name = block.name;
      t.grad_norm = grad.segment(block.offset, block.size()).norm();
      t.weight_norm = theta.segment(block.offset, block.size()).norm();
      t.update_norm = update.segment(block.offset, block.size()).norm();
      s.tensors.push_back(t);
    }
    for (std::size_t l = 0; l < dead.size(); ++l) {
      gradcheck::diag::TensorStep t;
      t.name = "act" + std::to_string(l + 1);
      t.dead_fraction = dead[l];
      s.tensors.push_back(t);
    }
    monitor.record(s);
    if (!std::isfinite(loss)) break;  // nothing more to learn from this run
  }
  monitor.flush();
  if (!checkpoint_path.empty()) save_checkpoint(net, theta, cfg, seed, steps_run, checkpoint_path);
  return monitor.alerts();
}

const Config* find_config(const std::string& name) {
  static const std::vector<Config> all = configs();
  for (const auto& c : all)
    if (c.name == name) return &c;
  return nullptr;
}

int run_corpus(const std::string& dir, int seeds) {
  namespace fs = std::filesystem;
  fs::create_directories(dir);
  std::set<std::string> checked;
  int bad_runs = 0, detected = 0, right_kind = 0, good_runs = 0, false_alarms = 0;
  int monitor_bad = 0, monitor_good = 0;  // runs in which the monitor raised an alert
  std::string labels = "file,config,seed,expected,found\n";
  std::printf("%-22s %4s  %-30s %s\n", "config", "seed", "expected", "convdiag found");
  for (const auto& cfg : configs()) {
    if (checked.insert(std::to_string(static_cast<int>(cfg.act)) + std::to_string(cfg.hidden.size())).second &&
        !check_gradient(cfg))
      return 1;
    for (int seed = 1; seed <= seeds; ++seed) {
      const std::string file = cfg.name + "-" + std::to_string(seed) + ".jsonl";
      const std::string path = (fs::path(dir) / file).string();
      const std::string checkpoint = (fs::path(dir) / (cfg.name + "-" + std::to_string(seed) + ".safetensors")).string();
      const auto alerts = train(cfg, static_cast<std::uint64_t>(seed) * 1000003u, path, checkpoint, false);
      (cfg.expected.empty() ? monitor_good : monitor_bad) += alerts.empty() ? 0 : 1;
      // As `convdiag --classes 3` would: a loss stuck at ln(3) is a plateau.
      gradcheck::diag::DiagnoseOptions options;
      options.classes = 3;
      const auto d = gradcheck::diag::diagnose(gradcheck::logs::read_log(path), options);
      std::set<std::string> found;
      for (const auto& s : d.symptoms) found.insert(gradcheck::diag::to_string(s.kind));
      std::string expected_text, found_text;
      for (const auto& k : cfg.expected) expected_text += (expected_text.empty() ? "" : "|") + k;
      for (const auto& k : found) found_text += (found_text.empty() ? "" : "|") + k;
      if (cfg.expected.empty()) {
        ++good_runs;
        if (std::any_of(found.begin(), found.end(), [&](const std::string& k) { return cfg.accepted.count(k) == 0; }))
          ++false_alarms;
      } else {
        ++bad_runs;
        if (!found.empty()) ++detected;
        if (std::any_of(found.begin(), found.end(), [&](const std::string& k) { return cfg.expected.count(k) > 0; }))
          ++right_kind;
      }
      std::printf("%-22s %4d  %-30s %s\n", cfg.name.c_str(), seed, expected_text.empty() ? "(healthy)" : expected_text.c_str(),
                  found_text.empty() ? "(healthy)" : found_text.c_str());
      labels += file + "," + cfg.name + "," + std::to_string(seed) + "," + expected_text + "," + found_text + "\n";
    }
  }
  if (std::FILE* f = std::fopen((fs::path(dir) / "labels.csv").c_str(), "w")) {
    std::fwrite(labels.data(), 1, labels.size(), f);
    std::fclose(f);
  }
  const double detection = bad_runs ? static_cast<double>(detected) / bad_runs : 1.0;
  const double kind_rate = bad_runs ? static_cast<double>(right_kind) / bad_runs : 1.0;
  const double false_alarm = good_runs ? static_cast<double>(false_alarms) / good_runs : 0.0;
  std::printf("\ndetection rate %.0f%% (%d of %d bad runs), expected kind among the findings %.0f%% (%d of %d), "
              "false-alarm rate %.0f%% (%d of %d good runs)\n",
              100 * detection, detected, bad_runs, 100 * kind_rate, right_kind, bad_runs, 100 * false_alarm,
              false_alarms, good_runs);
  std::printf("training-loop monitor: alerts in %d of %d bad runs and in %d of %d good runs\n", monitor_bad, bad_runs,
              monitor_good, good_runs);
  const double monitor_false = good_runs ? static_cast<double>(monitor_good) / good_runs : 0.0;
  return detection >= 0.9 && kind_rate >= 0.8 && false_alarm <= 0.1 && monitor_false <= 0.1 ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"train: a small MLP training run that feeds gradcheck's monitor (a corpus maker for convdiag)"};
  std::string config = "good_sgd", log = "train.jsonl", checkpoint, corpus;
  std::uint64_t seed = 1;
  int seeds = 4;
  std::string names;
  for (const auto& c : configs()) names += (names.empty() ? "" : ", ") + c.name;
  app.add_option("--config", config, "One of: " + names);
  app.add_option("--seed", seed, "Seed of the data, the initialisation and the batches");
  app.add_option("--log", log, "JSON Lines log to write");
  app.add_option("--checkpoint", checkpoint,
                 "Safetensors checkpoint of the trained weights (default: the log's path with .safetensors)");
  app.add_option("--corpus", corpus, "Write every configuration's runs into DIR and report convdiag's rates");
  app.add_option("--seeds", seeds, "Seeds per configuration in --corpus mode")->check(CLI::Range(1, 100));
  CLI11_PARSE(app, argc, argv);
  try {
    if (!corpus.empty()) return run_corpus(corpus, seeds);
    const Config* cfg = find_config(config);
    if (cfg == nullptr) {
      std::fprintf(stderr, "train: unknown --config '%s' (one of: %s)\n", config.c_str(), names.c_str());
      return 2;
    }
    if (!check_gradient(*cfg)) return 1;
    if (checkpoint.empty()) checkpoint = std::filesystem::path(log).replace_extension(".safetensors").string();
    train(*cfg, seed, log, checkpoint, true);
    std::printf("train: wrote %s and %s\n", log.c_str(), checkpoint.c_str());
  } catch (const gradcheck::InputError& e) {
    std::fprintf(stderr, "train: %s\n", e.what());
    return 2;
  }
  return 0;
}
