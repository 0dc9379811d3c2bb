#include <catch2/catch.hpp>

#include <algorithm>
#include <string>
#include <tuple>
#include <vector>

#include <nlohmann/json.hpp>

#include "gradcheck/errors.hpp"
#include "gradcheck/weights/checkpoint.hpp"
#include "gradcheck/weights/render.hpp"
#include "gradcheck/weights/report.hpp"
#include "reader_checks.hpp"
#include "support/checkpoint.hpp"

using namespace gradcheck::weights;
using namespace st_test;
using gradcheck::test::find_tensor;
namespace cw = checkpoint_writer;

namespace {

// A small state_dict: a weight, a transposed view, a slice at an offset of a
// shared storage, a bfloat16 vector and a 0-dim counter.
const std::vector<cw::TorchTensor> kTensors{
    {"fc.weight", "FloatStorage", "0", 6, 0, {2, 3}, {3, 1}},
    {"fc.weight_t", "FloatStorage", "0", 6, 0, {3, 2}, {1, 3}},
    {"fc.tail", "FloatStorage", "0", 6, 4, {2}, {1}},
    {"ln.weight", "BFloat16Storage", "1", 2, 0, {2}, {1}},
    {"bn.num_batches_tracked", "LongStorage", "2", 1, 0, {}, {}},
};

std::vector<std::pair<std::string, std::string>> storages() {
  return {{"0", cw::bytes_of(std::vector<float>{1, 2, 3, 4, 5, 6})},
          {"1", cw::bytes_of(std::vector<std::uint16_t>{0x3F80, 0xC000})},
          {"2", cw::bytes_of(std::vector<std::int64_t>{1234567890123})}};
}

}  // namespace

TEST_CASE("a torch.save state_dict is read with offsets, strides and storage types honoured", "[torch]") {
  const fs::path dir = temp_dir("torch");
  write_bytes(dir / "model.pt", cw::torch_zip("model", cw::TorchPickle().state_dict(kTensors), storages()));
  const Checkpoint ck = open_checkpoint((dir / "model.pt").string());
  REQUIRE(ck.tensors().size() == 5);
  CHECK(values(find_tensor(ck, "fc.weight")) == std::vector<double>{1, 2, 3, 4, 5, 6});
  CHECK(values(find_tensor(ck, "fc.weight_t")) == std::vector<double>{1, 4, 2, 5, 3, 6});
  CHECK(find_tensor(ck, "fc.weight_t").shape == std::vector<std::int64_t>{3, 2});
  CHECK(values(find_tensor(ck, "fc.tail")) == std::vector<double>{5, 6});
  CHECK(find_tensor(ck, "ln.weight").dtype == DType::BF16);
  CHECK(values(find_tensor(ck, "ln.weight")) == std::vector<double>{1, -2});
  CHECK(find_tensor(ck, "bn.num_batches_tracked").shape.empty());
  CHECK(values(find_tensor(ck, "bn.num_batches_tracked")) == std::vector<double>{1234567890123.0});
}

TEST_CASE("a training checkpoint nesting the state_dict names tensors by path, .pth/.bin and sniffing work",
          "[torch]") {
  const fs::path dir = temp_dir("torch_nested");
  const std::string pkl = cw::TorchPickle().state_dict(kTensors, "model_state_dict");
  for (const char* name : {"ckpt.pth", "pytorch_model.bin", "checkpoint.ckpt"}) {
    write_bytes(dir / name, cw::torch_zip("archive", pkl, storages()));
    const Checkpoint ck = open_checkpoint((dir / name).string());
    INFO(name);
    CHECK(ck.tensors().size() == 5);
    CHECK(values(find_tensor(ck, "model_state_dict.fc.weight")) == std::vector<double>{1, 2, 3, 4, 5, 6});
  }
}

TEST_CASE("big-endian torch archives are byte-swapped", "[torch]") {
  const fs::path dir = temp_dir("torch_be");
  write_bytes(dir / "be.pt",
              cw::torch_zip("be", cw::TorchPickle().state_dict({{"w", "IntStorage", "0", 2, 0, {2}, {1}}}),
                            {{"0", std::string("\0\0\1\0\xff\xff\xff\xfe", 8)}}, "big"));
  CHECK(values(open_checkpoint((dir / "be.pt").string()).tensors()[0]) == std::vector<double>{256, -2});
}

TEST_CASE("a pickle that calls os.system is read without calling it, and reported", "[torch][errors]") {
  const fs::path dir = temp_dir("torch_evil");
  std::string evil = cw::TorchPickle().state_dict(kTensors);
  const auto at = evil.find("ctorch._utils\n_rebuild_tensor_v2\n");
  evil.replace(at, std::string("ctorch._utils\n_rebuild_tensor_v2\n").size(), "cos\nsystem\n");
  write_bytes(dir / "evil.pt", cw::torch_zip("evil", evil, storages()));
  const Checkpoint ck = open_checkpoint((dir / "evil.pt").string());
  REQUIRE(ck.unsafe_globals().size() == 1);
  CHECK(ck.unsafe_globals()[0].global == "os.system");
  CHECK(ck.unsafe_globals()[0].offset == at);
  CHECK(ck.unsafe_globals()[0].reason == "runs commands and touches files");
  // Every rebuild (the memo refers back to the one global) became that call:
  // inert placeholders, no tensor.
  CHECK(ck.tensors().empty());
}

TEST_CASE("pickles that are not torch.save's, and inconsistent archives, are refused", "[torch][errors]") {
  const fs::path dir = temp_dir("torch_bad");
  const std::string good = cw::TorchPickle().state_dict(kTensors);

  std::string opcode = good;
  opcode.insert(2, "\xff");  // no pickle protocol has it
  write_bytes(dir / "opcode.pt", cw::torch_zip("opcode", opcode, storages()));
  expect_refused(dir / "opcode.pt", "pickle opcode 0xff is not one of pickle protocols 0-5");

  std::string buffer = good;
  buffer.insert(2, "\x97");  // NEXT_BUFFER: out-of-band data torch.save never uses
  write_bytes(dir / "buffer.pt", cw::torch_zip("buffer", buffer, storages()));
  expect_refused(dir / "buffer.pt", "out-of-band pickle buffers");

  write_bytes(dir / "short.pt", cw::torch_zip("short", good.substr(0, good.size() / 2), storages()));
  expect_refused(dir / "short.pt", "data.pkl");

  write_bytes(dir / "nostorage.pt", cw::torch_zip("nostorage", good, {storages()[0], storages()[1]}));
  expect_refused(dir / "nostorage.pt", "storage 2 is missing");

  auto wrong = storages();
  wrong[0].second += "abcd";
  write_bytes(dir / "size.pt", cw::torch_zip("size", good, wrong));
  expect_refused(dir / "size.pt", "storage 0 holds 28 bytes, expected 24");

  const std::string beyond = cw::TorchPickle().state_dict({{"w", "FloatStorage", "0", 6, 3, {2, 2}, {2, 1}}});
  write_bytes(dir / "stride.pt", cw::torch_zip("stride", beyond, {storages()[0]}));
  expect_refused(dir / "stride.pt", "reach element 6 of a storage of 6");

  const std::string complex = cw::TorchPickle().state_dict({{"w", "ComplexFloatStorage", "0", 3, 0, {3}, {1}}});
  write_bytes(dir / "complex.pt", cw::torch_zip("complex", complex, {storages()[0]}));
  expect_refused(dir / "complex.pt", "torch.ComplexFloatStorage is not supported");

  // The legacy format starts with a pickled magic number (protocol 2, LONG1).
  write_bytes(dir / "legacy.pt", std::string("\x80\x02\x8a\x0a" "l" "\xfc\x9c" "F" "\xf9" " j" "\xa8" "P" "\x19."));
  expect_refused(dir / "legacy.pt", "legacy (pre-1.6, non-zip)");

  write_bytes(dir / "nopkl.pt", cw::zip({{"archive/version", "3\n"}}));
  expect_refused(dir / "nopkl.pt", "no <archive>/data.pkl");
}

namespace {
const std::string kPickles = std::string(GRADCHECK_REAL_DATA_DIR) + "/torch_pickles/";

std::vector<std::string> names_of(const Checkpoint& ck) {
  std::vector<std::string> out;
  for (const auto& t : ck.tensors()) out.push_back(t.name);
  return out;
}
}  // namespace

TEST_CASE("torch.save files beyond a state_dict, written by python3-torch, are read without running them", "[torch]") {
  using V = std::vector<std::string>;
  SECTION("a Lightning-layout checkpoint: tensors under state_dict, optimizer_states, callbacks") {
    const Checkpoint ck = open_checkpoint(kPickles + "lightning.ckpt");
    const V names = names_of(ck);
    CHECK(names.size() == 18);
    CHECK(std::count(names.begin(), names.end(), "state_dict.model.fc.weight") == 1);
    CHECK(std::count(names.begin(), names.end(), "optimizer_states.0.state.0.exp_avg_sq") == 1);
    CHECK(ck.unsafe_globals().empty());
    REQUIRE(ck.uninterpreted().size() == 1);
    CHECK(ck.uninterpreted()[0].classes == V{"argparse.Namespace"});
    CHECK(find_tensor(ck, "state_dict.model.fc.weight").shape == std::vector<std::int64_t>{4, 8});
  }
  SECTION("a whole module: named as its state_dict names them") {
    const Checkpoint ck = open_checkpoint(kPickles + "whole_module.pt");
    CHECK(names_of(ck) == V{"running", "fc.weight", "fc.bias", "head.1.weight", "head.1.bias"});
    REQUIRE(ck.uninterpreted().size() == 1);
    CHECK(ck.uninterpreted()[0].classes == V{"__main__.Net", "torch.nn.modules.activation.ReLU",
                                            "torch.nn.modules.container.Sequential", "torch.nn.modules.linear.Linear"});
    CHECK(ck.unsafe_globals().empty());
  }
  SECTION("state_dicts in lists, dicts and tuples") {
    const Checkpoint ck = open_checkpoint(kPickles + "nested.pt");
    CHECK(names_of(ck) == V{"models.0.running", "models.0.fc.weight", "models.0.fc.bias", "models.0.head.1.weight",
                            "models.0.head.1.bias", "models.1.encoder.fc.weight", "pair.0", "pair.1.w"});
    CHECK(ck.uninterpreted().empty());
  }
  SECTION("settings with no tensor") {
    const Checkpoint ck = open_checkpoint(kPickles + "training_args.pt");
    CHECK(ck.tensors().empty());
    REQUIRE(ck.uninterpreted().size() == 1);
    CHECK(ck.uninterpreted()[0].classes == V{"__main__.Settings"});
  }
  SECTION("malicious pickles: os.system, eval, a getattr chain; the tensors beside them are still read") {
    for (const auto& [file, global, reason] :
         std::vector<std::tuple<std::string, std::string, std::string>>{
             {"evil_system.pt", "posix.system", "runs commands"},
             {"evil_eval.pt", "builtins.eval", "evaluates code"},
             {"evil_getattr.pt", "builtins.getattr", "reaches any attribute"}}) {
      INFO(file);
      const Checkpoint ck = open_checkpoint(kPickles + file);
      REQUIRE(ck.unsafe_globals().size() == 1);
      CHECK(ck.unsafe_globals()[0].global == global);
      CHECK(ck.unsafe_globals()[0].reason.find(reason) == 0);
      CHECK(ck.unsafe_globals()[0].offset > 0);
      CHECK(names_of(ck) == V{"model.running", "model.fc.weight", "model.fc.bias", "model.head.1.weight",
                              "model.head.1.bias"});
    }
  }
}

TEST_CASE("an unsafe pickle is a file-level finding: FLAGGED, exit 1, the global and its offset in every format",
          "[torch][report]") {
  const WeightsReport r = report_checkpoint(open_checkpoint(kPickles + "evil_system.pt"));
  CHECK_FALSE(r.passed());
  CHECK(exit_code(r) == gradcheck::ExitCode::problem);
  CHECK(r.tensors.size() == 5);
  for (const auto& t : r.tensors) CHECK(t.flags.empty());
  const auto j = nlohmann::json::parse(to_json(r));
  REQUIRE(j.at("file_flags").size() == 1);
  CHECK(j["file_flags"][0]["flag"] == "unsafe_pickle");
  CHECK(j["file_flags"][0]["global"] == "posix.system");
  CHECK(j["file_flags"][0]["offset"].get<std::uint64_t>() == r.unsafe_pickle[0].offset);
  CHECK_FALSE(j["passed"].get<bool>());
  const std::string text = to_text(r);
  CHECK_THAT(text, Catch::Contains("unsafe_pickle: " + kPickles + "evil_system.pt: its pickle calls posix.system (byte "));
  CHECK_THAT(text, Catch::Contains("torch.load on this file would run it"));
  CHECK_THAT(text, Catch::Contains("unsafe pickle in 1 file"));
  CHECK_THAT(to_html(r), Catch::Contains("its pickle calls posix.system"));

  const WeightsReport none = report_checkpoint(open_checkpoint(kPickles + "training_args.pt"));
  CHECK(none.passed());
  CHECK(exit_code(none) == gradcheck::ExitCode::ok);
  CHECK_THAT(to_text(none), Catch::Contains("training_args.pt: no tensor in this file"));
  CHECK_THAT(to_text(none), Catch::Contains("read as inert placeholders (never called; tensors inside them are reported): __main__.Settings"));
  CHECK(nlohmann::json::parse(to_json(none))["uninterpreted"][0]["classes"][0] == "__main__.Settings");
}

TEST_CASE("a pickle whose containers refer to themselves is read in linear time and freed", "[torch][errors]") {
  const fs::path dir = temp_dir("torch_cycles");
  // L = []; L.extend([L, L]) nested 40 deep through the memo: without visiting
  // each container once, naming would take 2^40 steps; without emptying the
  // containers at the end, the cycle would leak (the sanitizer job sees it).
  std::string pkl = std::string("\x80\x02]q\x00", 5);
  for (int k = 0; k < 40; ++k) pkl += std::string("(h\x00h\x00" "e", 6);
  pkl += std::string("2a.", 3);  // DUP and APPEND: L holds itself once more
  write_bytes(dir / "cycle.pt", cw::torch_zip("cycle", pkl, {}));
  const Checkpoint ck = open_checkpoint((dir / "cycle.pt").string());
  CHECK(ck.tensors().empty());
  CHECK(ck.unsafe_globals().empty());
}
