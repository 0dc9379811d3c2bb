#include <algorithm>
#include <cstdint>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_set>
#include <vector>

#include "builder.hpp"
#include "gradcheck/errors.hpp"
#include "gradcheck/logs/readers.hpp"
#include "gradcheck/mapped_file.hpp"
#include "../core/parallel.hpp"
#include "../core/utf8.hpp"

namespace gradcheck::logs {
namespace {

using internal::iequals;
using internal::trim;

// File text quoted in a one-line message: control characters (a bare carriage
// return inside a cell) shown as '?'.
std::string shown(std::string s) {
  for (char& c : s)
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) c = '?';
  return s;
}

// The separator a header line uses: a comma; a tab in a header without
// commas (tab-separated values: DVCLive's metrics, pandas' sep="\t"); a
// semicolon in one without either (pandas' sep=";", spreadsheets set for a
// decimal comma).
char header_separator(std::string_view header) {
  if (header.find(',') != std::string_view::npos) return ',';
  if (header.find('\t') != std::string_view::npos) return '\t';
  if (header.find(';') != std::string_view::npos) return ';';
  return ',';
}

// Splits one line into cells at `sep`. The fast path (no quote in the line)
// only looks for separators; quoted cells follow RFC 4180 ("" is a quote
// inside a quoted cell). Returns false on an unterminated quote. `scratch`
// holds unquoted text.
bool split_line(std::string_view line, std::vector<std::string_view>& cells,
                std::vector<std::string>& scratch, char sep) {
  cells.clear();
  if (std::memchr(line.data(), '"', line.size()) == nullptr) {
    std::size_t start = 0;
    while (true) {
      const void* p = std::memchr(line.data() + start, sep, line.size() - start);
      if (p == nullptr) {
        cells.push_back(line.substr(start));
        return true;
      }
      const std::size_t pos = static_cast<std::size_t>(static_cast<const char*>(p) - line.data());
      cells.push_back(line.substr(start, pos - start));
      start = pos + 1;
    }
  }
  scratch.clear();
  scratch.reserve(line.size() + 1);  // no reallocation: views into scratch stay valid
  std::size_t i = 0;
  while (true) {
    while (i < line.size() && (line[i] == ' ' || (line[i] == '\t' && sep != '\t'))) ++i;
    if (i < line.size() && line[i] == '"') {
      std::string cell;
      ++i;
      bool closed = false;
      while (i < line.size()) {
        if (line[i] == '"') {
          if (i + 1 < line.size() && line[i + 1] == '"') {
            cell += '"';
            i += 2;
            continue;
          }
          closed = true;
          ++i;
          break;
        }
        cell += line[i++];
      }
      if (!closed) return false;
      while (i < line.size() && line[i] != sep) ++i;  // text after the closing quote is ignored
      scratch.push_back(std::move(cell));
      cells.push_back(scratch.back());
    } else {
      const std::size_t start = i;
      while (i < line.size() && line[i] != sep) ++i;
      cells.push_back(line.substr(start, i - start));
    }
    if (i >= line.size()) return true;
    ++i;  // the separator
  }
}

// The line at `pos` of data[0, end), without its line end ("\n" or "\r\n");
// `pos` moves past it. Call while pos < end.
std::string_view take_line(const char* data, std::size_t end, std::size_t& pos) {
  const void* nl = std::memchr(data + pos, '\n', end - pos);
  const std::size_t e = nl ? static_cast<std::size_t>(static_cast<const char*>(nl) - data) : end;
  std::string_view line(data + pos, e - pos);
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  pos = nl ? e + 1 : end;
  return line;
}

bool ends_with(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// W&B's chart export ("Export panel data" as CSV): the x-axis column ("Step"),
// then per metric of a run "<run> - <metric>" with its "<run> - <metric>__MIN"
// and "<run> - <metric>__MAX" companions. When the header is one, the
// companions are marked skipped and the run is stripped from the other names;
// an export of several runs is refused (each would be its own run). Returns
// whether the header is such an export.
bool wandb_chart_export(const std::string& path, std::size_t line_no, std::vector<std::string>& names,
                        std::vector<char>& skipped) {
  const std::unordered_set<std::string> all(names.begin(), names.end());
  auto companion_of = [&](const std::string& name) {
    for (std::string_view suffix : {std::string_view("__MIN"), std::string_view("__MAX")})
      if (ends_with(name, suffix)) {
        const std::string base = name.substr(0, name.size() - suffix.size());
        if (base.find(" - ") != std::string::npos && all.count(base)) return true;
      }
    return false;
  };
  bool found = false;
  for (std::size_t i = 0; i < names.size(); ++i)
    if (companion_of(names[i])) skipped[i] = 1, found = true;
  if (!found) return false;
  // The run: the longest prefix ending in " - " that every "<run> - <metric>"
  // column shares (a run's name may hold " - " itself).
  std::vector<std::size_t> prefixed;
  for (std::size_t i = 0; i < names.size(); ++i)
    if (!skipped[i] && names[i].find(" - ") != std::string::npos) prefixed.push_back(i);
  std::string common = names[prefixed.front()];
  for (std::size_t i : prefixed) {
    std::size_t k = 0;
    while (k < common.size() && k < names[i].size() && common[k] == names[i][k]) ++k;
    common.resize(k);
  }
  // Cut after the last " - " that leaves every metric name non-empty.
  std::size_t cut = std::string::npos;
  for (std::size_t at = common.find(" - "); at != std::string::npos; at = common.find(" - ", at + 1)) {
    bool leaves_names = true;
    for (std::size_t i : prefixed) leaves_names = leaves_names && names[i].size() > at + 3;
    if (leaves_names) cut = at + 3;
  }
  if (cut == std::string::npos) {
    std::vector<std::string> runs;
    for (std::size_t i : prefixed) {
      const std::string run = names[i].substr(0, names[i].find(" - "));
      if (std::find(runs.begin(), runs.end(), run) == runs.end()) runs.push_back(run);
    }
    std::string list;
    for (std::size_t r = 0; r < runs.size() && r < 4; ++r) list += (r ? ", " : "") + shown(runs[r]);
    if (runs.size() > 4) list += ", ...";
    throw InputError(path, "line " + std::to_string(line_no) + ": a W&B chart export of " +
                               std::to_string(runs.size()) + " runs (" + list + "): export one run per file");
  }
  for (std::size_t i : prefixed) names[i].erase(0, cut);
  return true;
}

// W&B's bookkeeping columns beside its step: wall-clock time, not metrics.
bool is_wandb_bookkeeping(std::string_view name) {
  return name == "_runtime" || name == "_timestamp" || name == "_step";
}

// A long ("tidy") table, one value a row, as a pandas frame melted for
// plotting or a hand-made logger writes it: a step column, a metric-name
// column, a `value` column, optionally the split (train/val/test), and
// nothing else but wall-clock time and, first, the row index pandas writes
// without a name (or as `Unnamed: 0` once read and saved again). Each metric
// is a series of its own; a validation or test split's metrics are
// `val_<metric>` and `test_<metric>`, another split's `<split>_<metric>`, as
// in JSON Lines with a split key.
struct LongTable {
  long name = -1, value = -1, split = -1;
};

bool is_time_column(std::string_view name) {
  for (std::string_view t : {"wall_time", "wall time", "walltime", "timestamp", "time", "_timestamp", "_runtime"})
    if (iequals(name, t)) return true;
  return false;
}

std::optional<LongTable> long_table(const std::vector<std::string>& names, long step_col) {
  if (step_col < 0) return std::nullopt;
  LongTable t;
  for (std::size_t i = 0; i < names.size(); ++i) {
    const auto col = static_cast<long>(i);
    if (col == step_col || is_time_column(names[i])) continue;
    if (i == 0 && (names[0] == "column1" || names[0] == "Unnamed: 0" || iequals(names[0], "index"))) continue;
    long* slot = nullptr;
    if (iequals(names[i], "value")) slot = &t.value;
    for (std::string_view n : {"metric", "metric_name", "name", "key", "tag"})
      if (iequals(names[i], n)) slot = &t.name;
    for (std::string_view n : {"split", "phase", "mode", "stage", "subset"})
      if (iequals(names[i], n)) slot = &t.split;
    if (slot == nullptr || *slot >= 0) return std::nullopt;  // another column: a wide table
    *slot = col;
  }
  if (t.name < 0 || t.value < 0) return std::nullopt;
  return t;
}

// A split's prefix (internal::split_prefix), and for a split other than
// training its own name: each split's rows are series of their own.
std::string long_split_prefix(std::string_view split) {
  std::string prefix = internal::split_prefix(split);
  if (prefix.empty() && !split.empty() && !iequals(split, "train") && !iequals(split, "training") &&
      !iequals(split, "fit"))
    prefix = std::string(split) + "_";
  return prefix;
}

// Reads the data rows of a long table (single-threaded: such tables hold a
// few metrics of a few thousand steps). The same rules as a wide table: an
// empty step belongs to the last step seen (the row index before any), an
// empty or missing value is no point, anything else not a number is an error
// naming the line.
Run read_long_table(const std::string& path, const char* data, std::size_t size, std::size_t pos, std::size_t line_no,
                    const std::vector<std::string>& names, long step_col, const LongTable& t, char sep) {
  internal::RunBuilder builder(path);
  std::vector<std::string_view> cells;
  std::vector<std::string> scratch;
  const std::string_view step_name = names[static_cast<std::size_t>(step_col)];
  std::int64_t row = -1, last_step = 0;
  bool have_step = false;
  auto fail = [&](const std::string& why) { throw InputError(path, "line " + std::to_string(line_no) + ": " + why); };
  while (pos < size) {
    const std::string_view line = take_line(data, size, pos);
    ++line_no;
    if (trim(line).empty()) continue;
    ++row;
    if (!split_line(line, cells, scratch, sep)) fail("unterminated quote");
    if (cells.size() != names.size())
      fail("expected " + std::to_string(names.size()) + " fields as in the header, found " + std::to_string(cells.size()));
    const std::string_view step_cell = trim(cells[static_cast<std::size_t>(step_col)]);
    std::int64_t step = have_step ? last_step : row;
    if (!internal::is_missing(step_cell)) {
      if (!internal::parse_step(step_cell, step) && !internal::parse_named_step(step_cell, step_name, step))
        fail("step '" + shown(std::string(step_cell)) + "' is not an integer");
      have_step = true;
      last_step = step;
    }
    const std::string_view value = trim(cells[static_cast<std::size_t>(t.value)]);
    if (internal::is_missing(value)) continue;
    const std::string_view metric = trim(cells[static_cast<std::size_t>(t.name)]);
    if (metric.empty()) fail("a value without a metric name in column '" + shown(names[static_cast<std::size_t>(t.name)]) + "'");
    double v = 0;
    if (!internal::parse_number(value, v))
      fail("'" + shown(std::string(value)) + "' in column '" + shown(names[static_cast<std::size_t>(t.value)]) +
           "' is not a number");
    const std::string prefix = t.split >= 0 ? long_split_prefix(trim(cells[static_cast<std::size_t>(t.split)])) : "";
    builder.add(prefix + std::string(metric), step, v);
  }
  Run run = builder.take();
  run.step_name = escape_invalid_utf8(std::string(step_name));
  return run;
}

// TensorBoard's "download CSV" of one scalar: `Wall time,Step,Value`, saved as
// `run-<run>-tag-<tag>.csv` (the tag's '/' written as '_'). The series is
// named after the tag, else after the file (`loss.csv`: loss).
bool tensorboard_export(const std::vector<std::string>& names) {
  return names.size() == 3 && iequals(names[0], "wall time") && iequals(names[1], "step") && iequals(names[2], "value");
}

std::string tensorboard_export_name(const std::string& path) {
  std::string file = path.substr(path.find_last_of('/') + 1);
  if (file.size() > 4 && iequals(std::string_view(file).substr(file.size() - 4), ".csv")) file.resize(file.size() - 4);
  const std::size_t tag = file.find("-tag-");
  if (tag != std::string::npos && tag + 5 < file.size()) return file.substr(tag + 5);
  return file.empty() ? std::string("Value") : file;
}

enum class Kind : std::uint8_t { unknown, numeric, text };

struct ChunkSpec {
  const char* data;
  std::size_t ncol;
  long step_col;
  std::string_view step_name;        // the step column's name (its cells may repeat it: `Epoch 3`)
  const std::vector<char>* skipped;  // columns that are no metric (W&B's companions and bookkeeping)
  char sep;                          // the cell separator (header_separator)
};

// A column's bad_line when it is skipped: the reader never looks at its cells
// (the check that skips a column after its first non-number skips it), and its
// kind stays unknown, so it is neither a series nor an error.
constexpr std::size_t kSkippedColumn = SIZE_MAX;

// What one chunk of data rows holds. Line numbers are 1-based within the chunk
// (0 = none); steps are final except those listed in `pending` and, without a
// step column, the chunk-local row index the merge offsets.
struct Chunk {
  std::vector<Series> cols;
  std::vector<Kind> first_kind;
  std::vector<std::size_t> bad_line;  // first non-number present cell
  std::vector<std::string> bad_text;
  std::vector<std::vector<std::pair<std::size_t, std::int64_t>>> pending;  // (index in column, local row)
  std::size_t error_line = 0;
  std::string error;
  std::size_t lines = 0;
  std::int64_t rows = 0;
  bool has_step = false;
  std::int64_t last_step = 0;
};

// `reserve_end`: the end of the bytes to reserve room for (the first chunk
// reserves for the whole file, so the others are appended to it in place).
void parse_chunk(const ChunkSpec& spec, std::size_t begin, std::size_t end, Chunk& out, std::size_t reserve_end) {
  const std::size_t ncol = spec.ncol;
  out.cols.assign(ncol, Series{});
  out.first_kind.assign(ncol, Kind::unknown);
  out.bad_line.assign(ncol, 0);
  for (std::size_t i = 0; i < ncol; ++i)
    if ((*spec.skipped)[i]) out.bad_line[i] = kSkippedColumn;
  out.bad_text.assign(ncol, std::string());
  out.pending.assign(ncol, {});
  const char* data = spec.data;
  std::vector<std::string_view> cells;
  std::vector<std::string> scratch;
  {
    // Reserve from a sample of the first rows (their mean length and how often
    // each column is filled), so a large log is not copied as vectors grow.
    std::size_t p = begin, lines = 0;
    std::vector<std::size_t> filled(ncol, 0);
    while (p < end && lines < 64) {
      const void* nl = std::memchr(data + p, '\n', end - p);
      const std::size_t e = nl ? static_cast<std::size_t>(static_cast<const char*>(nl) - data) : end;
      if (split_line(std::string_view(data + p, e - p), cells, scratch, spec.sep) && cells.size() == ncol)
        for (std::size_t i = 0; i < ncol; ++i) filled[i] += !internal::is_missing(trim(cells[i]));
      ++lines;
      p = nl ? e + 1 : end;
    }
    if (lines > 0 && p > begin) {
      const double rows = static_cast<double>(reserve_end - begin) / (static_cast<double>(p - begin) / static_cast<double>(lines));
      for (std::size_t i = 0; i < ncol; ++i) {
        if (static_cast<long>(i) == spec.step_col || (*spec.skipped)[i]) continue;
        const auto want = static_cast<std::size_t>(rows * 1.05 * static_cast<double>(filled[i]) / static_cast<double>(lines)) + 16;
        out.cols[i].steps.reserve(want);
        out.cols[i].values.reserve(want);
      }
    }
  }
  std::size_t pos = begin;
  std::int64_t row = -1;
  while (pos < end) {
    const std::string_view line = take_line(data, end, pos);
    ++out.lines;
    if (trim(line).empty()) continue;
    ++row;
    if (!split_line(line, cells, scratch, spec.sep)) {
      out.error_line = out.lines;
      out.error = "unterminated quote";
      return;
    }
    if (cells.size() != ncol) {
      out.error_line = out.lines;
      out.error = "expected " + std::to_string(ncol) + " fields as in the header, found " + std::to_string(cells.size());
      return;
    }
    std::int64_t step = row;
    bool inherited = false;
    if (spec.step_col >= 0) {
      const std::string_view cell = trim(cells[static_cast<std::size_t>(spec.step_col)]);
      if (internal::is_missing(cell)) {
        // Some loggers leave the step of a row empty: it belongs to the last step seen.
        if (out.has_step) step = out.last_step;
        else inherited = true;
      } else if (!internal::parse_step(cell, step) && !internal::parse_named_step(cell, spec.step_name, step)) {
        out.error_line = out.lines;
        out.error = "step '" + shown(std::string(cell)) + "' is not an integer";
        return;
      } else {
        out.has_step = true;
        out.last_step = step;
      }
    }
    for (std::size_t i = 0; i < ncol; ++i) {
      if (static_cast<long>(i) == spec.step_col || out.bad_line[i]) continue;
      const std::string_view cell = trim(cells[i]);
      if (internal::is_missing(cell)) continue;
      double v = 0;
      if (!internal::parse_number(cell, v)) {
        if (out.first_kind[i] == Kind::unknown) out.first_kind[i] = Kind::text;
        out.bad_line[i] = out.lines;
        out.bad_text[i] = std::string(cell);
        continue;
      }
      if (out.first_kind[i] == Kind::unknown) out.first_kind[i] = Kind::numeric;
      if (inherited) out.pending[i].emplace_back(out.cols[i].values.size(), row);
      out.cols[i].steps.push_back(step);
      out.cols[i].values.push_back(v);
    }
  }
  out.rows = row + 1;
}

}  // namespace

Run read_csv(const std::string& path, const ReadOptions& options) {
  MappedFile file(path);
  const char* data = reinterpret_cast<const char*>(file.data());
  const std::size_t size = file.size();
  std::size_t pos = 0;
  std::size_t line_no = 0;

  auto next_line = [&](std::string_view& line) -> bool {
    if (pos >= size) return false;
    line = take_line(data, size, pos);
    ++line_no;
    return true;
  };

  std::string_view line;
  // The header is the first non-blank line.
  bool have_header = false;
  while (next_line(line)) {
    if (!trim(line).empty()) {
      have_header = true;
      break;
    }
  }
  if (!have_header) throw InputError(path, "empty file: a CSV log needs a header line");
  if (line.size() >= 3 && static_cast<unsigned char>(line[0]) == 0xEF &&
      static_cast<unsigned char>(line[1]) == 0xBB && static_cast<unsigned char>(line[2]) == 0xBF)
    line.remove_prefix(3);

  std::vector<std::string_view> cells;
  std::vector<std::string> scratch;
  const char sep = header_separator(line);
  if (!split_line(line, cells, scratch, sep))
    throw InputError(path, "line " + std::to_string(line_no) + ": unterminated quote in the header");
  std::vector<std::string> names;
  for (auto c : cells) names.emplace_back(trim(c));
  const std::size_t ncol = names.size();
  for (std::size_t i = 0; i < ncol; ++i) {
    if (!gradcheck::internal::valid_utf8(names[i]))
      throw InputError(path, "line " + std::to_string(line_no) + ": column " + std::to_string(i + 1) +
                                 "'s name '" + names[i] + "' is not valid UTF-8");  // InputError escapes the bytes
    if (names[i].empty()) names[i] = "column" + std::to_string(i + 1);
  }
  std::vector<char> skipped(ncol, 0);
  const bool wandb = wandb_chart_export(path, line_no, names, skipped);
  {
    std::unordered_set<std::string_view> seen;
    for (std::size_t i = 0; i < ncol; ++i)
      if (!skipped[i] && !seen.insert(names[i]).second)
        throw InputError(path, "line " + std::to_string(line_no) + ": column name '" + shown(names[i]) +
                                   "' appears twice in the header");
  }

  long step_col = -1;
  if (!options.step_column.empty()) {
    for (std::size_t i = 0; i < ncol; ++i)
      if (names[i] == options.step_column) step_col = static_cast<long>(i);
    if (step_col < 0)
      for (std::size_t i = 0; i < ncol; ++i)
        if (iequals(names[i], options.step_column)) step_col = static_cast<long>(i);
    if (step_col < 0) throw InputError(path, "step column '" + options.step_column + "' is not in the header");
  } else {
    for (auto want : internal::kStepNames) {
      for (std::size_t i = 0; i < ncol && step_col < 0; ++i)
        if (iequals(names[i], want)) step_col = static_cast<long>(i);
      if (step_col >= 0) break;
    }
  }

  if (!wandb)
    if (const std::optional<LongTable> t = long_table(names, step_col))
      return read_long_table(path, data, size, pos, line_no, names, step_col, *t, sep);
  const bool tb_export = tensorboard_export(names);
  if (tb_export) skipped[0] = 1;  // wall-clock time

  // W&B's bookkeeping (its `_runtime` and `_timestamp`, and a `_step` that is
  // not the step) is no metric, in a chart export or in a history saved by
  // pandas (whose step column is `_step`).
  if (wandb || (step_col >= 0 && names[static_cast<std::size_t>(step_col)] == "_step"))
    for (std::size_t i = 0; i < ncol; ++i)
      if (static_cast<long>(i) != step_col && is_wandb_bookkeeping(names[i])) skipped[i] = 1;

  // Data rows are parsed in chunks split at line ends, in parallel for a large
  // file; chunks are merged in file order with the semantics of one pass (a
  // column's kind is set by its first present cell; the first error in file
  // order is the one reported), so the result does not depend on the threads.
  const std::size_t data_begin = pos;
  std::size_t threads = static_cast<std::size_t>(gradcheck::internal::resolve_threads(options.threads));
  threads = std::min<std::size_t>(threads, std::max<std::size_t>(1, (size - data_begin) / std::max<std::size_t>(1, options.min_chunk_bytes)));
  std::vector<std::size_t> bounds{data_begin};
  for (std::size_t t = 1; t < threads; ++t) {
    std::size_t b = data_begin + (size - data_begin) * t / threads;
    const void* nl = std::memchr(data + b, '\n', size - b);
    b = nl ? static_cast<std::size_t>(static_cast<const char*>(nl) - data) + 1 : size;
    if (b > bounds.back() && b < size) bounds.push_back(b);
  }
  bounds.push_back(size);
  const std::size_t nchunks = bounds.size() - 1;
  std::vector<Chunk> chunks(nchunks);
  const ChunkSpec spec{data, ncol, step_col,
                       step_col >= 0 ? std::string_view(names[static_cast<std::size_t>(step_col)]) : std::string_view(),
                       &skipped, sep};
  gradcheck::internal::parallel_for(nchunks, static_cast<int>(nchunks), [&](std::size_t c, std::size_t) {
    parse_chunk(spec, bounds[c], bounds[c + 1], chunks[c], c == 0 ? size : bounds[c + 1]);
  });

  // Kinds: the first chunk in which a column has a present cell decides.
  std::vector<Kind> kind(ncol, Kind::unknown);
  for (std::size_t i = 0; i < ncol; ++i)
    for (const auto& ch : chunks)
      if (ch.first_kind[i] != Kind::unknown) {
        kind[i] = ch.first_kind[i];
        break;
      }
  // The first error in file order: a structural one, or a non-number in a
  // numeric column.
  std::size_t lines_before = line_no;
  for (const auto& ch : chunks) {
    std::size_t at = SIZE_MAX;
    std::string message;
    if (ch.error_line) {
      at = ch.error_line;
      message = ch.error;
    }
    for (std::size_t i = 0; i < ncol; ++i)
      if (kind[i] == Kind::numeric && ch.bad_line[i] && ch.bad_line[i] != kSkippedColumn && ch.bad_line[i] < at) {
        at = ch.bad_line[i];
        message = "'" + shown(ch.bad_text[i]) + "' in column '" + shown(names[i]) + "' is not a number";
      }
    if (at != SIZE_MAX) throw InputError(path, "line " + std::to_string(lines_before + at) + ": " + message);
    lines_before += ch.lines;
  }

  // Steps the chunks could not know: the row index of a log without a step
  // column, and the inherited step of leading rows whose step cell is empty.
  std::int64_t rows_before = 0;
  bool have_step = false;
  std::int64_t last_step = 0;
  for (auto& ch : chunks) {
    for (std::size_t i = 0; i < ncol; ++i) {
      auto& steps = ch.cols[i].steps;
      if (step_col < 0) {
        for (auto& st : steps) st += rows_before;
      } else {
        for (std::size_t k = 0; k < ch.pending[i].size(); ++k) {
          const auto [index, local_row] = ch.pending[i][k];
          steps[index] = have_step ? last_step : rows_before + local_row;
        }
      }
    }
    if (ch.has_step) {
      have_step = true;
      last_step = ch.last_step;
    }
    rows_before += ch.rows;
  }

  Run run;
  run.source = path;
  run.step_name = step_col >= 0 ? escape_invalid_utf8(names[static_cast<std::size_t>(step_col)]) : std::string();
  for (std::size_t i = 0; i < ncol; ++i) {
    if (static_cast<long>(i) == step_col || kind[i] != Kind::numeric) continue;
    Series s;
    // as reports show it: no control characters
    s.name = escape_invalid_utf8(tb_export ? tensorboard_export_name(path) : names[i]);
    // The first chunk's vectors have room for the whole file (as estimated):
    // the other chunks are appended to them.
    s.steps = std::move(chunks[0].cols[i].steps);
    s.values = std::move(chunks[0].cols[i].values);
    if (nchunks > 1) {
      std::size_t total = 0;
      for (const auto& ch : chunks) total += ch.cols[i].values.size();
      s.steps.reserve(total);
      s.values.reserve(total);
      for (std::size_t c = 1; c < nchunks; ++c) {
        auto& col = chunks[c].cols[i];
        s.steps.insert(s.steps.end(), col.steps.begin(), col.steps.end());
        s.values.insert(s.values.end(), col.values.begin(), col.values.end());
      }
    }
    run.series.push_back(std::move(s));
  }
  return run;
}

}  // namespace gradcheck::logs
