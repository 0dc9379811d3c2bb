#include "stats.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

namespace gradcheck::diag {

double median(std::vector<double> v) {
  if (v.empty()) return std::numeric_limits<double>::quiet_NaN();
  const std::size_t mid = v.size() / 2;
  std::nth_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(mid), v.end());
  const double hi = v[mid];
  if (v.size() % 2 == 1) return hi;
  const double lo = *std::max_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(mid));
  return 0.5 * (lo + hi);
}

double quantile(std::vector<double> v, double q) {
  if (v.empty()) return std::numeric_limits<double>::quiet_NaN();
  const double pos = std::clamp(q, 0.0, 1.0) * static_cast<double>(v.size() - 1);
  const std::size_t i = static_cast<std::size_t>(pos);
  std::nth_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(i), v.end());
  const double lo = v[i];
  if (i + 1 >= v.size()) return lo;
  // The next order statistic is the smallest of the elements after position i.
  const double hi = *std::min_element(v.begin() + static_cast<std::ptrdiff_t>(i) + 1, v.end());
  const double f = pos - static_cast<double>(i);
  return lo * (1 - f) + hi * f;
}

double mad(const std::vector<double>& v) {
  const double m = median(v);
  std::vector<double> d(v.size());
  for (std::size_t i = 0; i < v.size(); ++i) d[i] = std::abs(v[i] - m);
  return median(std::move(d));
}

std::vector<double> running_median(std::span<const double> v, std::size_t window) {
  const std::size_t n = v.size();
  std::vector<double> out(n);
  if (window < 1) window = 1;
  const std::size_t half = window / 2;
  std::vector<double> buf;
  buf.reserve(2 * half + 1);
  for (std::size_t i = 0; i < n; ++i) {
    const std::size_t lo = i >= half ? i - half : 0;
    const std::size_t hi = std::min(n, i + half + 1);
    buf.assign(v.begin() + static_cast<std::ptrdiff_t>(lo), v.begin() + static_cast<std::ptrdiff_t>(hi));
    out[i] = median(buf);
  }
  return out;
}

TrendTest mann_kendall(std::span<const double> v) {
  TrendTest t;
  const std::size_t n = v.size();
  if (n < 3) return t;
  double s = 0;
  for (std::size_t i = 0; i + 1 < n; ++i)
    for (std::size_t j = i + 1; j < n; ++j) s += (v[j] > v[i]) - (v[j] < v[i]);
  std::vector<double> sorted(v.begin(), v.end());
  std::sort(sorted.begin(), sorted.end());
  double ties = 0;
  for (std::size_t i = 0; i < n;) {
    std::size_t j = i;
    while (j < n && sorted[j] == sorted[i]) ++j;
    const double c = static_cast<double>(j - i);
    ties += c * (c - 1) * (2 * c + 5);
    i = j;
  }
  const double dn = static_cast<double>(n);
  const double var = (dn * (dn - 1) * (2 * dn + 5) - ties) / 18.0;
  t.s = s;
  if (var <= 0) return t;
  t.z = s > 0 ? (s - 1) / std::sqrt(var) : s < 0 ? (s + 1) / std::sqrt(var) : 0.0;
  t.p_increasing = 0.5 * std::erfc(t.z / std::sqrt(2.0));
  t.p_decreasing = 0.5 * std::erfc(-t.z / std::sqrt(2.0));
  return t;
}

double theil_sen_slope(std::span<const double> x, std::span<const double> y) {
  std::vector<double> slopes;
  const std::size_t n = std::min(x.size(), y.size());
  slopes.reserve(n * (n - 1) / 2 + 1);
  for (std::size_t i = 0; i + 1 < n; ++i)
    for (std::size_t j = i + 1; j < n; ++j)
      if (x[j] != x[i]) slopes.push_back((y[j] - y[i]) / (x[j] - x[i]));
  return median(std::move(slopes));
}

void bucket_medians(std::span<const double> x, std::span<const double> y, std::size_t max_points,
                    std::vector<double>& out_x, std::vector<double>& out_y) {
  const std::size_t n = std::min(x.size(), y.size());
  out_x.clear();
  out_y.clear();
  if (n <= max_points || max_points == 0) {
    out_x.assign(x.begin(), x.begin() + static_cast<std::ptrdiff_t>(n));
    out_y.assign(y.begin(), y.begin() + static_cast<std::ptrdiff_t>(n));
    return;
  }
  std::vector<double> buf;
  for (std::size_t b = 0; b < max_points; ++b) {
    const std::size_t lo = b * n / max_points, hi = (b + 1) * n / max_points;
    if (hi <= lo) continue;
    buf.assign(y.begin() + static_cast<std::ptrdiff_t>(lo), y.begin() + static_cast<std::ptrdiff_t>(hi));
    out_y.push_back(median(buf));
    out_x.push_back(x[(lo + hi - 1) / 2]);
  }
}

}  // namespace gradcheck::diag
