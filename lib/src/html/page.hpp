#pragma once
// A self-contained HTML page: one file with its CSS inline, no scripts, no
// network, no external fonts; light and dark through prefers-color-scheme;
// printable through @media print. Every piece of text given to these
// functions is HTML-escaped; only the chart functions' SVG (charts.hpp) and
// fragments built here are inserted as markup.

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace gradcheck::html {

/// Escapes & < > " ' so any text is safe in element content and attributes.
std::string escape(std::string_view text);

/// A tensor's shape as the pages show it: "[3x4]", "[]" for a scalar.
std::string shape_text(const std::vector<std::int64_t>& shape);

/// A table cell: text (escaped) and an optional class ("flag", "bad", "ok",
/// "warn", "num" for right-aligned numbers).
struct Cell {
  std::string text;
  std::string cls;
  int colspan = 1;  ///< columns the cell spans (evidence lines under a row)
  Cell(const char* t) : text(t) {}  // NOLINT: cells are written as string literals
  Cell(std::string t, std::string c = {}, int span = 1) : text(std::move(t)), cls(std::move(c)), colspan(span) {}
};

/// A table with a header row; `row_classes` (optional, one per row) marks rows
/// such as flagged tensors.
std::string table(const std::vector<std::string>& header, const std::vector<std::vector<Cell>>& rows,
                  const std::vector<std::string>& row_classes = {});

/// Builds one page. Fragments are appended in order; str() wraps them in the
/// document with the shared stylesheet.
class Page {
 public:
  /// `title` is the document title and the first heading; `subtitle` a line
  /// under it (tool version, inputs).
  Page(std::string title, std::string subtitle = {});

  /// The verdict banner: `ok` colours it green, otherwise red.
  void verdict(std::string_view line, bool ok);
  void heading(std::string_view text, int level = 2);
  void paragraph(std::string_view text, std::string_view cls = {});
  /// A bulleted list of escaped items.
  void list(const std::vector<std::string>& items, std::string_view cls = {});
  /// A finding: a coloured box with a title line and body lines ("error" or
  /// "warning" kind).
  void note(std::string_view title, const std::vector<std::string>& lines, std::string_view kind = "warning");
  /// Markup produced by charts.hpp or table(): inserted as is.
  void raw(std::string_view markup);
  /// Opens/closes a two-column block (a chart beside its findings).
  void begin_row();
  void end_row();
  /// Opens/closes a grid of small charts.
  void begin_grid();
  void end_grid();

  /// The complete document.
  std::string str() const;

 private:
  std::string title_, subtitle_, body_;
};

}  // namespace gradcheck::html
