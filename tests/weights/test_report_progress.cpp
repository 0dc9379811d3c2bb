// ReportOptions::progress: called from the calling thread only, with a
// non-decreasing count of finished tensors that ends at the total, and with no
// effect on the results.
#include <catch2/catch.hpp>

#include <cstdint>
#include <memory>
#include <random>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "gradcheck/weights/checkpoint.hpp"
#include "gradcheck/weights/render.hpp"
#include "gradcheck/weights/report.hpp"

using namespace gradcheck::weights;

namespace {

struct Call {
  std::string_view phase;  // one of progress_phase's (static) strings
  std::int64_t done, total;
};

std::vector<float> noise(std::size_t n, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<float> dist(0.0f, 0.05f);
  std::vector<float> v(n);
  for (auto& x : v) x = dist(rng);
  return v;
}

// Small, empty and multi-task tensors (over 32 chunks of 16384 values), in memory.
Checkpoint make_checkpoint(const std::string& file, std::uint64_t seed) {
  struct Spec {
    const char* name;
    std::vector<std::int64_t> shape;
  };
  const std::vector<Spec> specs = {{"a.weight", {16, 32}}, {"a.bias", {16}}, {"empty", {0, 4}},
                                   {"big.weight", {1200, 512}}, {"b.weight", {64, 64}}};
  Checkpoint ck;
  ck.add_file(file);
  for (const auto& spec : specs) {
    std::uint64_t n = 1;
    for (auto d : spec.shape) n *= std::uint64_t(d);
    auto values = std::make_shared<std::vector<float>>(noise(n, seed++));
    TensorEntry e;
    e.name = spec.name;
    e.file = file;
    e.shape = spec.shape;
    e.numel = n;
    e.data = reinterpret_cast<const std::uint8_t*>(values->data());
    e.nbytes = 4 * n;
    ck.keep_alive(values);
    ck.add_tensor(std::move(e));
  }
  return ck;
}

void check_calls(const std::vector<Call>& calls, std::string_view phase, std::int64_t total) {
  REQUIRE(!calls.empty());
  std::int64_t last = -1;
  for (const auto& c : calls) {
    CHECK(c.phase == phase);
    CHECK(c.total == total);
    CHECK(c.done >= last);
    CHECK(c.done <= c.total);
    last = c.done;
  }
  CHECK(calls.size() <= std::size_t(total));
  CHECK(calls.back().done == total);
}

}  // namespace

TEST_CASE("the progress hook counts finished tensors from the calling thread, results unchanged", "[report][progress]") {
  const Checkpoint before = make_checkpoint("before.safetensors", 1);
  const Checkpoint after = make_checkpoint("after.safetensors", 11);
  const std::int64_t tensors = std::int64_t(after.tensors().size());
  for (int threads : {1, 3}) {
    INFO("threads " << threads);
    ReportOptions plain;
    plain.threads = threads;
    WeightsReport expected = report_checkpoint(after, plain);
    add_diff(expected, before, after, plain);

    const auto caller = std::this_thread::get_id();
    std::vector<Call> analysing, comparing;
    ReportOptions hooked = plain;
    hooked.progress = [&](std::string_view phase, std::int64_t done, std::int64_t total) {
      CHECK(std::this_thread::get_id() == caller);
      (phase == progress_phase::comparing ? comparing : analysing).push_back({phase, done, total});
    };
    WeightsReport got = report_checkpoint(after, hooked);
    check_calls(analysing, progress_phase::analysing, tensors);
    add_diff(got, before, after, hooked);
    check_calls(comparing, progress_phase::comparing, tensors);
    CHECK(to_json(got) == to_json(expected));
  }
}
