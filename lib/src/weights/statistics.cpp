#include "gradcheck/weights/statistics.hpp"

#include <algorithm>
#include <atomic>
#include <bit>
#include <cfloat>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <map>
#include <memory>
#include <mutex>
#include <stdexcept>

#include <unistd.h>

#include "../core/mapped_source.hpp"
#include "../core/parallel.hpp"
#include "kernels.hpp"
#include "levels.hpp"
#include "progress.hpp"

namespace gradcheck::weights {

namespace {
using namespace detail;

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

// The inverse of the order-preserving map of float32 bits to unsigned
// (negative values, all bits flipped, below positive ones, sign bit set).
float from_ordered(std::uint32_t u) noexcept {
  return std::bit_cast<float>((u & 0x80000000u) ? (u & 0x7FFFFFFFu) : ~u);
}

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

// A task is up to kChunksPerTask consecutive chunks of one tensor (2 MiB of
// F32). Moments stay per chunk, so the merge tree, and every result, does not
// depend on the task size or the thread count.
constexpr std::size_t kChunksPerTask = 32;

struct Job;

// Per-worker scratch, reused across tasks. The histogram holds the counts of
// the worker's current job since its last flush (at most 2^32 - 1 values, so
// no count can wrap); pos_* and neg_* bound the raw keys touched on each side
// of zero (from the chunks' finite minima and maxima: the key is monotone in
// the magnitude), so a flush scans those ranges only and leaves the array
// zeroed. The worker's finished tasks of that job are published (counted
// down in Job::remaining) only after its counts are flushed, so the job's
// last task to be published finds every count in place.
struct Scratch {
  std::vector<double> values = std::vector<double>(kChunkElements);
  // Row piece hashes of a chunk: at most one per 8 values, plus a partial row at each end.
  std::vector<std::uint64_t> pieces = std::vector<std::uint64_t>(kChunkElements / 8 + 2);
  // The histogram's kHistParts parts (run_chunk_kernel), drained together.
  std::vector<std::uint32_t> hist = std::vector<std::uint32_t>(kHistCounts, 0);
  // A block-quantized chunk, dequantized (allocated on the first such chunk).
  std::vector<float> dequantized;
  // A few-level type's chunk read from its codes: the (level, count) pairs,
  // each block's non-zero values, and whether each row piece has one.
  LevelScratch levels;
  std::vector<std::uint32_t> nonzero;
  std::vector<std::uint8_t> piece_alive;
  std::vector<std::uint8_t> io;  // a task's bytes, copied from their file
  std::uint32_t pos_lo = kBins, pos_hi = 0, neg_lo = kBins, neg_hi = 0;
  Job* job = nullptr;
  std::size_t finished = 0;  // tasks of `job` done and not yet published
  std::uint64_t held = 0;    // values counted since the last flush
};

// Dense histograms of multi-task tensors (kBins counts, 512 KB), handed from
// tensor to tensor within an analysis: finalize() clears the keys it reads
// back, so each comes back zeroed and only the first few are zero-filled
// (filling one per tensor, on fresh pages, took 2-3% of a report's CPU).
class DensePool {
 public:
  std::unique_ptr<std::uint64_t[]> take() {
    {
      std::lock_guard lock(mutex_);
      if (!free_.empty()) {
        auto p = std::move(free_.back());
        free_.pop_back();
        return p;
      }
    }
    return std::make_unique<std::uint64_t[]>(kBins);  // zeroed
  }
  void give(std::unique_ptr<std::uint64_t[]> p) {
    std::lock_guard lock(mutex_);
    free_.push_back(std::move(p));
  }

 private:
  std::mutex mutex_;
  std::vector<std::unique_ptr<std::uint64_t[]>> free_;
};

struct Job {
  const TensorView* view = nullptr;
  std::size_t first_task = 0, tasks = 0, chunks = 0;
  std::vector<ChunkResult> parts;
  std::vector<ScaleTally> scales;  // a block-quantized tensor's, per chunk
  std::atomic<std::size_t> remaining{0};
  std::once_flag alloc_once;
  // The histogram of a multi-task tensor while its tasks are in flight (from
  // `pool`), by ordered key; keys [dense_lo, dense_hi] may be nonzero.
  std::unique_ptr<std::uint64_t[]> dense;
  DensePool* pool = nullptr;
  std::atomic<std::uint32_t> dense_lo{kBins}, dense_hi{0};
  bool is_matrix = false;
  std::int64_t rows = 0, cols = 0;
  std::vector<std::uint32_t> row_hash;  // two 32-bit sums per row (see hash_f32)
  std::vector<std::uint8_t> row_alive;
  std::vector<std::uint64_t> col_alive;  // bit set
  std::uint8_t all_cols_alive = 0;       // set once a whole row without zeros is seen
  TensorAnalysis* out = nullptr;
  TensorProgress* progress = nullptr;  // told when the job is finalized
  // A mapped file's bytes: a block-quantized tensor's are copied from the file
  // (fd, Files) a task at a time; another's are read in place, each task's
  // pages populated first (mapped_source.hpp). Measured 2026-12-06 on 1 GiB of
  // float32 and the same tensors quantized, alternated: in place 1.26-1.36x
  // faster for F32 in every container, the quantized types 0.94-1.07 (their
  // dequantizing reads a copy in cache at least as fast).
  int fd = -1;                    // the mapped file holding the tensor's bytes (Files), or -1
  std::uint64_t file_offset = 0;  // of the tensor's first byte in it
  bool populate = false;
};

// The files jobs copy their bytes from (mapped_source.hpp), each opened once
// for an analysis and closed after it; past kMaxFiles files, tensors are read
// from their mappings.
class Files {
 public:
  static constexpr std::size_t kMaxFiles = 256;
  Files() = default;
  Files(const Files&) = delete;
  Files& operator=(const Files&) = delete;
  ~Files() {
    for (const auto& [id, fd] : open_)
      if (fd >= 0) ::close(fd);
  }
  int descriptor(const gradcheck::internal::MappedSource& s) {
    if (s.path.empty()) return -1;
    const auto id = std::make_pair(s.device, s.inode);
    const auto it = open_.find(id);
    if (it != open_.end()) return it->second;
    if (open_.size() >= kMaxFiles) return -1;
    return open_[id] = gradcheck::internal::open_mapped_source(s);
  }

 private:
  std::map<std::pair<dev_t, ino_t>, int> open_;
};

// Bytes of elements [0, e) of a tensor of type t (whole blocks for a block type).
std::size_t bytes_of(DType t, std::size_t e) noexcept {
  return is_block_quantized(t) ? e / dtype_block(t) * dtype_size(t) : e * dtype_size(t);
}

void allocate(Job& job) {
  if (job.tasks > 1) job.dense = job.pool->take();
  if (job.is_matrix) {
    job.row_hash.assign(2 * static_cast<std::size_t>(job.rows), 0);
    job.row_alive.assign(static_cast<std::size_t>(job.rows), 0);
    job.col_alive.assign((static_cast<std::size_t>(job.cols) + 63) / 64, 0);
  }
}

inline std::uint16_t bin_of(double x) noexcept {
  return static_cast<std::uint16_t>(ordered_key_of_raw(raw_key_of(x)));
}

// The raw keys finite values in [lo, hi] can have. Zeros compare equal
// whatever their sign, so a zero bound reaches both +0's and -0's bins.
void widen_key_range(Scratch& s, double lo, double hi) noexcept {
  if (hi >= 0) {
    s.pos_lo = std::min(s.pos_lo, lo > 0 ? raw_key_of(lo) : 0u);
    s.pos_hi = std::max(s.pos_hi, hi > 0 ? raw_key_of(hi) : 0u);
  }
  if (lo <= 0) {
    s.neg_lo = std::min(s.neg_lo, hi < 0 ? raw_key_of(hi) : 0x8000u);
    s.neg_hi = std::max(s.neg_hi, lo < 0 ? raw_key_of(lo) : 0x8000u);
  }
}

// Calls emit(raw key, count) for each non-zero count among the raw keys
// [lo, hi] of the histogram at `hist` (kHistParts parts, kHistStride counts
// apart, a bin's count the sum of its parts), in ascending or descending
// order, and zeroes it. Blocks of 16 empty bins are skipped with one test (a
// block never straddles 0x8000, so it holds keys of one sign only, all inside
// the touched range or empty).
template <class Emit>
void drain(std::uint32_t* hist, std::uint32_t lo, std::uint32_t hi, bool descending, Emit&& emit) {
  if (lo > hi) return;
  const std::size_t first = lo & ~15u, blocks = ((hi | 15u) + 1 - first) / 16;
  for (std::size_t b = 0; b < blocks; ++b) {
    const std::size_t k = descending ? first + 16 * (blocks - 1 - b) : first + 16 * b;
    std::uint32_t any = 0;
    for (std::size_t part = 0; part < kHistParts; ++part)
      for (std::size_t j = 0; j < 16; ++j) any |= hist[part * kHistStride + k + j];
    if (any == 0) continue;
    for (std::size_t t = 0; t < 16; ++t) {
      const std::size_t j = descending ? k + 15 - t : k + t;
      std::uint32_t count = 0;
      for (std::size_t part = 0; part < kHistParts; ++part) {
        count += hist[part * kHistStride + j];
        hist[part * kHistStride + j] = 0;
      }
      if (count != 0) emit(static_cast<std::uint32_t>(j), count);
    }
  }
}

// Moves the worker's counts into its job, in value order: negative values
// (raw keys descending: largest magnitude first), then positive ones.
void flush_histogram(Scratch& s) {
  Job& job = *s.job;
  auto& bins = job.out->stats.histogram.bins;
  std::uint32_t lo = kBins, hi = 0;
  auto emit = [&](std::uint32_t raw, std::uint32_t count) {
    const std::uint32_t key = ordered_key_of_raw(raw);
    // A single-task tensor (one worker, one flush) takes its sparse histogram straight from here.
    if (job.tasks == 1) {
      bins.push_back({static_cast<std::uint16_t>(key), count});
      return;
    }
    std::atomic_ref<std::uint64_t>(job.dense[key]).fetch_add(count, std::memory_order_relaxed);
    lo = std::min(lo, key);
    hi = std::max(hi, key);
  };
  drain(s.hist.data(), s.neg_lo, s.neg_hi, true, emit);
  drain(s.hist.data(), s.pos_lo, s.pos_hi, false, emit);
  if (lo <= hi) {
    for (std::uint32_t was = job.dense_lo.load(); lo < was && !job.dense_lo.compare_exchange_weak(was, lo);) {
    }
    for (std::uint32_t was = job.dense_hi.load(); hi > was && !job.dense_hi.compare_exchange_weak(was, hi);) {
    }
  }
  s.pos_lo = s.neg_lo = kBins;
  s.pos_hi = s.neg_hi = 0;
  s.held = 0;
}

// Row hashes and dead rows/columns of the rows [begin, end) of a chunk cuts.
// `pieces`: the row pieces' hashes when the chunk kernel took them, else null.
// Element k's bytes are at base + size * (k - first): the tensor's own type,
// or float32 for a block-quantized chunk, dequantized (read only where the
// chunk has zeros).
bool columns_known_alive(Job& job);

void matrix_segment(Job& job, std::size_t begin, std::size_t end, bool has_zeros, const std::uint64_t* pieces,
                    const std::uint8_t* base, std::size_t first) {
  const TensorView& v = *job.view;
  // Once every column is known alive (remembered in all_cols_alive), a chunk
  // with zeros (nearly every dequantized chunk: a zero level) has only its
  // rows' liveness to tell, and a row piece's first non-zero value tells it.
  if (has_zeros) (void)columns_known_alive(job);
  // A block-quantized chunk's values are read (only where it has zeros) dequantized, as float32.
  const DType type = is_block_quantized(v.dtype) ? DType::F32 : v.dtype;
  const std::size_t size = dtype_size(type);
  const auto cols = static_cast<std::size_t>(job.cols);
  // Whether element k is non-zero, from its bits: any bit but a float's sign.
  std::uint64_t value_mask = ~std::uint64_t(0);
  if (size < 8) value_mask = (std::uint64_t(1) << (8 * size)) - 1;
  if (is_floating(type)) value_mask &= ~(std::uint64_t(1) << (8 * size - 1));
  // Fixed-size loads (a memcpy of a run-time size is a library call per value).
  auto nonzero = [&](std::size_t k) {
    const std::uint8_t* p = base + size * (k - first);
    std::uint64_t w = 0;
    switch (size) {
      case 1: w = *p; break;
      case 2: { std::uint16_t h; std::memcpy(&h, p, 2); w = h; break; }
      case 4: { std::uint32_t u; std::memcpy(&u, p, 4); w = u; break; }
      default: std::memcpy(&w, p, 8); break;
    }
    return (w & value_mask) != 0;
  };
  std::size_t i = begin;
  while (i < end) {
    const std::size_t row = i / cols;
    const std::size_t seg_end = std::min(end, (row + 1) * cols);
    const std::size_t col0 = i - row * cols, col_end = seg_end - row * cols;
    const std::uint64_t h =
        pieces != nullptr ? *pieces++ : row_piece_hash(type, base + size * (i - first), col0, seg_end - i);
    std::atomic_ref<std::uint32_t>(job.row_hash[2 * row]).fetch_add(std::uint32_t(h), std::memory_order_relaxed);
    std::atomic_ref<std::uint32_t>(job.row_hash[2 * row + 1]).fetch_add(std::uint32_t(h >> 32), std::memory_order_relaxed);
    // Without a zero in the chunk every value is alive: whole bit ranges, or
    // for a whole row, every column at once.
    bool any = !has_zeros && col_end > col0;
    std::atomic_ref<std::uint8_t> all_cols(job.all_cols_alive);
    if (!has_zeros && col0 == 0 && col_end == cols) all_cols.store(1, std::memory_order_relaxed);
    const bool cols_known = all_cols.load(std::memory_order_relaxed) != 0;
    if (cols_known && has_zeros)
      for (std::size_t k = i; k < seg_end && !any; ++k) any = nonzero(k);
    for (std::size_t c = col0; c < col_end && !cols_known;) {
      const std::size_t w = c >> 6, stop = std::min(col_end, (w + 1) * 64);
      std::uint64_t word = 0;
      const std::size_t lo = c & 63, n = stop - c;
      const std::uint64_t range = (n == 64 ? ~std::uint64_t(0) : ((std::uint64_t(1) << n) - 1)) << lo;
      if (!has_zeros) {
        word = range;
      } else {
        // Columns already known alive, in a row already known alive: nothing to learn here.
        if (any && (std::atomic_ref<std::uint64_t>(job.col_alive[w]).load(std::memory_order_relaxed) & range) == range) {
          c = stop;
          continue;
        }
        for (std::size_t k = c; k < stop; ++k) word |= std::uint64_t(nonzero(row * cols + k)) << (k & 63);
        any |= word != 0;
      }
      if (word != 0 &&
          (std::atomic_ref<std::uint64_t>(job.col_alive[w]).load(std::memory_order_relaxed) & word) != word)
        std::atomic_ref<std::uint64_t>(job.col_alive[w]).fetch_or(word, std::memory_order_relaxed);
      c = stop;
    }
    if (any) std::atomic_ref<std::uint8_t>(job.row_alive[row]).store(1, std::memory_order_relaxed);
    i = seg_end;
  }
}

// Whether every column is known to hold a non-zero value (then remembered in
// all_cols_alive, which finalize reads the same way).
bool columns_known_alive(Job& job) {
  std::atomic_ref<std::uint8_t> all(job.all_cols_alive);
  if (all.load(std::memory_order_relaxed) != 0) return true;
  const auto cols = static_cast<std::size_t>(job.cols);
  for (std::size_t w = 0; w < job.col_alive.size(); ++w) {
    const std::size_t used = std::min<std::size_t>(64, cols - 64 * w);
    const std::uint64_t want = used == 64 ? ~std::uint64_t(0) : (std::uint64_t(1) << used) - 1;
    if ((std::atomic_ref<std::uint64_t>(job.col_alive[w]).load(std::memory_order_relaxed) & want) != want) return false;
  }
  all.store(1, std::memory_order_relaxed);
  return true;
}

// Row hashes and dead rows/columns of a few-level type's chunk, summarised
// from its codes (level_chunk): each row piece's hash is the sum of its
// stored blocks' hashes (finalize compares rows by their stored bytes), and
// a piece is alive when one of its blocks has a non-zero value. Where the
// chunk has zeros and some column is not yet known alive, the columns need
// the values themselves: the chunk is dequantized for matrix_segment (or
// was already, `dequantized`, when level_chunk declined it).
void level_segment(Job& job, std::size_t begin, std::size_t end, bool has_zeros, const std::uint8_t* blocks,
                   Scratch& s, bool dequantized) {
  const TensorView& v = *job.view;
  const std::size_t block = dtype_block(v.dtype), size = dtype_size(v.dtype);
  const std::size_t per_row = static_cast<std::size_t>(job.cols) / block;
  const std::size_t first = begin / block, count = (end - begin) / block;
  std::size_t pieces = 0;
  std::uint32_t lo = 0, hi = 0;
  bool alive = false;
  for (std::size_t b = 0; b < count; ++b) {
    const std::size_t index = (first + b) % per_row;
    const std::uint64_t h = block_hash(blocks + b * size, size, index);
    lo += std::uint32_t(h);
    hi += std::uint32_t(h >> 32);
    alive |= !dequantized && s.nonzero[b] != 0;
    if (index + 1 == per_row || b + 1 == count) {
      s.pieces[pieces] = (std::uint64_t(hi) << 32) | lo;
      s.piece_alive[pieces++] = alive;
      lo = hi = 0;
      alive = false;
    }
  }
  if (dequantized || (has_zeros && !columns_known_alive(job))) {
    if (!dequantized) {
      if (s.dequantized.empty()) s.dequantized.resize(kChunkElements);
      dequantize_blocks(v.dtype, blocks, count, s.dequantized.data());
    }
    matrix_segment(job, begin, end, has_zeros, s.pieces.data(),
                   reinterpret_cast<const std::uint8_t*>(s.dequantized.data()), begin);
    return;
  }
  if (!has_zeros) {
    matrix_segment(job, begin, end, false, s.pieces.data(), nullptr, begin);  // values not read: no zeros
    return;
  }
  // Zeros, every column alive: a piece's row is alive if a block of it is.
  for (std::size_t p = 0, row = first / per_row; p < pieces; ++p, ++row) {
    std::atomic_ref<std::uint32_t>(job.row_hash[2 * row]).fetch_add(std::uint32_t(s.pieces[p]), std::memory_order_relaxed);
    std::atomic_ref<std::uint32_t>(job.row_hash[2 * row + 1])
        .fetch_add(std::uint32_t(s.pieces[p] >> 32), std::memory_order_relaxed);
    if (s.piece_alive[p]) std::atomic_ref<std::uint8_t>(job.row_alive[row]).store(1, std::memory_order_relaxed);
  }
}

// The chunk's bytes: element e's (or its block's) at `data`, counted from
// element `origin` (the tensor's own bytes from 0, or a task's copy).
void process_chunk(Job& job, std::size_t chunk, Scratch& s, const std::uint8_t* data, std::size_t origin) {
  const TensorView& v = *job.view;
  const std::size_t begin = chunk * kChunkElements;
  const std::size_t end = std::min<std::size_t>(v.numel, begin + kChunkElements);
  RowPieces rows;
  const bool quantized = is_block_quantized(v.dtype);
  if (job.is_matrix && (v.dtype == DType::F32 || quantized) && job.cols % 8 == 0) {
    rows.cols = static_cast<std::size_t>(job.cols);
    rows.col0 = begin % rows.cols;
    rows.out = s.pieces.data();
  }
  if (quantized) {
    const std::size_t block = dtype_block(v.dtype);
    job.scales[chunk].add(v.dtype, data + (begin - origin) / block * dtype_size(v.dtype), (end - begin) / block);
  }
  if (quantized && counts_levels(v.dtype)) {
    const std::size_t block = dtype_block(v.dtype);
    const std::uint8_t* blocks = data + (begin - origin) / block * dtype_size(v.dtype);
    if (s.nonzero.empty()) {
      s.nonzero.resize(kChunkElements / block);
      s.piece_alive.resize(s.pieces.size());
    }
    ChunkResult r;
    static_assert(kHistParts == 4, "the level path counts in four parts");
    std::uint32_t* const hists[4] = {s.hist.data(), s.hist.data() + kHistStride, s.hist.data() + 2 * kHistStride,
                                     s.hist.data() + 3 * kHistStride};
    if (level_chunk(v.dtype, blocks, (end - begin) / block, hists, s.levels, r, s.nonzero.data())) {
      widen_key_range(s, r.min, r.max);
      job.parts[chunk] = r;
      if (job.is_matrix) level_segment(job, begin, end, r.zeros > 0, blocks, s, false);
      return;
    }
    // A block's scale is not finite: value by value below.
  }
  if (quantized) {
    // Chunks hold whole blocks (kChunkElements is a multiple of 256 and a
    // quantized tensor's size a multiple of its block): dequantized into
    // float32, the reference's own type, and analysed as float32 from there.
    if (s.dequantized.empty()) s.dequantized.resize(kChunkElements);
    const std::size_t block = dtype_block(v.dtype);
    const std::uint8_t* blocks = data + (begin - origin) / block * dtype_size(v.dtype);
    dequantize_blocks(v.dtype, blocks, (end - begin) / block, s.dequantized.data());
    const TensorView chunk_view{DType::F32, reinterpret_cast<const std::uint8_t*>(s.dequantized.data()),
                                end - begin, {}};
    // A few-level type's rows are hashed from their stored blocks, in every chunk alike.
    const bool levels = counts_levels(v.dtype);
    if (levels) rows.cols = 0;
    const ChunkResult r = run_chunk_kernel(chunk_view, 0, end - begin, s.values.data(), s.hist.data(), rows,
                                           /*zeros_from_bins=*/true);
    if (r.moments.n > 0) widen_key_range(s, r.min, r.max);
    job.parts[chunk] = r;
    if (job.is_matrix && levels) level_segment(job, begin, end, r.zeros > 0, blocks, s, true);
    else if (job.is_matrix)
      matrix_segment(job, begin, end, r.zeros > 0, rows.out, reinterpret_cast<const std::uint8_t*>(s.dequantized.data()),
                     begin);
    return;
  }
  const TensorView window{v.dtype, data, v.numel - origin, {}};
  const ChunkResult r =
      run_chunk_kernel(window, begin - origin, end - begin, s.values.data(), s.hist.data(), rows);
  if (r.moments.n > 0) widen_key_range(s, r.min, r.max);
  job.parts[chunk] = r;
  if (job.is_matrix) matrix_segment(job, begin, end, r.zeros > 0, rows.out, data, origin);
}

// Publishes the worker's finished tasks of its job, counts flushed first;
// whoever publishes the job's last task finalizes it.
void finalize(Job& job);
void release(Scratch& s) {
  if (s.job == nullptr) return;
  Job& job = *s.job;
  flush_histogram(s);
  const std::size_t n = s.finished;
  s.job = nullptr;
  s.finished = 0;
  if (job.remaining.fetch_sub(n, std::memory_order_acq_rel) == n) {
    finalize(job);
    job.progress->finished();
  }
}

void process_task(Job& job, std::size_t task, Scratch& s) {
  if (s.job != &job) {
    release(s);
    s.job = &job;
  }
  const std::size_t c0 = task * kChunksPerTask, c1 = std::min(job.chunks, c0 + kChunksPerTask);
  const std::size_t e0 = c0 * kChunkElements, e1 = std::min<std::size_t>(job.view->numel, c1 * kChunkElements);
  const std::uint64_t values = e1 - e0;
  if (s.held + values > std::numeric_limits<std::uint32_t>::max()) flush_histogram(s);
  // The task's bytes copied from the file (a quantized tensor's), or read in
  // place with their pages populated first (Job::populate); a failed copy
  // falls back to the mapping.
  const std::uint8_t* data = job.view->data;
  std::size_t origin = 0;
  const std::size_t b0 = bytes_of(job.view->dtype, e0), b1 = bytes_of(job.view->dtype, e1);
  if (job.populate) gradcheck::internal::populate(job.view->data + b0, b1 - b0);
  if (job.fd >= 0) {
    if (s.io.size() < b1 - b0) s.io.resize(b1 - b0);
    if (gradcheck::internal::read_exact(job.fd, job.file_offset + b0, b1 - b0, s.io.data())) {
      data = s.io.data();
      origin = e0;
    }
  }
  for (std::size_t c = c0; c < c1; ++c) process_chunk(job, c, s, data, origin);
  s.held += values;
  ++s.finished;
}

void finalize(Job& job) {
  TensorStats& st = job.out->stats;
  const TensorView& v = *job.view;
  st.count = v.numel;
  if (job.dense) {
    // Read back, and cleared for the pool's next tensor.
    for (std::uint32_t k = job.dense_lo, hi = job.dense_hi; k <= hi; ++k)
      if (job.dense[k] != 0) {
        st.histogram.bins.push_back({static_cast<std::uint16_t>(k), job.dense[k]});
        job.dense[k] = 0;
      }
    job.pool->give(std::move(job.dense));
  }
  const ChunkResult all = job.chunks == 0 ? ChunkResult{} : merge_tree(job.parts, 0, job.chunks);
  std::vector<ChunkResult>().swap(job.parts);
  if (is_block_quantized(v.dtype)) {
    ScaleTally tally;
    for (const ScaleTally& t : job.scales) tally.merge(t);
    job.out->quant = tally.health();
    std::vector<ScaleTally>().swap(job.scales);
  }
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
  if (job.all_cols_alive) alive_cols = static_cast<std::uint64_t>(job.cols);
  ms.dead_cols = static_cast<std::uint64_t>(job.cols) - alive_cols;

  // Rows are compared by their stored bytes (whole blocks for a quantized
  // tensor, whose rows are whole blocks).
  const std::size_t row_bytes = static_cast<std::size_t>(job.cols) / dtype_block(v.dtype) * dtype_size(v.dtype);
  auto row_bytes_of = [&](std::int64_t r) { return v.data + std::size_t(r) * row_bytes; };
  auto hash_of = [&](std::int64_t r) {
    return (std::uint64_t(job.row_hash[2 * std::size_t(r) + 1]) << 32) | job.row_hash[2 * std::size_t(r)];
  };
  std::sort(alive.begin(), alive.end(), [&](std::int64_t a, std::int64_t b) {
    const auto ha = hash_of(a), hb = hash_of(b);
    return ha != hb ? ha < hb : a < b;
  });
  for (std::size_t i = 0; i < alive.size();) {
    std::size_t j = i;
    while (j < alive.size() && hash_of(alive[j]) == hash_of(alive[i])) ++j;
    // Within a group of equal hashes (tiny unless rows really repeat, or an
    // unlucky structure collides), order rows by their bytes, then by index:
    // runs of equal bytes are the repeated rows, found with O(k log k)
    // comparisons however large the group. Each row after a run's first
    // repeats an earlier row; the run's first two rows are its earliest pair.
    if (j - i > 1) {
      if (j - i > 2)
        std::sort(alive.begin() + std::ptrdiff_t(i), alive.begin() + std::ptrdiff_t(j), [&](std::int64_t a, std::int64_t b) {
          const int c = std::memcmp(row_bytes_of(a), row_bytes_of(b), row_bytes);
          return c != 0 ? c < 0 : a < b;
        });
      for (std::size_t a = i; a < j;) {
        std::size_t b = a + 1;
        while (b < j && std::memcmp(row_bytes_of(alive[a]), row_bytes_of(alive[b]), row_bytes) == 0) ++b;
        if (b - a > 1) {
          ms.identical_rows += b - a - 1;
          const std::int64_t first = alive[a], second = alive[a + 1];
          if (ms.identical_first < 0 || second < ms.identical_second ||
              (second == ms.identical_second && first < ms.identical_first)) {
            ms.identical_first = first;
            ms.identical_second = second;
          }
        }
        a = b;
      }
    }
    i = j;
  }
  std::vector<std::uint32_t>().swap(job.row_hash);
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

Histogram::Coarse Histogram::coarsened(std::size_t max_bins) const {
  Coarse out;
  // Fine keys are sign, exponent and 7 mantissa bits in value order, so
  // dropping low bits (key >> shift) merges neighbours of one binade and sign.
  int shift = 0;
  for (; shift < 7; ++shift) {
    std::size_t groups = 0;
    std::uint32_t last = 0x7FFFFFFF;
    for (const auto& b : bins) {
      const std::uint32_t g = std::uint32_t(b.key) >> shift;
      groups += g != last;
      last = g;
    }
    if (groups <= max_bins) break;
  }
  out.mantissa_bits = 7 - shift;
  std::uint32_t previous = 0x7FFFFFFF;
  for (const auto& b : bins) {
    const std::uint32_t g = std::uint32_t(b.key) >> shift;
    if (g == previous) {
      out.bins.back().count += b.count;
      continue;
    }
    previous = g;
    const auto first = static_cast<std::uint16_t>(g << shift), last = static_cast<std::uint16_t>(((g + 1) << shift) - 1);
    out.bins.push_back({lower_edge(first), upper_edge(last), b.count});
  }
  return out;
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
  return detail::analyse_tensors(views, options, {});
}

std::vector<TensorAnalysis> detail::analyse_tensors(const std::vector<TensorView>& views, const StatsOptions& options,
                                                    const ProgressFn& progress_fn) {
  std::vector<TensorAnalysis> results(views.size());
  std::vector<std::unique_ptr<Job>> jobs;
  jobs.reserve(views.size());
  Files files;
  DensePool pool;
  TensorProgress progress(progress_fn, static_cast<std::int64_t>(views.size()));
  std::size_t tasks = 0;
  for (std::size_t i = 0; i < views.size(); ++i) {
    auto job = std::make_unique<Job>();
    job->view = &views[i];
    job->out = &results[i];
    job->progress = &progress;
    job->pool = &pool;
    job->first_task = tasks;
    job->chunks = static_cast<std::size_t>((views[i].numel + kChunkElements - 1) / kChunkElements);
    job->tasks = (job->chunks + kChunksPerTask - 1) / kChunksPerTask;
    job->parts.resize(job->chunks);
    if (is_block_quantized(views[i].dtype)) job->scales.resize(job->chunks);
    const auto source = gradcheck::internal::mapped_source(views[i].data, bytes_of(views[i].dtype, views[i].numel));
    if (is_block_quantized(views[i].dtype)) {
      job->fd = files.descriptor(source);
      job->file_offset = source.offset;
    } else {
      job->populate = !source.path.empty();
    }
    job->remaining = job->tasks;
    if (views[i].shape.size() >= 2 && views[i].numel > 0) {
      job->is_matrix = true;
      job->rows = views[i].shape[0];
      job->cols = static_cast<std::int64_t>(views[i].numel / static_cast<std::uint64_t>(job->rows));
    }
    tasks += job->tasks;
    jobs.push_back(std::move(job));
  }
  for (auto& job : jobs)
    if (job->chunks == 0) {
      finalize(*job);
      progress.finished();
    }

  const int threads = gradcheck::internal::resolve_threads(options.threads);
  std::vector<Scratch> scratch(static_cast<std::size_t>(std::min<std::size_t>(threads, std::max<std::size_t>(tasks, 1))));
  gradcheck::internal::parallel_for(tasks, threads, [&](std::size_t task, std::size_t worker) {
    // Jobs are in task order: find the one holding this task.
    auto it = std::upper_bound(jobs.begin(), jobs.end(), task,
                               [](std::size_t t, const std::unique_ptr<Job>& j) { return t < j->first_task; });
    Job& job = **(it - 1);
    std::call_once(job.alloc_once, [&] { allocate(job); });
    process_task(job, task - job.first_task, scratch[worker]);
    progress.poll(worker);
  }, [&](std::size_t worker) { release(scratch[worker]); });
  progress.report();
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
  return detail::diff_tensors(pairs, options, {});
}

std::vector<DiffStats> detail::diff_tensors(const std::vector<std::pair<TensorView, TensorView>>& pairs,
                                            const StatsOptions& options, const ProgressFn& progress_fn) {
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
  // Chunks of each pair still to do; a pair is finished when its count reaches 0.
  TensorProgress progress(progress_fn, static_cast<std::int64_t>(pairs.size()));
  std::vector<std::atomic<std::size_t>> remaining(pairs.size());
  for (std::size_t p = 0; p < pairs.size(); ++p) {
    remaining[p].store(first[p + 1] - first[p], std::memory_order_relaxed);
    if (first[p + 1] == first[p]) progress.finished();
  }
  const int threads = gradcheck::internal::resolve_threads(options.threads);
  std::vector<std::vector<double>> buffers(static_cast<std::size_t>(threads), std::vector<double>(2 * kChunkElements));
  gradcheck::internal::parallel_for(parts.size(), threads, [&](std::size_t task, std::size_t worker) {
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
    if (remaining[p].fetch_sub(1, std::memory_order_relaxed) == 1) progress.finished();
    progress.poll(worker);
  });
  progress.report();
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
