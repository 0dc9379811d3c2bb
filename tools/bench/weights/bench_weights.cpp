// Throughput of weightstats' default report on a large F32 safetensors file,
// beside a floor measured in the same run: every byte of the same mapping read
// once with the same threads, at the speed memory delivers it. Optionally NumPy (python3-numpy)
// computing the basic statistics on the same file, and the same tensors as an
// ONNX model (initializers in raw_data, as PyTorch's exporter writes them), as
// an HDF5 file of contiguous datasets and as a GGUF file; and GGUF files of the
// same shapes block-quantized (Q8_0, Q4_0, Q2_K, Q3_K, Q4_K, IQ4_XS, Q6_K, MXFP4,
// NVFP4, TQ2_0, TQ1_0), whose throughput is counted in bytes of file (target: >= 1 GB/s).
// The floor's timed passes alternate with the report's runs; each unquantized
// twin's share (target: >= 0.5, as for safetensors) is of the same floor read
// over its own file, its passes alternating with its reports.
// Prints a Markdown table; exit 1 when a target is missed, 2 on bad arguments.
//
//   bench_weights [--size-mib N] [--file PATH] [--threads N] [--repeat R] [--no-numpy] [--no-twins]
//                 [--keep-page-cache]
//
// "Page cache warm" is made a defined state: the file's cached pages are
// dropped (posix_fadvise DONTNEED, after fdatasync) and read back by the
// floor's first pass, so the cache holds the file as a read from disk leaves
// it, whatever wrote it or how long ago. How the kernel caches a file decides
// what mapping it costs: read back on Linux 6.18 / ext4, it sits in large
// folios that a fault maps many pages at a time, while the generator's 16 KiB
// writes leave 16 KiB folios, and a report then spends nearly half of its CPU
// time in page faults (measured: 17,700 faults and 0.19 s of 0.42 s, against
// 2,000 faults after the read-back; --keep-page-cache measures the cache as it
// is). The floor maps the file once and its timed passes take no fault either way;
// the same sum over a mapping made for each pass, as each report maps its file,
// is printed beside it (first touching a fresh mapping has a cost of its own,
// large on some virtual machines), without changing what the targets compare.

#include <fcntl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <ctime>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include <CLI/CLI.hpp>
#include <hdf5.h>

#include "gradcheck/errors.hpp"
#include "gradcheck/mapped_file.hpp"
#include "gradcheck/weights/checkpoint.hpp"
#include "gradcheck/weights/report.hpp"

namespace {

using Clock = std::chrono::steady_clock;

struct BenchOptions {
  std::int64_t size_mib = 1024;
  std::string file = (std::filesystem::temp_directory_path() / "gradcheck_bench_weights.safetensors").string();
  int threads = 2;
  int repeat = 3;
  bool no_numpy = false;
  bool no_onnx = false;
  bool keep_page_cache = false;
};

std::string varint(std::uint64_t v) {
  std::string out;
  do {
    std::uint8_t b = v & 0x7f;
    v >>= 7;
    if (v != 0) b |= 0x80;
    out.push_back(char(b));
  } while (v != 0);
  return out;
}

// The safetensors file's tensors as an HDF5 file of contiguous datasets, as
// Keras 2's save_weights lays them out (a group per layer).
void write_hdf5_twin(const std::string& safetensors, const std::string& h5, std::size_t data_start, std::int64_t count) {
  const std::uint64_t per = 4096ULL * 4096 * 4;
  gradcheck::MappedFile in(safetensors);
  const hid_t file = H5Fcreate(h5.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
  if (file < 0) throw gradcheck::InputError(h5, "cannot write the benchmark file");
  const hsize_t dims[2] = {4096, 4096};
  for (std::int64_t i = 0; i < count; ++i) {
    const std::string name = "layers." + std::to_string(i) + ".weight";
    const hid_t space = H5Screate_simple(2, dims, nullptr);
    const hid_t d = H5Dcreate2(file, name.c_str(), H5T_IEEE_F32LE, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    const herr_t rc = H5Dwrite(d, H5T_IEEE_F32LE, H5S_ALL, H5S_ALL, H5P_DEFAULT, in.data() + data_start + std::size_t(i) * per);
    H5Dclose(d);
    H5Sclose(space);
    if (rc < 0) throw gradcheck::InputError(h5, "cannot write the benchmark file");
  }
  H5Fclose(file);
}

// The safetensors file's tensors as an ONNX ModelProto (protobuf wire format):
// ir_version 8, a graph whose initializers hold the same bytes in raw_data.
void write_onnx_twin(const std::string& safetensors, const std::string& onnx, std::size_t data_start,
                     std::int64_t count) {
  const std::uint64_t per = 4096ULL * 4096 * 4;
  std::vector<std::string> heads;
  std::uint64_t graph = 0;
  for (std::int64_t i = 0; i < count; ++i) {
    const std::string name = "layers." + std::to_string(i) + ".weight";
    std::string fields = "\x08" + varint(4096) + "\x08" + varint(4096) + std::string("\x10\x01", 2) + "\x42" +
                         varint(name.size()) + name + "\x4a" + varint(per);
    const std::uint64_t tensor = fields.size() + per;
    heads.push_back("\x2a" + varint(tensor) + fields);
    graph += heads.back().size() + per;
  }
  std::ofstream out(onnx, std::ios::binary);
  out << std::string("\x08\x08", 2) << "\x3a" << varint(graph);
  gradcheck::MappedFile in(safetensors);
  for (std::int64_t i = 0; i < count; ++i) {
    out << heads[std::size_t(i)];
    out.write(reinterpret_cast<const char*>(in.data() + data_start + std::size_t(i) * per), std::streamsize(per));
  }
  if (!out) throw gradcheck::InputError(onnx, "cannot write the benchmark file");
}

// GGUF (version 3): the tensors' infos, then the data section (32-byte aligned).
// `type` is ggml's id, `block` and `block_bytes` its layout; F32 copies the
// safetensors bytes. Quantized blocks carry the safetensors bytes as their
// quants and a float16 scale of 2^-10 (Q8_0, Q4_0, Q3_K, IQ4_XS, Q6_K, TQ2_0, TQ1_0; MXFP4 its
// exponent byte for 2^-10; NVFP4 its scale bytes for 2^-7) or 2^-6 and a minimum of 2^-7 (Q2_K, Q4_K) written over them: dequantization costs the same for any
// quants, and the values stay in a trained layer's range.
void write_gguf_twin(const std::string& safetensors, const std::string& gguf, std::size_t data_start,
                     std::int64_t count, std::uint32_t type, std::size_t block, std::size_t block_bytes) {
  const std::uint64_t values = 4096ULL * 4096, bytes = values / block * block_bytes;
  std::string head = "GGUF";
  auto put = [&](auto v) { head.append(reinterpret_cast<const char*>(&v), sizeof v); };
  put(std::uint32_t(3));
  put(std::uint64_t(count));
  put(std::uint64_t(0));
  for (std::int64_t i = 0; i < count; ++i) {
    const std::string name = "layers." + std::to_string(i) + ".weight";
    put(std::uint64_t(name.size()));
    head += name;
    put(std::uint32_t(2));
    put(std::uint64_t(4096));
    put(std::uint64_t(4096));
    put(type);
    put(std::uint64_t(i) * ((bytes + 31) / 32 * 32));
  }
  head.append((32 - head.size() % 32) % 32, '\0');
  std::ofstream out(gguf, std::ios::binary);
  out << head;
  gradcheck::MappedFile in(safetensors);
  std::vector<char> data(bytes);
  for (std::int64_t i = 0; i < count; ++i) {
    std::memcpy(data.data(), in.data() + data_start + std::size_t(i) * values * 4, bytes);
    // Where each type keeps d (and its minimum): ggml-common.h.
    const bool has_min = type == 12 || type == 10;
    const std::size_t at = type == 14 ? 208 : type == 10 ? 80 : type == 11 ? 108 : type == 35 ? 64 : type == 34 ? 52 : 0;
    for (std::size_t b = 0; type != 0 && b < values / block; ++b) {
      char* p = data.data() + b * block_bytes;
      if (type == 39) {  // MXFP4: an exponent byte, 2^-10 as ggml multiplies (e = 118)
        p[0] = char(118);
        continue;
      }
      if (type == 40) {  // NVFP4: four E4M3 scale bytes, 2^-7 as ggml multiplies (0x08)
        std::memset(p, 0x08, 4);
        continue;
      }
      const std::uint16_t d = has_min ? 0x2400 : 0x1400, dmin = 0x2000;  // 2^-6 or 2^-10; 2^-7
      std::memcpy(p + at, &d, 2);
      if (has_min) std::memcpy(p + at + 2, &dmin, 2);
    }
    out.write(data.data(), std::streamsize(bytes));
    out.write("\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0", std::streamsize((32 - bytes % 32) % 32));
  }
  if (!out) throw gradcheck::InputError(gguf, "cannot write the benchmark file");
}

// 4096 x 4096 F32 matrices (64 MiB each), He-scale values from a seeded
// xorshift (sum of four uniforms: near-Gaussian, cheap), streamed to disk.
void generate(const BenchOptions& o) {
  const std::int64_t rows = 4096, cols = 4096;
  const std::int64_t per = rows * cols * 4;
  const std::int64_t count = std::max<std::int64_t>(1, (o.size_mib * 1024 * 1024 + per - 1) / per);
  std::string header = "{";
  for (std::int64_t i = 0; i < count; ++i) {
    if (i) header += ",";
    header += "\"layers." + std::to_string(i) + ".weight\":{\"dtype\":\"F32\",\"shape\":[4096,4096],\"data_offsets\":[" +
              std::to_string(i * per) + "," + std::to_string((i + 1) * per) + "]}";
  }
  header += "}";
  header += std::string((8 - header.size() % 8) % 8, ' ');
  std::ofstream out(o.file, std::ios::binary);
  std::uint64_t n = header.size();
  for (int b = 0; b < 8; ++b) out.put(char((n >> (8 * b)) & 0xFF));
  out << header;
  std::uint64_t state = 0x9E3779B97F4A7C15ULL;
  const float scale = float(std::sqrt(2.0 / double(cols)) * std::sqrt(3.0));
  std::vector<float> row(static_cast<std::size_t>(cols));
  for (std::int64_t t = 0; t < count; ++t)
    for (std::int64_t r = 0; r < rows; ++r) {
      for (auto& x : row) {
        float s = 0;
        for (int k = 0; k < 4; ++k) {
          state ^= state << 13;
          state ^= state >> 7;
          state ^= state << 17;
          s += float(state >> 40) * (1.0f / 16777216.0f) - 0.5f;
        }
        x = s * scale;
      }
      out.write(reinterpret_cast<const char*>(row.data()), std::streamsize(row.size() * 4));
    }
  if (!out) throw gradcheck::InputError(o.file, "cannot write the benchmark file");
}

// The floors. Each thread reads its contiguous share of the data once.
//
// floor_pass: the memory-bandwidth floor. Every byte is loaded and folded into
// eight 64-bit lanes by XOR (two 32-byte vectors, four of them in flight), work
// that any x86-64 core does several times faster than memory delivers, so the
// pass is bound by reading the bytes and by nothing else. This is the floor the
// targets compare with.
//
// sum_pass: a plain sum of the values as floats in double (four scalar
// accumulators, as a straightforward loop is written). Its additions wait on
// each other: on this machine it runs at about half the memory-bandwidth floor,
// so it is printed for context, never used as the floor.
typedef std::uint64_t v4u64 __attribute__((vector_size(32)));

template <typename Body>
double per_thread(const gradcheck::MappedFile& f, std::size_t data_start, int threads, Body body) {
  const std::size_t n = f.size() - data_start;
  std::vector<double> out(std::size_t(threads), 0.0);
  std::vector<std::jthread> pool;
  for (int t = 0; t < threads; ++t)
    pool.emplace_back([&, t] {
      // Shares start on 64-byte boundaries of the data.
      const std::size_t b = (n * std::size_t(t) / std::size_t(threads)) & ~std::size_t(63);
      const std::size_t e = t + 1 == threads ? n : (n * std::size_t(t + 1) / std::size_t(threads)) & ~std::size_t(63);
      out[std::size_t(t)] = body(f.data() + data_start, b, e);
    });
  pool.clear();
  double s = 0;
  for (double x : out) s += x;
  return s;
}

double floor_pass(const gradcheck::MappedFile& f, std::size_t data_start, int threads) {
  return per_thread(f, data_start, threads, [](const std::uint8_t* p, std::size_t b, std::size_t e) {
    v4u64 a0{}, a1{}, a2{}, a3{};
    std::size_t i = b;
    for (; i + 128 <= e; i += 128) {
      v4u64 w0, w1, w2, w3;
      std::memcpy(&w0, p + i, 32);
      std::memcpy(&w1, p + i + 32, 32);
      std::memcpy(&w2, p + i + 64, 32);
      std::memcpy(&w3, p + i + 96, 32);
      a0 ^= w0;
      a1 ^= w1;
      a2 ^= w2;
      a3 ^= w3;
    }
    std::uint64_t x = 0;
    for (; i < e; ++i) x ^= std::uint64_t(p[i]) << (8 * (i % 8));
    const v4u64 a = a0 ^ a1 ^ a2 ^ a3;
    x ^= a[0] ^ a[1] ^ a[2] ^ a[3];
    return double(x & 0xFFFF);
  });
}

double sum_pass(const gradcheck::MappedFile& f, std::size_t data_start, int threads) {
  return per_thread(f, data_start, threads, [](const std::uint8_t* p, std::size_t b, std::size_t e) {
    double acc[4] = {0, 0, 0, 0};
    std::size_t i = b;
    for (; i + 16 <= e; i += 16) {
      float v[4];
      std::memcpy(v, p + i, 16);
      acc[0] += v[0];
      acc[1] += v[1];
      acc[2] += v[2];
      acc[3] += v[3];
    }
    for (; i + 4 <= e; i += 4) {
      float v;
      std::memcpy(&v, p + i, 4);
      acc[0] += v;
    }
    return acc[0] + acc[1] + acc[2] + acc[3];
  });
}

// Drops the file's pages from the page cache (written back first, as dirty
// pages are not dropped); the next read brings them back from disk.
void drop_page_cache(const std::string& file) {
  const int fd = ::open(file.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw gradcheck::InputError(file, "cannot open the benchmark file");
  const bool ok = ::fdatasync(fd) == 0 && ::posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED) == 0;
  ::close(fd);
  if (!ok) throw gradcheck::InputError(file, "cannot drop the benchmark file from the page cache");
}

long minor_faults() {
  rusage u{};
  ::getrusage(RUSAGE_SELF, &u);
  return u.ru_minflt;
}

long rss_anon_kib() {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line))
    if (line.rfind("RssAnon:", 0) == 0) return std::stol(line.substr(8));
  return -1;
}

double seconds_since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

// CPU time of this process (user + system, all threads): on a shared machine
// it says what the work costs, where wall time also counts waiting for a core.
double cpu_seconds() {
  timespec ts{};
  ::clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + 1e-9 * static_cast<double>(ts.tv_nsec);
}

// NumPy on the same file: the basic statistics per tensor, float64 accumulation.
double numpy_seconds(const std::string& file) {
  const std::string script = R"PY(
import json, mmap, struct, sys, time
import numpy as np
f = open(sys.argv[1], 'rb'); m = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
n = struct.unpack('<Q', m[:8])[0]; h = json.loads(m[8:8 + n]); base = 8 + n
t0 = time.perf_counter()
for k, v in h.items():
    if k == '__metadata__': continue
    b, e = v['data_offsets']
    x = np.frombuffer(m, dtype=np.float32, count=(e - b) // 4, offset=base + b)
    fin = np.isfinite(x); nan = int(np.isnan(x).sum()); inf = int(x.size - fin.sum() - nan)
    mean = x.mean(dtype=np.float64); std = x.std(dtype=np.float64)
    mn = x.min(); mx = x.max(); am = np.abs(x).max(); l2 = np.sqrt(np.dot(x.astype(np.float64), x.astype(np.float64)))
    zf = np.count_nonzero(x == 0) / x.size
print(time.perf_counter() - t0)
)PY";
  const auto script_path = std::filesystem::temp_directory_path() / "gradcheck_bench_weights_numpy.py";
  {
    std::ofstream out(script_path);
    out << script;
  }
  // The file name goes through the environment, so no shell quoting is involved.
  ::setenv("GRADCHECK_BENCH_FILE", file.c_str(), 1);
  // Debian's interpreter, whose python3-numpy the issue names (a python3
  // earlier on PATH may lack NumPy).
  const std::string python = std::filesystem::exists("/usr/bin/python3") ? "/usr/bin/python3" : "python3";
  const std::string cmd = python + " " + script_path.string() + " \"$GRADCHECK_BENCH_FILE\" 2>/dev/null";
  FILE* p = ::popen(cmd.c_str(), "r");
  if (!p) return NAN;
  char buf[128] = {0};
  const bool got = std::fgets(buf, sizeof buf, p) != nullptr;
  const int rc = ::pclose(p);
  std::filesystem::remove(script_path);
  if (!got || rc != 0) return NAN;
  return std::atof(buf);
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"bench_weights: weightstats throughput against the memory-bandwidth floor of the same mapped bytes"};
  BenchOptions o;
  app.add_option("--size-mib", o.size_mib, "size of the generated file (rounded up to 64 MiB matrices)")
      ->check(CLI::PositiveNumber);
  app.add_option("--file", o.file, "where to generate (kept and reused when its size matches)");
  app.add_option("--threads", o.threads, "threads for both the floor and the report")->check(CLI::PositiveNumber);
  app.add_option("--repeat", o.repeat, "runs of each measurement; the fastest counts")->check(CLI::PositiveNumber);
  app.add_flag("--no-numpy", o.no_numpy, "skip the NumPy comparison");
  app.add_flag("--no-twins,--no-onnx", o.no_onnx,
               "skip the same tensors as an ONNX model, an HDF5 file and GGUF files (--no-onnx: the former name)");
  app.add_flag("--keep-page-cache", o.keep_page_cache,
               "measure the file as the page cache holds it (default: drop its pages and read them back first)");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int rc = app.exit(e);
    return rc == 0 ? 0 : 2;
  }
  try {
    const std::int64_t per = 4096LL * 4096 * 4;
    const std::int64_t count = std::max<std::int64_t>(1, (o.size_mib * 1024 * 1024 + per - 1) / per);
    std::error_code ec;
    const auto existing = std::filesystem::file_size(o.file, ec);
    if (ec || existing < std::uintmax_t(count * per) || existing > std::uintmax_t(count * per + 65536)) generate(o);
    if (!o.keep_page_cache) drop_page_cache(o.file);

    gradcheck::MappedFile f(o.file);
    std::uint64_t header = 0;
    for (int b = 7; b >= 0; --b) header = (header << 8) | f.data()[b];
    const std::size_t data_start = 8 + header;
    const double bytes = double(f.size() - data_start);
    volatile double sink = floor_pass(f, data_start, o.threads);  // warms the page cache
    double floor_s = 1e300, report_s = 1e300, floor_cpu = 1e300, report_cpu = 1e300;
    // The floor's timed passes alternate with the report's runs (below), so
    // that the best of each comes from the same seconds: this machine's
    // memory bandwidth moves by a third from one second to the next.
    auto time_floor = [&] {
      auto t0 = Clock::now();
      const double c0 = cpu_seconds();
      sink = sink + floor_pass(f, data_start, o.threads);
      floor_s = std::min(floor_s, seconds_since(t0));
      floor_cpu = std::min(floor_cpu, cpu_seconds() - c0);
    };
    double sum_s = 1e300;
    for (int r = 0; r < o.repeat; ++r) {
      auto t0 = Clock::now();
      sink = sink + sum_pass(f, data_start, o.threads);
      sum_s = std::min(sum_s, seconds_since(t0));
    }
    // The same read over a mapping made for it, as each report maps the file:
    // what first touching a fresh mapping costs (the unmapping not timed, as
    // for the report).
    auto fresh_floor = [&](const std::string& file, std::size_t start) {
      double best = 1e300;
      for (int r = 0; r < o.repeat; ++r) {
        auto t0 = Clock::now();
        gradcheck::MappedFile g(file);
        sink = sink + floor_pass(g, start, o.threads);
        best = std::min(best, seconds_since(t0));
      }
      return best;
    };
    const double fresh_s = fresh_floor(o.file, data_start);
    const long anon_before = rss_anon_kib();
    std::atomic<long> anon_peak{anon_before};
    std::atomic<bool> done{false};
    std::jthread sampler([&] {
      while (!done) {
        anon_peak = std::max(anon_peak.load(), rss_anon_kib());
        std::this_thread::sleep_for(std::chrono::milliseconds(2));
      }
    });
    std::size_t flagged = 0;
    long faults = 0;
    for (int r = 0; r < o.repeat; ++r) {
      time_floor();
      const long faults0 = minor_faults();
      auto t0 = Clock::now();
      const double c0 = cpu_seconds();
      const auto ck = gradcheck::weights::open_checkpoint(o.file);
      gradcheck::weights::ReportOptions ro;
      ro.threads = o.threads;
      const auto report = gradcheck::weights::report_checkpoint(ck, ro);
      report_s = std::min(report_s, seconds_since(t0));
      report_cpu = std::min(report_cpu, cpu_seconds() - c0);
      faults = minor_faults() - faults0;
      flagged = 0;
      for (const auto& t : report.tensors) flagged += !t.flags.empty();
    }
    done = true;
    sampler.join();
    const double extra_mib = double(anon_peak - anon_before) / 1024.0;
    const double numpy_s = o.no_numpy ? NAN : numpy_seconds(o.file);

    // The same tensors as an ONNX model and as a Keras-style HDF5 file: each
    // one's page cache made the same defined state, then the report timed the
    // same way.
    std::map<std::string, double> fresh;  // each twin's floor on a fresh mapping
    std::map<std::string, double> own;    // each twin's floor, its mapping held, alternating with its reports
    auto twin = [&](const std::string& file, auto write, std::uint64_t expected_bytes = 0) {
      if (expected_bytes == 0) expected_bytes = std::uint64_t(count * per);
      const auto twin_size = std::filesystem::file_size(file, ec);
      if (ec || twin_size < expected_bytes || twin_size > expected_bytes + (1 << 20))
        write(o.file, file, data_start, count);
      if (!o.keep_page_cache) drop_page_cache(file);
      gradcheck::MappedFile g(file);
      sink = sink + floor_pass(g, 0, o.threads);  // reads it back, as the floor did the safetensors file
      fresh[file] = fresh_floor(file, 0);
      double best = 1e300, own_best = 1e300;
      for (int r = 0; r < o.repeat; ++r) {
        auto t0 = Clock::now();
        sink = sink + floor_pass(g, 0, o.threads);  // its own floor, alternating with its reports
        own_best = std::min(own_best, seconds_since(t0));
        t0 = Clock::now();
        const auto ck = gradcheck::weights::open_checkpoint(file);
        gradcheck::weights::ReportOptions ro;
        ro.threads = o.threads;
        const auto report = gradcheck::weights::report_checkpoint(ck, ro);
        best = std::min(best, seconds_since(t0));
        if (report.tensors.size() != std::size_t(count))
          throw gradcheck::InputError(file, "the twin read back with the wrong tensor count");
      }
      own[file] = own_best;
      return best;
    };
    const double onnx_s = o.no_onnx ? NAN : twin(o.file + ".onnx", write_onnx_twin);
    const double h5_s = o.no_onnx ? NAN : twin(o.file + ".h5", write_hdf5_twin);
    auto gguf = [&](std::uint32_t type, std::size_t block, std::size_t block_bytes) {
      return [=](const std::string& st, const std::string& g, std::size_t start, std::int64_t n) {
        write_gguf_twin(st, g, start, n, type, block, block_bytes);
      };
    };
    const double gguf_s = o.no_onnx ? NAN : twin(o.file + ".gguf", gguf(0, 1, 4));
    struct Quantized {
      const char* name;
      std::uint32_t type;
      std::size_t block, block_bytes;
      double seconds = NAN, file_bytes = 0;
    };
    std::vector<Quantized> quantized = {{"Q8_0", 8, 32, 34}, {"Q4_0", 2, 32, 18}, {"Q2_K", 10, 256, 84},
                                        {"Q3_K", 11, 256, 110}, {"Q4_K", 12, 256, 144}, {"IQ4_XS", 23, 256, 136}, {"Q6_K", 14, 256, 210},
                                        {"MXFP4", 39, 32, 17}, {"NVFP4", 40, 64, 36}, {"TQ2_0", 35, 256, 66}, {"TQ1_0", 34, 256, 54}};
    for (auto& q : quantized) {
      if (o.no_onnx) break;
      const std::string file = o.file + "." + q.name + ".gguf";
      const std::uint64_t tensor_bytes = 4096ULL * 4096 / q.block * q.block_bytes;
      q.seconds = twin(file, gguf(q.type, q.block, q.block_bytes), std::uint64_t(count) * tensor_bytes);
      q.file_bytes = double(std::filesystem::file_size(file));
    }

    const double gbs = 1e9;
    std::printf("| measurement (%.0f MiB F32, %d threads, page cache warm) | seconds | GB/s | ratio |\n",
                bytes / 1048576.0, o.threads);
    std::printf("|---|---|---|---|\n");
    std::printf("| floor: every mapped byte read once (memory bandwidth) | %.3f | %.2f | 1 |\n", floor_s, bytes / floor_s / gbs);
    std::printf("| the same read over a fresh mapping (mapped for the pass, as the report maps the file) | %.3f | %.2f | "
                "%.3f of the floor |\n",
                fresh_s, bytes / fresh_s / gbs, floor_s / fresh_s);
    std::printf("| a plain float sum in double, four accumulators (bound by its additions; context only) | %.3f | %.2f | "
                "%.3f of the floor |\n",
                sum_s, bytes / sum_s / gbs, floor_s / sum_s);
    std::printf("| weightstats default report | %.3f | %.2f | %.3f of the floor (%.3f of the fresh-mapping read) |\n",
                report_s, bytes / report_s / gbs, floor_s / report_s, fresh_s / report_s);
    // A twin's share is of the floor read over its own file in alternation
    // with its reports (the first floor is of the safetensors file, seconds
    // earlier); the share of the first floor is printed beside it.
    auto own_share = [&](const std::string& file, double seconds) { return own[file] / seconds; };
    auto print_twin = [&](const char* what, const std::string& file, double seconds) {
      if (std::isnan(seconds)) return;
      std::printf("| weightstats default report, the same tensors as %s | %.3f | %.2f | %.3f of its own floor "
                  "(%.3f s, read between its runs; %.3f of the first floor) |\n",
                  what, seconds, bytes / seconds / gbs, own_share(file, seconds), own[file], floor_s / seconds);
    };
    print_twin("ONNX (raw_data)", o.file + ".onnx", onnx_s);
    print_twin("HDF5 (contiguous datasets)", o.file + ".h5", h5_s);
    print_twin("GGUF (F32)", o.file + ".gguf", gguf_s);
    for (const auto& q : quantized)
      if (!std::isnan(q.seconds))
        std::printf("| weightstats default report, GGUF %s (%.0f MiB of file, dequantized) | %.3f | %.2f of file | "
                    "%.2f G values/s; the floor's read of a fresh mapping of the file %.2f GB/s |\n",
                    q.name, q.file_bytes / 1048576.0, q.seconds, q.file_bytes / q.seconds / gbs,
                    double(count) * 4096 * 4096 / q.seconds / 1e9, q.file_bytes / fresh[o.file + "." + q.name + ".gguf"] / gbs);
    if (std::isnan(numpy_s))
      std::printf("| NumPy basic statistics | not run (python3-numpy missing or --no-numpy) | | |\n");
    else
      std::printf("| NumPy basic statistics | %.3f | %.2f | weightstats is %.1fx faster; NumPy takes %.1fx the floor |\n",
                  numpy_s, bytes / numpy_s / gbs, numpy_s / report_s, numpy_s / floor_s);
    std::printf("\nCPU time (all threads, best run): floor %.3f s, report %.3f s: the report costs %.2fx the floor's CPU\n",
                floor_cpu, report_cpu, report_cpu / floor_cpu);
    std::printf("peak anonymous memory during the report: %.1f MiB beyond the mapping; flagged tensors: %zu\n",
                extra_mib, flagged);
    std::printf("page cache: %s; page faults of the last report run: %ld\n",
                o.keep_page_cache ? "as found (--keep-page-cache)" : "dropped and read back through the floor's mapping",
                faults);
    bool ok = true;
    if (floor_s / report_s < 0.5) {
      std::fprintf(stderr, "bench_weights: target missed: report at %.3f of the floor (>= 0.5)\n", floor_s / report_s);
      ok = false;
    }
    for (const auto& [what, file, seconds] : {std::tuple{"ONNX", o.file + ".onnx", onnx_s},
                                              std::tuple{"HDF5", o.file + ".h5", h5_s},
                                              std::tuple{"GGUF", o.file + ".gguf", gguf_s}})
      if (!std::isnan(seconds) && own_share(file, seconds) < 0.5) {
        std::fprintf(stderr, "bench_weights: target missed: %s report at %.3f of its own floor (>= 0.5)\n", what,
                     own_share(file, seconds));
        ok = false;
      }
    for (const auto& q : quantized)
      if (!std::isnan(q.seconds) && q.file_bytes / q.seconds < 1e9) {
        std::fprintf(stderr, "bench_weights: target missed: GGUF %s at %.2f GB/s of file (>= 1)\n", q.name,
                     q.file_bytes / q.seconds / 1e9);
        ok = false;
      }
    if (!std::isnan(numpy_s) && numpy_s / report_s < 10) {
      std::fprintf(stderr, "bench_weights: target missed: %.1fx NumPy (>= 10x)\n", numpy_s / report_s);
      ok = false;
    }
    if (extra_mib > 64) {
      std::fprintf(stderr, "bench_weights: target missed: %.1f MiB beyond the mapping (<= 64)\n", extra_mib);
      ok = false;
    }
    return ok ? 0 : 1;
  } catch (const gradcheck::InputError& e) {
    std::fprintf(stderr, "bench_weights: %s\n", e.what());
    return 2;
  }
}
