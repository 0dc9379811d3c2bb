#include <cstring>
#include <string>
#include <vector>

#include "builder.hpp"
#include "gradcheck/errors.hpp"
#include "gradcheck/logs/readers.hpp"
#include "gradcheck/mapped_file.hpp"

namespace gradcheck::logs {
namespace {

using internal::iequals;
using internal::trim;

// Splits one line into cells. The fast path (no quote in the line) only looks
// for commas; quoted cells follow RFC 4180 ("" is a quote inside a quoted cell).
// Returns false on an unterminated quote. `scratch` holds unquoted text.
bool split_line(std::string_view line, std::vector<std::string_view>& cells,
                std::vector<std::string>& scratch) {
  cells.clear();
  if (std::memchr(line.data(), '"', line.size()) == nullptr) {
    std::size_t start = 0;
    while (true) {
      const void* p = std::memchr(line.data() + start, ',', line.size() - start);
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
    while (i < line.size() && (line[i] == ' ' || line[i] == '\t')) ++i;
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
      while (i < line.size() && line[i] != ',') ++i;  // text after the closing quote is ignored
      scratch.push_back(std::move(cell));
      cells.push_back(scratch.back());
    } else {
      const std::size_t start = i;
      while (i < line.size() && line[i] != ',') ++i;
      cells.push_back(line.substr(start, i - start));
    }
    if (i >= line.size()) return true;
    ++i;  // the comma
  }
}

enum class Kind : std::uint8_t { unknown, numeric, text };

}  // namespace

Run read_csv(const std::string& path, const ReadOptions& options) {
  MappedFile file(path);
  const char* data = reinterpret_cast<const char*>(file.data());
  const std::size_t size = file.size();
  std::size_t pos = 0;
  std::size_t line_no = 0;

  auto next_line = [&](std::string_view& line) -> bool {
    if (pos >= size) return false;
    const void* nl = std::memchr(data + pos, '\n', size - pos);
    const std::size_t end = nl ? static_cast<std::size_t>(static_cast<const char*>(nl) - data) : size;
    std::size_t stop = end;
    if (stop > pos && data[stop - 1] == '\r') --stop;
    line = std::string_view(data + pos, stop - pos);
    pos = nl ? end + 1 : size;
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
  if (!split_line(line, cells, scratch))
    throw InputError(path, "line " + std::to_string(line_no) + ": unterminated quote in the header");
  std::vector<std::string> names;
  for (auto c : cells) names.emplace_back(trim(c));
  const std::size_t ncol = names.size();
  for (std::size_t i = 0; i < ncol; ++i) {
    if (names[i].empty()) names[i] = "column" + std::to_string(i + 1);
    for (std::size_t j = 0; j < i; ++j)
      if (names[j] == names[i])
        throw InputError(path, "line " + std::to_string(line_no) + ": column name '" + names[i] +
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

  std::vector<Kind> kind(ncol, Kind::unknown);
  std::vector<Series> cols(ncol);
  for (std::size_t i = 0; i < ncol; ++i) cols[i].name = names[i];
  {
    // Reserve from a sample of the first rows (their mean length and how often
    // each column is filled), so a large log is not copied as vectors grow.
    std::size_t p = pos, lines = 0;
    std::vector<std::size_t> filled(ncol, 0);
    while (p < size && lines < 64) {
      const void* nl = std::memchr(data + p, '\n', size - p);
      const std::size_t end = nl ? static_cast<std::size_t>(static_cast<const char*>(nl) - data) : size;
      if (split_line(std::string_view(data + p, end - p), cells, scratch) && cells.size() == ncol)
        for (std::size_t i = 0; i < ncol; ++i) filled[i] += !internal::is_missing(trim(cells[i]));
      ++lines;
      p = nl ? end + 1 : size;
    }
    if (lines > 0 && p > pos) {
      const double rows = static_cast<double>(size - pos) / (static_cast<double>(p - pos) / static_cast<double>(lines));
      for (std::size_t i = 0; i < ncol; ++i) {
        const auto want = static_cast<std::size_t>(rows * 1.05 * static_cast<double>(filled[i]) / static_cast<double>(lines)) + 16;
        cols[i].steps.reserve(want);
        cols[i].values.reserve(want);
      }
    }
  }

  std::int64_t row_index = -1;
  std::int64_t last_step = -1;
  while (next_line(line)) {
    if (trim(line).empty()) continue;
    ++row_index;
    if (!split_line(line, cells, scratch))
      throw InputError(path, "line " + std::to_string(line_no) + ": unterminated quote");
    if (cells.size() != ncol)
      throw InputError(path, "line " + std::to_string(line_no) + ": expected " + std::to_string(ncol) +
                                 " fields as in the header, found " + std::to_string(cells.size()));
    std::int64_t step = row_index;
    if (step_col >= 0) {
      const std::string_view cell = trim(cells[static_cast<std::size_t>(step_col)]);
      if (internal::is_missing(cell)) {
        // Some loggers leave the step of a row empty: it belongs to the last step seen.
        step = last_step >= 0 ? last_step : row_index;
      } else if (!internal::parse_step(cell, step)) {
        throw InputError(path, "line " + std::to_string(line_no) + ": step '" + std::string(cell) +
                                   "' in column '" + names[static_cast<std::size_t>(step_col)] +
                                   "' is not an integer");
      }
      last_step = step;
    }
    for (std::size_t i = 0; i < ncol; ++i) {
      if (static_cast<long>(i) == step_col || kind[i] == Kind::text) continue;
      const std::string_view cell = trim(cells[i]);
      if (internal::is_missing(cell)) continue;
      double v = 0;
      if (!internal::parse_number(cell, v)) {
        if (kind[i] == Kind::unknown) {
          kind[i] = Kind::text;
          continue;
        }
        throw InputError(path, "line " + std::to_string(line_no) + ": '" + std::string(cell) + "' in column '" +
                                   names[i] + "' is not a number");
      }
      kind[i] = Kind::numeric;
      cols[i].steps.push_back(step);
      cols[i].values.push_back(v);
    }
  }

  Run run;
  run.source = path;
  run.step_name = step_col >= 0 ? names[static_cast<std::size_t>(step_col)] : std::string();
  for (std::size_t i = 0; i < ncol; ++i) {
    if (static_cast<long>(i) == step_col || kind[i] != Kind::numeric) continue;
    run.series.push_back(std::move(cols[i]));
  }
  return run;
}

}  // namespace gradcheck::logs
