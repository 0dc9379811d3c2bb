#pragma once
// SVG charts for the HTML reports: data in, an <svg> string out. No scripts,
// no external resources; colours come from the page's CSS (page.hpp), so the
// same chart follows the light or dark scheme and prints.
//
// Every chart is deterministic (same input, same bytes: coordinates are
// printed with fixed precision, nothing depends on the locale, time or
// addresses). Its root is <svg class="chart chart-KIND"> and every drawn mark
// has a class a test can count: `series` (a line), `point`, `bar`, `span`,
// `marker`, `nonfinite`; colours are the classes c0..c7 (categories).
// Every point, bar and span carries a <title> tooltip.

#include <cstddef>
#include <limits>
#include <string>
#include <string_view>
#include <vector>

namespace gradcheck::html {

/// A numeric axis: its domain (already rounded outward to ticks), whether it is
/// logarithmic, and its tick values.
struct Axis {
  double lo = 0, hi = 1;
  bool log = false;
  std::vector<double> ticks;
};

/// A linear axis covering [lo, hi]: steps of 1, 2 or 5 times a power of ten
/// giving about `target` ticks; the domain is widened to whole steps. A
/// degenerate range (lo == hi) is widened around its value. Non-finite inputs
/// give [0, 1].
Axis linear_axis(double lo, double hi, int target = 5);
/// A log10 axis covering [lo, hi] (both > 0; otherwise [1, 10]): the domain is
/// widened to whole decades and the ticks are powers of ten (every k-th decade
/// when there are more than 8; 1-2-5 within a single decade).
Axis log_axis(double lo, double hi);
/// True when the finite values are all > 0 and max / min exceeds 10^2 (the
/// data spans more than two decades): such data is drawn on a log axis.
bool spans_decades(const std::vector<double>& values, double decades = 2.0);
/// A tick label: powers of ten on log axes as 1e-3 ... 1e3 when outside
/// [0.001, 10000]; on linear axes just enough digits for `step`. Never "-0".
std::string tick_label(double value, double step, bool log);
/// A number for tooltips and tables: up to `digits` significant digits,
/// "NaN", "inf", "-inf" for non-finite values.
std::string format_number(double value, int digits = 4);

enum class Scale { automatic, linear, log };

/// A shaded x-range with a label (a symptom over steps, ...). `kind` becomes a
/// class: "warning" or "error" colour it.
struct Span {
  double x0 = 0, x1 = 0;
  std::string label;
  std::string kind = "warning";
};

/// A vertical line at x with a label (a suggested learning rate, ...).
struct Marker {
  double x = 0;
  std::string label;
};

struct LineSeries {
  std::string name;
  std::vector<double> x, y;  ///< same length; points with a non-finite y are skipped and marked
  int color = 0;             ///< category class c0..c7
};

struct LineChartOptions {
  std::string title, x_label, y_label;
  Scale x_scale = Scale::linear;
  /// automatic: log when the finite y values span more than two decades.
  Scale y_scale = Scale::automatic;
  int width = 720, height = 300;
  std::vector<Span> spans;
  std::vector<Marker> markers;
  /// Series with at most this many points get a dot with a tooltip per point;
  /// longer ones are drawn as a line only (its tooltip summarises it).
  std::size_t max_points_with_dots = 150;
};

/// A line chart. Series longer than twice the plot width are reduced per pixel
/// column to their first, smallest, largest and last point (extremes survive).
/// A run of non-finite y values breaks the line and is marked by a `nonfinite`
/// triangle at the top of the plot at its first x. On a log y axis,
/// non-positive values are treated like non-finite ones.
std::string line_chart(const std::vector<LineSeries>& series, const LineChartOptions& options);

/// One histogram bin [lo, hi) and how many values it holds.
struct HistogramBin {
  double lo = 0, hi = 0;
  double count = 0;
};

struct HistogramOptions {
  std::string title, x_label;
  std::string y_label = "count";
  int width = 360, height = 200;
  std::vector<Marker> markers;
};

/// A histogram with a log count axis (so a handful of outliers or a spike of
/// zeros stays visible beside the bulk). Empty bins are not drawn.
std::string histogram(const std::vector<HistogramBin>& bins, const HistogramOptions& options);

struct ScatterPoint {
  double x = 0, y = 0;
  int category = 0;   ///< index into ScatterOptions::categories; its colour class
  std::string label;  ///< tooltip text (the numbers are appended)
};

struct ScatterOptions {
  std::string title, x_label, y_label;
  std::vector<std::string> categories;  ///< legend names, by category index
  bool diagonal = false;  ///< draw y = x (both axes then share one domain)
  Scale scale = Scale::automatic;  ///< automatic: log-log when every value is > 0 and spans decades
  int width = 480, height = 400;
};

/// A scatter plot. Points with a non-finite coordinate, or a non-positive one
/// on log axes, are not drawn; the chart says how many were left out.
std::string scatter(const std::vector<ScatterPoint>& points, const ScatterOptions& options);

struct BarRow {
  std::string label;
  double value = 0;
  /// Drawn as a tick across the row; NaN: none.
  double bound = std::numeric_limits<double>::quiet_NaN();
  int category = 0;
  std::string tooltip;  ///< extra text after "label: value"
};

struct BarChartOptions {
  std::string title, x_label;
  std::vector<std::string> categories;  ///< legend names, by category index
  Scale scale = Scale::log;
  std::vector<Marker> markers;  ///< reference values drawn across all rows
  int width = 720;
  int row_height = 20;
};

/// Horizontal bars, one row per entry, value against an optional bound. On a
/// log axis a value <= 0 or non-finite draws no bar; its tooltip says so.
std::string bar_chart(const std::vector<BarRow>& rows, const BarChartOptions& options);

struct PowerLawTailOptions {
  std::string title;
  std::string x_label = "eigenvalue x of W^T W (log)";
  std::string y_label = "fraction >= x (log)";
  int width = 360, height = 240;
  /// At most this many points are drawn: beyond it, points at ranks spread
  /// evenly in log(rank) (the tail, at the top ranks, keeps all its largest
  /// values; the bulk is thinned), always with the smallest value and xmin.
  std::size_t max_points = 200;
};

/// The WeightWatcher-style tail plot: the empirical survival function of
/// `values` (> 0; others ignored), S(x_i) = i / n for the i-th largest of the
/// n values, drawn as points on log-log axes (class `point`; c1 for
/// x >= xmin, the fitted tail; c0 below), the fitted power law
/// S(x) = (tail_count / n) (x / xmin)^(1 - alpha) for x >= xmin as a line
/// (class `series fit`), and xmin as a `marker`. With a non-finite alpha or
/// xmin only the points are drawn and the chart says there is no fit. The
/// x-axis label says how many values were left out (zero eigenvalues of a
/// rank-deficient matrix).
std::string power_law_tail_chart(const std::vector<double>& values, double alpha, double xmin,
                                 const PowerLawTailOptions& options);

}  // namespace gradcheck::html
