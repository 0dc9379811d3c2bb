#pragma once
// Robust statistics the detectors use on noisy training curves.

#include <cstddef>
#include <span>
#include <vector>

namespace gradcheck::diag {

/// Median of `v` (NaN for an empty input). Takes a copy; O(n).
double median(std::vector<double> v);

/// The q-quantile (0 <= q <= 1) with linear interpolation between order statistics.
double quantile(std::vector<double> v, double q);

/// Median absolute deviation from the median, unscaled (multiply by 1.4826 for
/// a normal sigma).
double mad(const std::vector<double>& v);

/// Centred running median over `window` points (made odd; shrinks at the ends),
/// a smoother that an isolated spike cannot move.
std::vector<double> running_median(std::span<const double> v, std::size_t window);

/// Mann-Kendall trend test. S = sum over i<j of sign(x_j - x_i); under no trend
/// S is approximately normal with variance n(n-1)(2n+5)/18 minus the tie
/// correction sum t(t-1)(2t+5)/18; z uses the continuity correction (S -+ 1).
/// `p_increasing` / `p_decreasing` are one-sided p-values. O(n^2): callers pass
/// at most a few hundred points (bucket medians of longer series).
struct TrendTest {
  double s = 0;
  double z = 0;
  double p_increasing = 1;
  double p_decreasing = 1;
};
TrendTest mann_kendall(std::span<const double> v);

/// Theil-Sen slope: the median of (y_j - y_i)/(x_j - x_i) over pairs with
/// x_i != x_j. Robust to up to ~29% outliers. O(n^2) like mann_kendall.
double theil_sen_slope(std::span<const double> x, std::span<const double> y);

/// Reduces a series to at most `max_points` points: the median of each of
/// `max_points` equal consecutive buckets (and the middle x of each bucket).
/// Shorter inputs are returned unchanged.
void bucket_medians(std::span<const double> x, std::span<const double> y, std::size_t max_points,
                    std::vector<double>& out_x, std::vector<double>& out_y);

}  // namespace gradcheck::diag
