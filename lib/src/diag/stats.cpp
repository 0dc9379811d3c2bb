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

std::size_t rise_onset(std::span<const double> v) {
  const std::size_t n = v.size();
  if (n < 3) return 0;
  const double base = v[0], top = *std::max_element(v.begin(), v.end());
  if (!(top > base)) return 0;
  // The fit covers the rise up to 90% of its height: what comes after (a
  // plateau at the top, a fall back) is not part of the take-off.
  constexpr double kCoveredRise = 0.9;
  std::size_t cut = 0;
  while (cut + 1 < n && v[cut] - base < kCoveredRise * (top - base)) ++cut;
  // A few points past it, so that a jump has a level after it to fit.
  const std::size_t len = std::min(n, cut + 1 + std::max<std::size_t>(2, (cut + 1) / 10));
  if (len < 3) return cut;
  // Suffix sums over k in [t, cut] of 1, k, k^2, y, k*y, y^2, and prefix sums
  // of y and y^2, so that every change point costs O(1).
  std::vector<double> sk(len + 1, 0), skk(len + 1, 0), sy(len + 1, 0), sky(len + 1, 0), syy(len + 1, 0);
  for (std::size_t i = len; i-- > 0;) {
    const double k = static_cast<double>(i), y = v[i];
    sk[i] = sk[i + 1] + k;
    skk[i] = skk[i + 1] + k * k;
    sy[i] = sy[i + 1] + y;
    sky[i] = sky[i + 1] + k * y;
    syy[i] = syy[i + 1] + y * y;
  }
  const double total_y = sy[0], total_yy = syy[0], dn = static_cast<double>(len);
  double best_sse = INFINITY;
  std::size_t best_t = 0;
  for (std::size_t t = 0; t + 1 < len; ++t) {
    const double dt = static_cast<double>(t), cnt = static_cast<double>(len - t);
    // Flat, then a ramp x = max(0, k - t): least squares on [1, x] over all points.
    const double sx = sk[t] - dt * cnt;
    const double sxx = skk[t] - 2 * dt * sk[t] + dt * dt * cnt;
    const double sxy = sky[t] - dt * sy[t];
    const double det = dn * sxx - sx * sx;
    double sse = total_yy - total_y * total_y / dn;  // the flat fit when the ramp does not help
    if (det > 0) {
      const double c = (dn * sxy - sx * total_y) / det;
      if (c > 0) {
        const double a = (total_y - c * sx) / dn;
        sse = total_yy - a * total_y - c * sxy;
      }
    }
    if (sse < best_sse) best_sse = sse, best_t = t;
    // Flat, then a step at t (t >= 1): two means.
    if (t >= 1) {
      const double n1 = dt, s1 = total_y - sy[t], q1 = total_yy - syy[t];
      const double step_sse = (q1 - s1 * s1 / n1) + (syy[t] - sy[t] * sy[t] / cnt);
      if (sy[t] / cnt > s1 / n1 && step_sse < best_sse) best_sse = step_sse, best_t = t;
    }
  }
  return best_t;
}

std::size_t persistent_onset(std::span<const std::uint8_t> flags, double fraction) {
  const std::size_t n = flags.size();
  std::size_t set_after = 0, onset = n;  // flags set in [i, n)
  for (std::size_t i = n; i-- > 0;) {
    set_after += flags[i] ? 1 : 0;
    if (flags[i] && static_cast<double>(set_after) >= fraction * static_cast<double>(n - i)) onset = i;
  }
  return onset;
}

double lag1_autocorrelation(std::span<const double> v) {
  const std::size_t n = v.size();
  if (n < 3) return 0;
  double mean = 0;
  for (double x : v) mean += x;
  mean /= static_cast<double>(n);
  double num = 0, den = 0;
  for (std::size_t i = 0; i < n; ++i) {
    den += (v[i] - mean) * (v[i] - mean);
    if (i + 1 < n) num += (v[i] - mean) * (v[i + 1] - mean);
  }
  return den > 0 ? num / den : 0.0;
}

}  // namespace gradcheck::diag
