#pragma once
// Robust statistics the detectors use on noisy training curves.

#include <cstddef>
#include <cstdint>
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

/// Where a rise began: `v` stays flat (callers start it at a curve's best
/// point), then rises, in the scale the caller chose (the logarithm of a
/// positive curve). The prefix of `v` up to the first point that has covered
/// 90% of the rise from v[0] to max(v), and a few points more, is fitted by
/// least squares with two shapes, each with a change point t: flat then a
/// straight ramp from t (a gradual take-off), and flat then a step at t (a
/// jump); the better fit's t is returned (0 when v does not rise). O(n).
std::size_t rise_onset(std::span<const double> v);

/// The first index i with flags[i] set from which at least `fraction` of the
/// flags to the end are set: where a condition began and then (mostly) held.
/// flags.size() when there is none. O(n).
std::size_t persistent_onset(std::span<const std::uint8_t> flags, double fraction);

/// Lag-1 autocorrelation of `v` around its mean (0 for fewer than 3 points or
/// a constant input): near 0 for independent noise, near -1 for values that
/// alternate up and down, near +1 for slow waves or a level that wanders.
double lag1_autocorrelation(std::span<const double> v);

}  // namespace gradcheck::diag
