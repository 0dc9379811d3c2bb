// A training loop's printed output saved to a file (`python train.py | tee
// train.log`): lines such as
//   Epoch [1/5], Step [100/600], Loss: 0.2345          (a tutorial's loop)
//   Train Epoch: 1 [640/60000 (1%)]	Loss: 2.300072      (PyTorch's MNIST example)
//   [1,  2000] loss: 2.198                             (PyTorch's CIFAR-10 tutorial)
//   Epoch 3/10 ... - loss: 0.2934 - val_loss: 0.1413   (Keras's progress bar)
//   epoch 3 | train loss 0.52 | val loss 0.61          (a hand-made loop)
//   {'loss': 0.6931, 'learning_rate': 5e-05, 'epoch': 0.1}   (the Hugging Face Trainer)
// (pytorch-CycleGAN-and-pix2pix's `loss_log.txt`: `(epoch: 1, iters: 100,
// time: 0.213, data: 0.175) D_A: 0.290 G_A: 0.335 cycle_A: 1.825 ...`).
// Every `name: number` or `name=number` pair (a name of up to three words,
// or quoted) is a metric, as is `... loss number`; `epoch N`, `step N`,
// `iter N` and `iteration N` in any of their printed forms (`Epoch [1/5]`,
// `Epoch 1/10`, `epoch: 3`) say where the line is. Progress bars redrawn in
// place (carriage returns, backspaces) count by their last state, and
// terminal colour codes are left out. Lines without a metric are skipped: a
// text log is never refused for its other lines, only when no line holds one.

#include <algorithm>
#include <charconv>
#include <cstdint>
#include <cstring>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "builder.hpp"
#include "formats.hpp"
#include "gradcheck/errors.hpp"
#include "gradcheck/logs/readers.hpp"
#include "gradcheck/logs/run.hpp"
#include "gradcheck/mapped_file.hpp"

namespace gradcheck::logs {
namespace {

using internal::iequals;

bool is_alpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_word(char c) { return is_alpha(c) || is_digit(c) || c == '_'; }
bool is_key(char c) { return is_word(c) || c == '.' || c == '/'; }
char lower(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }

// What a line says: where it is, and its metrics.
struct Mark {
  bool has = false;
  std::int64_t n = 0, total = 0;  // `Step [100/600]`: 100 of 600 (0: no total)
};
struct Line {
  Mark epoch, step;
  std::vector<std::pair<std::string, double>> metrics;
  bool phased = false;                // its words name a phase (the training too)
  std::optional<std::string> header;  // a section header's phase (header_phase)
  bool carried = false;               // its step mark was carried over an epoch mark
};
bool same_marks(const Mark& a, const Mark& b) { return a.has == b.has && (!a.has || a.n == b.n); }

// The state a line shows last: a progress bar redrawn with carriage returns
// or backspaces shows its last drawing; colour codes (ESC [ ... letter) are no
// text.
std::string last_state(std::string_view line) {
  std::size_t cut = 0;
  for (std::size_t i = 0; i < line.size(); ++i)
    if ((line[i] == '\r' || line[i] == '\b') && line.find_first_not_of(" \t\r\b", i + 1) != std::string_view::npos)
      cut = i + 1;
  std::string out;
  out.reserve(line.size() - cut);
  for (std::size_t i = cut; i < line.size(); ++i) {
    if (line[i] == '\x1b' && i + 1 < line.size() && line[i + 1] == '[') {
      i += 2;
      while (i < line.size() && !is_alpha(line[i])) ++i;
      continue;
    }
    if (line[i] == '\r' || line[i] == '\b') continue;
    out += line[i];
  }
  return out;
}

// Whether s[at...] is blanks then a unit of time, rate or size as a word
// (`0.0382 s/iter`, `2.7 sec`, `11810 MB`): a measurement, not a metric.
bool unit_after(std::string_view s, std::size_t at) {
  std::size_t k = at;
  while (k < s.size() && (s[k] == ' ' || s[k] == '\t')) ++k;
  if (k == at) return false;
  for (std::string_view unit : {"s/iter", "s/it", "it/s", "iter/s", "samples/s", "tokens/s", "img/s", "seconds", "second",
                                "secs", "sec", "ms", "us", "s", "minutes", "minute", "mins", "min", "hours", "hour", "hrs",
                                "hr", "h", "KB", "MB", "GB", "KiB", "MiB", "GiB"})
    if (s.size() - k >= unit.size() && s.substr(k, unit.size()) == unit &&
        (k + unit.size() == s.size() || !(is_word(s[k + unit.size()]) || s[k + unit.size()] == '/')))
      return true;
  return false;
}

// A number at s[i]: a decimal (sign, exponent) or nan/inf, not followed by a
// letter, digit, '%', '/', ':', '_' or '.' (`5s`, `99%`, `9893/10000`, `12:34`
// are no values), nor by a comma and a digit (a list of numbers), nor by a
// unit after blanks (`0.0382 s/iter`). Digits grouped by thousands
// (`11,633`, `20,971,520.5`: one to three digits, then groups of a comma and
// three digits) are one number.
bool number_at(std::string_view s, std::size_t i, double& value, std::size_t& end) {
  if (i < s.size() && s[i] == '+') ++i;
  if (i >= s.size()) return false;
  const char* first = s.data() + i;
  const auto r = std::from_chars(first, s.data() + s.size(), value);
  if (r.ec != std::errc() || r.ptr == first) return false;
  end = static_cast<std::size_t>(r.ptr - s.data());
  const std::size_t lead = s[i] == '-' ? i + 1 : i;
  const auto group_at = [&](std::size_t k) {
    return k + 3 < s.size() && s[k] == ',' && is_digit(s[k + 1]) && is_digit(s[k + 2]) && is_digit(s[k + 3]) &&
           (k + 4 == s.size() || !is_digit(s[k + 4]));
  };
  bool plain = end - lead >= 1 && end - lead <= 3;
  for (std::size_t k = lead; k < end && plain; ++k) plain = is_digit(s[k]);
  if (plain && end < s.size() && group_at(end)) {
    std::string digits(s.substr(i, end - i));
    while (end < s.size() && group_at(end)) {
      digits.append(s.substr(end + 1, 3));
      end += 4;
    }
    if (end + 1 < s.size() && s[end] == '.' && is_digit(s[end + 1])) {
      const std::size_t f = end;
      ++end;
      while (end < s.size() && is_digit(s[end])) ++end;
      digits.append(s.substr(f, end - f));
    }
    const auto g = std::from_chars(digits.data(), digits.data() + digits.size(), value);
    if (g.ec != std::errc()) return false;
  }
  if (end < s.size()) {
    const char c = s[end];
    if (is_word(c) || c == '%' || c == '/' || c == ':' || c == '.') return false;
    if (c == ',' && end + 1 < s.size() && is_digit(s[end + 1])) return false;  // a list: `3.0706,6.8876`
  }
  return !unit_after(s, end);
}

// The name before s[at] (at the separator): a quoted name, or up to three
// words of name characters separated by single spaces, the first starting
// with a letter; lower case, spaces as '_'. Empty when there is none.
std::string name_before(std::string_view s, std::size_t at) {
  std::size_t k = at;
  while (k > 0 && (s[k - 1] == ' ' || s[k - 1] == '\t')) --k;
  if (k > 0 && (s[k - 1] == '\'' || s[k - 1] == '"')) {
    const char q = s[k - 1];
    const std::size_t open = s.rfind(q, k >= 2 ? k - 2 : std::string_view::npos);
    if (open == std::string_view::npos || k < 2 || open + 1 >= k - 1) return {};
    std::string name(s.substr(open + 1, k - 2 - open));
    for (char& c : name) c = c == ' ' ? '_' : lower(c);
    return name;
  }
  std::vector<std::string_view> words;
  while (words.size() < 3) {
    std::size_t b = k;
    while (b > 0 && (is_key(s[b - 1]) || (s[b - 1] == '-' && b >= 2 && is_word(s[b - 2]) && b < k && is_word(s[b]))))
      --b;
    if (b == k) break;
    words.insert(words.begin(), s.substr(b, k - b));
    if (b >= 2 && s[b - 1] == ' ' && is_key(s[b - 2])) k = b - 1;
    else break;
  }
  // A word that does not start with a letter (`3` in `epoch 3 train loss`,
  // `1/3`) ends what came before it: the name is the words after it.
  for (std::size_t w = words.size(); w-- > 0;)
    if (!is_alpha(words[w].front())) {
      words.erase(words.begin(), words.begin() + static_cast<std::ptrdiff_t>(w) + 1);
      break;
    }
  std::string name;
  for (const auto& w : words) {
    if (!name.empty()) name += '_';
    for (char c : w) name += lower(c);
  }
  return name;
}

bool ends_with_word(const std::string& name, std::string_view word) {
  if (name.size() < word.size() || name.compare(name.size() - word.size(), word.size(), word) != 0) return false;
  return name.size() == word.size() || name[name.size() - word.size() - 1] == '_';
}

// A log read by its records holds runs appended one after another when its
// epoch goes back fewer than this many times.
constexpr std::size_t kMaxRunStarts = 10;

// Marks beyond this are no step (and keep epoch x total well inside int64).
constexpr std::int64_t kMaxMark = 1'000'000'000;

constexpr std::string_view kEpochWords[] = {"epoch"};
constexpr std::string_view kStepWords[] = {"step", "iter", "iteration", "global_step"};

bool is_mark_name(const std::string& name) {
  for (auto w : kEpochWords)
    if (ends_with_word(name, w)) return true;
  for (auto w : kStepWords)
    if (ends_with_word(name, w)) return true;
  return false;
}

// `word N`, `word: N`, `word=N`, `word [N/M]`, `word N/M`, `'word': N` (any
// case, a word of its own): the first such mark of any of `words`.
Mark find_mark(std::string_view s, const std::string_view* words, std::size_t count) {
  Mark m;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (!is_alpha(s[i]) || (i > 0 && is_word(s[i - 1]))) continue;
    std::size_t len = 0;
    for (std::size_t w = 0; w < count && len == 0; ++w) {
      const auto word = words[w];
      if (s.size() - i >= word.size() && iequals(s.substr(i, word.size()), word) &&
          (i + word.size() == s.size() || !is_word(s[i + word.size()])))
        len = word.size();
    }
    if (len == 0) continue;
    std::size_t j = i + len;
    if (j < s.size() && (s[j] == '\'' || s[j] == '"')) ++j;
    while (j < s.size() && s[j] == ' ') ++j;
    if (j < s.size() && (s[j] == ':' || s[j] == '=' || s[j] == '#')) ++j;
    while (j < s.size() && s[j] == ' ') ++j;
    if (j < s.size() && (s[j] == '[' || s[j] == '(')) ++j;
    while (j < s.size() && s[j] == ' ') ++j;
    std::int64_t n = 0;
    const auto r = std::from_chars(s.data() + j, s.data() + s.size(), n);
    if (r.ec != std::errc() || r.ptr == s.data() + j || n < -kMaxMark || n > kMaxMark) continue;
    std::size_t e = static_cast<std::size_t>(r.ptr - s.data());
    if (e < s.size() && (s[e] == '.' || is_alpha(s[e]) || s[e] == '_')) continue;  // 0.1 epochs: no mark
    std::int64_t total = 0;
    std::size_t t = e;
    while (t < s.size() && s[t] == ' ') ++t;
    if (t < s.size() && s[t] == '/') {
      ++t;
      while (t < s.size() && s[t] == ' ') ++t;
      const auto rt = std::from_chars(s.data() + t, s.data() + s.size(), total);
      if (rt.ec != std::errc() || total <= 0 || total > kMaxMark) total = 0;
    }
    m.has = true;
    m.n = n;
    m.total = total;
    return m;
  }
  return m;
}

// The phase a word names: `train`/`training` the training (no prefix), an
// evaluation's `val_` or `test_` (internal::split_prefix, and the verbs
// `validate`, `validating`, `evaluate`, `evaluating`, `testing`); none for
// any other word.
std::optional<std::string> word_phase(std::string_view word) {
  if (iequals(word, "train") || iequals(word, "training")) return std::string();
  if (iequals(word, "testing")) return std::string("test_");
  for (std::string_view v : {"validate", "validating", "evaluate", "evaluating"})
    if (iequals(word, v)) return std::string("val_");
  std::string prefix = internal::split_prefix(word);
  if (!prefix.empty()) return prefix;
  return std::nullopt;
}

// A line whose words before its first metric name an evaluation (`Test:
// [0/4]  loss: 1.31`, as the MetricLogger of DeiT, DINO and MAE prints its
// evaluation; `... - INFO - Evaluation results: {'loss': 0.9}`; `Validation |
// loss=0.4`): the prefix of its metrics, `val_` or `test_` (none for a name
// that says its phase already); empty for a line that names the training;
// nothing for a line that names no phase. Words are taken between spaces, so
// a module path such as `models.evaluation` is none.
std::optional<std::string> line_phase(std::string_view s) {
  std::size_t i = 0;
  while (i < s.size()) {
    while (i < s.size() && (s[i] == ' ' || s[i] == '\t')) ++i;
    std::size_t e = i;
    while (e < s.size() && s[e] != ' ' && s[e] != '\t') ++e;
    std::string_view word = s.substr(i, e - i);
    while (!word.empty() && std::strchr("[(<*#-|", word.front()) != nullptr) word.remove_prefix(1);
    while (!word.empty() && std::strchr(":|,]).>-", word.back()) != nullptr) word.remove_suffix(1);
    i = e;
    if (auto phase = word_phase(word)) return phase;
  }
  return std::nullopt;
}

bool is_logging_level(std::string_view word) {
  for (std::string_view level : {"DEBUG", "INFO", "WARNING", "WARN", "ERROR", "CRITICAL"})
    if (word == level) return true;
  return false;
}

// A line without metrics that heads a section (`Train:`, `Validation:`,
// `===== validate epoch 1 =====`, `--- Evaluation ---`): at most
// kHeaderWords words of letters besides a logging level, the first of them
// naming a phase. Its phase (empty for the training) carries to the lines of
// metrics right below it; nothing for any other line.
constexpr std::size_t kHeaderWords = 4;
std::optional<std::string> header_phase(std::string_view s) {
  std::optional<std::string> phase;
  std::size_t words = 0;
  for (std::size_t i = 0; i < s.size();) {
    if (!is_alpha(s[i])) {
      ++i;
      continue;
    }
    std::size_t e = i;
    while (e < s.size() && is_alpha(s[e])) ++e;
    const std::string_view word = s.substr(i, e - i);
    i = e;
    if (is_logging_level(word)) continue;
    if (++words > kHeaderWords) return std::nullopt;
    if (words == 1) {
      phase = word_phase(word);
      if (!phase) return std::nullopt;
    }
  }
  return phase;
}

// Whether a name says its phase already: its first part (up to '_' or '/')
// is `train` or a split with a prefix of its own (`val_loss`, `test/acc`).
bool has_phase(const std::string& name) {
  const std::string_view first = std::string_view(name).substr(0, name.find_first_of("_/"));
  return first.size() < name.size() && (iequals(first, "train") || !internal::split_prefix(first).empty());
}

// Whether s[at...] is blanks then a logging level (`INFO`, `WARNING`, ...) as
// a word, possibly after more source locations `name:N`, each after blanks:
// Python logging's `%(hostname)s:%(rank)d %(name)s:%(lineno)d %(levelname)s`
// (OLMo's `agile-bird-03:0<TAB>olmo.train:990<TAB>INFO`) puts where, no
// metric, before the level.
bool logging_level_after(std::string_view s, std::size_t at) {
  std::size_t k = at;
  while (true) {
    const std::size_t blanks = k;
    while (k < s.size() && (s[k] == ' ' || s[k] == '\t')) ++k;
    if (k == blanks) return false;
    std::size_t e = k;
    while (e < s.size() && is_alpha(s[e])) ++e;
    if (e > k && is_logging_level(s.substr(k, e - k)) && (e == s.size() || !is_word(s[e]))) return true;
    e = k;  // else another `name:N` before it
    while (e < s.size() && (is_key(s[e]) || s[e] == '-')) ++e;
    if (e == k || e + 1 >= s.size() || s[e] != ':' || !is_digit(s[e + 1])) return false;
    k = e + 1;
    while (k < s.size() && is_digit(s[k])) ++k;
  }
}

// Whether `name` is a source file's (`api.py`, `trainer.cc`): `name:N` is
// then a place in the code, as glog prints `api.py:725]` before its message.
bool is_source_file(const std::string& name) {
  const std::size_t dot = name.rfind('.');
  if (dot == std::string::npos) return false;
  const std::string_view ext = std::string_view(name).substr(dot + 1);
  for (std::string_view e : {"py", "c", "cc", "cpp", "cxx", "h", "hpp", "cu", "rs", "go", "java", "js", "ts", "jl", "lua"})
    if (ext == e) return true;
  return false;
}

Line parse_line(std::string_view raw) {
  const std::string s = last_state(raw);
  Line line;
  line.epoch = find_mark(s, kEpochWords, std::size(kEpochWords));
  line.step = find_mark(s, kStepWords, std::size(kStepWords));
  struct Pair {
    std::size_t at;  // where its separator (or its value) is
    std::string name;
    double value;
  };
  std::vector<Pair> pairs;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == ':' || s[i] == '=') {
      std::size_t j = i + 1;
      while (j < s.size() && (s[j] == ' ' || s[j] == '\t')) ++j;
      double v = 0;
      std::size_t end = 0;
      if (!number_at(s, j, v, end)) continue;
      // `olmo.train:990 INFO`, `api.py:725]`: where, not what.
      const bool whole = std::all_of(s.begin() + static_cast<std::ptrdiff_t>(j), s.begin() + static_cast<std::ptrdiff_t>(end), is_digit);
      std::string name = name_before(s, i);
      if (s[i] == ':' && j == i + 1 && whole && (logging_level_after(s, end) || is_source_file(name))) {
        i = end - 1;
        continue;
      }
      pairs.push_back({i, std::move(name), v});
      i = end - 1;
    } else if ((line.epoch.has || line.step.has) && s.size() - i >= 4 &&
               iequals(std::string_view(s).substr(i, 4), "loss") && (i == 0 || !is_alpha(s[i - 1])) &&
               (i + 4 == s.size() || s[i + 4] == ' ' || s[i + 4] == '\t')) {
      // `epoch 3 | train loss 0.52`: a loss with its value after spaces, on a
      // line that says where it is (a summary such as `* Acc@1 86.1 loss 1.55`
      // is no point of a curve).
      std::size_t j = i + 4;
      while (j < s.size() && (s[j] == ' ' || s[j] == '\t')) ++j;
      double v = 0;
      std::size_t end = 0;
      if (j == i + 4 || !number_at(s, j, v, end)) continue;
      pairs.push_back({i + 4, name_before(s, i + 4), v});
      i = end - 1;
    }
  }
  // The phase, from the words before the first named value (or a printed dict).
  std::size_t first = std::min(s.find('{'), s.size());
  for (const auto& p : pairs)
    if (!p.name.empty()) {
      first = std::min(first, p.at);
      break;
    }
  const std::optional<std::string> phase = line_phase(std::string_view(s).substr(0, first));
  line.phased = phase.has_value();
  if (pairs.empty()) line.header = header_phase(s);
  for (auto& p : pairs) {
    if (p.name.empty() || is_mark_name(p.name)) continue;
    if (phase && !phase->empty() && !has_phase(p.name)) p.name = *phase + p.name;
    bool seen = false;
    for (const auto& [n, v] : line.metrics) seen = seen || n == p.name;
    if (!seen) line.metrics.emplace_back(std::move(p.name), p.value);  // the first of a name on a line
  }
  return line;
}

// Whether a line prints a loss: a name holding "loss", or a GAN's generator
// and discriminator losses side by side (CycleGAN's `D_A: 0.29 G_A: 0.33`,
// `errD: 0.5 errG: 3.1`).
bool holds_loss(const std::vector<std::pair<std::string, double>>& metrics) {
  bool generator = false, discriminator = false;
  for (const auto& [name, v] : metrics) {
    if (name.find("loss") != std::string::npos) return true;
    generator = generator || is_generator_loss(name);
    discriminator = discriminator || is_discriminator_loss(name);
  }
  return generator && discriminator;
}

}  // namespace

namespace internal {

bool looks_like_text_log(std::string_view head) {
  std::size_t pos = 0;
  while (pos < head.size()) {
    std::size_t e = head.find('\n', pos);
    if (e == std::string_view::npos) e = head.size();
    if (holds_loss(parse_line(head.substr(pos, e - pos)).metrics)) return true;
    pos = e + 1;
  }
  return false;
}

}  // namespace internal

Run read_text_log(const std::string& path, const ReadOptions& options) {
  MappedFile file(path);
  const std::string_view text(reinterpret_cast<const char*>(file.data()), file.size());
  // The lines with metrics, each with the marks in force there: a line's
  // marks carry to the lines after it (Keras prints `Epoch 3/10` on a line of
  // its own, the metrics on the next).
  // A section header's phase (`Validation:` above `Epoch 0 | avg_loss =
  // 0.79`) holds for the lines of metrics right below it that do not name a
  // phase themselves (nor name one: `val_loss` says where it is), while
  // they show the marks of the first of them: a line without metrics, or one
  // printed at another step, ends the section.
  std::vector<Line> records;
  Mark epoch, step;
  bool carried = false;  // `step` was printed before the last epoch mark
  std::optional<std::string> section;
  std::optional<std::pair<Mark, Mark>> section_marks;
  std::size_t pos = 0;
  while (pos < text.size()) {
    std::size_t e = text.find('\n', pos);
    if (e == std::string_view::npos) e = text.size();
    Line line = parse_line(text.substr(pos, e - pos));
    pos = e + 1;
    if (line.metrics.empty()) {
      section = line.header;
      section_marks.reset();
    } else if (section) {
      if (!section_marks) section_marks.emplace(line.epoch, line.step);
      if (!same_marks(section_marks->first, line.epoch) || !same_marks(section_marks->second, line.step)) section.reset();
      else if (!line.phased && !section->empty() &&
               std::none_of(line.metrics.begin(), line.metrics.end(), [](const auto& m) { return has_phase(m.first); }))
        for (auto& [name, v] : line.metrics) name = *section + name;
    }
    if (line.epoch.has) {
      epoch = line.epoch;
      carried = carried || (!line.step.has && step.has);
    }
    if (line.step.has) {
      step = line.step;
      carried = false;
    }
    if (!line.metrics.empty()) {
      line.epoch = epoch;
      line.step = step;
      line.carried = carried;
      records.push_back(std::move(line));
    }
  }
  // What a log prints before its first loss is set-up (`Namespace(lr=0.004,
  // batch_size=64)`, a model summary), not points of its curves; in a log
  // whose lines say where they are, so is what it prints before the first
  // loss that does (a configuration dump holding `aux_loss_weight=0.01`, as
  // OLMo and Detectron2 print theirs before training).
  bool marked = false;
  for (const auto& r : records) marked = marked || r.epoch.has || r.step.has;
  std::size_t first_loss = 0;
  while (first_loss < records.size() &&
         !(holds_loss(records[first_loss].metrics) &&
           (!marked || records[first_loss].epoch.has || records[first_loss].step.has)))
    ++first_loss;
  if (first_loss < records.size()) records.erase(records.begin(), records.begin() + static_cast<std::ptrdiff_t>(first_loss));
  if (records.empty())
    throw InputError(path, "no metric found: a text log needs lines such as 'epoch 3 loss: 0.52' or "
                           "'step 100, loss=0.52' (a name, ':' or '=', a number)");
  // A step mark printed before an epoch mark holds after it (an epoch's
  // summary, `Epoch 4 completed | Average loss: 0.0033`, between lines of a
  // step counted over the whole run) unless the steps printed start again
  // each epoch (`Epoch 2/10` then `100/600 - loss: 0.3`): then a new
  // epoch's lines have no step until one is printed.
  {
    bool again = false;
    const Line* previous = nullptr;
    for (const auto& r : records) {
      if (!r.step.has || r.carried) continue;
      again = again || (previous != nullptr && r.step.n < previous->step.n);
      previous = &r;
    }
    if (again)
      for (auto& r : records)
        if (r.carried) r.step = Mark{};
  }

  // The step: the step mark when every record has one (counted on across
  // epochs when it starts again each epoch and its total is printed); else
  // the epoch when every record has one; else the record's index. A mark is
  // the step only when it orders the records and holds each metric at most
  // once (a mark printed once above every line says nothing); a value printed
  // again at the same mark (`New best model at epoch 10  val_l2re=0.197`
  // after the epoch's line) is that point again, not a second one.
  const std::int64_t first_epoch = records.front().epoch.n;
  bool all_steps = true, all_epochs = true, totals = true, restarts = false;
  for (std::size_t i = 0; i < records.size(); ++i) {
    all_steps = all_steps && records[i].step.has;
    all_epochs = all_epochs && records[i].epoch.has;
    totals = totals && records[i].step.total > 0 && records[i].epoch.has;
    restarts = restarts || (i > 0 && records[i].step.n < records[i - 1].step.n);
  }
  auto global_step = [&](const Line& r) {
    return restarts ? (r.epoch.n - first_epoch) * r.step.total + r.step.n : r.step.n;
  };
  // (A name printed at one mark only, such as `got signal: 15` in the trace
  // of a killed run, is no curve: its repeats do not count.)
  auto orders = [&](auto at) {
    std::map<std::pair<std::int64_t, std::string>, double> seen;  // the first value of a name at a mark
    std::map<std::string, std::int64_t> first_mark;
    std::set<std::string> elsewhere, conflicting;  // names printed at another mark; with two values at one
    for (std::size_t i = 0; i < records.size(); ++i) {
      const std::int64_t x = at(records[i]);
      if (i > 0 && x < at(records[i - 1])) return false;
      for (const auto& [name, v] : records[i].metrics) {
        if (first_mark.emplace(name, x).first->second != x) elsewhere.insert(name);
        const auto [it, fresh] = seen.emplace(std::make_pair(x, name), v);
        if (!fresh && !(it->second == v)) conflicting.insert(name);
      }
    }
    for (const auto& name : conflicting)
      if (elsewhere.count(name)) return false;
    return true;
  };
  enum class By { step, epoch, index } by = By::index;
  if (all_steps && (!restarts || totals) && orders(global_step)) by = By::step;
  else if (all_epochs && orders([](const Line& r) { return r.epoch.n; })) by = By::epoch;
  // Read by its records, a log whose epoch goes back to its first epoch or
  // below, 1 to kMaxRunStarts - 1 times, holds runs appended one after
  // another (CycleGAN's `loss_log.txt` gains a header and a new run each time
  // training starts): the record index counts from 0 again at each, so that
  // the runs are told apart as a step column's restarts are. (More restarts
  // are no runs: an epoch counter within some other loop.)
  std::vector<std::size_t> run_starts{0};
  if (by == By::index && all_epochs) {
    for (std::size_t i = 1; i < records.size(); ++i)
      if (records[i].epoch.n < records[i - 1].epoch.n && records[i].epoch.n <= first_epoch) run_starts.push_back(i);
    if (run_starts.size() >= kMaxRunStarts) run_starts.assign(1, 0);
  }
  internal::RunBuilder builder(path);
  std::set<std::pair<std::int64_t, std::string>> added;  // the repeats left out
  std::size_t run_start = 0, next_start = 1;  // run_starts[next_start] is the next run's first record
  for (std::size_t i = 0; i < records.size(); ++i) {
    const Line& r = records[i];
    if (next_start < run_starts.size() && run_starts[next_start] == i) run_start = run_starts[next_start++];
    const std::int64_t at = by == By::step    ? global_step(r)
                            : by == By::epoch ? r.epoch.n
                                              : static_cast<std::int64_t>(i - run_start);
    for (const auto& [name, v] : r.metrics)
      if (by == By::index || added.emplace(at, name).second) builder.add(name, at, v);
    // Read by step, the printed epoch is a series of its own, as a CSV
    // logger's `epoch` column is: the detectors read a per-step loss's epochs
    // from it.
    if (by == By::step && all_epochs && added.emplace(at, "epoch").second)
      builder.add("epoch", at, static_cast<double>(r.epoch.n));
  }
  Run run = builder.take();
  run.step_name = by == By::step ? "step" : by == By::epoch ? "epoch" : "";
  if (!options.step_column.empty() && !internal::use_series_as_step(run, options.step_column))
    throw InputError(path, "step metric '" + options.step_column + "' is not in the log");
  return run;
}

}  // namespace gradcheck::logs
