// The one place numbers become text (lib/src/core/format.hpp): what printf
// writes in the "C" locale, for the precisions the reports use, ties included.
#include <catch2/catch.hpp>

#include <cmath>
#include <cstdio>
#include <limits>
#include <random>
#include <string>

#include "core/format.hpp"
#include "core/json_out.hpp"

namespace {

std::string printf_text(const char* format, int precision, double v) {
  char buf[512];
  std::snprintf(buf, sizeof buf, format, precision, v);
  return buf;
}

}  // namespace

TEST_CASE("general, fixed and scientific write what printf writes", "[format]") {
  using namespace gradcheck::internal;
  const double inf = std::numeric_limits<double>::infinity();
  std::vector<double> values = {0.0, -0.0, 1.0625, 0.5, 2.5, 99995, 9.9995, 1e-5, 1e300, 5e-324, -123.456,
                                inf, -inf, std::numeric_limits<double>::quiet_NaN()};
  std::mt19937_64 rng(3);
  std::uniform_real_distribution<double> exponent(-30, 30);
  for (int i = 0; i < 2000; ++i) values.push_back((i % 2 ? -1 : 1) * std::pow(10.0, exponent(rng)));
  for (double v : values)
    for (int p : {1, 2, 3, 4, 6, 9, 12, 17}) {
      INFO(printf_text("%.*g", 17, v) << " precision " << p);
      CHECK(general(v, p) == printf_text("%.*g", p, v));
      CHECK(scientific(v, p) == printf_text("%.*e", p, v));
      if (std::abs(v) < 1e30 || !std::isfinite(v)) CHECK(fixed(v, p) == printf_text("%.*f", p, v));
    }
  CHECK(fixed(1e300, 2).size() == 304);  // every digit of a large number
  CHECK(general(1.0625, 4) == "1.062");  // an exact tie rounds to even, as printf does
  CHECK(percent(0.1234, 1) == "12.3%");
  CHECK(fixed(-0.001, 2) == "-0.00");
}

TEST_CASE("json_number writes null for what JSON cannot hold", "[format][json]") {
  using gradcheck::internal::json_number;
  CHECK(json_number(1.5).dump() == "1.5");
  CHECK(json_number(std::numeric_limits<double>::quiet_NaN()).is_null());
  CHECK(json_number<nlohmann::ordered_json>(-std::numeric_limits<double>::infinity()).is_null());
}
