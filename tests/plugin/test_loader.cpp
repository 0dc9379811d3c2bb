#include <catch2/catch.hpp>

#include <string>

#include "gradcheck/errors.hpp"
#include "gradcheck/host/loader.hpp"
#include "support/matchers.hpp"

using gradcheck::InputError;
using gradcheck::host::Plugin;
using gradcheck::test::MessageMatches;

namespace {

std::string plugin_path(const std::string& name) { return std::string(TEST_PLUGIN_DIR) + "/" + name + ".so"; }

}  // namespace

TEST_CASE("a C plugin written against the ABI page loads and is described", "[loader]") {
  Plugin p(plugin_path("c_ok"));
  REQUIRE(p.models().size() == 1);
  const auto& m = p.models()[0];
  CHECK(m.name == "quadratic");
  CHECK(m.dtype == gradcheck::Dtype::f64);
  REQUIRE(m.tensors.size() == 2);
  CHECK(m.tensors[0].name == "x");
  CHECK(m.tensors[0].shape == std::vector<std::int64_t>{2, 3});
  CHECK(m.tensors[0].count == 6);
  CHECK(m.tensors[1].offset == 6);
  CHECK(m.num_values == 10);
  CHECK(p.find("quadratic") == 0);
  CHECK_THROWS_WITH(p.find("nope"), Catch::Contains("no model named 'nope'") && Catch::Contains("quadratic"));
}

TEST_CASE("a C++ plugin written with the adapter exports several models", "[loader][adapter]") {
  Plugin p(plugin_path("cpp_plugin"));
  REQUIRE(p.models().size() == 8);
  CHECK(p.models()[0].name == "tanh_f32");
  CHECK(p.models()[0].dtype == gradcheck::Dtype::f32);
  CHECK(p.models()[2].name == "tanh_f64");
  CHECK(p.models()[2].dtype == gradcheck::Dtype::f64);
  CHECK(p.models()[5].tensors[0].shape.empty());
  CHECK(p.models()[5].tensors[0].count == 1);
}

TEST_CASE("ABI refusals name the plugin, the model and the field", "[loader][errors]") {
  struct Case {
    const char* plugin;
    const char* expected;
  };
  const Case cases[] = {
      {"c_wrong_version", "abi_version is 2"},
      {"c_small_struct", "struct_size is 16"},
      {"c_null_name", "name is NULL"},
      {"c_null_loss", "loss is NULL"},
      {"c_null_create", "create is NULL"},
      {"c_bad_dtype", "dtype is 3"},
      {"c_negative_num_tensors", "num_tensors is -1"},
      {"c_bad_rank", "tensors[0] ('x').rank is 9 (must be 0 to 8)"},
      {"c_negative_extent", "tensors[0] ('x').shape[1] is -3"},
      {"c_overflow_extents", "product of the extents overflows"},
      {"c_duplicate_names", "tensors[1] ('x'): the name is used twice"},
      {"c_null_tensor_name", "tensors[0].name is NULL"},
      {"c_refuse_host", "cannot serve host ABI version 1"},
      {"c_no_symbol", "does not export gradcheck_plugin_models"},
      {"c_duplicate_models", "two models have this name"},
  };
  for (const auto& c : cases) {
    INFO(c.plugin);
    CHECK_THROWS_MATCHES(Plugin(plugin_path(c.plugin)), InputError,
                         MessageMatches(Catch::Contains(c.expected) && Catch::Contains(plugin_path(c.plugin))));
  }
  // Where the name is readable, the model is named by it; otherwise by index.
  CHECK_THROWS_MATCHES(Plugin(plugin_path("c_null_loss")), InputError,
                       MessageMatches(Catch::Contains("model 'quadratic'")));
  CHECK_THROWS_MATCHES(Plugin(plugin_path("c_null_name")), InputError, MessageMatches(Catch::Contains("model #0")));
}

TEST_CASE("missing files, folders and non-plugins are refused with the reason", "[loader][errors]") {
  CHECK_THROWS_WITH(Plugin("/nonexistent/model.so"), Catch::Contains("/nonexistent/model.so: no such file"));
  CHECK_THROWS_WITH(Plugin(TEST_PLUGIN_DIR), Catch::Contains("is a directory"));
  // A text file is not a shared object: dlopen's reason is passed on.
  CHECK_THROWS_WITH(Plugin(std::string(TEST_PLUGIN_DIR) + "/../CTestTestfile.cmake"),
                    Catch::Contains("cannot load the plugin"));
}

TEST_CASE("describe_index names the tensor and the multi-index", "[loader]") {
  Plugin p(plugin_path("c_ok"));
  const auto& m = p.models()[0];
  CHECK(gradcheck::host::describe_index(m, 0) == "x[0, 0]");
  CHECK(gradcheck::host::describe_index(m, 5) == "x[1, 2]");
  CHECK(gradcheck::host::describe_index(m, 7) == "y[1]");
  CHECK(gradcheck::host::unravel_index(std::vector<std::int64_t>{2, 3, 4}, 23) ==
        std::vector<std::int64_t>{1, 2, 3});
}
