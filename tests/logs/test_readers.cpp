#include <catch2/catch.hpp>

#include <cmath>
#include <cstdint>
#include <random>
#include <unistd.h>
#include <filesystem>
#include <string>
#include <vector>

#include "gradcheck/diag/diagnose.hpp"
#include "gradcheck/diag/report.hpp"
#include "gradcheck/errors.hpp"
#include "gradcheck/logs/readers.hpp"
#include "support/corrupt.hpp"
#include "support/files.hpp"
#include "support/matchers.hpp"
#include "support/scratch.hpp"
#include "support/tfevents_writer.hpp"

namespace fs = std::filesystem;
using namespace gradcheck::logs;
using namespace gradcheck::test::tfevents;
using gradcheck::InputError;
using gradcheck::test::IsPrintableUtf8;
using gradcheck::test::MessageMatches;
using gradcheck::test::read_bytes;

namespace {

const std::string kTrainlogs = std::string(GRADCHECK_REAL_DATA_DIR) + "/trainlogs/";
const std::string kTfevents = std::string(GRADCHECK_REAL_DATA_DIR) + "/tfevents/vicreg-ablation/";

const fs::path& temp_dir() { return gradcheck::test::scratch_root(); }

std::string write_temp(const std::string& name, const std::string& content) {
  return gradcheck::test::write_bytes(temp_dir() / name, content);
}

}  // namespace

TEST_CASE("CSV: Keras-style log with text columns (crypto-forecast)", "[csv][real]") {
  const Run run = read_csv(kTrainlogs + "crypto-forecast-thesis-003.csv");
  CHECK(run.step_name == "epoch");
  // model, asset and interval are text columns and are left out.
  CHECK(run.metric_names() == std::vector<std::string>{"train_loss", "val_loss", "lr", "epoch_time"});
  const Series* loss = run.find("train_loss");
  REQUIRE(loss != nullptr);
  CHECK(loss->size() == 46);
  CHECK(loss->steps.front() == 0);
  CHECK(loss->steps.back() == 45);
  CHECK(loss->values.front() == Approx(0.13098782300949097));
  const Roles roles = recognise_roles(run);
  CHECK(roles.loss == "train_loss");
  CHECK(roles.val_loss == "val_loss");
  CHECK(roles.lr == "lr");
}

TEST_CASE("CSV: Lightning sparse rows (mnist_lightning)", "[csv][real]") {
  const Run run = read_csv(kTrainlogs + "mnist_lightning-020.csv");
  CHECK(run.step_name == "step");
  const Series* train = run.find("train_loss");
  const Series* val = run.find("val_loss");
  const Series* test = run.find("test_acc");
  REQUIRE(train != nullptr);
  REQUIRE(val != nullptr);
  REQUIRE(test != nullptr);
  CHECK(train->size() == 20);
  CHECK(val->size() == 20);
  CHECK(test->size() == 1);
  CHECK(val->steps.front() == 937);
  CHECK(val->values.front() == Approx(0.11243616044521332));
  CHECK(train->values.back() == Approx(0.0031721435952931643));
  CHECK(run.find("epoch") != nullptr);  // epoch is a series when step is the step
}

TEST_CASE("CSV: Lightning step/epoch metric pairs (pendulum PINN) pick the _step loss", "[csv][real]") {
  const Run run = read_csv(kTrainlogs + "simple-pendulum-pinn-021.csv");
  const Roles roles = recognise_roles(run);
  CHECK(roles.loss == "train_loss_step");
  CHECK(run.find("train_loss_step")->size() + run.find("train_loss_epoch")->size() == 16400);
}

TEST_CASE("CSV: every real log in tests/data/real/trainlogs reads", "[csv][real]") {
  for (const auto& entry : fs::directory_iterator(kTrainlogs)) {
    if (entry.path().extension() != ".csv") continue;
    INFO(entry.path());
    const Run run = read_log(entry.path().string());
    CHECK_FALSE(run.series.empty());
    CHECK_FALSE(recognise_roles(run).loss.empty());
  }
}

TEST_CASE("CSV: nan/inf spellings are values, NA and empty are missing, CRLF and quotes", "[csv]") {
  const std::string path = write_temp("values.csv",
                                      "\xEF\xBB\xBF" "epoch,\"loss\",val_loss,note\r\n"
                                      "0,nan,NA,\"a, b\"\r\n"
                                      "1,Infinity,,x\r\n"
                                      "2,-inf,1.5,\"say \"\"hi\"\"\"\r\n"
                                      "3,+2.5e-1,NaN,y\r\n"
                                      "\r\n");
  const Run run = read_csv(path);
  const Series* loss = run.find("loss");
  REQUIRE(loss != nullptr);
  REQUIRE(loss->size() == 4);
  CHECK(std::isnan(loss->values[0]));
  CHECK(loss->values[1] == INFINITY);
  CHECK(loss->values[2] == -INFINITY);
  CHECK(loss->values[3] == 0.25);
  const Series* val = run.find("val_loss");
  REQUIRE(val != nullptr);
  CHECK(val->steps == std::vector<std::int64_t>{2, 3});
  CHECK(run.find("note") == nullptr);
}

TEST_CASE("CSV: without a step column the row index is the step, --step-col overrides", "[csv]") {
  const std::string path = write_temp("nostep.csv", "loss,iteration_count\n3,10\n2,20\n1,30\n");
  const Run a = read_csv(path);
  CHECK(a.find("loss")->steps == std::vector<std::int64_t>{0, 1, 2});
  ReadOptions o;
  o.step_column = "iteration_count";
  const Run b = read_csv(path, o);
  CHECK(b.find("loss")->steps == std::vector<std::int64_t>{10, 20, 30});
  CHECK(b.find("iteration_count") == nullptr);
  o.step_column = "missing";
  CHECK_THROWS_MATCHES(read_csv(path, o), InputError, MessageMatches(Catch::Contains("step column 'missing'")));
}

TEST_CASE("CSV: a step cell that repeats its column's name (GraphINVENT's Epoch 1, Keras's Epoch 3/50)", "[csv]") {
  // GraphINVENT's convergence.csv: a space after each comma, `Epoch N` cells.
  const Run graph = read_csv(write_temp("convergence.csv",
                                        "epoch, lr, avg_loss, model_score\nEpoch 1, 0.00010000, 4.28309488, NA\n"
                                        "Epoch 2, 0.00009992, 3.03088856, NA\nEpoch 3, 0.00009968, 2.5, 0.1\n"));
  CHECK(graph.step_name == "epoch");
  REQUIRE(graph.find("avg_loss") != nullptr);
  CHECK(graph.find("avg_loss")->steps == std::vector<std::int64_t>{1, 2, 3});
  CHECK(graph.find("model_score")->steps == std::vector<std::int64_t>{3});
  CHECK(gradcheck::logs::recognise_roles(graph).loss == "avg_loss");
  const Run keras = read_csv(write_temp("printed.csv", "Epoch,loss\nEpoch 1/50,0.9\nepoch: 2/50,0.8\nEPOCH=3,0.7\n"));
  CHECK(keras.find("loss")->steps == std::vector<std::int64_t>{1, 2, 3});
  // Only the column's own name, an integer, and a positive total.
  for (const char* cell : {"Round 1", "Epoch 1.5", "Epoch1", "Epoch 1/0", "Epoch 1/x", "Epoch -", "Epochs 1"}) {
    INFO(cell);
    const std::string bad = write_temp("named.csv", std::string("epoch,loss\n") + cell + ",0.9\n");
    CHECK_THROWS_MATCHES(read_csv(bad), InputError,
                         MessageMatches(Catch::Contains("line 2: step '" + std::string(cell) + "' is not an integer")));
  }
}

TEST_CASE("CSV: malformed input names the file and the line", "[csv][errors]") {
  const std::string ragged = write_temp("ragged.csv", "epoch,loss,val_loss\n0,1,1\n1,0.9\n");
  CHECK_THROWS_MATCHES(read_csv(ragged), InputError,
                       MessageMatches(Catch::Contains(ragged) &&
                                      Catch::Contains("line 3: expected 3 fields as in the header, found 2")));

  const std::string word = write_temp("word.csv", "epoch,loss\n0,1.0\n1,abc\n");
  CHECK_THROWS_MATCHES(read_csv(word), InputError,
                       MessageMatches(Catch::Contains("line 3: 'abc' in column 'loss' is not a number")));

  const std::string step = write_temp("step.csv", "step,loss\n0,1.0\n1.5,2\n");
  CHECK_THROWS_MATCHES(read_csv(step), InputError, MessageMatches(Catch::Contains("line 3: step '1.5'")));

  const std::string quote = write_temp("quote.csv", "step,loss\n0,\"1.0\n");
  CHECK_THROWS_MATCHES(read_csv(quote), InputError, MessageMatches(Catch::Contains("line 2: unterminated quote")));

  const std::string empty = write_temp("empty.csv", "");
  CHECK_THROWS_MATCHES(read_csv(empty), InputError, MessageMatches(Catch::Contains("empty file")));
  CHECK_THROWS_MATCHES(read_csv("/nonexistent/x.csv"), InputError,
                       MessageMatches(Catch::Contains("/nonexistent/x.csv: cannot open")));
}

TEST_CASE("JSONL: mixed training and validation records, bare NaN/Infinity, nesting", "[jsonl]") {
  const std::string path = write_temp("log.jsonl",
                                      "{\"step\": 0, \"loss\": 2.0, \"lr\": 0.1, \"tag\": \"x\"}\n"
                                      "\n"
                                      "{\"step\": 1, \"loss\": NaN, \"grad\": {\"norm\": Infinity}}\n"
                                      "{\"step\": 1, \"split\": \"val\", \"loss\": 2.5, \"note\": \"NaN inside\"}\n"
                                      "{\"step\": 2, \"loss\": -Infinity, \"acc\": null}\n"
                                      "{\"step\": 3, \"loss\": \"1e-3\"}\n");
  const Run run = read_jsonl(path);
  CHECK(run.step_name == "step");
  const Series* loss = run.find("loss");
  REQUIRE(loss != nullptr);
  CHECK(loss->steps == std::vector<std::int64_t>{0, 1, 2, 3});
  CHECK(std::isnan(loss->values[1]));
  CHECK(loss->values[2] == -INFINITY);
  CHECK(loss->values[3] == 1e-3);
  REQUIRE(run.find("val_loss") != nullptr);
  CHECK(run.find("val_loss")->values == std::vector<double>{2.5});
  REQUIRE(run.find("grad/norm") != nullptr);
  CHECK(run.find("grad/norm")->values[0] == INFINITY);
  CHECK(run.find("val_step") == nullptr);
  CHECK(run.find("tag") == nullptr);
  CHECK(recognise_roles(run).val_loss == "val_loss");
}

TEST_CASE("JSONL: LLaMA-Factory's trainer_log.jsonl steps by current_steps, its fractional epoch a series", "[jsonl]") {
  const Run run = read_jsonl(write_temp(
      "trainer_log.jsonl",
      "{\"current_steps\": 10, \"total_steps\": 6750, \"loss\": 2.219, \"lr\": 1.3e-06, \"epoch\": 0.0044, "
      "\"percentage\": 0.15, \"elapsed_time\": \"0:00:32\", \"remaining_time\": \"6:01:13\"}\n"
      "{\"current_steps\": 20, \"total_steps\": 6750, \"loss\": 2.1827, \"lr\": 2.8e-06, \"epoch\": 0.0089, "
      "\"percentage\": 0.3, \"elapsed_time\": \"0:01:03\", \"remaining_time\": \"5:53:59\"}\n"
      "{\"current_steps\": 20, \"total_steps\": 6750, \"eval_loss\": 1.64, \"epoch\": 0.0089, "
      "\"percentage\": 0.3, \"elapsed_time\": \"0:01:05\", \"remaining_time\": \"5:53:57\"}\n"));
  CHECK(run.step_name == "current_steps");
  CHECK(run.find("loss")->steps == std::vector<std::int64_t>{10, 20});
  CHECK(run.find("eval_loss")->steps == std::vector<std::int64_t>{20});
  CHECK(run.find("epoch")->values.front() == 0.0044);
  CHECK(gradcheck::logs::recognise_roles(run).val_loss == "eval_loss");
}

TEST_CASE("JSONL: a bad line or a non-object names the line", "[jsonl][errors]") {
  const std::string bad = write_temp("bad.jsonl", "{\"step\": 0, \"loss\": 1}\n{\"step\": 1, \"loss\": }\n");
  CHECK_THROWS_MATCHES(read_jsonl(bad), InputError, MessageMatches(Catch::Contains(bad + ": line 2: not valid JSON")));
  const std::string arr = write_temp("arr.jsonl", "{\"loss\": 1}\n\n[1, 2]\n");
  CHECK_THROWS_MATCHES(read_jsonl(arr), InputError,
                       MessageMatches(Catch::Contains("line 3: expected a JSON object, found array")));
  const std::string fstep = write_temp("fstep.jsonl", "{\"step\": 0.5, \"loss\": 1}\n");
  CHECK_THROWS_MATCHES(read_jsonl(fstep), InputError, MessageMatches(Catch::Contains("line 1: step '0.5'")));
}

// --- TensorBoard ---------------------------------------------------------

TEST_CASE("TensorBoard: the real Lightning event files", "[tfevents][real]") {
  const std::string dir29 = kTfevents + "lightning_logs_version_29";
  const Run run = read_tfevents(dir29);
  REQUIRE(run.find("train_loss") != nullptr);
  CHECK(run.find("train_loss")->size() == 2);
  CHECK(run.find("epoch")->size() == 2);
  CHECK(recognise_roles(run).loss == "train_loss");
  const Run one = read_log(kTfevents + "lightning_logs_version_25/events.out.tfevents.1685261353.lzh.2136.0");
  CHECK(one.find("train_loss")->size() == 1);
  CHECK(one.find("train_loss")->values[0] == Approx(21.42).epsilon(1e-3));
}

TEST_CASE("TensorBoard: TF2 rank-0 tensors are scalars, histograms skipped, sub-directories prefix tags", "[tfevents]") {
  const fs::path dir = temp_dir() / "tb";
  fs::remove_all(dir);
  fs::create_directories(dir / "train");
  fs::create_directories(dir / "validation");
  const std::string version = field_bytes(3, "brain.Event:2");
  gradcheck::test::write_bytes(dir / "train" / "events.out.tfevents.1.host.v2",
                               record(version) + record(tensor_event(0, "epoch_loss", 2.0f, true)) +
                                   record(tensor_event(0, "kernel_hist", 9.0f, false)) +
                                   record(tensor_event(1, "epoch_loss", 1.5f, true)));
  gradcheck::test::write_bytes(dir / "validation" / "events.out.tfevents.2.host.v2",
                               record(version) + record(simple_event(0, "epoch_loss", 2.5f)) +
                                   record(simple_event(1, "epoch_loss", 2.25f)));
  const Run run = read_log(dir.string());
  REQUIRE(run.find("train/epoch_loss") != nullptr);
  CHECK(run.find("train/epoch_loss")->values == std::vector<double>{2.0, 1.5});
  CHECK(run.find("train/kernel_hist") == nullptr);
  CHECK(run.find("validation/epoch_loss")->values == std::vector<double>{2.5, 2.25});
  const Roles roles = recognise_roles(run);
  CHECK(roles.loss == "train/epoch_loss");
  CHECK(roles.val_loss == "validation/epoch_loss");
}

TEST_CASE("TensorBoard: the model_config the Hugging Face Trainer writes into its events gives the class count",
          "[tfevents][context]") {
  // The Trainer's TensorBoard callback writes add_text("model_config",
  // model.config.to_json_string()) at the start of training: a language
  // model's vocabulary, or a classification head's id2label (written only
  // when it is not transformers' default two labels; `architectures` is then
  // still the checkpoint's class, ...ForMaskedLM for a classifier fine-tuned
  // from BERT).
  const fs::path dir = gradcheck::test::scratch_dir("tfevents_context");
  auto events = [&](const std::string& name, const std::string& config) {
    std::string bytes = record(text_event(0, "args/text_summary", R"({"output_dir": "out"})"));
    if (!config.empty()) bytes += record(text_event(0, "model_config/text_summary", config));
    for (int step = 10; step <= 80; step += 10) bytes += record(simple_event(step, "train/loss", 3.8f - 0.002f * step));
    return gradcheck::test::write_bytes(dir / name / "events.out.tfevents.1.host", bytes);
  };
  const std::string lm = events("lm", R"({"_name_or_path": "EleutherAI/pythia-70m-deduped",
    "architectures": ["GPTNeoXForCausalLM"], "vocab_size": 50304})");
  const LogContext c = read_log_context(lm);
  CHECK(c.classes == 50304);
  REQUIRE(c.notes.size() == 1);
  CHECK_THAT(c.notes[0], Catch::Contains("the model_config the Trainer wrote into its events): a language model "
                                         "(GPTNeoXForCausalLM) over 50304 tokens"));
  CHECK(read_log_context((dir / "lm").string()).classes == 50304);  // the folder holding it
  // A loss starting at 3.8, far below ln 50304 = 10.8, that improves little:
  // a trained model fine-tuned, no plateau.
  const auto fine_tune = gradcheck::diag::diagnose_logs({lm});
  REQUIRE(fine_tune.runs.size() == 1);
  CHECK(fine_tune.healthy());
  // Without the config nothing says the model had learned: a plateau.
  CHECK_FALSE(gradcheck::diag::diagnose_logs({events("bare", "")}).healthy());
  CHECK(read_log_context(events("cls", R"({"architectures": ["RobertaForMaskedLM"], "vocab_size": 50265,
    "id2label": {"0": "World", "1": "Sports", "2": "Business", "3": "Sci/Tech"}})")).classes == 4);
  CHECK(read_log_context(events("mlm", R"({"architectures": ["BertForMaskedLM"], "vocab_size": 30522})")).classes == 0);
  CHECK(read_log_context(events("multilabel", R"({"architectures": ["BertForMaskedLM"], "problem_type":
    "multi_label_classification", "id2label": {"0": "a", "1": "b", "2": "c"}})")).classes == 0);
  // Only the head of a file is read for it, up to its first event past step
  // 0: a text summary written later is not the Trainer's start-of-training
  // config.
  {
    std::string bytes = record(simple_event(10, "train/loss", 3.8f));
    bytes += record(text_event(0, "model_config/text_summary", R"({"architectures": ["GPTNeoXForCausalLM"],
      "vocab_size": 50304})"));
    CHECK(read_log_context(gradcheck::test::write_bytes(dir / "late" / "events.out.tfevents.1.host", bytes)).classes == 0);
  }
  CHECK(read_log_context(events("none", "")).classes == 0);
  CHECK(read_log_context(events("none", "")).notes.empty());
  const LogContext broken = read_log_context(events("broken", "{\"vocab_size\": 5"));
  CHECK(broken.classes == 0);
  REQUIRE(broken.notes.size() == 1);
  CHECK_THAT(broken.notes[0], Catch::EndsWith("is left out: not JSON"));
}

TEST_CASE("TensorBoard: a bad CRC and a truncated record name the byte offset", "[tfevents][errors]") {
  const std::string real = kTfevents + "lightning_logs_version_29/events.out.tfevents.1685262352.lzh.3132.1";
  std::string bytes = read_bytes(real);
  REQUIRE(bytes.size() == 272);

  std::string flipped = bytes;
  flipped[bytes.size() - 10] ^= 0x01;  // inside the last record's payload
  const std::string bad_crc = write_temp("events.out.tfevents.badcrc", flipped);
  CHECK_THROWS_MATCHES(read_tfevents(bad_crc), InputError,
                       MessageMatches(Catch::Contains(bad_crc + ": byte ") &&
                                      Catch::Contains("record data CRC mismatch")));

  std::string bad_len = bytes;
  bad_len[0] ^= 0x01;
  const std::string bad_len_path = write_temp("events.out.tfevents.badlen", bad_len);
  CHECK_THROWS_MATCHES(read_tfevents(bad_len_path), InputError,
                       MessageMatches(Catch::Contains("byte 0: record length CRC mismatch")));

  const std::string cut = write_temp("events.out.tfevents.cut", bytes.substr(0, bytes.size() - 7));
  CHECK_THROWS_MATCHES(read_tfevents(cut), InputError,
                       MessageMatches(Catch::Contains("truncated record") && Catch::Contains("byte ")));

  const std::string cut_header = write_temp("events.out.tfevents.cuthdr", bytes + bytes.substr(0, 5));
  CHECK_THROWS_MATCHES(read_tfevents(cut_header), InputError,
                       MessageMatches(Catch::Contains("byte 272: truncated record header")));

  // A framed record with valid CRCs whose payload is not protobuf.
  const std::string junk = write_temp("events.out.tfevents.junk", record(std::string("\x0f\xff\xff", 3)));
  CHECK_THROWS_MATCHES(read_tfevents(junk), InputError,
                       MessageMatches(Catch::Contains("byte 0: record is not a valid Event protobuf")));

  const fs::path empty_dir = temp_dir() / "no_events";
  fs::create_directories(empty_dir);
  CHECK_THROWS_MATCHES(read_tfevents(empty_dir.string()), InputError,
                       MessageMatches(Catch::Contains("no events.out.tfevents")));
}

TEST_CASE("Readers never crash on damaged input: seeded random corruption of real files", "[fuzz][errors]") {
  const std::vector<std::pair<std::string, std::string>> seeds{
      {kTrainlogs + "mnist_lightning-020.csv", "fuzz.csv"},
      {std::string(GRADCHECK_SOURCE_DIR) + "/tests/logs/data/diverging.jsonl", "fuzz.jsonl"},
      {kTfevents + "lightning_logs_version_29/events.out.tfevents.1685262352.lzh.3132.1", "events.out.tfevents.fuzz"}};
  std::mt19937_64 rng(2024);
  int thrown = 0, read = 0;
  for (const auto& [source, name] : seeds) {
    const std::string original = read_bytes(source);
    REQUIRE_FALSE(original.empty());
    for (int trial = 0; trial < 150; ++trial) {
      const std::string bytes = gradcheck::test::corrupt(original, rng, std::string_view("\",\n{}0-e\xff", 10));
      const std::string path = write_temp(name, bytes);
      try {
        const Run run = read_log(path);
        for (const auto& s : run.series) REQUIRE(s.steps.size() == s.values.size());
        ++read;
        // Whatever was read, diagnosing it either works or says why (no loss column).
        try {
          (void)gradcheck::diag::diagnose(run);
        } catch (const gradcheck::InputError& e) {
          CHECK(std::string(e.what()).find("no training loss") != std::string::npos);
        }
      } catch (const gradcheck::InputError& e) {
        CHECK(std::string(e.what()).find(path) == 0);
        ++thrown;
      }
    }
  }
  CHECK(thrown > 0);
  CHECK(read + thrown == 450);
}

TEST_CASE("CSV: parallel chunks give exactly the single-thread result and errors", "[csv][threads]") {
  // Rows with text cells, sparse cells and empty step cells, so chunk
  // boundaries fall in every kind of row.
  std::string text = "step,epoch,loss,val_loss,note\n";
  std::mt19937_64 rng(5);
  for (int i = 0; i < 3000; ++i) {
    const bool blank_step = i % 7 == 3;
    text += (blank_step ? std::string() : std::to_string(i)) + "," + std::to_string(i / 100) + "," +
            std::to_string(static_cast<double>(rng() % 100000) / 1000.0) + "," +
            (i % 10 == 9 ? std::to_string(static_cast<double>(rng() % 1000) / 100.0) : std::string()) + ",t" +
            std::to_string(i % 3) + "\n";
  }
  const std::string path = write_temp("chunks.csv", text);
  const std::string nostep = write_temp("chunks_nostep.csv", "loss,acc\n" + [&] {
    std::string t;
    for (int i = 0; i < 3000; ++i) t += std::to_string(i % 17) + "," + (i % 5 ? "0.5" : "") + "\n";
    return t;
  }());
  for (const std::string& file : {path, nostep}) {
    ReadOptions one;
    one.threads = 1;
    const Run a = read_csv(file, one);
    for (int threads : {2, 3, 7}) {
      ReadOptions many;
      many.threads = threads;
      many.min_chunk_bytes = 1000;  // force many chunks on a small file
      const Run b = read_csv(file, many);
      INFO(file << " threads " << threads);
      REQUIRE(a.series.size() == b.series.size());
      for (std::size_t i = 0; i < a.series.size(); ++i) {
        CHECK(a.series[i].name == b.series[i].name);
        CHECK(a.series[i].steps == b.series[i].steps);
        CHECK(a.series[i].values == b.series[i].values);
      }
    }
  }
  CHECK(read_csv(path).find("note") == nullptr);
  CHECK(read_csv(nostep).find("loss")->steps.back() == 2999);
  // Errors: the first in file order, with its global line number.
  std::string bad = text;
  bad.insert(bad.find("\n2500,") + 1, "2499,1,abc,,x\n");
  bad.insert(bad.find("\n2800,") + 1, "2799,1\n");
  const std::string bad_path = write_temp("chunks_bad.csv", bad);
  for (int threads : {1, 4}) {
    ReadOptions o;
    o.threads = threads;
    o.min_chunk_bytes = 1000;
    CHECK_THROWS_MATCHES(read_csv(bad_path, o), InputError,
                         MessageMatches(Catch::Contains("line 2502: 'abc' in column 'loss' is not a number")));
  }
}

// --- bytes that are not UTF-8 ----------------------------------------------

TEST_CASE("CSV: a column name with bytes that are not UTF-8 is refused, the bytes shown escaped", "[csv][errors][utf8]") {
  const std::string bad = write_temp("utf8_name.csv", "step,loss,gr\xff\xfe" "ad\n1,0.5,1\n2,0.4,1\n");
  CHECK_THROWS_MATCHES(
      read_csv(bad), InputError,
      MessageMatches(IsPrintableUtf8() &&
                     Catch::Contains(bad + ": line 1: column 3's name 'gr\\xff\\xfead' is not valid UTF-8")));
}

TEST_CASE("JSONL: a bad byte is named in words, without the JSON library's tag", "[jsonl][errors][utf8]") {
  const std::string bad = write_temp("utf8_key.jsonl", "{\"step\": 1, \"loss\": 1}\n{\"step\": 2, \"lo\xff\": 1}\n");
  CHECK_THROWS_MATCHES(
      read_jsonl(bad), InputError,
      MessageMatches(IsPrintableUtf8() && !Catch::Contains("json.exception") &&
                     Catch::Contains(bad + ": line 2: not valid JSON: unexpected byte \\xff at column 16")));
  const std::string cut = write_temp("cut.jsonl", "{\"step\": 1, \"loss\": \n");
  CHECK_THROWS_MATCHES(read_jsonl(cut), InputError,
                       MessageMatches(!Catch::Contains("json.exception") &&
                                      Catch::Contains("line 1: not valid JSON: it ends too early")));
}

TEST_CASE("JSONL: a key holding control characters becomes a series name with them escaped", "[jsonl][utf8]") {
  const std::string p = write_temp("ctl_key.jsonl", "{\"step\": 1, \"lo\\nss\\u001b[31m\": 1}\n{\"step\": 2, \"lo\\nss\\u001b[31m\": 2}\n");
  const Run run = read_jsonl(p);
  REQUIRE(run.series.size() == 1);
  CHECK(run.series[0].name == "lo\\x0ass\\x1b[31m");
}
