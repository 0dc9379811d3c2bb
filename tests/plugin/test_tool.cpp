// The gradcheck executable end to end on the samples and the misbehaving test
// plugins: exit codes, the contract's JSON fields, and the text report.
#include <catch2/catch.hpp>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "support/run_tool.hpp"
#include "support/scratch.hpp"

using json = nlohmann::json;
namespace fs = std::filesystem;
using gradcheck::test::ToolRun;

namespace {

// Runs the tool with `args` (shell words); with_json adds --json and parses it.
ToolRun run_gradcheck(const std::string& args, bool with_json = true) {
  return gradcheck::test::run_tool(GRADCHECK_TOOL, args, {.json = with_json});
}

const std::string& r_text(const ToolRun& r) { return r.out; }

std::string test_plugin(const std::string& name) { return std::string(TEST_PLUGIN_DIR) + "/" + name + ".so"; }

// Every field of the contract, with its type.
void check_contract(const json& r) {
  REQUIRE(r.is_object());
  CHECK(r.at("tool") == "gradcheck");
  CHECK(r.at("schema") == 1);
  CHECK(r.at("version").is_string());
  CHECK(r.at("plugin").is_string());
  CHECK(r.at("passed").is_boolean());
  REQUIRE(r.at("models").is_array());
  for (const auto& m : r.at("models")) {
    CHECK(m.at("name").is_string());
    CHECK((m.at("dtype") == "f32" || m.at("dtype") == "f64"));
    CHECK(m.at("passed").is_boolean());
    CHECK((m.at("mode") == "full" || m.at("mode") == "fast"));
    CHECK(m.at("evaluations").is_number_integer());
    CHECK(m.at("seconds").is_number());
    REQUIRE(m.at("problems").is_array());
    for (const auto& p : m.at("problems")) {
      CHECK(p.at("kind").is_string());
      CHECK(p.at("message").is_string());
    }
    REQUIRE(m.at("tensors").is_array());
    for (const auto& t : m.at("tensors")) {
      CHECK(t.at("name").is_string());
      CHECK(t.at("shape").is_array());
      CHECK(t.at("checked").is_number_integer());
      const std::string v = t.at("verdict");
      CHECK((v == "ok" || v == "mismatch" || v == "kink" || v == "inconclusive"));
      CHECK((t.at("max_rel_error").is_number() || t.at("max_rel_error").is_null()));
      CHECK(t.at("hint").is_string());
      REQUIRE(t.at("worst").is_array());
      for (const auto& w : t.at("worst")) {
        CHECK(w.at("index").is_array());
        // JSON has no NaN: a non-finite value (an unwritten gradient) is null.
        CHECK((w.at("analytic").is_number() || w.at("analytic").is_null()));
        CHECK(w.at("numeric").is_number());
        CHECK(w.at("error_bound").is_number());
      }
    }
  }
}

// Drops what legitimately varies between runs (timings).
json without_timings(json r) {
  for (auto& m : r.at("models")) m.erase("seconds");
  return r;
}

}  // namespace

TEST_CASE("correct samples pass (exit 0) with a complete JSON report", "[tool]") {
  for (const char* plugin : {SAMPLE_RELU, SAMPLE_MLP, SAMPLE_FOCAL}) {
    INFO(plugin);
    const ToolRun r = run_gradcheck(std::string("'") + plugin + "' --threads 2");
    INFO(r.out << r.err);
    CHECK(r.exit_code == 0);
    check_contract(r.report);
    CHECK(r.report.at("passed") == true);
    for (const auto& m : r.report.at("models")) {
      INFO(m.at("name"));
      CHECK(m.at("passed") == true);
      CHECK(m.at("problems").empty());
      for (const auto& t : m.at("tensors")) CHECK(t.at("verdict").get<std::string>() != "mismatch");
    }
    CHECK_THAT(r.out, Catch::StartsWith("PASS"));
  }
}

TEST_CASE("each buggy twin fails (exit 1) with its guilty tensor flagged and nothing else", "[tool]") {
  const std::pair<const char*, const char*> twins[] = {
      {"relu_no_mask", "x"},
      {"softmax_ce_no_onehot", "logits"},
      {"linear_bias_not_summed", "bias"},
      {"softmax_ce_missing_batch_factor", "logits"},
  };
  for (const auto& [twin, guilty] : twins) {
    for (const char* suffix : {"_f32", "_f64"}) {
      const std::string model = std::string(twin) + suffix;
      INFO(model);
      const ToolRun r = run_gradcheck(std::string("'") + SAMPLE_BUGGY + "' -m " + model);
      INFO(r.out << r.err);
      CHECK(r.exit_code == 1);
      check_contract(r.report);
      REQUIRE(r.report.at("models").size() == 1);
      const auto& m = r.report.at("models")[0];
      CHECK(m.at("passed") == false);
      CHECK(m.at("problems").empty());
      for (const auto& t : m.at("tensors")) {
        INFO(t.at("name"));
        if (t.at("name") == guilty) {
          CHECK(t.at("verdict").get<std::string>() == "mismatch");
          CHECK_FALSE(t.at("worst").empty());
        } else {
          CHECK(t.at("verdict").get<std::string>() != "mismatch");
        }
      }
      CHECK_THAT(r.out, Catch::StartsWith("FAIL"));
      CHECK_THAT(r.out, Catch::Contains(guilty));
    }
  }
}

TEST_CASE("the missing 1/batch factor is hinted as a constant ratio", "[tool]") {
  const ToolRun r = run_gradcheck(std::string("'") + SAMPLE_BUGGY + "' -m softmax_ce_missing_batch_factor_f64");
  REQUIRE(r.report.at("models").size() == 1);
  const auto& t = r.report.at("models")[0].at("tensors")[0];
  INFO(r.out);
  CHECK(t.at("hint_kind") == "constant_ratio");
}

TEST_CASE("the ReLU without its mask is hinted as a missing mask", "[tool]") {
  const ToolRun r = run_gradcheck(std::string("'") + SAMPLE_BUGGY + "' -m relu_no_mask_f64");
  REQUIRE(r.report.at("models").size() == 1);
  INFO(r.out);
  CHECK_THAT(r.report.at("models")[0].at("tensors")[0].at("hint").get<std::string>(), Catch::Contains("mask"));
}

TEST_CASE("one and two threads give the same report apart from timings", "[tool]") {
  for (const char* plugin : {SAMPLE_MLP, SAMPLE_BUGGY}) {
    INFO(plugin);
    const ToolRun one = run_gradcheck(std::string("'") + plugin + "' --threads 1 --seed 5");
    const ToolRun two = run_gradcheck(std::string("'") + plugin + "' --threads 2 --seed 5");
    CHECK(without_timings(one.report) == without_timings(two.report));
  }
}

TEST_CASE("fast mode checks random directions and still catches the buggy twins", "[tool]") {
  const ToolRun ok = run_gradcheck(std::string("'") + SAMPLE_MLP + "' --mode fast -m mlp_f64");
  INFO(ok.out << ok.err);
  CHECK(ok.exit_code == 0);
  check_contract(ok.report);
  CHECK(ok.report.at("models")[0].at("mode") == "fast");
  const ToolRun bad = run_gradcheck(std::string("'") + SAMPLE_BUGGY + "' --mode fast -m linear_bias_not_summed_f64");
  INFO(bad.out << bad.err);
  CHECK(bad.exit_code == 1);
  for (const auto& t : bad.report.at("models")[0].at("tensors"))
    CHECK((t.at("verdict").get<std::string>() == "mismatch") == (t.at("name") == "bias"));
}

TEST_CASE("fast mode localises a single faulty coordinate in O(log n) evaluations", "[tool][fast]") {
  const ToolRun fast = run_gradcheck("'" + test_plugin("cpp_plugin") + "' -m one_wrong --mode fast");
  INFO(fast.out << fast.err);
  CHECK(fast.exit_code == 1);
  const auto& m = fast.report.at("models")[0];
  CHECK(m.at("mode") == "fast");
  CHECK(m.at("tensors")[0].at("verdict").get<std::string>() == "ok");
  const auto& w = m.at("tensors")[1];
  CHECK(w.at("verdict").get<std::string>() == "mismatch");
  // The faulty coordinate leads the worst entries, with its doubled analytic value.
  REQUIRE_FALSE(w.at("worst").empty());
  CHECK(w.at("worst")[0].at("index") == json::array({17, 42}));
  CHECK(w.at("worst")[0].at("analytic").get<double>() ==
        Approx(2 * w.at("worst")[0].at("numeric").get<double>()).epsilon(1e-6));
  bool noted = false;
  for (const auto& n : m.at("notes")) noted = noted || n.get<std::string>().rfind("w: localised", 0) == 0;
  CHECK(noted);
  CHECK_THAT(r_text(fast), Catch::Contains("w[17,42]"));
  // Far fewer evaluations than comparing all 4196 coordinates, even though
  // full mode settles most of them with one central difference (2 each).
  const ToolRun full = run_gradcheck("'" + test_plugin("cpp_plugin") + "' -m one_wrong --mode full");
  CHECK(full.exit_code == 1);
  const auto fast_evals = m.at("evaluations").get<std::int64_t>();
  const auto full_evals = full.report.at("models")[0].at("evaluations").get<std::int64_t>();
  INFO("fast " << fast_evals << " full " << full_evals);
  CHECK(fast_evals * 4 < full_evals);
}

TEST_CASE("fast mode flags a tensor whose whole gradient is off by 0.1%", "[tool][fast]") {
  const ToolRun r = run_gradcheck("'" + test_plugin("cpp_plugin") + "' -m scaled_1001 --mode fast");
  INFO(r.out << r.err);
  CHECK(r.exit_code == 1);
  const auto& m = r.report.at("models")[0];
  CHECK(m.at("tensors")[0].at("verdict").get<std::string>() == "ok");
  CHECK(m.at("tensors")[1].at("verdict").get<std::string>() == "mismatch");
}

TEST_CASE("a model whose code crashes, aborts, exits, hangs or throws exits 3 with the report", "[tool]") {
  struct Case {
    std::string plugin;
    std::string args;
    std::string text;
  };
  const Case cases[] = {
      {test_plugin("c_crash"), "", "SIGSEGV"},
      {test_plugin("c_abort"), "", "SIGABRT"},
      {test_plugin("c_exit"), "", "exited with status 3"},
      {test_plugin("c_hang"), "--timeout 1", "model 'quadratic': timed out after 1 s during loss()"},
      {test_plugin("raw_throw"), "", "index 7 out of range"},
      {test_plugin("c_error_return"), "", "loss returned 7: the batch file is missing"},
      {test_plugin("cpp_plugin"), "-m throws", "labels and logits disagree in size"},
      {test_plugin("cpp_plugin"), "-m bad_constructor", "create(seed=0) returned NULL"},
      {test_plugin("c_huge_alloc"), "--memory-limit 2048", "SIGSEGV"},
  };
  for (const auto& c : cases) {
    INFO(c.plugin << " " << c.args);
    const ToolRun r = run_gradcheck("'" + c.plugin + "' " + c.args);
    INFO(r.out << r.err);
    CHECK(r.exit_code == 3);
    check_contract(r.report);
    CHECK(r.report.at("passed") == false);
    REQUIRE(r.report.at("models").size() == 1);
    const auto& problems = r.report.at("models")[0].at("problems");
    REQUIRE_FALSE(problems.empty());
    CHECK(problems[0].at("kind") == "model_error");
    CHECK_THAT(problems[0].at("message").get<std::string>(), Catch::Contains(c.text));
    CHECK_THAT(r.out, Catch::Contains(c.text));
  }
}

TEST_CASE("a crash in one model does not stop the check of the others", "[tool]") {
  // In the plugin's order: tanh_f32, crashes, tanh_f64; the child dies in the
  // second and a fresh one checks the third.
  const ToolRun r = run_gradcheck("'" + test_plugin("cpp_plugin") + "' -m tanh_f64 -m crashes -m tanh_f32");
  INFO(r.out << r.err);
  CHECK(r.exit_code == 3);
  REQUIRE(r.report.at("models").size() == 3);
  CHECK(r.report.at("models")[0].at("name") == "tanh_f32");
  CHECK(r.report.at("models")[0].at("passed") == true);
  CHECK(r.report.at("models")[1].at("name") == "crashes");
  CHECK(r.report.at("models")[1].at("passed") == false);
  CHECK_THAT(r.report.at("models")[1].at("problems")[0].at("message").get<std::string>(),
             Catch::Contains("SIGSEGV"));
  CHECK(r.report.at("models")[2].at("name") == "tanh_f64");
  CHECK(r.report.at("models")[2].at("passed") == true);
}

TEST_CASE("misbehaviour the host detects is reported as problems, exit 1", "[tool]") {
  const std::pair<const char*, const char*> cases[] = {
      {"c_not_written", "gradient_not_written"}, {"c_modifies_values", "values_modified"},
      {"c_nondeterministic", "nondeterministic_loss"}, {"c_stateful", "stateful_gradient"},
      {"c_non_finite", "non_finite"},
  };
  for (const auto& [plugin, kind] : cases) {
    INFO(plugin);
    const ToolRun r = run_gradcheck("'" + test_plugin(plugin) + "'");
    INFO(r.out << r.err);
    CHECK(r.exit_code == 1);
    check_contract(r.report);
    const auto& problems = r.report.at("models")[0].at("problems");
    REQUIRE_FALSE(problems.empty());
    CHECK(problems[0].at("kind") == kind);
  }
}

TEST_CASE("refused plugins and bad usage exit 2 naming the file and the reason", "[tool][errors]") {
  const std::pair<std::string, std::string> cases[] = {
      {"'" + test_plugin("c_wrong_version") + "'", "abi_version is 2"},
      {"'" + test_plugin("c_no_symbol") + "'", "does not export gradcheck_plugin_models"},
      {"'" + test_plugin("c_bad_rank") + "'", "rank is 9"},
      {"'" + test_plugin("c_negative_extent") + "'", "shape[1] is -3"},
      {"'" + test_plugin("c_duplicate_names") + "'", "the name is used twice"},
      {"'" + test_plugin("c_null_loss") + "'", "loss is NULL"},
      {"/nonexistent/model.so", "/nonexistent/model.so: no such file"},
      {"'" + test_plugin("c_ok") + "' -m nope", "no model named 'nope'"},
      {"'" + test_plugin("c_ok") + "' --mode slow", "--mode"},
      {"'" + test_plugin("c_ok") + "' --html /nonexistent/dir/r.html", "/nonexistent/dir/r.html"},
      {"'" + test_plugin("c_ok") + "' --weights /nonexistent/w.safetensors", "/nonexistent/w.safetensors"},
  };
  for (const auto& [args, text] : cases) {
    INFO(args);
    const ToolRun r = run_gradcheck(args, false);
    CHECK(r.exit_code == 2);
    CHECK_THAT(r.err, Catch::Contains(text));
    if (args.find("/nonexistent/model.so") == std::string::npos && args.find("--") == std::string::npos &&
        args.find(" -m ") == std::string::npos)
      CHECK_THAT(r.err, Catch::Contains(args.substr(1, args.size() - 2)));
  }
}

TEST_CASE("listing prints each model with dtype, tensors and value count", "[tool]") {
  const ToolRun r = run_gradcheck(std::string("'") + SAMPLE_MLP + "' --list", false);
  CHECK(r.exit_code == 0);
  CHECK_THAT(r.out, Catch::Contains("mlp_f32  f32  4 tensors  293 values"));
  CHECK_THAT(r.out, Catch::Contains("fc1.weight [16, 12]"));
}

TEST_CASE("starting weights load tensors by name and refuses a shape mismatch", "[tool]") {
  // A safetensors file: 8-byte little-endian header length, JSON header, data.
  auto write_safetensors = [](const fs::path& p, const std::string& name, const std::vector<std::int64_t>& shape,
                              const std::vector<double>& values) {
    json h;
    h[name] = {{"dtype", "F64"}, {"shape", shape}, {"data_offsets", {0, values.size() * 8}}};
    std::string header = h.dump();
    while (header.size() % 8) header += ' ';
    std::ofstream out(p, std::ios::binary);
    const std::uint64_t n = header.size();
    out.write(reinterpret_cast<const char*>(&n), 8);
    out << header;
    out.write(reinterpret_cast<const char*>(values.data()), static_cast<std::streamsize>(values.size() * 8));
  };
  const fs::path& scratch = gradcheck::test::scratch_root();
  const fs::path good = scratch / "good.safetensors", bad = scratch / "bad.safetensors";
  write_safetensors(good, "logits", {8, 5}, std::vector<double>(40, 0.25));
  write_safetensors(bad, "logits", {5, 8}, std::vector<double>(40, 0.25));
  const ToolRun ok =
      run_gradcheck(std::string("'") + SAMPLE_MLP + "' -m softmax_ce_f64 --weights '" + good.string() + "'");
  INFO(ok.out << ok.err);
  CHECK(ok.exit_code == 0);
  const ToolRun no =
      run_gradcheck(std::string("'") + SAMPLE_MLP + "' -m softmax_ce_f64 --weights '" + bad.string() + "'", false);
  CHECK(no.exit_code == 2);
  CHECK_THAT(no.err, Catch::Contains("tensor 'logits' has shape [5, 8] but model 'softmax_ce_f64' declares [8, 5]"));
  // A file naming none of the model's tensors is a mistake, not a no-op.
  const ToolRun none =
      run_gradcheck(std::string("'") + SAMPLE_MLP + "' -m mlp_f64 --weights '" + good.string() + "'", false);
  CHECK(none.exit_code == 2);
  CHECK_THAT(none.err, Catch::Contains("no tensor of model 'mlp_f64' is in the file"));
}

TEST_CASE("auto mode follows up what fast mode left coarse or inconclusive, what stays so exits 4", "[tool][fast]") {
  // A 197k-value f32 model: fast mode verifies b1 only to a few percent, so
  // b1's gradient x1.001 passes along random directions; the follow-up
  // compares all of b1's coordinates and its scale fit finds the factor.
  const ToolRun bug = run_gradcheck("'" + test_plugin("wide_plugin") + "' -m wide_b1_scaled");
  INFO(bug.out << bug.err);
  CHECK(bug.exit_code == 1);
  const auto& m = bug.report.at("models")[0];
  CHECK(m.at("mode").get<std::string>() == "fast");
  CHECK(m.at("tensors")[1].at("name").get<std::string>() == "b1");
  CHECK(m.at("tensors")[1].at("verdict").get<std::string>() == "mismatch");
  CHECK(m.at("tensors")[1].at("checked").get<std::int64_t>() == 512);
  CHECK_THAT(r_text(bug), Catch::Contains("b1: verified along random directions only to"));

  // The correct model: W1's derivatives are within float32's noise even one
  // coordinate at a time. That is not a pass: INCONCLUSIVE, exit 4.
  const ToolRun right = run_gradcheck("'" + test_plugin("wide_plugin") + "' -m wide_f32");
  INFO(right.out << right.err);
  CHECK(right.exit_code == 4);
  CHECK(right.report.at("passed").get<bool>());
  CHECK(right.report.at("models")[0].at("verdict").get<std::string>() == "inconclusive");
  CHECK(r_text(right).rfind("INCONCLUSIVE ", 0) == 0);
  CHECK_THAT(r_text(right), Catch::Contains("tensors inconclusive (their derivatives are within the function's noise): W1"));
  CHECK_THAT(r_text(right), !Catch::Contains("all 3 tensors agree"));
}
