// The chart primitives: axes and ticks, escaping, determinism, non-finite data.
#include <catch2/catch.hpp>

#include <cmath>
#include <limits>
#include <string>

#include "html/charts.hpp"
#include "html/page.hpp"
#include "count.hpp"

using namespace gradcheck::html;

namespace {

using gradcheck::html::test::count;

const double kNaN = std::numeric_limits<double>::quiet_NaN();
const double kInf = std::numeric_limits<double>::infinity();

}  // namespace

TEST_CASE("linear axes step by 1, 2 or 5 times a power of ten and cover the data", "[charts][axes]") {
  const Axis a = linear_axis(0.13, 9.7);
  CHECK(a.lo <= 0.13);
  CHECK(a.hi >= 9.7);
  REQUIRE(a.ticks.size() >= 3);
  const double step = a.ticks[1] - a.ticks[0];
  const double mant = step / std::pow(10.0, std::floor(std::log10(step)));
  CHECK((std::abs(mant - 1) < 1e-9 || std::abs(mant - 2) < 1e-9 || std::abs(mant - 5) < 1e-9));
  CHECK(linear_axis(0, 1).ticks == std::vector<double>{0, 0.2, 0.4, 0.6, 0.8, 1.0});
  // A span across zero has a tick exactly at 0, printed "0", never "-0".
  const Axis z = linear_axis(-0.3, 0.3);
  bool zero = false;
  for (double t : z.ticks) zero = zero || t == 0;
  CHECK(zero);
  CHECK(tick_label(-1e-17, 0.1, false) == "0");
  // Degenerate and non-finite ranges still give a usable axis.
  const Axis d = linear_axis(5, 5);
  CHECK(d.lo < 5);
  CHECK(d.hi > 5);
  const Axis n = linear_axis(kNaN, 3);
  CHECK(n.lo == 0);
  CHECK(n.hi == 1);
}

TEST_CASE("log axes tick at powers of ten and widen to whole decades", "[charts][axes]") {
  const Axis a = log_axis(3e-5, 0.2);
  CHECK(a.log);
  CHECK(a.lo == Approx(1e-5));
  CHECK(a.hi == Approx(1.0));
  REQUIRE(a.ticks.size() == 6);
  for (std::size_t i = 0; i < a.ticks.size(); ++i) CHECK(a.ticks[i] == Approx(std::pow(10.0, -5.0 + i)));
  CHECK(tick_label(1e-5, 0, true) == "1e-5");
  CHECK(tick_label(0.01, 0, true) == "0.01");
  CHECK(tick_label(1000, 0, true) == "1000");
  CHECK(tick_label(1e6, 0, true) == "1e6");
  // Twenty decades: at most nine labelled ticks.
  CHECK(log_axis(1e-10, 1e10).ticks.size() <= 9);
  // Within one decade the ticks are 1-2-5.
  CHECK(log_axis(1.5, 8).ticks.size() == 4);
  // Invalid input falls back to [1, 10] rather than producing NaN pixels.
  const Axis bad = log_axis(-1, 0);
  CHECK(bad.lo == 1);
  CHECK(bad.hi == 10);
}

TEST_CASE("log scale is chosen when positive data spans more than two decades", "[charts][axes]") {
  CHECK(spans_decades({1, 10, 1000}));
  CHECK_FALSE(spans_decades({1, 10, 99}));
  CHECK_FALSE(spans_decades({-1, 10, 1e6}));  // a sign change cannot go on a log axis
  CHECK(spans_decades({1, kNaN, 1e4, kInf}));  // non-finite values are ignored
  CHECK_FALSE(spans_decades({}));

  LineChartOptions o;
  LineSeries wide{"loss", {0, 1, 2, 3}, {1e3, 10, 0.1, 1e-3}, 0};
  CHECK(count(line_chart({wide}, o), "log scale") == 1);
  LineSeries narrow{"loss", {0, 1, 2, 3}, {3, 2.5, 2.2, 2.1}, 0};
  CHECK(count(line_chart({narrow}, o), "log scale") == 0);
  o.y_scale = Scale::linear;
  CHECK(count(line_chart({wide}, o), "log scale") == 0);
}

TEST_CASE("text is escaped in labels, titles and tooltips", "[charts][escape]") {
  CHECK(escape("<b>\"x\" & 'y'</b>") == "&lt;b&gt;&quot;x&quot; &amp; &#39;y&#39;&lt;/b&gt;");
  const std::string evil = "<script>alert(1)</script>";
  LineChartOptions o;
  o.title = evil;
  o.spans = {{1, 2, evil, "error"}};
  o.markers = {{1.5, evil}};
  const std::string svg = line_chart({{evil, {0, 1, 2, 3}, {1, 2, 3, 4}, 0}}, o);
  CHECK(svg.find("<script>") == std::string::npos);
  CHECK(svg.find("&lt;script&gt;") != std::string::npos);
  const std::string bars = bar_chart({{evil, 1.0, 2.0, 0, evil}}, BarChartOptions{});
  CHECK(bars.find("<script>") == std::string::npos);
  const std::string pts = scatter({{1, 2, 0, evil}}, ScatterOptions{});
  CHECK(pts.find("<script>") == std::string::npos);
  gradcheck::html::Page page(evil, evil);
  page.paragraph(evil);
  page.note(evil, {evil});
  page.raw(table({evil}, {{Cell(evil, "flag")}}));
  CHECK(page.str().find("<script>") == std::string::npos);
}

TEST_CASE("charts are deterministic and carry countable classes and tooltips", "[charts][determinism]") {
  LineChartOptions o;
  o.title = "loss";
  o.spans = {{2, 3, "spike", "warning"}};
  o.markers = {{1, "here"}};
  const std::vector<LineSeries> s = {{"loss", {0, 1, 2, 3, 4}, {5, 4, 9, 3, 2}, 0}, {"val", {0, 2, 4}, {5, 4, 3}, 1}};
  const std::string a = line_chart(s, o);
  CHECK(a == line_chart(s, o));
  CHECK(a.rfind("<svg class=\"chart chart-line\"", 0) == 0);
  CHECK(count(a, "class=\"series ") == 2);
  CHECK(count(a, "class=\"point ") == 8);
  CHECK(count(a, "class=\"span span-warning\"") == 1);
  CHECK(count(a, "class=\"marker\"") == 1);
  CHECK(count(a, "<title>") >= 8 + 2 + 1 + 1);

  const std::vector<HistogramBin> bins = {{0, 1, 1000}, {1, 2, 0}, {2, 3, 1}};
  const std::string h = histogram(bins, HistogramOptions{});
  CHECK(h == histogram(bins, HistogramOptions{}));
  CHECK(h.rfind("<svg class=\"chart chart-hist\"", 0) == 0);
  CHECK(count(h, "class=\"bar ") == 2);  // the empty bin is not drawn

  ScatterOptions so;
  so.diagonal = true;
  so.categories = {"ok", "mismatch"};
  const std::string sc = scatter({{1, 1, 0, "a"}, {2, 4, 1, "b"}}, so);
  CHECK(sc.rfind("<svg class=\"chart chart-scatter\"", 0) == 0);
  CHECK(count(sc, "class=\"point ") == 2);
  CHECK(count(sc, "class=\"diagonal\"") == 1);
  CHECK(count(sc, "class=\"point c1\"") == 1);

  const std::string b = bar_chart({{"w", 1e-3, 1e-2, 0, ""}, {"b", 0.5, kNaN, 1, ""}}, BarChartOptions{});
  CHECK(b.rfind("<svg class=\"chart chart-bars\"", 0) == 0);
  CHECK(count(b, "class=\"bar ") == 2);
  CHECK(count(b, "class=\"bound\"") == 1);  // no tick for the row without a bound
}

TEST_CASE("non-finite points are skipped, break the line and are marked", "[charts][nonfinite]") {
  LineChartOptions o;
  LineSeries s{"loss", {0, 1, 2, 3, 4, 5}, {1, 2, kNaN, kInf, 2, 1}, 0};
  const std::string svg = line_chart({s}, o);
  CHECK(svg.find("nan") == std::string::npos);  // no NaN coordinate reaches the SVG
  CHECK(svg.find("inf\"") == std::string::npos);
  CHECK(count(svg, "class=\"nonfinite ") == 1);  // one run of two non-finite values, one mark
  CHECK(count(svg, "class=\"point ") == 4);
  // The path restarts after the gap: two "M" moves.
  const auto p = svg.find("class=\"series ");
  REQUIRE(p != std::string::npos);
  const auto d0 = svg.find("d=\"", p), d1 = svg.find('"', d0 + 3);
  CHECK(count(svg.substr(d0, d1 - d0), "M") == 2);
  CHECK(svg.find("2 not drawn") != std::string::npos);

  // Scatter: non-finite points are left out and counted.
  const std::string sc = scatter({{1, kNaN, 0, ""}, {1, 1, 0, ""}, {kInf, 2, 0, ""}}, ScatterOptions{});
  CHECK(count(sc, "class=\"point ") == 1);
  CHECK(sc.find("2 points not drawn") != std::string::npos);
  // Bars: a non-finite or non-positive value on a log axis draws an empty bar, said in its tooltip.
  const std::string b = bar_chart({{"x", kNaN, kNaN, 0, ""}, {"y", 0, kNaN, 0, ""}, {"z", 1, kNaN, 0, ""}},
                                  BarChartOptions{});
  CHECK(count(b, "not drawn") == 2);
}

TEST_CASE("dense series are reduced per pixel column keeping the extremes", "[charts][nonfinite]") {
  LineSeries s;
  s.name = "loss";
  for (int i = 0; i < 100000; ++i) {
    s.x.push_back(i);
    s.y.push_back(i == 51234 ? 1e3 : 1.0 + 0.001 * (i % 7));
  }
  LineChartOptions o;
  o.y_scale = Scale::linear;
  const std::string svg = line_chart({s}, o);
  CHECK(svg.size() < 200000);              // not 100000 points
  CHECK(count(svg, "class=\"point ") == 0);  // too many points for dots
  // The spike survives: some vertex is at the top of the plot (y = 28 px).
  CHECK(svg.find(" 28.00") != std::string::npos);
}
