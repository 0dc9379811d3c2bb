#include <catch2/catch.hpp>

#include <string>

#include "gradcheck/errors.hpp"
#include "gradcheck/weights/checkpoint.hpp"
#include "reader_checks.hpp"

using namespace gradcheck::weights;
using namespace st_test;
namespace cw = checkpoint_writer;

TEST_CASE("npy versions 1, 2 and 3 in C order are read and named after the file", "[npy]") {
  const fs::path dir = temp_dir("npy");
  for (int version : {1, 2, 3}) {
    const fs::path p = dir / ("fc1.weight.v" + std::to_string(version) + ".npy");
    write_bytes(p, cw::npy("<f4", false, "(2, 3)", cw::bytes_of(std::vector<float>{1, 2, 3, 4, 5, 6}), version));
    const Checkpoint ck = open_checkpoint(p.string());
    REQUIRE(ck.tensors().size() == 1);
    const auto& t = ck.tensors()[0];
    CHECK(t.name == "fc1.weight.v" + std::to_string(version));
    CHECK(t.shape == std::vector<std::int64_t>{2, 3});
    CHECK(values(t) == std::vector<double>{1, 2, 3, 4, 5, 6});
  }
}

TEST_CASE("npy in Fortran order and big-endian is brought to C order", "[npy]") {
  const fs::path dir = temp_dir("npy_fortran");
  // The 2x3 matrix [[1,2,3],[4,5,6]] stored column by column.
  write_bytes(dir / "f.npy", cw::npy("<f8", true, "(2, 3)", cw::bytes_of(std::vector<double>{1, 4, 2, 5, 3, 6})));
  CHECK(values(open_checkpoint((dir / "f.npy").string()).tensors()[0]) == std::vector<double>{1, 2, 3, 4, 5, 6});
  // Rank 3 in Fortran order: element (i,j,k) at i + 2j + 4k.
  std::vector<std::int16_t> f3(8);
  for (int i = 0; i < 2; ++i)
    for (int j = 0; j < 2; ++j)
      for (int k = 0; k < 2; ++k) f3[std::size_t(i + 2 * j + 4 * k)] = std::int16_t(100 * i + 10 * j + k);
  write_bytes(dir / "f3.npy", cw::npy("<i2", true, "(2, 2, 2)", cw::bytes_of(f3)));
  CHECK(values(open_checkpoint((dir / "f3.npy").string()).tensors()[0]) ==
        std::vector<double>{0, 1, 10, 11, 100, 101, 110, 111});
  write_bytes(dir / "be.npy", cw::npy(">i4", false, "(2,)", std::string("\0\0\1\0\xff\xff\xff\xfe", 8)));
  CHECK(values(open_checkpoint((dir / "be.npy").string()).tensors()[0]) == std::vector<double>{256, -2});
  write_bytes(dir / "scalar.npy", cw::npy("|b1", false, "()", std::string("\1", 1)));
  const auto scalar = open_checkpoint((dir / "scalar.npy").string());
  CHECK(scalar.tensors()[0].shape.empty());
  CHECK(scalar.tensors()[0].numel == 1);
}

TEST_CASE("malformed and unsupported npy files are refused with the reason", "[npy][errors]") {
  const fs::path dir = temp_dir("npy_bad");
  const std::string six = cw::bytes_of(std::vector<float>{1, 2, 3, 4, 5, 6});
  write_bytes(dir / "object.npy", cw::npy("|O", false, "(2,)", std::string(16, '\0')));
  expect_refused(dir / "object.npy", "object arrays are pickles and are refused");
  write_bytes(dir / "magic.npy", "NUMPY" + std::string(20, ' '));
  expect_refused(dir / "magic.npy", "no \\x93NUMPY magic");
  write_bytes(dir / "version.npy", cw::npy("<f4", false, "(6,)", six, 9));
  expect_refused(dir / "version.npy", "unsupported format version 9");
  std::string long_header = cw::npy("<f4", false, "(6,)", six);
  long_header[8] = '\xff';
  long_header[9] = '\xff';
  write_bytes(dir / "header.npy", long_header);
  expect_refused(dir / "header.npy", "runs past the end");
  write_bytes(dir / "trunc.npy", cw::npy("<f4", false, "(2, 3)", six.substr(0, 20)));
  expect_refused(dir / "trunc.npy", "the data is truncated");
  write_bytes(dir / "extra.npy", cw::npy("<f4", false, "(5,)", six));
  expect_refused(dir / "extra.npy", "bytes after the array's data");
  write_bytes(dir / "negative.npy", cw::npy("<f4", false, "(-1, 6)", six));
  expect_refused(dir / "negative.npy", "negative shape extent");
  write_bytes(dir / "overflow.npy", cw::npy("<f4", false, "(4294967296, 4294967296, 2)", six));
  expect_refused(dir / "overflow.npy", "overflows 64 bits");
  write_bytes(dir / "complex.npy", cw::npy("<c8", false, "(6,)", six));
  expect_refused(dir / "complex.npy", "unsupported dtype '<c8'");
  write_bytes(dir / "struct.npy", cw::npy("[('a', '<f4')]", false, "(6,)", six));
  expect_refused(dir / "struct.npy", "npy");
  std::string no_shape = "{'descr': '<f4', 'fortran_order': False, }\n";
  write_bytes(dir / "noshape.npy", std::string("\x93NUMPY\1\0", 8) + cw::le(no_shape.size(), 2) + no_shape + six);
  expect_refused(dir / "noshape.npy", "missing 'shape'");
  std::string garbage = "{'descr': '<f4', 'fortran_order': False, 'shape': (6,), } x\n";
  write_bytes(dir / "garbage.npy", std::string("\x93NUMPY\1\0", 8) + cw::le(garbage.size(), 2) + garbage + six);
  expect_refused(dir / "garbage.npy", "unexpected text after the dictionary");
}

TEST_CASE("npz archives with stored and deflated members are read", "[npz]") {
  const fs::path dir = temp_dir("npz");
  const std::string a = cw::npy("<f4", false, "(2, 2)", cw::bytes_of(std::vector<float>{1, 2, 3, 4}));
  const std::string b = cw::npy("<i8", false, "(3,)", cw::bytes_of(std::vector<std::int64_t>{7, 8, 9}));
  for (bool deflate : {false, true}) {
    const fs::path p = dir / (deflate ? "deflated.npz" : "stored.npz");
    write_bytes(p, cw::zip({{"layer.weight.npy", a, deflate}, {"steps.npy", b, deflate}}));
    const Checkpoint ck = open_checkpoint(p.string());
    REQUIRE(ck.tensors().size() == 2);
    CHECK(ck.tensors()[0].name == "layer.weight");
    CHECK(values(ck.tensors()[0]) == std::vector<double>{1, 2, 3, 4});
    CHECK(ck.tensors()[1].name == "steps");
    CHECK(values(ck.tensors()[1]) == std::vector<double>{7, 8, 9});
  }
}

TEST_CASE("malformed npz archives are refused with the reason", "[npz][errors]") {
  const fs::path dir = temp_dir("npz_bad");
  const std::string a = cw::npy("<f4", false, "(64,)", cw::bytes_of(std::vector<float>(64, 0.5f)));
  const std::string good = cw::zip({{"a.npy", a, true}});
  write_bytes(dir / "cut.npz", good.substr(0, good.size() - 30));
  expect_refused(dir / "cut.npz", "zip");
  std::string crc = good;
  crc[14] ^= 0x55;  // the local header's CRC is not used; corrupt the central one
  const std::size_t central = good.find("PK\x01\x02");
  crc = good;
  crc[central + 16] ^= 0x55;
  write_bytes(dir / "crc.npz", crc);
  expect_refused(dir / "crc.npz", "fails its CRC-32 check");
  std::string size = good;
  size[central + 24] ^= 0x01;  // uncompressed size off by one
  write_bytes(dir / "size.npz", size);
  expect_refused(dir / "size.npz", "does not inflate to its recorded");
  std::string corrupt = good;
  for (std::size_t i = 40; i < 50; ++i) corrupt[i] = '\xff';  // inside the deflate stream
  write_bytes(dir / "corrupt.npz", corrupt);
  expect_refused(dir / "corrupt.npz", "member 'a.npy'");
  std::string method = cw::zip({{"a.npy", a, false}});
  method[method.find("PK\x01\x02") + 10] = 12;  // bzip2
  write_bytes(dir / "method.npz", method);
  expect_refused(dir / "method.npz", "compression method 12");
  std::string offset = cw::zip({{"a.npy", a, false}});
  const std::size_t c = offset.find("PK\x01\x02");
  offset[c + 42] = '\x40';  // local header offset beyond the file
  offset[c + 45] = '\x7f';
  write_bytes(dir / "offset.npz", offset);
  expect_refused(dir / "offset.npz", "runs past the end of the file");
  write_bytes(dir / "inner.npz", cw::zip({{"a.npy", "not an npy", false}}));
  expect_refused(dir / "inner.npz", "member 'a.npy'");
  write_bytes(dir / "plain.npz", "just text, no zip here at all");
  expect_refused(dir / "plain.npz", "not a zip archive");
}
