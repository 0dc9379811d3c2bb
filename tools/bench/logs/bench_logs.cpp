// bench_logs [--rows N] [--seed S] [--file PATH] [--repeat R]
// Writes a Lightning-style CSV log of N rows (step, epoch, train_loss,
// val_loss every 100th row, grad_norm, lr), then times on the same file, with
// the page cache warm for both: `wc -l`, read_csv, diagnose, and the two
// together. Prints MB/s of each (best of R runs) and the verdict.

#include <CLI/CLI.hpp>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <random>
#include <string>
#include <ctime>
#include <unistd.h>

#include "gradcheck/diag/diagnose.hpp"
#include "gradcheck/logs/readers.hpp"

namespace {

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

// CPU time of this process (user + system): on a shared machine it says what
// the work costs, where wall time also counts waiting for a core.
double cpu_seconds() {
  timespec ts{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + 1e-9 * static_cast<double>(ts.tv_nsec);
}

void write_log(const std::string& path, long rows, std::uint64_t seed) {
  std::FILE* f = std::fopen(path.c_str(), "w");
  if (f == nullptr) throw std::runtime_error("cannot write " + path);
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> z;
  std::fprintf(f, "step,epoch,train_loss,val_loss,grad_norm,lr\n");
  for (long i = 0; i < rows; ++i) {
    const double t = static_cast<double>(i) / static_cast<double>(rows);
    const double loss = (0.1 + 2.2 * std::exp(-6 * t)) * std::exp(0.15 * z(rng));
    const double grad = (1 + 2 * std::exp(-3 * t)) * std::exp(0.3 * z(rng));
    if (i % 100 == 99)
      std::fprintf(f, "%ld,%ld,%.8g,%.8g,%.8g,%.6g\n", i, i / 1000, loss, 0.2 + 2.1 * std::exp(-6 * t), grad, 1e-3);
    else
      std::fprintf(f, "%ld,%ld,%.8g,,%.8g,%.6g\n", i, i / 1000, loss, grad, 1e-3);
  }
  std::fclose(f);
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Benchmark: CSV log read + diagnose throughput beside wc -l"};
  long rows = 1000000;
  std::uint64_t seed = 1;
  int repeat = 3;
  std::string file;
  app.add_option("--rows", rows, "Rows of the generated log")->check(CLI::PositiveNumber);
  app.add_option("--seed", seed, "Seed of the generated values");
  app.add_option("--repeat", repeat, "Runs of each measurement (best is reported)")->check(CLI::PositiveNumber);
  app.add_option("--file", file, "Where to write the log (default: a temporary file, removed afterwards)");
  CLI11_PARSE(app, argc, argv);
  namespace fs = std::filesystem;
  const bool temporary = file.empty();
  if (temporary) file = (fs::temp_directory_path() / ("gradcheck_bench_logs_" + std::to_string(::getpid()) + ".csv")).string();
  try {
    write_log(file, rows, seed);
    const double mb = static_cast<double>(fs::file_size(file)) / 1e6;
    const std::string wc = "wc -l < '" + file + "' > /dev/null";
    double best_wc = 1e9, best_read = 1e9, best_diag = 1e9, best_all = 1e9;
    double cpu_read = 1e9, cpu_diag = 1e9, cpu_all = 1e9;
    std::string verdict;
    for (int r = 0; r < repeat; ++r) {
      auto t0 = std::chrono::steady_clock::now();
      if (std::system(wc.c_str()) != 0) throw std::runtime_error("wc -l failed");
      best_wc = std::min(best_wc, seconds_since(t0));
      t0 = std::chrono::steady_clock::now();
      double c0 = cpu_seconds();
      const auto run = gradcheck::logs::read_csv(file);
      const double read = seconds_since(t0), read_cpu = cpu_seconds() - c0;
      t0 = std::chrono::steady_clock::now();
      c0 = cpu_seconds();
      const auto d = gradcheck::diag::diagnose(run);
      const double diag = seconds_since(t0), diag_cpu = cpu_seconds() - c0;
      best_read = std::min(best_read, read);
      best_diag = std::min(best_diag, diag);
      best_all = std::min(best_all, read + diag);
      cpu_read = std::min(cpu_read, read_cpu);
      cpu_diag = std::min(cpu_diag, diag_cpu);
      cpu_all = std::min(cpu_all, read_cpu + diag_cpu);
      verdict = d.healthy() ? "healthy" : std::string(gradcheck::diag::to_string(d.symptoms.front().kind)) + ": " + d.symptoms.front().evidence;
    }
    std::printf("file: %ld rows, %.1f MB (%s)\n", rows, mb, file.c_str());
    std::printf("%-18s %9s %9s %9s %9s\n", "", "wall s", "MB/s", "cpu s", "MB/s(cpu)");
    std::printf("%-18s %9.3f %9.0f %9s %9s\n", "wc -l", best_wc, mb / best_wc, "-", "-");
    std::printf("%-18s %9.3f %9.0f %9.3f %9.0f\n", "read_csv", best_read, mb / best_read, cpu_read, mb / cpu_read);
    std::printf("%-18s %9.3f %9.0f %9.3f %9.0f\n", "diagnose", best_diag, mb / best_diag, cpu_diag, mb / cpu_diag);
    std::printf("%-18s %9.3f %9.0f %9.3f %9.0f\n", "read+diagnose", best_all, mb / best_all, cpu_all, mb / cpu_all);
    std::printf("verdict: %s\n", verdict.c_str());
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench_logs: %s\n", e.what());
    if (temporary) fs::remove(file);
    return 2;
  }
  if (temporary) fs::remove(file);
  return 0;
}
