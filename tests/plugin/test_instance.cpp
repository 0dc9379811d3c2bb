#include <catch2/catch.hpp>

#include <cmath>
#include <string>

#include "gradcheck/host/loader.hpp"
#include "support/central_difference.hpp"

using namespace gradcheck::host;

namespace {

std::string plugin_path(const std::string& name) { return std::string(TEST_PLUGIN_DIR) + "/" + name + ".so"; }

bool has_kind(const std::vector<Problem>& problems, gradcheck::ProblemKind kind) {
  for (const auto& p : problems)
    if (p.kind == kind) return true;
  return false;
}

std::string kinds(const std::vector<Problem>& problems) {
  std::string s;
  for (const auto& p : problems) s += std::string(gradcheck::to_string(p.kind)) + ": " + p.message + "\n";
  return s;
}

}  // namespace

TEST_CASE("a correct model gives its loss and gradient and no problems", "[instance]") {
  Plugin p(plugin_path("c_ok"));
  ModelInstance m(p, 0, 42);
  std::vector<double> x = m.init();
  REQUIRE(x.size() == 10);
  CHECK(x[0] == -0.5);
  std::vector<double> g(10);
  double loss = 0;
  const auto problems = m.loss_twice(x, loss, g);
  INFO(kinds(problems));
  CHECK(problems.empty());
  for (int i = 0; i < 6; ++i) CHECK(g[i] == Approx((1 + i) * x[i]));
  CHECK(m.evaluations() == 2);
  // Same seed, same instance data; another seed, other data.
  ModelInstance same(p, 0, 42), other(p, 0, 43);
  std::vector<double> g2(10), g3(10);
  double l2 = 0, l3 = 0;
  same.loss(x, l2, g2);
  other.loss(x, l3, g3);
  CHECK(l2 == loss);
  CHECK(l3 != loss);
  // Loss only: no gradient buffers.
  double l4 = 0;
  CHECK(same.loss(x, l4, {}).empty());
  CHECK(l4 == loss);
}

TEST_CASE("host checks turn misbehaviour into problems of the right kind", "[instance]") {
  struct Case {
    const char* plugin;
    gradcheck::ProblemKind kind;
    const char* text;
  };
  const Case cases[] = {
      {"c_not_written", gradcheck::ProblemKind::gradient_not_written, "gradient of y[3] was not written"},
      {"c_modifies_values", gradcheck::ProblemKind::values_modified, "first at x[1, 1]"},
      {"c_non_finite", gradcheck::ProblemKind::non_finite, "the loss is nan"},
      {"c_nondeterministic", gradcheck::ProblemKind::nondeterministic_loss, "two calls at the same point gave losses"},
      {"c_stateful", gradcheck::ProblemKind::stateful_gradient, "at y[0]"},
      {"c_error_return", gradcheck::ProblemKind::model_error, "loss returned 7: the batch file is missing"},
      {"c_null_last_error", gradcheck::ProblemKind::model_error, "loss returned 5: no message (last_error is NULL)"},
      // The plugin's bytes become one line of valid UTF-8 (reports hold the message).
      {"c_bad_bytes_error", gradcheck::ProblemKind::model_error, "loss returned 8: the batch \\xff file\\x0ais missing"},
  };
  for (const auto& c : cases) {
    INFO(c.plugin);
    Plugin p(plugin_path(c.plugin));
    ModelInstance m(p, 0, 1);
    const std::vector<double> x = m.init();
    std::vector<double> g(x.size());
    double loss = 0;
    const auto problems = m.loss_twice(x, loss, g);
    INFO(kinds(problems));
    REQUIRE(has_kind(problems, c.kind));
    for (const auto& pr : problems)
      if (pr.kind == c.kind) {
        CHECK_THAT(pr.message, Catch::Contains(c.text));
        CHECK_THAT(pr.message, Catch::Contains("model 'quadratic'"));
      }
    // Only the fault that was planted.
    for (const auto& pr : problems) CHECK(pr.kind == c.kind);
  }
}

TEST_CASE("a model that writes its values is reported on the compared calls, which start from x", "[instance]") {
  // c_modifies_values adds 1 to x[1, 1] (flat index 4) before computing the
  // loss, on every call. Without a hint every call starts from x. With a hint
  // that does not name index 4, uncompared calls leave the write in place; a
  // compared call reads the whole buffer first, reports it and starts from x.
  for (const bool hinted : {false, true}) {
    Plugin p(plugin_path("c_modifies_values"));
    ModelInstance m(p, 0, 1);
    const std::vector<double> x = m.init();
    double first = 0;
    for (std::uint64_t call = 0; call < 4 * ModelInstance::kCompareEvery + 5; ++call) {
      INFO((hinted ? "hinted" : "unhinted") << " value-only call " << call);
      double loss = 0;
      const auto changes = hinted ? gradcheck::Changes::at(0, 1) : gradcheck::Changes{};
      const auto problems = m.loss(std::span<const double>(x), loss, {}, changes);
      if (call == 0) first = loss;
      const bool compared = call < ModelInstance::kComparedFirst || call % ModelInstance::kCompareEvery == 0;
      CHECK(has_kind(problems, gradcheck::ProblemKind::values_modified) == compared);
      CHECK((loss == first) == (compared || !hinted));
    }
    // A gradient call is always compared.
    std::vector<double> g(x.size());
    double loss = 0;
    CHECK(has_kind(m.loss(std::span<const double>(x), loss, g), gradcheck::ProblemKind::values_modified));
  }
}

TEST_CASE("a caller's hint of the changed values gives the losses of full copies", "[instance]") {
  // Steps at one coordinate after another, as the checker's evaluator makes
  // them, past the compared calls: each loss equals that of an instance given
  // no hint (which compares and copies the whole vector).
  Plugin p(plugin_path("c_ok"));
  ModelInstance hinted(p, 0, 3), plain(p, 0, 3);
  const std::vector<double> x0 = hinted.init();
  plain.init();
  std::vector<double> x = x0;
  std::int64_t last = -1;
  const std::int64_t n = static_cast<std::int64_t>(x.size());
  for (std::uint64_t call = 0; call < 4 * ModelInstance::kCompareEvery; ++call) {
    const std::int64_t i = static_cast<std::int64_t>((call * 7) % static_cast<std::uint64_t>(n));
    x[static_cast<std::size_t>(i)] = x0[static_cast<std::size_t>(i)] + 0.25 * static_cast<double>(call + 1);
    double a = 0, b = 0;
    const auto changes = last < 0 ? gradcheck::Changes{} : gradcheck::Changes::at(last, i);
    INFO("call " << call);
    CHECK(hinted.loss(std::span<const double>(x), a, {}, changes).empty());
    CHECK(plain.loss(std::span<const double>(x), b, {}).empty());
    CHECK(a == b);
    x[static_cast<std::size_t>(i)] = x0[static_cast<std::size_t>(i)];
    last = i;
  }
  // An index outside the vector is no hint: the whole vector is copied.
  double a = 0, b = 0;
  x[2] = 9;
  CHECK(hinted.loss(std::span<const double>(x), a, {}, gradcheck::Changes::at(-7, n)).empty());
  CHECK(plain.loss(std::span<const double>(x), b, {}).empty());
  CHECK(a == b);
}

TEST_CASE("create returning NULL is a model error", "[instance]") {
  Plugin p(plugin_path("c_create_null"));
  const auto create_returned_null = [](const ModelError& e) {
    return e.problem().kind == gradcheck::ProblemKind::model_error &&
           e.problem().message.find("create(seed=5) returned NULL") != std::string::npos;
  };
  CHECK_THROWS_MATCHES(ModelInstance(p, 0, 5), ModelError,
                       Catch::Predicate<ModelError>(create_returned_null,
                                                    "is a model_error containing \"create(seed=5) returned NULL\""));
}

TEST_CASE("the adapter computes f32 and f64 gradients over Eigen maps", "[instance][adapter]") {
  Plugin p(plugin_path("cpp_plugin"));
  for (const char* name : {"tanh_f32", "tanh_f64"}) {
    const std::size_t k = p.find(name);
    const bool f32 = p.models()[k].dtype == gradcheck::Dtype::f32;
    ModelInstance m(p, k, 7);
    std::vector<double> x = m.init();
    REQUIRE(x.size() == 16);
    std::vector<double> g(x.size());
    double loss = 0;
    REQUIRE(m.loss_twice(x, loss, g).empty());
    // Central differences; the f32 model is evaluated at f32-rounded points.
    const double h = f32 ? 1e-2 : 1e-6;
    for (std::size_t i = 0; i < x.size(); ++i) {
      const double numeric = gradcheck::test::central_difference(m, x, i, h);
      CHECK(g[i] == Approx(numeric).margin(f32 ? 2e-3 : 1e-8));
    }
  }
}

TEST_CASE("the adapter turns exceptions into error codes with the message", "[instance][adapter]") {
  Plugin p(plugin_path("cpp_plugin"));
  {
    ModelInstance m(p, p.find("throws"), 1);
    const auto x = m.init();
    double loss = 0;
    const auto problems = m.loss(x, loss, {});
    REQUIRE(problems.size() == 1);
    CHECK(problems[0].kind == gradcheck::ProblemKind::model_error);
    CHECK_THAT(problems[0].message, Catch::Contains("labels and logits disagree in size"));
  }
  {
    ModelInstance m(p, p.find("huge_alloc"), 1);
    const auto x = m.init();
    double loss = 0;
    const auto problems = m.loss(x, loss, {});
    REQUIRE(problems.size() == 1);
    CHECK(problems[0].kind == gradcheck::ProblemKind::model_error);
    CHECK_THAT(problems[0].message, Catch::Contains("bad_alloc"));
  }
  CHECK_THROWS_AS(ModelInstance(p, p.find("bad_constructor"), 1), ModelError);
}
