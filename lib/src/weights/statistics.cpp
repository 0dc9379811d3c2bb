#include "gradcheck/weights/statistics.hpp"

#include <algorithm>
#include <atomic>
#include <bit>
#include <cfloat>
#include <cmath>
#include <cstring>
#include <limits>
#include <memory>
#include <mutex>
#include <stdexcept>

#include "parallel.hpp"

namespace gradcheck::weights {

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr std::size_t kBins = 65536;

// Order-preserving map of float32 bits to unsigned: negative values reversed
// below positive ones.
std::uint32_t ordered_bits(float f) noexcept {
  const std::uint32_t b = std::bit_cast<std::uint32_t>(f);
  // Branch-free: negative values flip every bit, positive ones only the sign.
  const std::uint32_t mask = static_cast<std::uint32_t>(static_cast<std::int32_t>(b) >> 31) | 0x80000000u;
  return b ^ mask;
}

float from_ordered(std::uint32_t u) noexcept {
  return std::bit_cast<float>((u & 0x80000000u) ? (u & 0x7FFFFFFFu) : ~u);
}

// Count, mean and central moments of a set of finite values, mergeable.
struct Moments {
  double n = 0, mean = 0, m2 = 0, m3 = 0, m4 = 0;

  // Pebay (2008), "Formulas for robust, one-pass parallel computation of
  // covariances and arbitrary-order statistical moments", eqs. 2.1-2.3.
  static Moments merge(const Moments& a, const Moments& b) noexcept {
    if (a.n == 0) return b;
    if (b.n == 0) return a;
    Moments r;
    r.n = a.n + b.n;
    const double d = b.mean - a.mean;
    const double d_n = d / r.n;
    const double d_n2 = d_n * d_n;
    const double t1 = d * d_n * a.n * b.n;
    r.mean = a.mean + d_n * b.n;
    r.m2 = a.m2 + b.m2 + t1;
    r.m3 = a.m3 + b.m3 + t1 * d_n * (a.n - b.n) + 3.0 * d_n * (a.n * b.m2 - b.n * a.m2);
    r.m4 = a.m4 + b.m4 + t1 * d_n2 * (a.n * a.n - a.n * b.n + b.n * b.n) +
           6.0 * d_n2 * (a.n * a.n * b.m2 + b.n * b.n * a.m2) + 4.0 * d_n * (a.n * b.m3 - b.n * a.m3);
    return r;
  }
};

struct ChunkResult {
  Moments moments;
  double min = std::numeric_limits<double>::infinity();
  double max = -std::numeric_limits<double>::infinity();
  std::uint64_t nan = 0, inf = 0, zeros = 0;
};

// Merges chunk results [lo, hi) as a balanced binary tree: the order depends
// only on the chunk count, and the rounding error grows with log(chunks).
ChunkResult merge_tree(const std::vector<ChunkResult>& parts, std::size_t lo, std::size_t hi) {
  if (hi - lo == 1) return parts[lo];
  const std::size_t mid = lo + (hi - lo) / 2;
  const ChunkResult a = merge_tree(parts, lo, mid);
  const ChunkResult b = merge_tree(parts, mid, hi);
  ChunkResult r;
  r.moments = Moments::merge(a.moments, b.moments);
  r.min = std::min(a.min, b.min);
  r.max = std::max(a.max, b.max);
  r.nan = a.nan + b.nan;
  r.inf = a.inf + b.inf;
  r.zeros = a.zeros + b.zeros;
  return r;
}

// Per-worker scratch, reused across chunks. `seen` marks the groups of 128
// histogram bins (one binade of one sign) a chunk touched, so flushing visits
// only those; a plain byte store keeps the per-value loop free of
// read-modify-write chains.
constexpr std::size_t kGroup = 128;
struct Scratch {
  std::vector<double> values = std::vector<double>(kChunkElements);
  std::vector<std::uint32_t> hist = std::vector<std::uint32_t>(kBins, 0);
  std::vector<std::uint8_t> seen = std::vector<std::uint8_t>(kBins / kGroup, 0);
};

struct Job {
  const TensorView* view = nullptr;
  std::size_t first_task = 0, chunks = 0;
  std::vector<ChunkResult> parts;
  std::atomic<std::size_t> remaining{0};
  std::once_flag alloc_once;
  std::vector<std::uint64_t> dense;  // histogram, while chunks are in flight
  bool is_matrix = false;
  std::int64_t rows = 0, cols = 0;
  std::vector<std::uint64_t> row_hash;
  std::vector<std::uint8_t> row_alive;
  std::vector<std::uint64_t> col_alive;  // bit set
  TensorAnalysis* out = nullptr;
};

void allocate(Job& job) {
  if (job.chunks > 1) job.dense.assign(kBins, 0);
  if (job.is_matrix) {
    job.row_hash.assign(static_cast<std::size_t>(job.rows), 0);
    job.row_alive.assign(static_cast<std::size_t>(job.rows), 0);
    job.col_alive.assign((static_cast<std::size_t>(job.cols) + 63) / 64, 0);
  }
}

inline std::uint16_t bin_of(double x) noexcept {
  x = x < -double(FLT_MAX) ? -double(FLT_MAX) : x;
  x = x > double(FLT_MAX) ? double(FLT_MAX) : x;
  const float f = static_cast<float>(x);
  return static_cast<std::uint16_t>(ordered_bits(f) >> 16);
}

void matrix_segment(Job& job, const double* x, std::size_t begin, std::size_t end, bool has_zeros) {
  const auto cols = static_cast<std::size_t>(job.cols);
  std::size_t i = begin;
  while (i < end) {
    const std::size_t row = i / cols;
    const std::size_t seg_end = std::min(end, (row + 1) * cols);
    const std::size_t col0 = i - row * cols;
    // An order-free hash (a sum of per-element terms) lets pieces of a row
    // cut by chunk boundaries combine in any order; equal hashes are
    // confirmed by comparing bytes, so one multiply per element suffices.
    std::uint64_t h[2] = {0, 0};
    std::size_t col = col0;
    for (; i + 2 <= seg_end; i += 2, col += 2) {
      h[0] += (std::bit_cast<std::uint64_t>(x[i - begin]) + col) * 0x9E3779B97F4A7C15ULL;
      h[1] += (std::bit_cast<std::uint64_t>(x[i + 1 - begin]) + col + 1) * 0x9E3779B97F4A7C15ULL;
    }
    if (i < seg_end) {
      h[0] += (std::bit_cast<std::uint64_t>(x[i - begin]) + col) * 0x9E3779B97F4A7C15ULL;
      ++i;
    }
    const std::size_t col_end = col0 + (seg_end - (row * cols + col0));
    std::atomic_ref<std::uint64_t>(job.row_hash[row]).fetch_add(h[0] + h[1], std::memory_order_relaxed);
    // Without a zero in the chunk every value is alive: whole bit ranges.
    bool any = !has_zeros && col_end > col0;
    for (std::size_t c = col0; c < col_end;) {
      const std::size_t w = c >> 6, stop = std::min(col_end, (w + 1) * 64);
      std::uint64_t word = 0;
      if (!has_zeros) {
        const std::size_t lo = c & 63, n = stop - c;
        word = (n == 64 ? ~std::uint64_t(0) : ((std::uint64_t(1) << n) - 1)) << lo;
      } else {
        for (std::size_t k = c; k < stop; ++k)
          word |= std::uint64_t(x[row * cols + k - begin] != 0.0) << (k & 63);
        any |= word != 0;
      }
      if (word != 0 && (std::atomic_ref<std::uint64_t>(job.col_alive[w]).load(std::memory_order_relaxed) & word) != word)
        std::atomic_ref<std::uint64_t>(job.col_alive[w]).fetch_or(word, std::memory_order_relaxed);
      c = stop;
    }
    if (any) std::atomic_ref<std::uint8_t>(job.row_alive[row]).store(1, std::memory_order_relaxed);
  }
}

// Central moments about the chunk's mean over the finite values; four
// independent accumulators per moment keep the loop short of dependency stalls.
void chunk_moments(const double* x, std::size_t n, double mean, bool all_finite, double& m2, double& m3, double& m4) {
  double a2[4] = {0, 0, 0, 0}, a3[4] = {0, 0, 0, 0}, a4[4] = {0, 0, 0, 0};
  if (all_finite) {
    std::size_t i = 0;
    for (; i + 4 <= n; i += 4)
      for (int l = 0; l < 4; ++l) {
        const double d = x[i + l] - mean, d2 = d * d;
        a2[l] += d2;
        a3[l] += d2 * d;
        a4[l] += d2 * d2;
      }
    for (; i < n; ++i) {
      const double d = x[i] - mean, d2 = d * d;
      a2[0] += d2;
      a3[0] += d2 * d;
      a4[0] += d2 * d2;
    }
  } else {
    for (std::size_t i = 0; i < n; ++i) {
      if (!(std::fabs(x[i]) <= DBL_MAX)) continue;
      const double d = x[i] - mean, d2 = d * d;
      a2[0] += d2;
      a3[0] += d2 * d;
      a4[0] += d2 * d2;
    }
  }
  m2 = (a2[0] + a2[1]) + (a2[2] + a2[3]);
  m3 = (a3[0] + a3[1]) + (a3[2] + a3[3]);
  m4 = (a4[0] + a4[1]) + (a4[2] + a4[3]);
}

void process_chunk(Job& job, std::size_t chunk, Scratch& s) {
  const TensorView& v = *job.view;
  const std::size_t begin = chunk * kChunkElements;
  const std::size_t end = std::min<std::size_t>(v.numel, begin + kChunkElements);
  const std::size_t n = end - begin;
  double* x = s.values.data();
  convert_to_double(v.dtype, v.data, begin, end, x);

  ChunkResult r;
  // Pass 1, branch-free: four lanes of sums, minima, maxima, zero and
  // non-finite counts. Only when a non-finite value shows up is the chunk
  // redone value by value.
  double sum[4] = {0, 0, 0, 0};
  double mn[4], mx[4];
  std::uint64_t zeros[4] = {0, 0, 0, 0}, bad[4] = {0, 0, 0, 0};
  for (int l = 0; l < 4; ++l) {
    mn[l] = std::numeric_limits<double>::infinity();
    mx[l] = -mn[l];
  }
  std::size_t i = 0;
  for (; i + 4 <= n; i += 4)
    for (int l = 0; l < 4; ++l) {
      const double xi = x[i + l];
      sum[l] += xi;
      mn[l] = xi < mn[l] ? xi : mn[l];
      mx[l] = xi > mx[l] ? xi : mx[l];
      zeros[l] += (xi == 0.0);
      bad[l] += !(std::fabs(xi) <= DBL_MAX);
    }
  for (; i < n; ++i) {
    const double xi = x[i];
    sum[0] += xi;
    mn[0] = xi < mn[0] ? xi : mn[0];
    mx[0] = xi > mx[0] ? xi : mx[0];
    zeros[0] += (xi == 0.0);
    bad[0] += !(std::fabs(xi) <= DBL_MAX);
  }
  const bool all_finite = bad[0] + bad[1] + bad[2] + bad[3] == 0;
  std::uint32_t* hist = s.hist.data();
  std::uint8_t* seen = s.seen.data();
  std::uint64_t finite = n;
  if (all_finite) {
    r.min = std::min({mn[0], mn[1], mn[2], mn[3]});
    r.max = std::max({mx[0], mx[1], mx[2], mx[3]});
    r.zeros = zeros[0] + zeros[1] + zeros[2] + zeros[3];
    if (v.dtype == DType::F32) {
      // float32 values are their own histogram keys: no conversion back.
      const std::uint8_t* p = v.data + begin * 4;
      for (std::size_t k = 0; k < n; ++k) {
        std::uint32_t b;
        std::memcpy(&b, p + 4 * k, 4);
        const std::uint32_t mask = static_cast<std::uint32_t>(static_cast<std::int32_t>(b) >> 31) | 0x80000000u;
        const auto key = static_cast<std::uint16_t>((b ^ mask) >> 16);
        ++hist[key];
        seen[key / kGroup] = 1;
      }
    } else {
      for (std::size_t k = 0; k < n; ++k) {
        const std::uint16_t key = bin_of(x[k]);
        ++hist[key];
        seen[key / kGroup] = 1;
      }
    }
  } else {
    sum[0] = sum[1] = sum[2] = sum[3] = 0;
    finite = 0;
    double lo = std::numeric_limits<double>::infinity(), hi = -lo;
    for (std::size_t k = 0; k < n; ++k) {
      const double xk = x[k];
      if (!(std::fabs(xk) <= DBL_MAX)) {
        if (std::isnan(xk)) ++r.nan; else ++r.inf;
        continue;
      }
      ++finite;
      sum[k & 3] += xk;
      lo = std::min(lo, xk);
      hi = std::max(hi, xk);
      r.zeros += (xk == 0.0);
      const std::uint16_t key = bin_of(xk);
      ++hist[key];
      seen[key / kGroup] = 1;
    }
    r.min = lo;
    r.max = hi;
  }
  if (finite > 0) {
    const double mean = ((sum[0] + sum[1]) + (sum[2] + sum[3])) / double(finite);
    double m2, m3, m4;
    chunk_moments(x, n, mean, all_finite, m2, m3, m4);
    r.moments = {double(finite), mean, m2, m3, m4};
  }
  job.parts[chunk] = r;

  if (job.is_matrix) matrix_segment(job, x, begin, end, r.zeros > 0 || !all_finite);

  // Flush the touched bins (in key order, i.e. value order) and reset them.
  auto& bins = job.out->stats.histogram.bins;
  for (std::size_t g = 0; g < kBins / kGroup; ++g) {
    if (!seen[g]) continue;
    seen[g] = 0;
    for (std::size_t k = g * kGroup; k < (g + 1) * kGroup; ++k) {
      if (hist[k] == 0) continue;
      // A single-chunk tensor takes its sparse histogram straight from here.
      if (job.chunks == 1) bins.push_back({static_cast<std::uint16_t>(k), hist[k]});
      else std::atomic_ref<std::uint64_t>(job.dense[k]).fetch_add(hist[k], std::memory_order_relaxed);
      hist[k] = 0;
    }
  }
}

void finalize(Job& job) {
  TensorStats& st = job.out->stats;
  const TensorView& v = *job.view;
  st.count = v.numel;
  if (job.chunks > 1) {
    for (std::size_t k = 0; k < kBins; ++k)
      if (job.dense[k] != 0) st.histogram.bins.push_back({static_cast<std::uint16_t>(k), job.dense[k]});
    std::vector<std::uint64_t>().swap(job.dense);
  }
  const ChunkResult all = job.chunks == 0 ? ChunkResult{} : merge_tree(job.parts, 0, job.chunks);
  std::vector<ChunkResult>().swap(job.parts);
  const Moments& m = all.moments;
  st.nan_count = all.nan;
  st.inf_count = all.inf;
  st.zero_count = all.zeros;
  st.finite_count = static_cast<std::uint64_t>(m.n);
  if (st.finite_count == 0) {
    st.mean = st.std = st.min = st.max = st.abs_max = st.zero_fraction = st.kurtosis = kNaN;
    st.p1 = st.p50 = st.p99 = kNaN;
    st.l2_norm = 0;
  } else {
    // Equal values have no spread; rounding in the chunk means must not invent one.
    const bool constant = all.min == all.max;
    st.mean = constant ? all.min : m.mean;
    st.std = constant ? 0.0 : std::sqrt(m.m2 / m.n);
    st.min = all.min;
    st.max = all.max;
    st.abs_max = std::max(std::fabs(all.min), std::fabs(all.max));
    st.l2_norm = constant ? std::sqrt(m.n) * std::fabs(all.min) : std::sqrt(m.m2 + m.n * m.mean * m.mean);
    st.zero_fraction = double(all.zeros) / m.n;
    st.kurtosis = !constant && m.m2 > 0 ? m.n * m.m4 / (m.m2 * m.m2) - 3.0 : kNaN;
    auto clamp = [&](double q) { return std::clamp(st.histogram.quantile(q), st.min, st.max); };
    st.p1 = clamp(0.01);
    st.p50 = clamp(0.50);
    st.p99 = clamp(0.99);
  }

  if (!job.is_matrix) return;
  MatrixStats ms;
  ms.rows = job.rows;
  ms.cols = job.cols;
  std::int64_t receptive = 1;
  for (std::size_t i = 2; i < v.shape.size(); ++i) receptive *= v.shape[i];
  ms.fan_in = v.shape[1] * receptive;
  ms.fan_out = v.shape[0] * receptive;
  ms.he_std = std::sqrt(2.0 / double(ms.fan_in));
  ms.glorot_std = std::sqrt(2.0 / double(ms.fan_in + ms.fan_out));
  ms.lecun_std = std::sqrt(1.0 / double(ms.fan_in));
  ms.ratio_he = st.std / ms.he_std;
  ms.ratio_glorot = st.std / ms.glorot_std;
  ms.ratio_lecun = st.std / ms.lecun_std;

  std::vector<std::int64_t> alive;
  for (std::int64_t r = 0; r < job.rows; ++r)
    if (job.row_alive[static_cast<std::size_t>(r)]) alive.push_back(r);
  ms.dead_rows = static_cast<std::uint64_t>(job.rows) - alive.size();
  std::uint64_t alive_cols = 0;
  for (std::uint64_t w : job.col_alive) alive_cols += static_cast<std::uint64_t>(std::popcount(w));
  ms.dead_cols = static_cast<std::uint64_t>(job.cols) - alive_cols;

  const std::size_t row_bytes = static_cast<std::size_t>(job.cols) * dtype_size(v.dtype);
  std::sort(alive.begin(), alive.end(), [&](std::int64_t a, std::int64_t b) {
    const auto ha = job.row_hash[std::size_t(a)], hb = job.row_hash[std::size_t(b)];
    return ha != hb ? ha < hb : a < b;
  });
  for (std::size_t i = 0; i < alive.size();) {
    std::size_t j = i;
    while (j < alive.size() && job.row_hash[std::size_t(alive[j])] == job.row_hash[std::size_t(alive[i])]) ++j;
    // Within a group of equal hashes, a row counts when its bytes equal an
    // earlier row's (groups are tiny unless rows really repeat).
    for (std::size_t a = i + 1; a < j; ++a) {
      for (std::size_t b = i; b < a; ++b) {
        if (std::memcmp(v.data + std::size_t(alive[a]) * row_bytes, v.data + std::size_t(alive[b]) * row_bytes,
                        row_bytes) == 0) {
          ++ms.identical_rows;
          const std::int64_t first = std::min(alive[a], alive[b]), second = std::max(alive[a], alive[b]);
          if (ms.identical_first < 0 || second < ms.identical_second ||
              (second == ms.identical_second && first < ms.identical_first)) {
            ms.identical_first = first;
            ms.identical_second = second;
          }
          break;
        }
      }
    }
    i = j;
  }
  std::vector<std::uint64_t>().swap(job.row_hash);
  std::vector<std::uint8_t>().swap(job.row_alive);
  std::vector<std::uint64_t>().swap(job.col_alive);
  job.out->matrix = ms;
}

}  // namespace

std::uint16_t Histogram::key_of(double value) noexcept { return bin_of(value); }

double Histogram::lower_edge(std::uint16_t key) noexcept {
  return static_cast<double>(from_ordered(std::uint32_t(key) << 16));
}

double Histogram::upper_edge(std::uint16_t key) noexcept {
  if (key == 0xFFFF) return std::numeric_limits<double>::quiet_NaN();
  return static_cast<double>(from_ordered(std::uint32_t(key + 1) << 16));
}

std::uint64_t Histogram::total() const noexcept {
  std::uint64_t n = 0;
  for (const auto& b : bins) n += b.count;
  return n;
}

double Histogram::quantile(double q) const noexcept {
  const std::uint64_t n = total();
  if (n == 0) return kNaN;
  const double rank = std::clamp(q, 0.0, 1.0) * double(n - 1);
  std::uint64_t before = 0;
  for (const auto& b : bins) {
    if (rank < double(before + b.count)) {
      const double lo = lower_edge(b.key), hi = upper_edge(b.key);
      const double frac = (rank - double(before) + 0.5) / double(b.count);
      return lo + (hi - lo) * std::min(frac, 1.0);
    }
    before += b.count;
  }
  return lower_edge(bins.back().key);
}

std::vector<TensorAnalysis> analyse_tensors(const std::vector<TensorView>& views, const StatsOptions& options) {
  std::vector<TensorAnalysis> results(views.size());
  std::vector<std::unique_ptr<Job>> jobs;
  jobs.reserve(views.size());
  std::size_t tasks = 0;
  for (std::size_t i = 0; i < views.size(); ++i) {
    auto job = std::make_unique<Job>();
    job->view = &views[i];
    job->out = &results[i];
    job->first_task = tasks;
    job->chunks = static_cast<std::size_t>((views[i].numel + kChunkElements - 1) / kChunkElements);
    job->parts.resize(job->chunks);
    job->remaining = job->chunks;
    if (views[i].shape.size() >= 2 && views[i].numel > 0) {
      job->is_matrix = true;
      job->rows = views[i].shape[0];
      job->cols = static_cast<std::int64_t>(views[i].numel / static_cast<std::uint64_t>(job->rows));
    }
    tasks += job->chunks;
    jobs.push_back(std::move(job));
  }
  for (auto& job : jobs)
    if (job->chunks == 0) finalize(*job);

  const int threads = detail::resolve_threads(options.threads);
  std::vector<Scratch> scratch(static_cast<std::size_t>(std::min<std::size_t>(threads, std::max<std::size_t>(tasks, 1))));
  detail::parallel_for(tasks, threads, [&](std::size_t task, std::size_t worker) {
    // Jobs are in task order: find the one holding this task.
    auto it = std::upper_bound(jobs.begin(), jobs.end(), task,
                               [](std::size_t t, const std::unique_ptr<Job>& j) { return t < j->first_task; });
    Job& job = **(it - 1);
    std::call_once(job.alloc_once, [&] { allocate(job); });
    process_chunk(job, task - job.first_task, scratch[worker]);
    if (job.remaining.fetch_sub(1, std::memory_order_acq_rel) == 1) finalize(job);
  });
  return results;
}

TensorAnalysis analyse_tensor(const TensorView& view, const StatsOptions& options) {
  return std::move(analyse_tensors({view}, options).front());
}

namespace {
template <class T>
TensorAnalysis statistics_of(std::span<const T> values, std::vector<std::int64_t> shape, const StatsOptions& options) {
  if (shape.empty()) shape.push_back(static_cast<std::int64_t>(values.size()));
  std::uint64_t n = 1;
  for (auto d : shape) {
    if (d < 0) throw std::invalid_argument("statistics: negative extent in shape");
    n *= static_cast<std::uint64_t>(d);
  }
  if (n != values.size()) throw std::invalid_argument("statistics: the shape's product differs from the value count");
  TensorView v{std::is_same_v<T, float> ? DType::F32 : DType::F64,
               reinterpret_cast<const std::uint8_t*>(values.data()), n, std::move(shape)};
  return analyse_tensor(v, options);
}
}  // namespace

TensorAnalysis statistics(std::span<const float> values, std::vector<std::int64_t> shape, const StatsOptions& options) {
  return statistics_of(values, std::move(shape), options);
}

TensorAnalysis statistics(std::span<const double> values, std::vector<std::int64_t> shape, const StatsOptions& options) {
  return statistics_of(values, std::move(shape), options);
}

std::vector<DiffStats> diff_tensors(const std::vector<std::pair<TensorView, TensorView>>& pairs,
                                    const StatsOptions& options) {
  struct Part {
    double diff2 = 0, before2 = 0;
    std::uint64_t changed = 0, skipped = 0;
  };
  std::vector<std::size_t> first(pairs.size() + 1, 0);
  for (std::size_t i = 0; i < pairs.size(); ++i) {
    if (pairs[i].first.numel != pairs[i].second.numel)
      throw std::invalid_argument("diff_tensors: tensors of different sizes");
    first[i + 1] = first[i] + static_cast<std::size_t>((pairs[i].first.numel + kChunkElements - 1) / kChunkElements);
  }
  std::vector<Part> parts(first.back());
  const int threads = detail::resolve_threads(options.threads);
  std::vector<std::vector<double>> buffers(static_cast<std::size_t>(threads), std::vector<double>(2 * kChunkElements));
  detail::parallel_for(parts.size(), threads, [&](std::size_t task, std::size_t worker) {
    const std::size_t p = static_cast<std::size_t>(std::upper_bound(first.begin(), first.end(), task) - first.begin()) - 1;
    const auto& [before, after] = pairs[p];
    const std::size_t begin = (task - first[p]) * kChunkElements;
    const std::size_t end = std::min<std::size_t>(before.numel, begin + kChunkElements);
    double* a = buffers[worker].data();
    double* b = a + kChunkElements;
    convert_to_double(before.dtype, before.data, begin, end, a);
    convert_to_double(after.dtype, after.data, begin, end, b);
    Part part;
    for (std::size_t i = 0; i < end - begin; ++i) {
      if (!(std::fabs(a[i]) <= DBL_MAX) || !(std::fabs(b[i]) <= DBL_MAX)) {
        ++part.skipped;
        continue;
      }
      const double d = b[i] - a[i];
      part.diff2 += d * d;
      part.before2 += a[i] * a[i];
      part.changed += (a[i] != b[i]);
    }
    parts[task] = part;
  });
  std::vector<DiffStats> out(pairs.size());
  for (std::size_t p = 0; p < pairs.size(); ++p) {
    // Pairwise tree over the chunk partial sums, fixed by the chunk count.
    auto tree = [&](auto&& self, std::size_t lo, std::size_t hi) -> Part {
      if (hi - lo == 1) return parts[lo];
      const std::size_t mid = lo + (hi - lo) / 2;
      const Part x = self(self, lo, mid), y = self(self, mid, hi);
      return {x.diff2 + y.diff2, x.before2 + y.before2, x.changed + y.changed, x.skipped + y.skipped};
    };
    const Part total = first[p] == first[p + 1] ? Part{} : tree(tree, first[p], first[p + 1]);
    DiffStats& d = out[p];
    d.diff_norm = std::sqrt(total.diff2);
    d.before_norm = std::sqrt(total.before2);
    d.changed = total.changed;
    d.non_finite_pairs = total.skipped;
    d.rel_change = d.before_norm > 0 ? d.diff_norm / d.before_norm
                                     : (d.diff_norm > 0 ? std::numeric_limits<double>::infinity() : 0.0);
  }
  return out;
}

}  // namespace gradcheck::weights
