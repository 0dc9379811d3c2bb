#include "page.hpp"
#include "gradcheck/utf8.hpp"
#include "../core/format.hpp"

namespace gradcheck::html {
namespace {

// One stylesheet for every report. Colours are variables so the dark scheme
// and print only swap values; c0..c7 are the category colours of the charts
// (an Okabe-Ito-like palette, distinguishable with colour-vision deficiency).
constexpr const char* kStyle = R"css(
:root{--bg:#ffffff;--fg:#1b1f24;--muted:#5b6470;--grid:#e3e6ea;--frame:#9aa3ad;--panel:#f5f7f9;
--ok:#1a7f37;--bad:#c62828;--warn:#9a6700;--span-warn:rgba(230,160,0,.18);--span-err:rgba(210,40,40,.16);
--c0:#0072b2;--c1:#d55e00;--c2:#009e73;--c3:#cc79a7;--c4:#e69f00;--c5:#56b4e9;--c6:#7f7f7f;--c7:#8c564b;}
@media (prefers-color-scheme:dark){:root{--bg:#16191d;--fg:#e4e7eb;--muted:#9aa3ad;--grid:#2b3138;--frame:#5b6470;
--panel:#1f2328;--ok:#4ac26b;--bad:#ff6b6b;--warn:#e3b341;--span-warn:rgba(227,179,65,.20);--span-err:rgba(255,107,107,.20);
--c0:#4aa8e8;--c1:#ff8c42;--c2:#3fd1a4;--c3:#e89ccc;--c4:#f2c14e;--c5:#8fd3ff;--c6:#b0b0b0;--c7:#c49a8a;}}
*{box-sizing:border-box}
body{margin:0 auto;max-width:1240px;padding:16px 24px 48px;background:var(--bg);color:var(--fg);
font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"DejaVu Sans",sans-serif}
h1{font-size:22px;margin:8px 0 2px}h2{font-size:18px;margin:28px 0 8px;border-bottom:1px solid var(--grid);padding-bottom:4px}
h3{font-size:15px;margin:18px 0 6px}
.subtitle{color:var(--muted);margin:0 0 12px}
.verdict{font-weight:600;padding:8px 12px;border-radius:6px;border-left:6px solid;margin:10px 0;font-family:ui-monospace,"DejaVu Sans Mono",monospace;white-space:pre-wrap}
.verdict.ok{border-color:var(--ok);color:var(--ok);background:var(--panel)}
.verdict.bad{border-color:var(--bad);color:var(--bad);background:var(--panel)}
.muted{color:var(--muted)}.lead{font-weight:600;margin:10px 0 4px}
table{border-collapse:collapse;margin:8px 0 12px;font-size:13px}
th,td{padding:3px 8px;border-bottom:1px solid var(--grid);text-align:left;vertical-align:top}
th{background:var(--panel);position:sticky;top:0}
td.num{text-align:right;font-variant-numeric:tabular-nums;font-family:ui-monospace,"DejaVu Sans Mono",monospace}
td.flag,td.bad,p.flag{color:var(--bad);font-weight:600}td.warn{color:var(--warn);font-weight:600}td.ok{color:var(--ok)}
td.hint{font-weight:600;max-width:70ch}tr.flagged td{background:var(--span-err)}tr.evidence td{color:var(--muted);font-size:12px;border-bottom-style:dashed}
.note{border-left:4px solid var(--warn);background:var(--panel);padding:6px 10px;margin:8px 0;border-radius:4px}
.note.error{border-color:var(--bad)}.note .title{font-weight:600}.note p{margin:2px 0}
.row{display:flex;flex-wrap:wrap;gap:16px;align-items:flex-start}.row>.side{flex:1 1 300px;min-width:260px}
.grid{display:flex;flex-wrap:wrap;gap:12px}
svg.chart{max-width:100%;height:auto;background:var(--bg);font-size:11px}
svg.chart text{fill:var(--fg)}svg.chart .tick,svg.chart .scale-note{fill:var(--muted);font-size:10px}
svg.chart .title{font-weight:600;font-size:12px}svg.chart .label{fill:var(--muted)}
svg.chart .grid{stroke:var(--grid);stroke-width:1}svg.chart .frame{fill:none;stroke:var(--frame);stroke-width:1}
svg.chart .series{fill:none;stroke-width:1.6;stroke-linejoin:round}
svg.chart .legend-line{stroke-width:2.5}svg.chart .fit{stroke-width:2.4;stroke-dasharray:7 3}
svg.chart .diagonal{stroke:var(--muted);stroke-dasharray:4 3}
svg.chart .marker{stroke:var(--fg);stroke-width:1.3;stroke-dasharray:5 3}svg.chart .marker-label{font-weight:600}
svg.chart .bound{stroke:var(--fg);stroke-width:2}
svg.chart .span-warning{fill:var(--span-warn)}svg.chart .span-error{fill:var(--span-err)}
svg.chart .span-label{font-size:10px;font-weight:600}
svg.chart .point{stroke:var(--bg);stroke-width:.6}
svg.chart .nonfinite{stroke:none}
.c0{stroke:var(--c0)}.c1{stroke:var(--c1)}.c2{stroke:var(--c2)}.c3{stroke:var(--c3)}
.c4{stroke:var(--c4)}.c5{stroke:var(--c5)}.c6{stroke:var(--c6)}.c7{stroke:var(--c7)}
.point.c0,.bar.c0,.nonfinite.c0,.legend-box.c0{fill:var(--c0)}.point.c1,.bar.c1,.nonfinite.c1,.legend-box.c1{fill:var(--c1)}
.point.c2,.bar.c2,.nonfinite.c2,.legend-box.c2{fill:var(--c2)}.point.c3,.bar.c3,.nonfinite.c3,.legend-box.c3{fill:var(--c3)}
.point.c4,.bar.c4,.nonfinite.c4,.legend-box.c4{fill:var(--c4)}.point.c5,.bar.c5,.nonfinite.c5,.legend-box.c5{fill:var(--c5)}
.point.c6,.bar.c6,.nonfinite.c6,.legend-box.c6{fill:var(--c6)}.point.c7,.bar.c7,.nonfinite.c7,.legend-box.c7{fill:var(--c7)}
svg.chart .bar{stroke:none}
footer{margin-top:32px;color:var(--muted);font-size:12px}
@media print{:root{--bg:#fff;--fg:#000;--muted:#444;--panel:#f4f4f4}body{max-width:none;padding:0;font-size:11px}
h2{break-after:avoid}svg.chart,table,.note{break-inside:avoid}th{position:static}}
)css";

}  // namespace

std::string shape_text(const std::vector<std::int64_t>& shape) { return internal::shape_text(shape, 'x'); }

std::string escape(std::string_view raw) {
  // Names and paths from users' files: bytes that are not UTF-8 shown as \xNN.
  const std::string text = escape_invalid_utf8(raw, /*printable=*/false);
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&#39;"; break;
      default: out += c;
    }
  }
  return out;
}

std::string table(const std::vector<std::string>& header, const std::vector<std::vector<Cell>>& rows,
                  const std::vector<std::string>& row_classes) {
  std::string s = "<table><thead><tr>";
  for (const auto& h : header) s += "<th>" + escape(h) + "</th>";
  s += "</tr></thead><tbody>";
  for (std::size_t i = 0; i < rows.size(); ++i) {
    const bool has_class = i < row_classes.size() && !row_classes[i].empty();
    s += has_class ? "<tr class=\"" + escape(row_classes[i]) + "\">" : std::string("<tr>");
    for (const auto& c : rows[i]) {
      s += "<td";
      if (!c.cls.empty()) s += " class=\"" + escape(c.cls) + "\"";
      if (c.colspan > 1) s += " colspan=\"" + std::to_string(c.colspan) + "\"";
      s += ">";
      s += escape(c.text) + "</td>";
    }
    s += "</tr>";
  }
  s += "</tbody></table>";
  return s;
}

Page::Page(std::string title, std::string subtitle) : title_(std::move(title)), subtitle_(std::move(subtitle)) {}

void Page::verdict(std::string_view line, bool ok) {
  body_ += std::string("<div class=\"verdict ") + (ok ? "ok" : "bad") + "\">" + escape(line) + "</div>\n";
}

void Page::heading(std::string_view text, int level) {
  const std::string h = "h" + std::to_string(level < 2 ? 2 : level > 4 ? 4 : level);
  body_ += "<" + h + ">" + escape(text) + "</" + h + ">\n";
}

void Page::paragraph(std::string_view text, std::string_view cls) {
  body_ += cls.empty() ? std::string("<p>") : "<p class=\"" + escape(cls) + "\">";
  body_ += escape(text) + "</p>\n";
}

void Page::list(const std::vector<std::string>& items, std::string_view cls) {
  body_ += cls.empty() ? std::string("<ul>") : "<ul class=\"" + escape(cls) + "\">";
  for (const auto& i : items) body_ += "<li>" + escape(i) + "</li>";
  body_ += "</ul>\n";
}

void Page::note(std::string_view title, const std::vector<std::string>& lines, std::string_view kind) {
  body_ += "<div class=\"note " + escape(kind) + "\"><div class=\"title\">" + escape(title) + "</div>";
  for (const auto& l : lines) body_ += "<p>" + escape(l) + "</p>";
  body_ += "</div>\n";
}

void Page::raw(std::string_view markup) {
  body_ += markup;
  body_ += '\n';
}

void Page::begin_row() { body_ += "<div class=\"row\">\n"; }
void Page::end_row() { body_ += "</div>\n"; }
void Page::begin_grid() { body_ += "<div class=\"grid\">\n"; }
void Page::end_grid() { body_ += "</div>\n"; }

std::string Page::str() const {
  std::string s = "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
                  "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
                  "<meta name=\"color-scheme\" content=\"light dark\">\n<title>";
  s += escape(title_) + "</title>\n<style>" + kStyle + "</style>\n</head>\n<body>\n<h1>" + escape(title_) + "</h1>\n";
  if (!subtitle_.empty()) s += "<p class=\"subtitle\">" + escape(subtitle_) + "</p>\n";
  s += body_;
  s += "<footer>A self-contained report: no scripts, no network. Hover a point, bar or shaded span for its numbers.</footer>\n"
       "</body>\n</html>\n";
  return escape_invalid_utf8(s, /*printable=*/false);  // the page is UTF-8 whatever a caller added unescaped
}

}  // namespace gradcheck::html
