#include <catch2/catch.hpp>

#include <random>

#include <nlohmann/json.hpp>

#include "gradcheck/weights/render.hpp"

using namespace gradcheck::weights;

TEST_CASE("the JSON report holds each tensor's histogram: value-ordered bins whose counts sum to the finite values",
          "[render][histogram]") {
  std::mt19937_64 rng(31);
  std::normal_distribution<float> dist(0.0f, 0.1f);
  std::vector<float> w(64 * 300);
  for (auto& v : w) v = dist(rng);
  w[5] = NAN;
  WeightsReport r;
  TensorReport t;
  t.name = "fc.weight";
  t.shape = {64, 300};
  const auto a = statistics(std::span<const float>(w), t.shape);
  t.stats = a.stats;
  t.matrix = a.matrix;
  r.tensors.push_back(t);
  TensorReport empty;
  empty.name = "empty";
  empty.shape = {0};
  empty.stats = statistics(std::span<const float>()).stats;
  r.tensors.push_back(empty);
  const auto j = nlohmann::json::parse(to_json(r));
  const auto& h = j["tensors"][0]["histogram"];
  CHECK(h["scale"] == "log");
  const int m = h["mantissa_bits"];
  CHECK(m >= 0);
  CHECK(m <= 7);
  REQUIRE(h["counts"].size() == h["lower"].size());
  REQUIRE(h["counts"].size() == h["upper"].size());
  CHECK(h["counts"].size() <= 256);
  std::uint64_t total = 0;
  for (std::size_t i = 0; i < h["counts"].size(); ++i) {
    total += h["counts"][i].get<std::uint64_t>();
    CHECK(h["lower"][i].get<double>() < h["upper"][i].get<double>());
    if (i > 0) CHECK(h["upper"][i - 1].get<double>() <= h["lower"][i].get<double>());
  }
  CHECK(total == w.size() - 1);
  CHECK(h["lower"][0].get<double>() <= j["tensors"][0]["min"].get<double>());
  CHECK(h["upper"].back().get<double>() > j["tensors"][0]["max"].get<double>());
  CHECK(j["tensors"][1]["histogram"]["counts"].empty());
}
