#include <catch2/catch.hpp>

#include <string>

#include "gradcheck/errors.hpp"
#include "gradcheck/weights/checkpoint.hpp"
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

TEST_CASE("a training checkpoint nesting the state_dict names tensors by path; .pth/.bin and sniffing work",
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

TEST_CASE("pickles beyond a state_dict, and inconsistent archives, are refused", "[torch][errors]") {
  const fs::path dir = temp_dir("torch_bad");
  const std::string good = cw::TorchPickle().state_dict(kTensors);

  std::string evil = good;
  const auto at = evil.find("ctorch._utils\n_rebuild_tensor_v2\n");
  evil.replace(at, std::string("ctorch._utils\n_rebuild_tensor_v2\n").size(), "cos\nsystem\n");
  write_bytes(dir / "evil.pt", cw::torch_zip("evil", evil, storages()));
  expect_refused(dir / "evil.pt", "refused to call os.system");

  std::string opcode = good;
  opcode.insert(2, "I42\n");  // INT: a text opcode torch.save never emits
  write_bytes(dir / "opcode.pt", cw::torch_zip("opcode", opcode, storages()));
  expect_refused(dir / "opcode.pt", "pickle opcode 0x49 is not one torch.save emits");

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
