// The malformed-input corpus: files no tool can use (empty, truncated, bad
// magic, wrong or huge declared sizes, bad UTF-8, pickles that want code run,
// folders where files belong, paths that do not exist), generated here from
// the byte layouts of the formats and from cut copies of the samples. For
// EVERY one, through the real executables: exit 2, stderr exactly one line
// naming the file and a reason, no crash, and no report when --json OUT is
// given (OUT does not exist afterwards, and nothing else is left beside it).
#include <catch2/catch.hpp>

#include <zlib.h>

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "gradcheck/utf8.hpp"
#include "support/run_tool.hpp"
#include "support/tfevents_writer.hpp"

using namespace gradcheck::test;
namespace fs = std::filesystem;

namespace {

struct Case {
  std::string name;       // what is wrong, for the failure message
  std::string path;       // the input as given on the command line
  std::string names = {};  // what stderr must mention (default: path)
  std::string extra = {};  // further arguments
};

const fs::path& corpus() {
  static const fs::path dir = [] {
    fs::path d = scratch_root() / "malformed";
    fs::create_directories(d);
    return d;
  }();
  return dir;
}

std::string put(const std::string& name, const std::string& bytes) {
  return write_bytes(corpus() / name, bytes);
}

std::string sample(const std::string& rel) { return read_bytes(fs::path(GRADCHECK_SOURCE_DIR) / rel); }
std::string head(const std::string& s, std::size_t n) { return s.substr(0, std::min(n, s.size())); }
std::string drop_tail(const std::string& s, std::size_t n) { return s.substr(0, s.size() - std::min(n, s.size())); }

// A safetensors file from its header text and data section.
std::string safetensors(const std::string& header, const std::string& data) {
  return le(header.size(), 8) + header + data;
}

// A .npy (format 1.0) from its header dict text and data.
std::string npy(const std::string& dict, const std::string& data, const std::string& version = std::string("\x01\x00", 2)) {
  std::string h = dict;
  while ((10 + h.size() + 1) % 64 != 0) h += ' ';
  h += '\n';
  return std::string("\x93NUMPY") + version + le(h.size(), 2) + h + data;
}

// A zip of stored members; `declared` overrides a member's declared sizes
// (to lie about them).
struct Member {
  std::string name, data;
  std::uint64_t declared = UINT64_MAX;
};
std::string zip(const std::vector<Member>& members) {
  std::string out, central;
  for (const auto& m : members) {
    std::uint32_t crc = static_cast<std::uint32_t>(
        ::crc32(0, reinterpret_cast<const Bytef*>(m.data.data()), static_cast<uInt>(m.data.size())));
    const std::uint32_t size = m.declared != UINT64_MAX ? static_cast<std::uint32_t>(m.declared)
                                                         : static_cast<std::uint32_t>(m.data.size());
    const std::uint32_t offset = static_cast<std::uint32_t>(out.size());
    out += le(0x04034b50, 4) + le(20, 2) + le(0, 2) + le(0, 2) + le(0, 2) + le(0, 2) + le(crc, 4) + le(size, 4) +
           le(size, 4) + le(m.name.size(), 2) + le(0, 2) + m.name + m.data;
    central += le(0x02014b50, 4) + le(20, 2) + le(20, 2) + le(0, 2) + le(0, 2) + le(0, 2) + le(0, 2) + le(crc, 4) +
               le(size, 4) + le(size, 4) + le(m.name.size(), 2) + le(0, 2) + le(0, 2) + le(0, 2) + le(0, 2) +
               le(0, 4) + le(offset, 4) + m.name;
  }
  const std::uint32_t cd_offset = static_cast<std::uint32_t>(out.size());
  out += central;
  out += le(0x06054b50, 4) + le(0, 2) + le(0, 2) + le(members.size(), 2) + le(members.size(), 2) +
         le(central.size(), 4) + le(cd_offset, 4) + le(0, 2);
  return out;
}

// TFRecords of Event protobufs holding one simple_value each: tag, step, value.
std::string events_file(const std::vector<std::pair<std::string, int>>& points) {
  std::string out;
  for (const auto& [tag, step] : points)
    out += tfevents::record(tfevents::simple_event(step, tag, 1.0f / static_cast<float>(step + 1)));
  return out;
}

// Runs `tool` on every case with --json and checks the contract's promises.
void expect_all_refused(const std::string& tool, const std::vector<Case>& cases) {
  int n = 0;
  for (const auto& c : cases) {
    const fs::path out_dir = scratch_root() / ("out_" + fs::path(tool).filename().string() + std::to_string(n++));
    fs::create_directories(out_dir);
    const fs::path json = out_dir / "report.json";
    const ToolRun r = run_tool(tool, quote(c.path) + " " + c.extra + " --json " + quote(json));
    INFO("case: " << c.name << "\ncommand: " << tool << " " << c.path << " " << c.extra << "\nexit: " << r.exit_code
                  << "\nstdout:\n" << r.out.substr(0, 2000) << "\nstderr:\n" << r.err.substr(0, 2000));
    CHECK(r.signal == 0);
    CHECK(r.exit_code == 2);
    // Exactly one line: text, then a single newline at the end.
    CHECK(!r.err.empty());
    CHECK(r.err.find('\n') == r.err.size() - 1);
    CHECK_THAT(r.err, Catch::Contains(c.names.empty() ? c.path : c.names));
    // In the project's words, valid UTF-8 (bytes that are not shown as \xNN).
    CHECK(r.err.find("json.exception") == std::string::npos);
    CHECK(gradcheck::valid_utf8(std::string_view(r.err).substr(0, r.err.size() - 1), /*printable=*/true));
    CHECK_FALSE(fs::exists(json));
    CHECK(fs::is_empty(out_dir));  // no temporary left behind either
  }
}

std::string missing() { return (scratch_root() / "does" / "not" / "exist").string(); }

}  // namespace

TEST_CASE("weightstats refuses every malformed checkpoint with exit 2 and one line", "[malformed]") {
  const std::string st = sample("samples/checkpoints/tiny_mlp.safetensors");
  const std::string fc1 = sample("samples/checkpoints/fc1.weight.npy");
  const std::string npz = sample("samples/checkpoints/tiny_mlp.npz");
  const std::string pt = sample("samples/checkpoints/tiny_mlp.pt");
  const std::string onnx = sample("tests/data/real/onnx/torch_mlp.onnx");
  // A ModelProto whose one initializer (w, F32 [2]) lives in an external file.
  auto onnx_external = [](const std::string& location) {
    auto field = [](char key, const std::string& v) { return std::string(1, key) + char(v.size()) + v; };
    const std::string entry = field('\x0a', "location") + field('\x12', location);
    const std::string tensor = std::string("\x08\x02\x10\x01", 4) + field('\x42', "w") + field('\x6a', entry) +
                               std::string("\x70\x01", 2);
    return std::string("\x08\x08", 2) + field('\x3a', field('\x2a', tensor));
  };
  const std::string f32x2 = R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})";
  const std::string ok_npy = npy("{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }", std::string(8, '\0'));
  fs::create_directories(corpus() / "folder.safetensors");

  std::vector<Case> cases = {
      {"empty safetensors", put("empty.safetensors", "")},
      {"shorter than the length field", put("short.safetensors", "\x10\x00\x00")},
      {"declared header length 2^63", put("huge_header.safetensors", le(std::uint64_t{1} << 63, 8) + "{}")},
      {"header length past the end", put("past_end.safetensors", le(1000, 8) + "{}")},
      {"header is not JSON", put("not_json.safetensors", safetensors("not json", ""))},
      {"bad UTF-8 in a header key", put("bad_utf8.safetensors",
                                        safetensors("{\"a\xff\xfe\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}",
                                                    std::string(8, '\0')))},
      {"bad UTF-8 in the file name and the header", put("name\xff.safetensors", safetensors("{\"w\xff\":{}}", "")),
       gradcheck::escape_invalid_utf8((corpus() / "name\xff.safetensors").string()) +
           ": the header is not valid JSON: unexpected byte \\xff at byte 4"},
      {"cut inside the header", put("cut_header.safetensors", head(st, 40))},
      {"cut inside the data", put("cut_data.safetensors", drop_tail(st, 10))},
      {"data size disagrees with shape", put("wrong_size.safetensors",
                                            safetensors(R"({"a":{"dtype":"F32","shape":[4],"data_offsets":[0,8]}})",
                                                        std::string(8, '\0')))},
      {"huge shape", put("huge_shape.safetensors",
                         safetensors(R"({"a":{"dtype":"F32","shape":[1099511627776,1099511627776],"data_offsets":[0,8]}})",
                                     std::string(8, '\0')))},
      {"negative extent", put("negative.safetensors",
                              safetensors(R"({"a":{"dtype":"F32","shape":[-2],"data_offsets":[0,8]}})", std::string(8, '\0')))},
      {"unknown dtype", put("dtype.safetensors",
                            safetensors(R"({"a":{"dtype":"F7","shape":[2],"data_offsets":[0,8]}})", std::string(8, '\0')))},
      {"offsets past the end", put("offsets.safetensors",
                                   safetensors(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[1000000,1000008]}})",
                                               std::string(8, '\0')))},
      {"bytes after the last tensor", put("trailing.safetensors", safetensors(f32x2, std::string(12, '\0')))},
      {"a folder named like a checkpoint", (corpus() / "folder.safetensors").string()},
      {"a path that does not exist", missing() + ".safetensors", missing()},
      {"no known format", put("weights.txt", "just some text\n")},
      {"empty npy", put("empty.npy", "")},
      {"bad npy magic", put("magic.npy", "\x93NUMPX" + ok_npy.substr(6))},
      {"npy format version 9", put("version.npy", npy("{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }",
                                                       std::string(8, '\0'), std::string("\x09\x00", 2)))},
      {"npy cut in the header", put("cut_header.npy", head(fc1, 30))},
      {"npy cut in the data", put("cut_data.npy", drop_tail(fc1, 4))},
      {"npy object array", put("object.npy", npy("{'descr': '|O', 'fortran_order': False, 'shape': (2,), }",
                                                  std::string(16, '\0')))},
      {"npy huge shape", put("huge.npy", npy("{'descr': '<f8', 'fortran_order': False, 'shape': (4294967296, 4294967296), }",
                                              std::string(8, '\0')))},
      {"npy header is not a dict", put("notdict.npy", npy("[1, 2, 3]", ""))},
      {"npy header with bad UTF-8", put("utf8.npy", npy("{'descr': '<f4\xff', 'fortran_order': False, 'shape': (2,), }",
                                                         std::string(8, '\0')))},
      {"empty npz", put("empty.npz", "")},
      {"npz that is not a zip", put("text.npz", "PK but not really a zip file at all")},
      {"npz cut in half", put("cut.npz", head(npz, npz.size() / 2))},
      {"npz member declaring 4 GiB", put("huge_member.npz", zip({{"a.npy", ok_npy, 0xffffffffu}}))},
      {"npz member that is not npy", put("member.npz", zip({{"a.npy", "hello"}}))},
      {"empty pt", put("empty.pt", "")},
      {"pt that is not a zip", put("text.pt", "\x80\x02}q\x00.")},
      {"pt cut in half", put("cut.pt", head(pt, pt.size() / 2))},
      {"pt zip without data.pkl", put("nopkl.pt", zip({{"archive/version", "3\n"}}))},
      {"pt pickle with an opcode of no protocol", put("opcode.pt", zip({{"archive/data.pkl", std::string("\x80\x02\xff.")}}))},
      {"pt pickle cut short", put("cut_pkl.pt", zip({{"archive/data.pkl", "\x80\x02}q\x00(X\x01"}}))},
      {"empty h5", put("empty.h5", "")},
      {"h5 that is text", put("text.h5", "layer_names: dense\n")},
      {"h5 cut to its signature", put("cut.h5", std::string("\x89HDF\r\n\x1a\n", 8) + std::string(56, '\0'))},
      {"keras archive without weights", put("noweights.keras", zip({{"config.json", "{}"}}))},
      {"empty onnx", put("empty.onnx", "")},
      {"onnx that is text", put("text.onnx", "ir_version: 8\ngraph { }\n")},
      {"onnx cut in half", put("cut.onnx", head(onnx, onnx.size() / 2))},
      {"onnx without a graph", put("nograph.onnx", std::string("\x08\x08", 2))},
      {"onnx with external data outside its folder", put("escape.onnx", onnx_external("../../etc/passwd"))},
      {"onnx with external data missing", put("extmissing.onnx", onnx_external("nowhere.bin")),
       (corpus() / "nowhere.bin").string()},
      {"empty gguf", put("empty.gguf", "")},
      {"gguf that is text", put("text.gguf", "general.architecture = llama\n")},
      {"gguf cut after its header", put("cut.gguf", std::string("GGUF\x03\0\0\0\x01\0\0\0\0\0\0\0\x01\0\0\0\0\0\0\0", 24))},
      {"gguf with an absurd tensor count", put("count.gguf", std::string("GGUF\x03\0\0\0", 8) + std::string(7, '\xff') +
                                                                 std::string("\x7f", 1) + std::string(40, '\0'))},
      {"gguf of version 1", put("v1.gguf", std::string("GGUF\x01\0\0\0", 8) + std::string(16, '\0'))},
      {"index that is not JSON", put("bad.safetensors.index.json", "{\"weight_map\": ")},
      {"index without weight_map", put("nomap.safetensors.index.json", "{\"metadata\": {}}")},
      {"index naming a missing shard", put("shardless.safetensors.index.json",
                                           R"({"weight_map": {"a": "nowhere.safetensors"}})"),
       (corpus() / "nowhere.safetensors").string()},
      {"index naming a shard outside its folder", put("escape.safetensors.index.json",
                                                      R"({"weight_map": {"a": "../../etc/passwd"}})")},
  };
  expect_all_refused(WEIGHTSTATS_TOOL, cases);
  // --diff with one good and one malformed file.
  const std::string good = put("good.safetensors", safetensors(f32x2, std::string(8, '\0')));
  expect_all_refused(WEIGHTSTATS_TOOL, {{"diff against a cut file", "--diff", corpus() / "cut_data.safetensors",
                                         quote(good) + " " + quote((corpus() / "cut_data.safetensors").string())}});
}

TEST_CASE("weightstats reads a pickle that calls os.system without running it: unsafe_pickle, exit 1",
          "[malformed]") {
  // os.system("touch <marker>"): reported with its offset, never run.
  const fs::path marker = scratch_root() / "ran";
  const std::string arg = "touch " + marker.string();
  std::string pkl = std::string("\x80\x02" "cos\nsystem\nq\x00X", 16);
  for (int k = 0; k < 4; ++k) pkl += static_cast<char>((arg.size() >> (8 * k)) & 0xff);
  pkl += arg + std::string("q\x01\x85q\x02Rq\x03.", 9);
  const std::string evil = put("evil.pt", zip({{"archive/data.pkl", pkl}, {"archive/version", "3\n"}}));
  const fs::path json = scratch_root() / "evil.json";
  const ToolRun r = run_tool(WEIGHTSTATS_TOOL, quote(evil) + " --json " + quote(json));
  INFO(r.out << r.err);
  CHECK(r.exit_code == 1);
  CHECK(r.signal == 0);
  CHECK_THAT(r.out, Catch::Contains("unsafe_pickle: " + evil + ": its pickle calls os.system (byte 2 of data.pkl)"));
  CHECK_THAT(r.out, Catch::Contains("0 tensors in 1 file"));
  CHECK_FALSE(fs::exists(marker));
  CHECK(fs::exists(json));
}

TEST_CASE("convdiag refuses every malformed log with exit 2 and one line", "[malformed]") {
  const std::string events =
      read_bytes(fs::path(GRADCHECK_SOURCE_DIR) / "tests/fuzz/corpus/tfevents/synthetic.tfevents");
  std::string bad_crc = events;
  bad_crc[bad_crc.size() - 9] ^= 0x40;
  // A record header declaring 2^62 bytes, with a correct length CRC would be
  // needed to get past the first check; a wrong one must fail just as cleanly.
  const std::string huge_record = le(std::uint64_t{1} << 62, 8) + le(0, 4) + "xx";
  fs::create_directories(corpus() / "empty_runs");
  // Folders of the formats of other tools: a Hugging Face output folder whose
  // latest checkpoint's state is cut short, MLflow runs with a malformed
  // metric file, without metrics, and a store of deleted runs only.
  const std::string cut_state =
      put("hf_out/checkpoint-20/trainer_state.json", "{\n  \"log_history\": [\n    {\"loss\": 1.");
  put("hf_out/checkpoint-10/trainer_state.json", "{\"log_history\": [{\"loss\": 1.0, \"step\": 10}]}\n");
  put("mlrun_bad/meta.yaml", "run_name: r\n");
  const std::string bad_metric = put("mlrun_bad/metrics/train/loss", "1700000000000 0.5 0\n1700000000001 0.4 1 2\n");
  put("mlrun_empty/meta.yaml", "run_name: r\n");
  fs::create_directories(corpus() / "mlrun_empty" / "metrics");
  put("mlruns_deleted/0/meta.yaml", "name: Default\nlifecycle_stage: active\n");
  put("mlruns_deleted/0/abc/meta.yaml", "run_name: r\nlifecycle_stage: deleted\n");
  put("mlruns_deleted/0/abc/metrics/loss", "1700000000000 0.5 0\n");

  const std::vector<Case> cases = {
      {"empty csv", put("empty.csv", "")},
      {"ragged csv row", put("ragged.csv", "step,loss\n1,0.5\n2,0.4,9\n")},
      {"text in a numeric column", put("text.csv", "step,loss\n1,0.5\n2,oops\n")},
      {"binary garbage as csv", put("garbage.csv", std::string("\x00\x01\x02,\xff\xfe\n\x00,\x00\n", 11))},
      {"bad UTF-8 in a csv header", put("utf8.csv", "step,loss,gr\xff\xfe" "ad\n1,0.5,1\n2,0.4,1\n3,0.3,1\n")},
      {"unterminated quote in the header", put("quote.csv", "step,\"loss\n1,2\n")},
      {"empty jsonl", put("empty.jsonl", "")},
      {"jsonl line that is an array", put("array.jsonl", "{\"step\": 1, \"loss\": 1}\n[1, 2]\n")},
      {"jsonl cut mid-object", put("cut.jsonl", "{\"step\": 1, \"loss\": 1}\n{\"step\": 2, \"lo")},
      {"bad UTF-8 in a jsonl key", put("utf8.jsonl", "{\"step\": 1, \"lo\xff\xfess\": 1}\n")},
      {"empty events file", put("events.out.tfevents.0.empty", "")},
      {"events file with a bad CRC", put("events.out.tfevents.1.crc", bad_crc)},
      {"events file cut short", put("events.out.tfevents.2.cut", drop_tail(events, 7))},
      {"events record declaring 2^62 bytes", put("events.out.tfevents.3.huge", huge_record)},
      {"bad UTF-8 in an events tag", put("events.out.tfevents.5.utf8",
                                         events_file({{"loss", 1}, {"loss", 2}, {"loss", 3}, {"gr\xff\xfe", 1}}))},
      {"events file of garbage", put("events.out.tfevents.4.junk", std::string(100, '\x7f'))},
      {"a folder without event files", (corpus() / "empty_runs").string()},
      {"trainer_state.json with a loss that is text",
       put("hf_text/trainer_state.json", "{\"log_history\": [{\"loss\": 1.0, \"step\": 1}, {\"loss\": \"nan%\", \"step\": 2}]}")},
      {"trainer_state.json cut short", put("hf_cut/trainer_state.json", "{\n  \"log_history\": [\n    {\"loss\": 1.")},
      {"trainer_state.json without log_history", put("hf_none/trainer_state.json", "{\"global_step\": 3}\n")},
      {"bad UTF-8 in a trainer_state.json key",
       put("hf_utf8/trainer_state.json", "{\"log_history\": [{\"lo\xff\xfe\": 1.0, \"step\": 1}]}")},
      {"an output folder whose latest checkpoint is cut short", (corpus() / "hf_out").string(), cut_state},
      {"Keras History with text for a value", put("history.json", "{\"loss\": [1.0, 0.5, \"x\"]}")},
      {"a JSON document of no known kind", put("config.json", "{\n  \"model\": \"mlp\",\n  \"layers\": 3\n}\n")},
      {"MLflow metric line with four fields", (corpus() / "mlrun_bad").string(), bad_metric},
      {"MLflow run without any metric", (corpus() / "mlrun_empty").string()},
      {"MLflow store of deleted runs only", (corpus() / "mlruns_deleted").string()},
      {"W&B chart export of two runs",
       put("wandb_two.csv", "Step,a - loss,a - loss__MIN,a - loss__MAX,b - loss,b - loss__MIN,b - loss__MAX\n0,1,1,1,2,2,2\n")},
      {"a long table with text for a value", put("long.csv", "epoch,metric,value\n1,loss,0.5\n2,loss,high\n")},
      {"a long table with a value without a metric", put("long_unnamed.csv", "epoch,metric,value\n1,,0.5\n")},
      {"a History whose lists hold text beside its description",
       put("described.json", "{\"backbone\": \"b0\", \"loss\": [1.0, 0.5], \"val_loss\": [1.1, \"x\"]}")},
      {"a printed log with no training loss", put("printed.log", "Epoch 1 val_loss: 0.9\nEpoch 2 val_loss: 0.8\n")},
      {"a text file that is neither a table nor a printed log",
       put("notes.txt", "Training notes\nWe used lr=0.1, batch=32 and trained for 3 days.\n")},
      {"a path that does not exist", missing() + ".csv", missing()},
  };
  expect_all_refused(CONVDIAG_TOOL, cases);
}

TEST_CASE("gradcheck refuses every file that is no plugin with exit 2 and one line", "[malformed]") {
  const std::string healthy = std::string(HARDENING_PLUGIN_DIR) + "/healthy.so";
  const std::string elf = read_bytes(healthy);
  REQUIRE(elf.size() > 4096);
  fs::create_directories(corpus() / "folder.so");
  const std::vector<Case> cases = {
      {"empty file", put("empty.so", "")},
      {"text file", put("text.so", "not a shared library\n")},
      {"ELF cut short", put("cut.so", head(elf, 2000))},
      {"ELF with its middle zeroed", put("zeroed.so", elf.substr(0, 64) + std::string(elf.size() - 64, '\0'))},
      {"a folder", (corpus() / "folder.so").string()},
      {"a path that does not exist", missing() + ".so", missing()},
      {"weights that are cut short", healthy, (corpus() / "cut_data.safetensors").string(),
       "--weights " + quote((corpus() / "cut_data.safetensors").string())},
      {"weights that do not exist", healthy, missing(), "--weights " + quote(missing())},
  };
  // cut_data.safetensors comes from the weightstats case; make sure it exists
  // whatever the order the test cases run in.
  put("cut_data.safetensors", drop_tail(sample("samples/checkpoints/tiny_mlp.safetensors"), 10));
  expect_all_refused(GRADCHECK_TOOL, cases);
}
