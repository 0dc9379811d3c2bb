#include "charts.hpp"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <functional>

#include "../core/format.hpp"
#include "page.hpp"

namespace gradcheck::html {
namespace {

// Coordinates with two decimals: enough for a screen, and the same bytes for
// the same input on every machine (internal::fixed does not depend on the
// locale).
std::string px(double v) {
  if (!std::isfinite(v)) v = 0;
  std::string s = internal::fixed(v, 2);
  if (s == "-0.00") s = "0.00";
  return s;
}

// 1, 2 or 5 times a power of ten, the smallest such step >= raw.
double nice_step(double raw) {
  if (!(raw > 0) || !std::isfinite(raw)) return 1;
  const double p = std::pow(10.0, std::floor(std::log10(raw)));
  for (double m : {1.0, 2.0, 5.0, 10.0})
    if (m * p >= raw * (1 - 1e-9)) return m * p;
  return 10 * p;
}

// Maps data values to pixels along one direction.
struct Mapper {
  Axis axis;
  double p0 = 0, p1 = 1;  // pixel of axis.lo and of axis.hi
  double t(double v) const {
    double a = axis.lo, b = axis.hi;
    if (axis.log) {
      v = std::log10(v);
      a = std::log10(a);
      b = std::log10(b);
    }
    const double f = b > a ? (v - a) / (b - a) : 0.5;
    return p0 + f * (p1 - p0);
  }
  // A value drawable on this axis (finite, and > 0 on a log axis).
  bool drawable(double v) const { return std::isfinite(v) && (!axis.log || v > 0); }
  double clamp(double v) const { return std::clamp(v, std::min(axis.lo, axis.hi), std::max(axis.lo, axis.hi)); }
};

Axis make_axis(const std::vector<double>& values, Scale scale, bool* log_out = nullptr) {
  double lo = INFINITY, hi = -INFINITY, pos_lo = INFINITY;
  for (double v : values) {
    if (!std::isfinite(v)) continue;
    lo = std::min(lo, v);
    hi = std::max(hi, v);
    if (v > 0) pos_lo = std::min(pos_lo, v);
  }
  bool log = scale == Scale::log || (scale == Scale::automatic && spans_decades(values));
  if (log_out) *log_out = log;
  if (log) return std::isfinite(pos_lo) ? log_axis(pos_lo, hi) : log_axis(1, 10);
  if (!std::isfinite(lo)) return linear_axis(0, 1);
  return linear_axis(lo, hi);
}

double tick_step(const Axis& a) {
  return a.ticks.size() >= 2 ? a.ticks[1] - a.ticks[0] : std::abs(a.hi - a.lo);
}

// Frame, grid lines, tick labels and axis titles of a plot area.
void draw_axes(std::string& s, const Mapper& x, const Mapper& y, double left, double top, double right,
               double bottom, const std::string& x_label, const std::string& y_label, bool x_ticks = true) {
  s += "<g class=\"axes\">";
  const double xs = tick_step(x.axis), ys = tick_step(y.axis);
  for (double t : y.axis.ticks) {
    const double py = y.t(t);
    s += "<line class=\"grid\" x1=\"" + px(left) + "\" x2=\"" + px(right) + "\" y1=\"" + px(py) + "\" y2=\"" + px(py) + "\"/>";
    s += "<text class=\"tick\" x=\"" + px(left - 4) + "\" y=\"" + px(py + 3.5) + "\" text-anchor=\"end\">" +
         escape(tick_label(t, ys, y.axis.log)) + "</text>";
  }
  if (x_ticks)
    for (double t : x.axis.ticks) {
      const double pxv = x.t(t);
      s += "<line class=\"grid\" x1=\"" + px(pxv) + "\" x2=\"" + px(pxv) + "\" y1=\"" + px(top) + "\" y2=\"" + px(bottom) + "\"/>";
      s += "<text class=\"tick\" x=\"" + px(pxv) + "\" y=\"" + px(bottom + 14) + "\" text-anchor=\"middle\">" +
           escape(tick_label(t, xs, x.axis.log)) + "</text>";
    }
  s += "<rect class=\"frame\" x=\"" + px(left) + "\" y=\"" + px(top) + "\" width=\"" + px(right - left) +
       "\" height=\"" + px(bottom - top) + "\"/>";
  if (!x_label.empty())
    s += "<text class=\"label\" x=\"" + px((left + right) / 2) + "\" y=\"" + px(bottom + 32) +
         "\" text-anchor=\"middle\">" + escape(x_label) + "</text>";
  if (!y_label.empty())
    s += "<text class=\"label\" transform=\"translate(12," + px((top + bottom) / 2) +
         ") rotate(-90)\" text-anchor=\"middle\">" + escape(y_label) + "</text>";
  s += "</g>";
}

std::string open_svg(const char* kind, int width, int height, const std::string& title) {
  std::string s = "<svg class=\"chart chart-";
  s += kind;
  s += "\" xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 " + std::to_string(width) + " " +
       std::to_string(height) + "\" width=\"" + std::to_string(width) + "\" height=\"" + std::to_string(height) +
       "\" role=\"img\" aria-label=\"" + escape(title) + "\">";
  if (!title.empty())
    s += "<text class=\"title\" x=\"8\" y=\"16\">" + escape(title) + "</text>";
  return s;
}

std::string cat_class(int c) { return "c" + std::to_string(((c % 8) + 8) % 8); }

// Legend entries in a row at the top right.
void draw_legend(std::string& s, const std::vector<std::string>& names, double right, double y, bool lines) {
  double x = right;
  for (std::size_t i = names.size(); i-- > 0;) {
    if (names[i].empty()) continue;  // a category index with no entry to show
    const double w = 8.0 + 6.2 * static_cast<double>(names[i].size()) + 18;
    x -= w;
    if (lines)
      s += "<line class=\"legend-line " + cat_class(static_cast<int>(i)) + "\" x1=\"" + px(x) + "\" x2=\"" + px(x + 12) +
           "\" y1=\"" + px(y - 4) + "\" y2=\"" + px(y - 4) + "\"/>";
    else
      s += "<rect class=\"legend-box " + cat_class(static_cast<int>(i)) + "\" x=\"" + px(x) + "\" y=\"" + px(y - 9) +
           "\" width=\"10\" height=\"10\"/>";
    s += "<text class=\"legend\" x=\"" + px(x + 16) + "\" y=\"" + px(y) + "\">" + escape(names[i]) + "</text>";
  }
}

}  // namespace

Axis linear_axis(double lo, double hi, int target) {
  if (!std::isfinite(lo) || !std::isfinite(hi)) lo = 0, hi = 1;
  if (lo > hi) std::swap(lo, hi);
  if (hi - lo <= std::abs(hi) * 1e-12) {
    const double pad = lo == 0 ? 1 : std::abs(lo) * 0.1;
    lo -= pad;
    hi += pad;
  }
  const double step = nice_step((hi - lo) / std::max(1, target));
  // Ticks as integer multiples of the step's mantissa scaled by its power of
  // ten (divided for negative powers): 3 x 0.2 prints as 0.6, not 0.6000000000000001.
  const int e = static_cast<int>(std::floor(std::log10(step) + 1e-9));
  const double mant = std::round(step / std::pow(10.0, e));
  const auto value = [&](double k) { return e >= 0 ? k * mant * std::pow(10.0, e) : k * mant / std::pow(10.0, -e); };
  const double k0 = std::floor(lo / step + 1e-9), k1 = std::ceil(hi / step - 1e-9);
  Axis a;
  a.lo = value(k0);
  a.hi = value(k1);
  for (double k = k0; k <= k1 + 0.5; k += 1) a.ticks.push_back(k == 0 ? 0.0 : value(k));
  return a;
}

Axis log_axis(double lo, double hi) {
  if (!(lo > 0) || !(hi > 0) || !std::isfinite(lo) || !std::isfinite(hi)) lo = 1, hi = 10;
  if (lo > hi) std::swap(lo, hi);
  int e0 = static_cast<int>(std::floor(std::log10(lo) + 1e-9));
  int e1 = static_cast<int>(std::ceil(std::log10(hi) - 1e-9));
  if (e1 <= e0) e1 = e0 + 1;
  Axis a;
  a.log = true;
  a.lo = std::pow(10.0, e0);
  a.hi = std::pow(10.0, e1);
  const int decades = e1 - e0;
  const int every = decades <= 8 ? 1 : (decades + 7) / 8;
  for (int e = e0; e <= e1; ++e)
    if ((e - e0) % every == 0) a.ticks.push_back(std::pow(10.0, e));
  if (decades == 1) a.ticks = {a.lo, 2 * a.lo, 5 * a.lo, a.hi};
  return a;
}

bool spans_decades(const std::vector<double>& values, double decades) {
  double lo = INFINITY, hi = 0;
  bool any = false;
  for (double v : values) {
    if (!std::isfinite(v)) continue;
    if (v <= 0) return false;
    any = true;
    lo = std::min(lo, v);
    hi = std::max(hi, v);
  }
  return any && hi / lo > std::pow(10.0, decades);
}

std::string tick_label(double value, double step, bool log) {
  if (value == 0 || std::abs(value) < std::abs(step) * 1e-9) return "0";
  if (log) {
    const double e = std::log10(std::abs(value));
    const double r = std::round(e);
    if (std::abs(e - r) < 1e-9 && (r < -3 || r > 4))
      return std::string(value < 0 ? "-" : "") + "1e" + std::to_string(static_cast<int>(r));
    return internal::general(value, 12);
  }
  const double a = std::abs(value);
  if (a >= 1e6 || a < 1e-4) return internal::general(value, 3);
  const int decimals = step > 0 ? std::max(0, static_cast<int>(-std::floor(std::log10(step) + 1e-9))) : 3;
  return internal::fixed(value, std::min(decimals, 10));
}

std::string format_number(double value, int digits) {
  if (std::isnan(value)) return "NaN";
  if (std::isinf(value)) return value > 0 ? "inf" : "-inf";
  return internal::general(value, std::clamp(digits, 1, 17));
}

std::string line_chart(const std::vector<LineSeries>& series, const LineChartOptions& o) {
  const double left = 64, right = o.width - 24.0, top = 28, bottom = o.height - 40.0;

  std::vector<double> xs, ys;
  for (const auto& sr : series)
    for (std::size_t i = 0; i < sr.x.size() && i < sr.y.size(); ++i) {
      xs.push_back(sr.x[i]);
      ys.push_back(sr.y[i]);
    }
  for (const auto& sp : o.spans) xs.insert(xs.end(), {sp.x0, sp.x1});
  for (const auto& m : o.markers) xs.push_back(m.x);
  if (o.x_scale == Scale::log) std::erase_if(xs, [](double v) { return !(v > 0); });
  bool ylog = false;
  Mapper mx{make_axis(xs, o.x_scale), left, right};
  Mapper my{make_axis(ys, o.y_scale, &ylog), bottom, top};

  std::string s = open_svg("line", o.width, o.height, o.title);
  if (ylog) s += "<text class=\"scale-note\" x=\"" + px(right) + "\" y=\"" + px(bottom + 32) + "\" text-anchor=\"end\">log scale</text>";
  draw_axes(s, mx, my, left, top, right, bottom, o.x_label, o.y_label);

  for (const auto& sp : o.spans) {
    if (!mx.drawable(sp.x0) || !mx.drawable(sp.x1)) continue;
    double a = mx.t(mx.clamp(std::min(sp.x0, sp.x1))), b = mx.t(mx.clamp(std::max(sp.x0, sp.x1)));
    if (b - a < 3) b = a + 3;  // a one-step symptom stays visible
    s += "<g><rect class=\"span span-" + escape(sp.kind) + "\" x=\"" + px(a) + "\" y=\"" + px(top) + "\" width=\"" +
         px(b - a) + "\" height=\"" + px(bottom - top) + "\"><title>" + escape(sp.label) + ": " +
         escape(format_number(sp.x0, 8)) + " to " + escape(format_number(sp.x1, 8)) + "</title></rect>";
    s += "<text class=\"span-label\" x=\"" + px(a + 3) + "\" y=\"" + px(top + 12) + "\">" + escape(sp.label) + "</text></g>";
  }

  std::vector<std::string> names;
  for (const auto& sr : series) {
    names.push_back(sr.name);
    const std::size_t n = std::min(sr.x.size(), sr.y.size());
    // Reduce to first/min/max/last per pixel column when the line is denser
    // than the screen: a spike or a NaN survives the reduction.
    std::vector<std::size_t> keep;
    const double columns = std::max(1.0, right - left);
    if (n > 2 * static_cast<std::size_t>(columns)) {
      std::size_t i = 0;
      while (i < n) {
        const long col = mx.drawable(sr.x[i]) ? std::lround(mx.t(mx.clamp(sr.x[i]))) : -1;
        std::size_t j = i, lo_i = i, hi_i = i;
        while (j < n && (mx.drawable(sr.x[j]) ? std::lround(mx.t(mx.clamp(sr.x[j]))) : -1) == col) {
          const bool ok = my.drawable(sr.y[j]);
          if (!ok) {  // keep every boundary of a non-finite run
            keep.push_back(j);
          } else {
            if (!my.drawable(sr.y[lo_i]) || sr.y[j] < sr.y[lo_i]) lo_i = j;
            if (!my.drawable(sr.y[hi_i]) || sr.y[j] > sr.y[hi_i]) hi_i = j;
          }
          ++j;
        }
        keep.insert(keep.end(), {i, lo_i, hi_i, j - 1});
        i = j;
      }
      std::sort(keep.begin(), keep.end());
      keep.erase(std::unique(keep.begin(), keep.end()), keep.end());
    } else {
      for (std::size_t i = 0; i < n; ++i) keep.push_back(i);
    }

    std::string d, dots, marks;
    bool pen_down = false;
    double y_min = INFINITY, y_max = -INFINITY;
    std::size_t finite = 0, bad = 0;
    for (std::size_t k = 0; k < keep.size(); ++k) {
      const std::size_t i = keep[k];
      if (!mx.drawable(sr.x[i])) continue;
      const double xv = sr.x[i], yv = sr.y[i];
      if (!my.drawable(yv)) {
        // Mark the first point of each non-finite run.
        if (pen_down || k == 0 || (k > 0 && my.drawable(sr.y[keep[k - 1]]))) {
          const double pxv = mx.t(mx.clamp(xv));
          marks += "<path class=\"nonfinite " + cat_class(sr.color) + "\" d=\"M" + px(pxv - 5) + " " + px(top + 1) +
                   " L" + px(pxv + 5) + " " + px(top + 1) + " L" + px(pxv) + " " + px(top + 9) + " Z\"><title>" +
                   escape(sr.name) + ": " + escape(format_number(yv)) + " at " + escape(format_number(xv, 10)) +
                   (std::isfinite(yv) ? " (not drawable on a log axis)" : "") + "</title></path>";
        }
        pen_down = false;
        continue;
      }
      const double pxv = mx.t(mx.clamp(xv)), pyv = my.t(my.clamp(yv));
      d += (pen_down ? " L" : (d.empty() ? "M" : " M")) + px(pxv) + " " + px(pyv);
      pen_down = true;
      if (n <= o.max_points_with_dots)
        dots += "<circle class=\"point " + cat_class(sr.color) + "\" cx=\"" + px(pxv) + "\" cy=\"" + px(pyv) +
                "\" r=\"2.2\"><title>" + escape(sr.name) + " at " + escape(format_number(xv, 10)) + ": " +
                escape(format_number(yv)) + "</title></circle>";
    }
    for (std::size_t i = 0; i < n; ++i) {
      if (my.drawable(sr.y[i])) {
        ++finite;
        y_min = std::min(y_min, sr.y[i]);
        y_max = std::max(y_max, sr.y[i]);
      } else {
        ++bad;
      }
    }
    std::string summary = escape(sr.name) + ": " + std::to_string(n) + " points";
    if (finite > 0) summary += ", " + escape(format_number(y_min)) + " to " + escape(format_number(y_max));
    if (bad > 0) summary += ", " + std::to_string(bad) + " not drawn (non-finite" + (ylog ? " or <= 0)" : ")");
    s += "<g><path class=\"series " + cat_class(sr.color) + "\" d=\"" + d + "\"><title>" + summary + "</title></path>" +
         dots + marks + "</g>";
  }

  for (std::size_t k = 0; k < o.markers.size(); ++k) {
    const auto& m = o.markers[k];
    if (!mx.drawable(m.x)) continue;
    const double pxv = mx.t(mx.clamp(m.x));
    s += "<g><line class=\"marker\" x1=\"" + px(pxv) + "\" x2=\"" + px(pxv) + "\" y1=\"" + px(top) + "\" y2=\"" +
         px(bottom) + "\"><title>" + escape(m.label) + "</title></line>";
    // Labels are stacked one line apart, under the span labels, so two close
    // markers do not print over each other.
    const bool right_half = pxv > (left + right) / 2;
    s += "<text class=\"marker-label\" x=\"" + px(pxv + (right_half ? -4 : 4)) + "\" y=\"" +
         px(top + 28 + 14 * static_cast<double>(k)) +
         "\" text-anchor=\"" + (right_half ? "end" : "start") + "\">" + escape(m.label) + "</text></g>";
  }
  if (series.size() > 1) draw_legend(s, names, right, 16, true);
  s += "</svg>";
  return s;
}

std::string histogram(const std::vector<HistogramBin>& bins, const HistogramOptions& o) {
  const double left = 52, right = o.width - 10.0, top = 26, bottom = o.height - 38.0;
  std::vector<double> xs;
  double max_count = 0;
  for (const auto& b : bins) {
    if (!std::isfinite(b.lo) || !std::isfinite(b.hi)) continue;
    xs.insert(xs.end(), {b.lo, b.hi});
    if (std::isfinite(b.count)) max_count = std::max(max_count, b.count);
  }
  for (const auto& m : o.markers) xs.push_back(m.x);
  Mapper mx{make_axis(xs, Scale::linear), left, right};
  // Counts on a log axis from 0.5, so a bin of one value is a visible bar.
  Axis ya = log_axis(1, std::max(10.0, max_count));
  ya.lo = 0.5;
  Mapper my{ya, bottom, top};

  std::string s = open_svg("hist", o.width, o.height, o.title);
  draw_axes(s, mx, my, left, top, right, bottom, o.x_label, o.y_label);
  for (const auto& b : bins) {
    if (!(b.count > 0) || !std::isfinite(b.lo) || !std::isfinite(b.hi)) continue;
    const double a = mx.t(b.lo), c = mx.t(b.hi), h = my.t(b.count);
    s += "<rect class=\"bar c0\" x=\"" + px(a) + "\" y=\"" + px(h) + "\" width=\"" + px(std::max(0.8, c - a)) +
         "\" height=\"" + px(bottom - h) + "\"><title>[" + escape(format_number(b.lo)) + ", " +
         escape(format_number(b.hi)) + "): " + escape(format_number(b.count, 12)) + "</title></rect>";
  }
  for (const auto& m : o.markers) {
    if (!std::isfinite(m.x)) continue;
    const double pxv = mx.t(mx.clamp(m.x));
    s += "<line class=\"marker\" x1=\"" + px(pxv) + "\" x2=\"" + px(pxv) + "\" y1=\"" + px(top) + "\" y2=\"" + px(bottom) +
         "\"><title>" + escape(m.label) + "</title></line>";
  }
  s += "</svg>";
  return s;
}

std::string scatter(const std::vector<ScatterPoint>& points, const ScatterOptions& o) {
  const double left = 64, right = o.width - 24.0, top = 28, bottom = o.height - 40.0;
  std::vector<double> xs, ys, all;
  for (const auto& p : points) {
    xs.push_back(p.x);
    ys.push_back(p.y);
  }
  all = xs;
  all.insert(all.end(), ys.begin(), ys.end());
  bool log = o.scale == Scale::log || (o.scale == Scale::automatic && spans_decades(all));
  const Scale sc = log ? Scale::log : Scale::linear;
  Mapper mx{make_axis(o.diagonal ? all : xs, sc), left, right};
  Mapper my{make_axis(o.diagonal ? all : ys, sc), bottom, top};

  std::string s = open_svg("scatter", o.width, o.height, o.title);
  if (log) s += "<text class=\"scale-note\" x=\"" + px(right) + "\" y=\"" + px(bottom + 32) + "\" text-anchor=\"end\">log-log</text>";
  draw_axes(s, mx, my, left, top, right, bottom, o.x_label, o.y_label);
  if (o.diagonal) {
    const double a = std::max(mx.axis.lo, my.axis.lo), b = std::min(mx.axis.hi, my.axis.hi);
    s += "<line class=\"diagonal\" x1=\"" + px(mx.t(a)) + "\" y1=\"" + px(my.t(a)) + "\" x2=\"" + px(mx.t(b)) +
         "\" y2=\"" + px(my.t(b)) + "\"><title>y = x</title></line>";
  }
  std::size_t left_out = 0;
  for (const auto& p : points) {
    if (!mx.drawable(p.x) || !my.drawable(p.y)) {
      ++left_out;
      continue;
    }
    std::string tip = p.label.empty() ? std::string() : p.label + ": ";
    tip += o.x_label + " " + format_number(p.x, 8) + ", " + o.y_label + " " + format_number(p.y, 8);
    s += "<circle class=\"point " + cat_class(p.category) + "\" cx=\"" + px(mx.t(p.x)) + "\" cy=\"" + px(my.t(p.y)) +
         "\" r=\"3.2\"><title>" + escape(tip) + "</title></circle>";
  }
  if (left_out > 0)
    s += "<text class=\"scale-note\" x=\"" + px(left) + "\" y=\"" + px(bottom + 32) + "\">" + std::to_string(left_out) +
         (left_out == 1 ? " point" : " points") + " not drawn (" + (log ? "non-positive or " : "") + "non-finite)</text>";
  if (!o.categories.empty()) draw_legend(s, o.categories, right, 16, false);
  s += "</svg>";
  return s;
}

std::string bar_chart(const std::vector<BarRow>& rows, const BarChartOptions& o) {
  std::size_t longest = 4;
  for (const auto& r : rows) longest = std::max(longest, r.label.size());
  const double label_w = std::min(260.0, 6.3 * static_cast<double>(longest) + 12);
  // Marker labels get a line of their own under the title and legend.
  const double left = label_w + 8, right = o.width - 16.0, top = o.markers.empty() ? 30 : 44;
  const double bottom = top + o.row_height * static_cast<double>(std::max<std::size_t>(rows.size(), 1));
  const int height = static_cast<int>(bottom + 40);

  std::vector<double> vals;
  for (const auto& r : rows) vals.insert(vals.end(), {r.value, r.bound});
  for (const auto& m : o.markers) vals.push_back(m.x);
  const bool log = o.scale == Scale::log || (o.scale == Scale::automatic && spans_decades(vals));
  if (log) std::erase_if(vals, [](double v) { return !(v > 0); });
  Mapper mx{make_axis(vals, log ? Scale::log : Scale::linear), left, right};
  if (!log && mx.axis.lo > 0) mx.axis = linear_axis(0, mx.axis.hi);
  Mapper my{linear_axis(0, 1), bottom, top};
  my.axis.ticks.clear();

  std::string s = open_svg("bars", o.width, height, o.title);
  draw_axes(s, mx, my, left, top, right, bottom, o.x_label, "");
  const double base = log ? left : mx.t(std::max(0.0, mx.axis.lo));
  for (std::size_t i = 0; i < rows.size(); ++i) {
    const auto& r = rows[i];
    const double y0 = top + o.row_height * static_cast<double>(i);
    std::string label = r.label;
    const std::size_t max_chars = static_cast<std::size_t>((label_w - 12) / 6.3);
    if (label.size() > max_chars && max_chars > 3) label = "..." + label.substr(label.size() - (max_chars - 3));
    std::string tip = r.label + ": " + format_number(r.value);
    if (std::isfinite(r.bound)) tip += " (bound " + format_number(r.bound) + ")";
    if (!r.tooltip.empty()) tip += "; " + r.tooltip;
    s += "<g><text class=\"row-label\" x=\"" + px(label_w) + "\" y=\"" + px(y0 + o.row_height * 0.68) +
         "\" text-anchor=\"end\">" + escape(label) + "<title>" + escape(r.label) + "</title></text>";
    double w = 0, x0 = base;
    if (mx.drawable(r.value)) {
      const double v = mx.t(mx.clamp(r.value));
      x0 = std::min(base, v);
      w = std::abs(v - base);
    } else {
      tip += log ? " (not drawn: not > 0 on a log axis)" : " (not drawn: non-finite)";
    }
    s += "<rect class=\"bar " + cat_class(r.category) + "\" x=\"" + px(x0) + "\" y=\"" + px(y0 + 3) + "\" width=\"" +
         px(w) + "\" height=\"" + px(o.row_height - 6.0) + "\"><title>" + escape(tip) + "</title></rect>";
    if (mx.drawable(r.bound)) {
      const double b = mx.t(mx.clamp(r.bound));
      s += "<line class=\"bound\" x1=\"" + px(b) + "\" x2=\"" + px(b) + "\" y1=\"" + px(y0 + 1) + "\" y2=\"" +
           px(y0 + o.row_height - 1.0) + "\"><title>bound " + escape(format_number(r.bound)) + "</title></line>";
    }
    s += "</g>";
  }
  for (const auto& m : o.markers) {
    if (!mx.drawable(m.x)) continue;
    const double pxv = mx.t(mx.clamp(m.x));
    s += "<g><line class=\"marker\" x1=\"" + px(pxv) + "\" x2=\"" + px(pxv) + "\" y1=\"" + px(top) + "\" y2=\"" +
         px(bottom) + "\"><title>" + escape(m.label) + "</title></line><text class=\"marker-label\" x=\"" +
         px(pxv) + "\" y=\"" + px(top - 4) + "\" text-anchor=\"" +
         (pxv > right - 40 ? "end" : pxv < left + 40 ? "start" : "middle") + "\">" + escape(m.label) + "</text></g>";
  }
  if (!o.categories.empty()) draw_legend(s, o.categories, right, 16, false);
  s += "</svg>";
  return s;
}

std::string power_law_tail_chart(const std::vector<double>& values, double alpha, double xmin,
                                 const PowerLawTailOptions& o) {
  // The legend gets its own line under the title (a tensor name can be long).
  const double left = 56, right = o.width - 16.0, top = 40, bottom = o.height - 40.0;
  std::vector<double> v;
  for (double x : values)
    if (std::isfinite(x) && x > 0) v.push_back(x);
  std::sort(v.begin(), v.end(), std::greater<>());
  const std::size_t n = v.size();
  const bool fitted = std::isfinite(alpha) && std::isfinite(xmin) && xmin > 0 && alpha > 1;

  std::string s = open_svg("tail", o.width, o.height, o.title);
  if (n == 0) {
    s += "<text class=\"scale-note\" x=\"" + px((left + right) / 2) + "\" y=\"" + px((top + bottom) / 2) +
         "\" text-anchor=\"middle\">no positive eigenvalue</text></svg>";
    return s;
  }
  std::size_t tail = 0;  // values >= xmin: the fitted tail, the top ranks
  if (fitted)
    while (tail < n && v[tail] >= xmin) ++tail;

  Mapper mx{log_axis(v.back(), v.front()), left, right};
  Mapper my{log_axis(1.0 / static_cast<double>(n), 1.0), bottom, top};
  // Zero eigenvalues (a rank-deficient matrix) have no place on a log axis: say how many.
  const std::size_t left_out = values.size() - n;
  draw_axes(s, mx, my, left, top, right, bottom,
            o.x_label + (left_out > 0 ? "; " + std::to_string(left_out) + " not drawn (not > 0)" : std::string()),
            o.y_label);

  // Ranks to draw: all, or spread evenly in log(rank) so each decade of the
  // y axis gets about the same number of points.
  std::vector<std::size_t> keep;
  const std::size_t cap = std::max<std::size_t>(o.max_points, 3);
  if (n <= cap) {
    for (std::size_t i = 0; i < n; ++i) keep.push_back(i);
  } else {
    const std::size_t m = cap - 2;
    for (std::size_t k = 0; k < m; ++k) {
      const double r = std::exp(std::log(static_cast<double>(n)) * static_cast<double>(k) / static_cast<double>(m - 1));
      keep.push_back(std::min(n - 1, static_cast<std::size_t>(std::llround(r)) - 1));
    }
    if (tail > 0) keep.push_back(tail - 1);
    keep.push_back(n - 1);
    std::sort(keep.begin(), keep.end());
    keep.erase(std::unique(keep.begin(), keep.end()), keep.end());
  }
  s += "<g>";
  for (std::size_t i : keep) {
    const double sx = static_cast<double>(i + 1) / static_cast<double>(n);
    const bool in_tail = i < tail;
    s += "<circle class=\"point " + cat_class(in_tail ? 1 : 0) + "\" cx=\"" + px(mx.t(v[i])) + "\" cy=\"" +
         px(my.t(sx)) + "\" r=\"2.2\"><title>" +
         escape("eigenvalue " + format_number(v[i], 6) + ": " + std::to_string(i + 1) + " of " + std::to_string(n) +
                " are >= it" + (in_tail ? " (in the fitted tail)" : "")) +
         "</title></circle>";
  }
  s += "</g>";

  std::vector<std::string> legend = {"eigenvalues"};
  if (fitted && tail > 0) {
    // A power law is a straight line on log-log axes: two ends, the far one
    // cut where the line leaves the plot at the bottom.
    const double frac = static_cast<double>(tail) / static_cast<double>(n);
    const auto fit = [&](double x) { return frac * std::pow(x / xmin, 1.0 - alpha); };
    double x1 = v.front();
    if (fit(x1) < my.axis.lo) x1 = xmin * std::pow(my.axis.lo / frac, 1.0 / (1.0 - alpha));
    const std::string label = "power law: alpha " + format_number(alpha, 3) + ", xmin " + format_number(xmin, 4) +
                              ", " + std::to_string(tail) + " of " + std::to_string(n) + " eigenvalues in the tail";
    s += "<path class=\"series fit " + cat_class(4) + "\" d=\"M" + px(mx.t(mx.clamp(xmin))) + " " + px(my.t(frac)) + " L" +
         px(mx.t(mx.clamp(x1))) + " " + px(my.t(my.clamp(fit(x1)))) + "\"><title>" + escape(label) + "</title></path>";
    const double pxv = mx.t(mx.clamp(xmin));
    s += "<g><line class=\"marker\" x1=\"" + px(pxv) + "\" x2=\"" + px(pxv) + "\" y1=\"" + px(top) + "\" y2=\"" +
         px(bottom) + "\"><title>xmin " + escape(format_number(xmin, 6)) + "</title></line>";
    const bool right_half = pxv > (left + right) / 2;
    s += "<text class=\"marker-label\" x=\"" + px(pxv + (right_half ? -4 : 4)) + "\" y=\"" + px(top + 26) +
         "\" text-anchor=\"" + (right_half ? "end" : "start") + "\">xmin</text></g>";
    s += "<text class=\"scale-note\" x=\"" + px(right - 4) + "\" y=\"" + px(top + 12) + "\" text-anchor=\"end\">alpha " +
         escape(format_number(alpha, 3)) + "</text>";
    legend.insert(legend.end(), {"tail >= xmin", "", "", "fit"});
  } else {
    s += "<text class=\"scale-note\" x=\"" + px(right - 4) + "\" y=\"" + px(top + 12) +
         "\" text-anchor=\"end\">no power-law fit</text>";
  }
  // The legend has boxes for the point colours; the fit line's colour c4 is
  // named by its own entry.
  draw_legend(s, legend, right, 32, false);
  s += "</svg>";
  return s;
}

}  // namespace gradcheck::html
