// The log formats of other tools: Hugging Face Trainer's trainer_state.json,
// Keras History dumps, MLflow file stores, W&B history and chart exports;
// reading, recognition of the roles, detection by name and content, folders,
// and refusals.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <random>
#include <string>
#include <vector>

#include "gradcheck/diag/diagnose.hpp"
#include "gradcheck/diag/report.hpp"
#include "gradcheck/errors.hpp"
#include "gradcheck/logs/readers.hpp"
#include "refusal.hpp"
#include "support/corrupt.hpp"
#include "support/files.hpp"
#include "support/scratch.hpp"

namespace fs = std::filesystem;
using namespace gradcheck::logs;
using gradcheck::test::read_bytes;
using gradcheck::test::write_bytes;
using logs_test::expect_refused;

namespace {

const std::string kData = std::string(GRADCHECK_SOURCE_DIR) + "/tests/logs/data/";
const std::string kReal = std::string(GRADCHECK_REAL_DATA_DIR) + "/trainlogs/";
const std::string kHealthyRun = kData + "mlruns/1/8f2b6e0c4d1a4b7e9c3f5a2d1e0b9c8a";
const std::string kNanRun = kData + "mlruns/1/c41d7a9e2b5f4c08a6e3d9b1f7a2c5e4";

const Series& series(const Run& run, const std::string& name) {
  const Series* s = run.find(name);
  INFO("series " << name << " in " << run.source);
  REQUIRE(s != nullptr);
  return *s;
}

// A trainer_state.json around `history` entries, as TrainerState.save_to_json writes it.
std::string trainer_state(const std::string& history) {
  return "{\n  \"best_metric\": null,\n  \"epoch\": 1.0,\n  \"global_step\": 30,\n  \"log_history\": [\n" + history +
         "\n  ],\n  \"max_steps\": 30,\n  \"total_flos\": 0.0\n}\n";
}

}  // namespace

// --- Hugging Face trainer_state.json ------------------------------------------

TEST_CASE("trainer_state.json: training and evaluation entries at one step, the summary, the roles", "[hf]") {
  const std::string file = kData + "hf_output/checkpoint-1500/trainer_state.json";
  const Run run = read_trainer_state(file);
  CHECK(run.source == file);
  CHECK(run.step_name == "step");
  const Series& loss = series(run, "loss");
  CHECK(loss.size() == 150);
  CHECK(loss.steps.front() == 10);
  CHECK(loss.steps.back() == 1500);
  CHECK(loss.values.front() == 0.6591);
  const Series& eval = series(run, "eval_loss");
  CHECK(eval.size() == 15);
  CHECK(eval.steps.front() == 100);
  CHECK(eval.steps.back() == 1500);
  CHECK(series(run, "grad_norm").size() == 150);
  CHECK(series(run, "eval_accuracy").size() == 15);
  // The epoch of an evaluation entry repeats its training entry's: once per step.
  CHECK(series(run, "epoch").size() == 150);
  CHECK(series(run, "train_loss").values == std::vector<double>{0.2107398651123047});
  CHECK(series(run, "train_loss").steps == std::vector<std::int64_t>{1500});
  const Roles roles = recognise_roles(run);
  CHECK(roles.loss == "loss");
  CHECK(roles.val_loss == "eval_loss");
  CHECK(roles.grad_norm == "grad_norm");
  CHECK(roles.lr == "learning_rate");
  // The diagnosis: the validation loss rises after step 500.
  const auto d = gradcheck::diag::diagnose(run);
  REQUIRE(d.symptoms.size() == 1);
  CHECK(d.symptoms[0].kind == gradcheck::diag::SymptomKind::overfitting);
  CHECK(d.symptoms[0].step_start == 500);
}

TEST_CASE("trainer_state.json: a checkpoint folder, an output folder's latest checkpoint, detection", "[hf][dirs]") {
  const std::string out = kData + "hf_output";
  CHECK(detect_log_format(out) == LogFormat::trainer_state);
  CHECK(detect_log_format(out + "/checkpoint-500") == LogFormat::trainer_state);
  CHECK(detect_log_format(out + "/checkpoint-500/trainer_state.json") == LogFormat::trainer_state);

  const Run latest = read_log(out);
  CHECK(latest.source == out);
  CHECK(series(latest, "loss").size() == 150);
  const Run first = read_log(out + "/checkpoint-500");
  CHECK(series(first, "loss").size() == 50);
  CHECK(first.find("train_loss") == nullptr);

  const auto sources = expand_log_sources({out, out + "/checkpoint-500"});
  REQUIRE(sources.size() == 2);
  CHECK(sources[0].path == out + "/checkpoint-1500/trainer_state.json");
  CHECK(sources[0].note ==
        "checkpoint-1500 is the latest of the 3 checkpoints in " + out +
            " (checkpoint-500, checkpoint-1000, checkpoint-1500)");
  CHECK(sources[1].path == out + "/checkpoint-500");
  CHECK(sources[1].note.empty());

  // A folder with a state of its own is read as itself, before its checkpoints.
  const std::string bart = kReal + "bart-large-cnn-samsum";
  const auto own = expand_log_sources({bart});
  REQUIRE(own.size() == 1);
  CHECK(own[0].path == bart);
  CHECK(own[0].note.empty());
  const Run run = read_log(bart);
  CHECK(series(run, "loss").values == std::vector<double>{1.2342});
  CHECK(series(run, "train_runtime").steps == std::vector<std::int64_t>{693});

  // Checkpoints are ordered by number, not by name; one holding no state does not count.
  const fs::path dir = gradcheck::test::scratch_dir("hf_numbers");
  const std::string entry = "    {\n      \"loss\": 1.0,\n      \"step\": 1\n    }";
  write_bytes(dir / "checkpoint-900" / "trainer_state.json", trainer_state(entry));
  write_bytes(dir / "checkpoint-10000" / "trainer_state.json", trainer_state(entry));
  fs::create_directories(dir / "checkpoint-20000");  // a save that was interrupted
  fs::create_directories(dir / "runs" / "Jun03_10-00-00_host");
  const auto picked = expand_log_sources({dir.string()});
  REQUIRE(picked.size() == 1);
  CHECK(picked[0].path == (dir / "checkpoint-10000" / "trainer_state.json").string());
  CHECK(picked[0].note.find("the latest of the 2 checkpoints") != std::string::npos);
  const fs::path one = gradcheck::test::scratch_dir("hf_one");
  write_bytes(one / "checkpoint-7" / "trainer_state.json", trainer_state(entry));
  CHECK(expand_log_sources({one.string()})[0].note == "checkpoint-7 is the only checkpoint in " + one.string());
}

TEST_CASE("trainer_state.json: the real Whisper fine-tune (transformers 4.26) overfits, and its rounded loss has no spike", "[hf][real]") {
  const std::string dir = kReal + "whisper-large-v2-japanese-5k-steps";
  const Run run = read_log(dir);
  CHECK(series(run, "loss").size() == 200);
  const Series& eval = series(run, "eval_loss");
  CHECK(eval.steps == std::vector<std::int64_t>{1000, 2000, 3000, 4000, 5000});
  CHECK(eval.values.front() == Approx(0.320997953414917));
  CHECK(series(run, "eval_wer").size() == 5);
  const Roles roles = recognise_roles(run);
  CHECK(roles.loss == "loss");
  CHECK(roles.val_loss == "eval_loss");
  CHECK(roles.lr == "learning_rate");
  // Its training loss is logged to 4 decimals and ends near 1e-4, where one
  // unit of rounding is a large ratio: those steps are not spikes.
  bool overfitting = false, spike = false;
  for (const auto& s : gradcheck::diag::diagnose(run).symptoms) {
    overfitting = overfitting || s.kind == gradcheck::diag::SymptomKind::overfitting;
    spike = spike || s.kind == gradcheck::diag::SymptomKind::spike;
  }
  CHECK(overfitting);
  CHECK_FALSE(spike);
}

TEST_CASE("trainer_state.json: by content under any name, on one line, NaN and Infinity, null, text metrics", "[hf]") {
  const fs::path dir = gradcheck::test::scratch_dir("hf_content");
  // json.dumps without indent, under another name.
  const std::string one_line = write_bytes(
      dir / "state.json",
      R"({"epoch": 1.0, "global_step": 3, "log_history": [{"epoch": 0.3, "grad_norm": NaN, "learning_rate": 1e-05, "loss": 2.5, "step": 1}, )"
      R"({"epoch": 0.6, "grad_norm": null, "learning_rate": 1e-05, "loss": Infinity, "step": 2}, )"
      R"({"epoch": 0.6, "eval_loss": -Infinity, "eval_report": "precision 0.9", "eval_confusion": [[1, 2], [3, 4]], "step": 2}]})");
  CHECK(detect_log_format(one_line) == LogFormat::trainer_state);
  const Run run = read_log(one_line);
  CHECK(std::isnan(series(run, "grad_norm").values[0]));
  CHECK(series(run, "grad_norm").size() == 1);  // null is missing
  CHECK(series(run, "loss").values[1] == INFINITY);
  CHECK(series(run, "eval_loss").values == std::vector<double>{-INFINITY});
  CHECK(run.find("eval_report") == nullptr);
  CHECK(run.find("eval_confusion") == nullptr);
  CHECK(series(run, "epoch").size() == 2);
  // Pretty-printed under another name, and a .jsonl name does not change what the content is.
  const std::string pretty = read_bytes(kData + "hf_output/checkpoint-500/trainer_state.json");
  for (const char* name : {"exported.json", "exported.jsonl"}) {
    const std::string p = write_bytes(dir / name, pretty);
    CHECK(detect_log_format(p) == LogFormat::trainer_state);
    CHECK(series(read_log(p), "eval_loss").size() == 5);
  }
  // The log_history saved on its own: a list of records.
  const std::string records = write_bytes(dir / "log_history.json", R"([
  {"epoch": 0.1, "loss": 2.0, "step": 10},
  {"epoch": 0.1, "eval_loss": 2.2, "step": 10},
  {"epoch": 0.2, "loss": 1.5, "step": 20}
])");
  CHECK(detect_log_format(records) == LogFormat::json_records);
  const Run list = read_log(records);
  CHECK(list.step_name == "step");
  CHECK(series(list, "loss").steps == std::vector<std::int64_t>{10, 20});
  CHECK(recognise_roles(list).val_loss == "eval_loss");
}

TEST_CASE("trainer_state.json: malformed files are refused naming the place", "[hf][errors]") {
  const fs::path dir = gradcheck::test::scratch_dir("hf_bad");
  auto state = [&](const std::string& name, const std::string& history) {
    return write_bytes(dir / name / "trainer_state.json", trainer_state(history));
  };
  const std::string ok = "    {\n      \"loss\": 1.0,\n      \"step\": 1\n    },\n";
  const std::string text = state("text", ok + ok + ok + "    {\n      \"loss\": \"abc\",\n      \"step\": 4\n    }");
  expect_refused(text, "log_history[3].loss: expected a number, found a string");
  expect_refused(state("bool", "    {\"grad_norm\": true, \"step\": 1}"), "log_history[0].grad_norm: expected a number, found a boolean");
  expect_refused(state("list", "    {\"learning_rate\": [1], \"step\": 1}"), "log_history[0].learning_rate: expected a number, found a list");
  expect_refused(state("nostep", ok + "    {\"loss\": 1.0}"), "log_history[1]: no step");
  expect_refused(state("floatstep", "    {\"loss\": 1.0, \"step\": 1.5}"), "log_history[0].step: expected an integer step, found '1.5'");
  expect_refused(state("hugestep", "    {\"loss\": 1.0, \"step\": 18446744073709551615}"), "log_history[0].step: expected an integer step");
  expect_refused(state("notobject", ok + "    7"), "log_history[1]: expected an object, found a number");
  expect_refused(write_bytes(dir / "nohistory" / "trainer_state.json", "{\"global_step\": 3}\n"),
                 "no log_history: not a Hugging Face trainer_state.json");
  expect_refused(write_bytes(dir / "historymap" / "trainer_state.json", "{\"log_history\": {}}\n"),
                 "log_history: expected a list, found an object");
  expect_refused(write_bytes(dir / "array" / "trainer_state.json", "[1, 2]\n"), "expected a JSON object with log_history");
  expect_refused(write_bytes(dir / "empty" / "trainer_state.json", ""), "empty file");
  // Syntax errors at their place in the file as written: the NaN before the
  // error on the same line is not counted twice.
  const std::string syntax = write_bytes(dir / "syntax" / "trainer_state.json",
                                   "{\n  \"log_history\": [\n    {\"loss\": NaN, \"step\": 1,}\n  ]\n}\n");
  expect_refused(syntax, "not valid JSON: unexpected '}' at byte 50 (line 3, column 29)");
  expect_refused(write_bytes(dir / "cut" / "trainer_state.json", "{\n  \"log_history\": [\n    {\"loss\": 1."),
                 "not valid JSON: it ends too early");
  expect_refused(write_bytes(dir / "utf8" / "trainer_state.json", "{\"log_history\": [{\"lo\xff\": 1, \"step\": 1}]}"),
                 "not valid JSON: unexpected byte \\xff");
  // Given the folder, the refusal names the file inside it.
  const std::string folder = (dir / "text").string();
  expect_refused([&] { (void)read_log(folder); }, text, "log_history[3].loss");
  const std::string none = gradcheck::test::scratch_dir("hf_none").string();
  expect_refused([&] { (void)read_trainer_state(none); }, none, "holds no trainer_state.json");
  // A JSON document that is no log known here.
  expect_refused(write_bytes(dir / "other.json", "{\n  \"model\": \"bert\",\n  \"layers\": 12\n}\n"),
                 "a JSON document that is no training log known here");
}

TEST_CASE("trainer_state.json: the model's config.json beside it gives the class count", "[hf][context]") {
  const fs::path dir = gradcheck::test::scratch_dir("hf_context");
  const std::string entry = "    {\n      \"loss\": 1.0,\n      \"step\": 1\n    }";
  // A checkpoint folder holding `config`, read as its trainer_state.json.
  auto context = [&](const std::string& name, const std::string& config) {
    write_bytes(dir / name / "trainer_state.json", trainer_state(entry));
    write_bytes(dir / name / "config.json", config);
    return read_log_context((dir / name / "trainer_state.json").string());
  };
  const LogContext gpt2 = context("gpt2", R"({"architectures": ["GPT2LMHeadModel"], "vocab_size": 50257})");
  CHECK(gpt2.classes == 50257);
  CHECK(gpt2.base_model.empty());
  REQUIRE(gpt2.notes.size() == 1);
  CHECK(gpt2.notes[0] == (dir / "gpt2" / "config.json").string() +
                             ": a language model (GPT2LMHeadModel) over 50257 tokens, so 50257 classes "
                             "(--classes overrides)");
  CHECK(context("t5", R"({"architectures": ["T5ForConditionalGeneration"], "vocab_size": 32128})").classes == 32128);
  CHECK(context("llava", R"({"architectures": ["LlavaForConditionalGeneration"], "text_config": {"vocab_size": 32064}})")
            .classes == 32064);
  CHECK(context("bert-mlm", R"({"architectures": ["BertForMaskedLM"], "vocab_size": 30522})").classes == 30522);
  // A classifier: its labels, not its vocabulary.
  CHECK(context("three", R"({"architectures": ["BertForSequenceClassification"], "vocab_size": 30522,
    "id2label": {"0": "neg", "1": "neu", "2": "pos"}, "problem_type": "single_label_classification"})")
            .classes == 3);
  CHECK(context("num", R"({"architectures": ["ViTForImageClassification"], "num_labels": 10})").classes == 10);
  const LogContext binary = context("default", R"({"architectures": ["BertForSequenceClassification"], "vocab_size": 30522})");
  CHECK(binary.classes == 2);
  REQUIRE(binary.notes.size() == 1);
  CHECK_THAT(binary.notes[0], Catch::Contains("2 labels (transformers' default: the config names none)"));
  // No cross-entropy over the labels, or nothing that says what the loss is over.
  CHECK(context("regression", R"({"architectures": ["BertForSequenceClassification"], "num_labels": 1,
    "problem_type": "regression"})").classes == 0);
  CHECK(context("multilabel", R"({"architectures": ["BertForSequenceClassification"], "num_labels": 5,
    "problem_type": "multi_label_classification"})").classes == 0);
  CHECK(context("qa", R"({"architectures": ["DistilBertForQuestionAnswering"], "vocab_size": 30522})").classes == 0);
  CHECK(context("noarch", R"({"model_type": "gpt2", "vocab_size": 50257})").classes == 0);
  CHECK(context("both", R"({"architectures": ["GPT2LMHeadModel", "GPT2ForSequenceClassification"], "vocab_size": 50257})")
            .classes == 0);
  CHECK(context("novocab", R"({"architectures": ["GPT2LMHeadModel"], "vocab_size": "many"})").classes == 0);
  // A config that cannot be used is left out with a note; the log is still read.
  const LogContext broken = context("broken", "{\"architectures\": [\"GPT2LMHeadModel\"], \"vocab_size\": 5");
  CHECK(broken.classes == 0);
  REQUIRE(broken.notes.size() == 1);
  CHECK_THAT(broken.notes[0], Catch::StartsWith((dir / "broken" / "config.json").string() + " is left out: not valid JSON"));
  const LogContext list = context("list", "[1, 2]");
  REQUIRE(list.notes.size() == 1);
  CHECK_THAT(list.notes[0], Catch::EndsWith("is left out: a list, not a JSON object"));
  CHECK(read_log((dir / "broken").string()).find("loss") != nullptr);
  // The folder read_log reads: a checkpoint's, or an output folder's latest checkpoint's.
  write_bytes(dir / "out" / "checkpoint-10" / "trainer_state.json", trainer_state(entry));
  write_bytes(dir / "out" / "checkpoint-20" / "trainer_state.json", trainer_state(entry));
  write_bytes(dir / "out" / "checkpoint-20" / "config.json", R"({"architectures": ["GPT2LMHeadModel"], "vocab_size": 7})");
  CHECK(read_log_context((dir / "out").string()).classes == 7);
  CHECK(read_log_context((dir / "out" / "checkpoint-20").string()).classes == 7);
  CHECK(read_log_context((dir / "out" / "checkpoint-10").string()).classes == 0);
  // Other logs have no context, whatever lies beside them.
  write_bytes(dir / "csv" / "config.json", R"({"architectures": ["GPT2LMHeadModel"], "vocab_size": 50257})");
  const std::string csv = write_bytes(dir / "csv" / "metrics.csv", "step,loss\n1,2.0\n");
  CHECK(read_log_context(csv).classes == 0);
  CHECK(read_log_context(csv).notes.empty());
  CHECK(read_log_context((dir / "missing" / "trainer_state.json").string()).notes.empty());
}

TEST_CASE("trainer_state.json: a PEFT adapter_config.json beside it says the run starts from a trained model", "[hf][context]") {
  const fs::path dir = gradcheck::test::scratch_dir("hf_adapter");
  auto context = [&](const std::string& name, const std::string& adapter) {
    const std::string state = write_bytes(dir / name / "trainer_state.json", trainer_state("    {\"loss\": 1.0, \"step\": 1}"));
    write_bytes(dir / name / "adapter_config.json", adapter);
    return read_log_context(state);
  };
  const LogContext lora = context("lora", R"({"base_model_name_or_path": "distilgpt2", "peft_type": "LORA",
    "task_type": "CAUSAL_LM", "modules_to_save": null, "r": 8})");
  CHECK(lora.base_model == "distilgpt2");
  REQUIRE(lora.notes.size() == 1);
  CHECK(lora.notes[0] == (dir / "lora" / "adapter_config.json").string() +
                             ": a LORA adapter over distilgpt2, so the run starts from a trained model");
  // A head trained from scratch beside the adapter: the loss starts where a fresh model's does.
  const LogContext head = context("head", R"({"base_model_name_or_path": "roberta-base", "peft_type": "LORA",
    "task_type": "SEQ_CLS", "modules_to_save": ["classifier", "score"]})");
  CHECK(head.base_model.empty());
  REQUIRE(head.notes.size() == 1);
  CHECK_THAT(head.notes[0], Catch::Contains("with a head trained from scratch (modules_to_save: classifier, score)"));
  CHECK(context("seqcls", R"({"base_model_name_or_path": "bert-base-uncased", "peft_type": "LORA", "task_type": "SEQ_CLS"})")
            .base_model.empty());
  CHECK(context("nobase", R"({"peft_type": "IA3", "task_type": "CAUSAL_LM"})").base_model == "a pretrained model");
  // Long names are cut, at a character, and at most four modules are named.
  const LogContext many = context("many", "{\"base_model_name_or_path\": \"" + std::string(79, 'x') +
                                              "\u00e9\u00e9\", \"peft_type\": \"LORA\", \"modules_to_save\": "
                                              "[\"a\", \"b\", \"c\", \"d\", \"e\", \"f\"]}");
  REQUIRE(many.notes.size() == 1);
  CHECK_THAT(many.notes[0], Catch::Contains(" over " + std::string(79, 'x') + "... with a head trained from scratch "
                                            "(modules_to_save: a, b, c, d, ...)"));
  const LogContext other = context("other", R"({"rank": 4})");
  CHECK(other.base_model.empty());
  CHECK(other.notes.empty());
}

TEST_CASE("trainer_state.json: the real LoRA fine-tune of DistilGPT2 improves little and is no plateau", "[hf][context][real]") {
  using namespace gradcheck::diag;
  const std::string checkpoint = kReal + "dyt-nonorm-lora/checkpoint-18991";
  const Report report = diagnose_sources({checkpoint});
  REQUIRE(report.runs.size() == 1);
  const RunDiagnosis& run = report.runs[0];
  CHECK(run.healthy());
  auto has_note = [&](const RunDiagnosis& r, const std::string& text) {
    return std::any_of(r.notes.begin(), r.notes.end(),
                       [&](const std::string& n) { return n.find(text) != std::string::npos; });
  };
  CHECK(has_note(run, "adapter_config.json: a LORA adapter over distilgpt2, so the run starts from a trained model"));
  CHECK(has_note(run, "but the run starts from a trained model"));
  // The same log without its folder (the adapter unknown), and with --from-scratch:
  // a loss that never fell 10% below its start 2.15 (above 0.8 ln 2).
  const fs::path copy = gradcheck::test::scratch_dir("hf_lora_copy") / "trainer_state.json";
  write_bytes(copy, read_bytes(checkpoint + "/trainer_state.json"));
  const Report bare = diagnose_sources({copy.string()});
  REQUIRE(bare.runs[0].symptoms.size() == 1);
  CHECK(bare.runs[0].symptoms[0].kind == SymptomKind::plateau);
  DiagnoseOptions scratch;
  scratch.from_scratch = true;
  const Report fresh = diagnose_sources({checkpoint}, {}, scratch);
  REQUIRE(fresh.runs[0].symptoms.size() == 1);
  CHECK(fresh.runs[0].symptoms[0].kind == SymptomKind::plateau);
}

TEST_CASE("trainer_state.json: a classifier held at ln C is a plateau once config.json gives C", "[hf][context]") {
  using namespace gradcheck::diag;
  // A 3-class classifier's loss falls from 2.2 (a poor initialisation) to 4%
  // above ln 3 and sits there, swinging by 2%: a uniform guess, which only the
  // class count shows.
  const fs::path dir = gradcheck::test::scratch_dir("hf_chance");
  std::string history;
  std::mt19937 rng(7);
  std::normal_distribution<double> noise(0.0, 0.02);
  const double held = 1.04 * std::log(3.0);
  for (int step = 1; step <= 200; ++step) {
    const double level = held + (2.2 - held) * std::exp(-step / 10.0);
    history += std::string(history.empty() ? "" : ",\n") + "    {\"loss\": " + std::to_string(level + noise(rng)) +
               ", \"step\": " + std::to_string(step) + "}";
  }
  write_bytes(dir / "checkpoint-200" / "trainer_state.json", trainer_state(history));
  const Report unknown = diagnose_sources({dir.string()});
  CHECK(unknown.runs[0].healthy());
  write_bytes(dir / "checkpoint-200" / "config.json",
              R"({"architectures": ["BertForSequenceClassification"], "id2label": {"0": "a", "1": "b", "2": "c"}})");
  const Report known = diagnose_sources({dir.string()});
  REQUIRE(known.runs[0].symptoms.size() == 1);
  CHECK(known.runs[0].symptoms[0].kind == SymptomKind::plateau);
  CHECK_THAT(known.runs[0].symptoms[0].evidence, Catch::Contains("ln(3)"));
  // --classes says otherwise: the user's word wins.
  DiagnoseOptions ten;
  ten.classes = 10;
  CHECK(diagnose_sources({dir.string()}, {}, ten).runs[0].healthy());
}

// --- Keras History ------------------------------------------------------------

TEST_CASE("Keras History: one value per epoch, the epoch index as the step", "[keras]") {
  const std::string file = kData + "keras_history.json";
  CHECK(detect_log_format(file) == LogFormat::keras_history);
  const Run run = read_log(file);
  CHECK(run.step_name == "epoch");
  CHECK(run.metric_names() == std::vector<std::string>{"accuracy", "loss", "val_accuracy", "val_loss"});
  const Series& loss = series(run, "loss");
  CHECK(loss.size() == 30);
  CHECK(loss.steps.front() == 0);
  CHECK(loss.steps.back() == 29);
  const Roles roles = recognise_roles(run);
  CHECK(roles.loss == "loss");
  CHECK(roles.val_loss == "val_loss");
  CHECK(gradcheck::diag::diagnose(run).healthy());
  CHECK(read_keras_history(file).find("val_loss")->values == series(run, "val_loss").values);

  // Saved through pandas: epochs as keys, a missing value as null.
  const Run pandas = read_log(kData + "keras_history_pandas.json");
  CHECK(series(pandas, "loss").size() == 10);
  CHECK(series(pandas, "val_loss").size() == 9);
  CHECK(series(pandas, "val_loss").steps.back() == 8);
  CHECK(series(pandas, "loss").values == std::vector<double>(loss.values.begin(), loss.values.begin() + 10));

  // Pretty-printed, with NaN, and a learning rate to use as the step.
  const fs::path dir = gradcheck::test::scratch_dir("keras");
  const std::string pretty = write_bytes(dir / "history.json",
                                   "{\n  \"loss\": [\n    1.5,\n    NaN,\n    0.5\n  ],\n  \"lr\": [0.1, 0.1, 0.01],\n"
                                   "  \"round\": [10, 20, 30]\n}\n");
  CHECK(detect_log_format(pretty) == LogFormat::keras_history);
  const Run p = read_log(pretty);
  CHECK(std::isnan(series(p, "loss").values[1]));
  CHECK(recognise_roles(p).lr == "lr");
  ReadOptions o;
  o.step_column = "round";
  const Run by_round = read_keras_history(pretty, o);
  CHECK(by_round.step_name == "round");
  CHECK(series(by_round, "loss").steps == std::vector<std::int64_t>{10, 20, 30});
  CHECK(by_round.find("round") == nullptr);
  o.step_column = "nope";
  expect_refused([&] { (void)read_keras_history(pretty, o); }, pretty, "step metric 'nope' is not in the history");

  // A hand-made loop's history (as a public bike-share GNN saves it): an
  // epoch's metrics as one object, each number a metric of its own.
  const std::string objects = write_bytes(
      dir / "objects.json",
      R"({"train_loss": [1.03, 0.99, 0.94], "val_loss": [0.54, 0.52, 0.51],)"
      R"( "train_metrics": [{"mse": 1.03, "r2": -0.61, "split": "train"}, {"mse": 0.99, "r2": -0.5},)"
      R"( {"mse": 0.94, "r2": -0.4, "per_station": {"a": 0.5}}], "learning_rates": [0.0003, 0.0003, 0.0003]})");
  CHECK(detect_log_format(objects) == LogFormat::keras_history);
  const Run h = read_log(objects);
  CHECK(h.metric_names() == std::vector<std::string>{"learning_rates", "train_loss", "train_metrics/mse",
                                                     "train_metrics/r2", "train_metrics/per_station/a", "val_loss"});
  CHECK(series(h, "train_metrics/r2").values == std::vector<double>{-0.61, -0.5, -0.4});
  CHECK(series(h, "train_metrics/per_station/a").steps == std::vector<std::int64_t>{2});
  CHECK(recognise_roles(h).loss == "train_loss");
  CHECK(recognise_roles(h).val_loss == "val_loss");
}

TEST_CASE("Keras History: a hand-made history's description beside its lists is left out", "[keras]") {
  // As a fine-tuning script saves it: the backbone, the class names, the
  // phases' first epochs and the test accuracy beside the per-epoch lists.
  const fs::path dir = gradcheck::test::scratch_dir("keras_metadata");
  const std::string file = write_bytes(
      dir / "training_history.json",
      R"({"timestamp": "2026-04-11T19:42:23", "backbone": "EfficientNet-B0", "img_size": 96,)"
      R"( "classes": ["angry", "happy", "sad"], "phase_starts": [0, 2], "phase_labels": ["head", "full"],)"
      R"( "train_loss": [1.05, 0.98, 0.91, 0.85], "val_loss": [1.0, 0.97, 0.93, 0.9], "pretrained": true,)"
      R"( "notes": null, "test_acc": 72.7})");
  CHECK(detect_log_format(file) == LogFormat::keras_history);
  const Run run = read_log(file);
  CHECK(run.metric_names() == std::vector<std::string>{"phase_starts", "train_loss", "val_loss"});
  CHECK(series(run, "val_loss").steps == std::vector<std::int64_t>{0, 1, 2, 3});
  CHECK(recognise_roles(run).loss == "train_loss");
  // One list beside the description is no history (a model's config.json, a
  // JSON Lines record holding a list); a list mixing numbers and text is
  // still refused.
  const std::string config =
      write_bytes(dir / "config.json", R"({"model_type": "gpt2", "n_layer": 2, "layer_sizes": [64, 32]})");
  CHECK(detect_log_format(config) != LogFormat::keras_history);
  expect_refused(write_bytes(dir / "mixed.json", R"({"name": "x", "loss": [1.0, 0.9], "val_loss": [1.1, "high"]})"),
                 "val_loss[1]: expected a number, found a string");
}

TEST_CASE("Keras History: a value that is no number is refused naming the metric and epoch", "[keras][errors]") {
  const fs::path dir = gradcheck::test::scratch_dir("keras_bad");
  expect_refused(write_bytes(dir / "text.json", R"({"loss": [1.0, 0.9], "val_loss": [1.1, 1.0, 0.95, "high"]})"),
                 "val_loss[3]: expected a number, found a string");
  expect_refused(write_bytes(dir / "nested.json", R"({"loss": [1.0, [0.9]]})"), "loss[1]: expected a number, found a list");
  expect_refused(write_bytes(dir / "key.json", "{\"loss\": {\"0\": 1.0, \"1\": true}}"),
                 "loss[\"1\"]: expected a number, found a boolean");
  const std::string p = write_bytes(dir / "h.json", R"({"loss": [1.0, 0.9]})");
  expect_refused([&] { (void)read_keras_history(write_bytes(dir / "scalar.json", R"({"loss": 1.0})")); },
                 (dir / "scalar.json").string(), "loss: expected a list of per-epoch values, found a number");
  expect_refused([&] { (void)read_keras_history(write_bytes(dir / "keys.json", R"({"loss": {"zero": 1.0}})")); },
                 (dir / "keys.json").string(), "loss: key 'zero' is not an epoch number");
  CHECK(read_log(p).find("loss")->size() == 2);
}

// --- MLflow file store --------------------------------------------------------

TEST_CASE("MLflow: a run's metric files, names with '/', nan, the roles", "[mlflow]") {
  const Run run = read_mlflow_run(kHealthyRun);
  CHECK(run.step_name == "step");
  CHECK(run.metric_names() ==
        std::vector<std::string>{"epoch", "eval_loss", "eval_runtime", "grad_norm", "learning_rate", "loss"});
  const Series& loss = series(run, "loss");
  CHECK(loss.size() == 60);
  CHECK(loss.steps.front() == 10);
  CHECK(loss.steps.back() == 600);
  CHECK(series(run, "eval_loss").size() == 12);
  Roles roles = recognise_roles(run);
  CHECK(roles.loss == "loss");
  CHECK(roles.val_loss == "eval_loss");
  CHECK(roles.grad_norm == "grad_norm");
  CHECK(roles.lr == "learning_rate");

  const Run lightning = read_mlflow_run(kNanRun);
  CHECK(lightning.metric_names() == std::vector<std::string>{"epoch", "train/loss", "val/loss"});
  const Series& tl = series(lightning, "train/loss");
  CHECK(tl.size() == 80);
  CHECK(std::count_if(tl.values.begin(), tl.values.end(), [](double v) { return std::isnan(v); }) == 14);
  roles = recognise_roles(lightning);
  CHECK(roles.loss == "train/loss");
  CHECK(roles.val_loss == "val/loss");

  // The epoch metric as the step.
  ReadOptions o;
  o.step_column = "epoch";
  const Run by_epoch = read_mlflow_run(kNanRun, o);
  CHECK(by_epoch.step_name == "epoch");
  CHECK(series(by_epoch, "train/loss").steps.front() == 0);
  CHECK(series(by_epoch, "train/loss").steps.back() == 3);
}

TEST_CASE("MLflow: a store, an experiment and a run folder, deleted runs left out, notes", "[mlflow][dirs]") {
  const std::string store = kData + "mlruns";
  for (const std::string& p : {store, store + "/1", kHealthyRun}) {
    INFO(p);
    CHECK(detect_log_format(p) == LogFormat::mlflow);
  }
  for (const std::string& p : {store, store + "/", store + "/1"}) {
    INFO(p);
    const auto sources = expand_log_sources({p});
    REQUIRE(sources.size() == 2);  // the deleted run is left out, the Default experiment has none
    CHECK(fs::path(sources[0].path) == fs::path(kHealthyRun));  // started first
    CHECK(sources[0].note == "MLflow run 'gentle-owl-512' of experiment 'sst2-finetune'");
    CHECK(fs::path(sources[1].path) == fs::path(kNanRun));
    CHECK(sources[1].note == "MLflow run 'bold-crane-77' of experiment 'sst2-finetune'");
  }
  const auto one = expand_log_sources({kHealthyRun});
  REQUIRE(one.size() == 1);
  CHECK(one[0].path == kHealthyRun);
  CHECK(one[0].note == "MLflow run 'gentle-owl-512' of experiment 'sst2-finetune'");
  // read_log reads a run folder as itself; a store of several runs is for expand_log_sources.
  const Run run = read_log(kHealthyRun);
  CHECK(run.source == kHealthyRun);
  CHECK(series(run, "loss").size() == 60);
  expect_refused(store, "holds 2 MLflow runs: give one run's folder");

  // A store of one live run reads as that run; of none, it says so.
  const fs::path copy = gradcheck::test::scratch_dir("mlruns_one");
  fs::copy(store, copy, fs::copy_options::recursive);
  fs::remove_all(copy / "1" / "c41d7a9e2b5f4c08a6e3d9b1f7a2c5e4");
  const Run single = read_log(copy.string());
  CHECK(single.source == copy.string());
  CHECK(series(single, "loss").size() == 60);
  fs::remove_all(copy / "1" / "8f2b6e0c4d1a4b7e9c3f5a2d1e0b9c8a");
  expect_refused(copy.string(), "holds no MLflow run with metrics");
  CHECK(expand_log_sources({copy.string()})[0].path == copy.string());
  // The deleted run itself still reads when named.
  CHECK(read_log((copy / "1" / "0a9e8d7c6b5a4f3e2d1c0b9a8f7e6d5c").string()).find("loss")->size() == 2);
}

TEST_CASE("Lightning CSVLogger: a version folder is its metrics.csv, lightning_logs/ each version's", "[csv][dirs]") {
  // <save_dir>/lightning_logs/version_N/{metrics.csv,hparams.yaml}, as
  // Lightning's CSVLogger writes them: rows of step metrics and rows of
  // epoch metrics, sparse.
  const fs::path logs = gradcheck::test::scratch_dir("lightning_csv") / "lightning_logs";
  auto version = [&](const std::string& name, int epochs) {
    std::string csv = "epoch,step,train_loss,val_loss\n";
    for (int e = 0; e < epochs; ++e) {
      csv += std::to_string(e) + "," + std::to_string(10 * e + 9) + "," + std::to_string(1.0 / (1 + e)) + ",\n";
      csv += std::to_string(e) + "," + std::to_string(10 * e + 9) + ",," + std::to_string(1.2 / (1 + e)) + "\n";
    }
    fs::create_directories(logs / name);
    write_bytes(logs / name / "hparams.yaml", "lr: 0.001\n");
    return write_bytes(logs / name / "metrics.csv", csv);
  };
  const std::string v0 = version("version_0", 12), v2 = version("version_2", 15), v10 = version("version_10", 20);
  fs::create_directories(logs / "version_5");  // a run that wrote nothing yet

  // A version folder reads as its metrics.csv, named as the file read.
  CHECK(detect_log_format((logs / "version_2").string()) == detect_log_format(v2));
  const Run run = read_log((logs / "version_2").string());
  CHECK(run.source == v2);
  CHECK(series(run, "train_loss").size() == 15);
  const auto own = expand_log_sources({(logs / "version_2").string()});
  REQUIRE(own.size() == 1);
  CHECK(own[0].path == (logs / "version_2").string());
  CHECK(own[0].note.empty());

  // lightning_logs/ becomes each version's file, by number, each with a note.
  const auto sources = expand_log_sources({logs.string()});
  REQUIRE(sources.size() == 3);
  CHECK(sources[0].path == v0);
  CHECK(sources[1].path == v2);
  CHECK(sources[2].path == v10);
  CHECK(sources[2].note == "version_10, one of 3 CSVLogger runs in " + logs.string());
  expect_refused(logs.string(), "holds 3 CSVLogger runs (version_0 to version_10): give one run's folder");
  const auto report = gradcheck::diag::diagnose_sources({logs.string()});
  REQUIRE(report.runs.size() == 3);
  CHECK(report.runs[2].steps == 20);

  // A folder of TensorBoard events is read as one TensorBoard run, as before.
  write_bytes(logs / "events.out.tfevents.1.host", "");
  CHECK(detect_log_format(logs.string()) == LogFormat::tfevents);
  CHECK(expand_log_sources({logs.string()})[0].path == logs.string());
}

TEST_CASE("MLflow: early two-field lines are at step 0, blank lines and CRLF are fine", "[mlflow]") {
  const fs::path run = gradcheck::test::scratch_dir("mlflow_old");
  write_bytes(run / "meta.yaml", "run_uuid: abc\nlifecycle_stage: active\n");
  write_bytes(run / "metrics" / "loss", "1500000000000 0.5\r\n\r\n1500000000001 0.25\r\n");
  write_bytes(run / "metrics" / ".DS_Store", "junk");
  write_bytes(run / "metrics" / "acc", "1500000000000  0.5   3\n1500000000001\t1e-05\t4\n1500000000002 -inf 5\n");
  const Run r = read_log(run.string());
  CHECK(series(r, "loss").steps == std::vector<std::int64_t>{0, 0});
  CHECK(series(r, "loss").values == std::vector<double>{0.5, 0.25});
  CHECK(series(r, "acc").values == std::vector<double>{0.5, 1e-05, -INFINITY});
  CHECK(r.metric_names() == std::vector<std::string>{"acc", "loss"});
  CHECK(expand_log_sources({run.string()})[0].note == "MLflow run " + run.filename().string());
}

TEST_CASE("MLflow: a malformed metric file is refused naming the file and the line", "[mlflow][errors]") {
  const fs::path run = gradcheck::test::scratch_dir("mlflow_bad");
  write_bytes(run / "meta.yaml", "run_name: r\n");
  const std::string loss = write_bytes(run / "metrics" / "train" / "loss", "1 0.5 0\n2 0.4 1 extra\n");
  expect_refused([&] { (void)read_log(run.string()); }, loss, "line 2: expected 'timestamp value step', found 4 fields");
  write_bytes(loss, "1 0.5 0\n1\n");
  expect_refused([&] { (void)read_log(run.string()); }, loss, "line 2: expected 'timestamp value step', found 1 field");
  write_bytes(loss, "1 abc 0\n");
  expect_refused([&] { (void)read_log(run.string()); }, loss, "line 1: value 'abc' is not a number");
  write_bytes(loss, "1 0.5 1.5\n");
  expect_refused([&] { (void)read_log(run.string()); }, loss, "line 1: step '1.5' is not an integer");
  write_bytes(loss, "x 0.5 1\n");
  expect_refused([&] { (void)read_log(run.string()); }, loss, "line 1: timestamp 'x' is not an integer");
  write_bytes(loss, "1 0.5 \xff\xfe\n");
  expect_refused([&] { (void)read_log(run.string()); }, loss, "line 1: step '\\xff\\xfe' is not an integer");
  fs::remove_all(run / "metrics");
  fs::create_directories(run / "metrics");
  expect_refused([&] { (void)read_mlflow_run(run.string()); }, run.string(), "metrics/ holds no metric file");
  const std::string none = gradcheck::test::scratch_dir("mlflow_none").string();
  expect_refused([&] { (void)read_mlflow_run(none); }, none, "no metrics folder: not an MLflow run");
}

// --- W&B ----------------------------------------------------------------------

TEST_CASE("DVCLive: plots/metrics tables by name, the timestamp left out, the roles, from any of three folders",
          "[dvclive]") {
  // Live.log_metric("train/loss", ...) and ("val/loss", ...) with timestamps,
  // and a top-level "lr" without: plots/metrics/train/loss.tsv, val/loss.tsv
  // and lr.tsv, tab-separated.
  const fs::path project = gradcheck::test::scratch_dir("dvclive_project");
  const fs::path metrics = project / "dvclive" / "plots" / "metrics";
  fs::create_directories(metrics / "train");
  fs::create_directories(metrics / "val");
  std::string train = "timestamp\tstep\tloss\n", val = "timestamp\tstep\tloss\n", lr = "step\tlr\n";
  for (int s = 0; s < 6; ++s) {
    const std::string t = std::to_string(1623671484747 + 100 * s);
    train += t + "\t" + std::to_string(s) + "\t" + std::to_string(1.0 / (s + 1)) + "\n";
    if (s % 2 == 1) val += t + "\t" + std::to_string(s) + "\t" + std::to_string(1.2 / (s + 1)) + "\n";
    lr += std::to_string(s) + "\t0.001\n";
  }
  write_bytes(metrics / "train" / "loss.tsv", train);
  write_bytes(metrics / "val" / "loss.tsv", val);
  write_bytes(metrics / "lr.tsv", lr);
  write_bytes(project / "dvclive" / "metrics.json", "{\"step\": 5, \"train\": {\"loss\": 0.1667}}");
  for (const fs::path& where : {project, project / "dvclive", metrics.parent_path() / "metrics/"}) {
    INFO(where);
    CHECK(detect_log_format(where.string()) == LogFormat::dvclive);
    const Run run = read_log(where.string());
    CHECK(run.metric_names() == std::vector<std::string>{"lr", "train/loss", "val/loss"});
    CHECK(series(run, "train/loss").steps == std::vector<std::int64_t>{0, 1, 2, 3, 4, 5});
    CHECK(series(run, "val/loss").steps == std::vector<std::int64_t>{1, 3, 5});
    CHECK(series(run, "val/loss").values[0] == Approx(0.6));
    const Roles roles = recognise_roles(run);
    CHECK(roles.loss == "train/loss");
    CHECK(roles.val_loss == "val/loss");
    CHECK(roles.lr == "lr");
  }
  CHECK(std::string(format_name(LogFormat::dvclive)) == "DVCLive metrics");
  // A table without its step column, and a malformed line, name the table.
  const fs::path bad = gradcheck::test::scratch_dir("dvclive_bad");
  fs::create_directories(bad / "plots" / "metrics");
  write_bytes(bad / "plots" / "metrics" / "loss.tsv", "timestamp\tloss\n1\t0.5\n");
  const std::string table = (bad / "plots" / "metrics" / "loss.tsv").string();
  CHECK_THROWS_WITH(read_log(bad.string()), Catch::StartsWith(table + ": no step column"));
  write_bytes(table, "step\tloss\n0\t0.5\n1\t0.4\t9\n");
  CHECK_THROWS_WITH(read_log(bad.string()),
                    Catch::StartsWith(table + ": line 3: expected 2 fields as in the header, found 3"));
}

TEST_CASE("CSV: a header without commas but with tabs or semicolons sets the separator", "[csv]") {
  const fs::path dir = gradcheck::test::scratch_dir("separators");
  for (const auto& [name, text] : {std::pair<std::string, std::string>{"tabs.tsv", "epoch\tloss\tval_loss\n0\t1.5\t\n1\t1.0\t1.2\n"},
                                   {"semis.csv", "epoch;loss;val_loss\n0;1.5;\n1;1.0;1.2\n"},
                                   {"quoted.tsv", "\"epoch\"\t\"loss\"\t\"val_loss\"\n0\t1.5\t\n1\t\"1.0\"\t1.2\n"}}) {
    INFO(name);
    const Run run = read_log(write_bytes(dir / name, text));
    CHECK(run.step_name == "epoch");
    CHECK(series(run, "loss").values == std::vector<double>{1.5, 1.0});
    CHECK(series(run, "val_loss").steps == std::vector<std::int64_t>{1});
  }
  // A comma in the header keeps commas, even beside tabs.
  const Run commas = read_log(write_bytes(dir / "mixed.csv", "step,loss\tnote\n0,0.5\n1,0.25\n"));
  REQUIRE(commas.series.size() == 1);  // named "loss<tab>note", the tab escaped as names are
  CHECK(commas.series[0].values == std::vector<double>{0.5, 0.25});
}

TEST_CASE("CSV long table: a metric column and a value column, one value a row, the split a prefix", "[csv][long]") {
  // As pandas writes a melted frame: its unnamed row index first.
  const Run run = read_log(kData + "long_table.csv");
  CHECK(run.step_name == "epoch");
  CHECK(run.metric_names() == std::vector<std::string>{"loss", "accuracy", "val_loss", "val_accuracy"});
  CHECK(series(run, "loss").size() == 30);
  CHECK(series(run, "val_loss").steps.front() == 1);
  CHECK(series(run, "val_loss").steps.back() == 30);
  const Roles roles = recognise_roles(run);
  CHECK(roles.loss == "loss");
  CHECK(roles.val_loss == "val_loss");
  CHECK(gradcheck::diag::diagnose(run).symptoms.size() == 1);  // the validation loss turns up after epoch 20

  const fs::path dir = gradcheck::test::scratch_dir("long_table");
  // Any case; wall-clock time left out; an empty step belongs to the last step;
  // an empty value is no point; test and other splits, and no split at all.
  const Run mixed = read_log(write_bytes(dir / "mixed.csv",
                                         "Step,Wall_Time,Phase,Tag,Value\n"
                                         "0,1.7e9,train,loss,2.5\n,1.7e9,validation,loss,2.6\n"
                                         "1,1.7e9,train,loss,\n1,1.7e9,test,loss,2.2\n2,1.7e9,holdout,loss,2.1\n"
                                         "2,1.7e9,training,loss,1.5\n"));
  CHECK(mixed.step_name == "Step");
  CHECK(mixed.metric_names() == std::vector<std::string>{"loss", "val_loss", "test_loss", "holdout_loss"});
  CHECK(series(mixed, "loss").steps == std::vector<std::int64_t>{0, 2});
  CHECK(series(mixed, "val_loss").steps == std::vector<std::int64_t>{0});
  const Run plain = read_log(write_bytes(dir / "plain.csv", "iteration,name,value\n10,loss,1.5\n20,loss,1.25\n"));
  CHECK(plain.metric_names() == std::vector<std::string>{"loss"});
  CHECK(series(plain, "loss").steps == std::vector<std::int64_t>{10, 20});
  // Another column beside them, or no step column: a wide table, as before.
  const Run wide = read_log(write_bytes(dir / "wide.csv", "step,metric,value,lr\n0,loss,1.5,0.1\n1,loss,1.0,0.1\n"));
  CHECK(wide.metric_names() == std::vector<std::string>{"value", "lr"});
  const Run stepless = read_log(write_bytes(dir / "stepless.csv", "metric,value\nloss,1.5\nloss,1.0\n"));
  CHECK(stepless.metric_names() == std::vector<std::string>{"value"});
}

TEST_CASE("CSV long table: a value that is no number, a value without a metric, a short row name the line",
          "[csv][long][errors]") {
  const fs::path dir = gradcheck::test::scratch_dir("long_table_errors");
  expect_refused(write_bytes(dir / "text.csv", "epoch,metric,value\n1,loss,0.5\n2,loss,high\n"),
                 "line 3: 'high' in column 'value' is not a number");
  expect_refused(write_bytes(dir / "unnamed.csv", "epoch,metric,value\n1,loss,0.5\n2,,0.4\n"),
                 "line 3: a value without a metric name in column 'metric'");
  expect_refused(write_bytes(dir / "short.csv", "epoch,metric,value\n1,loss,0.5\n\n2,loss\n"),
                 "line 4: expected 3 fields as in the header, found 2");
  expect_refused(write_bytes(dir / "step.csv", "epoch,metric,value\nfirst,loss,0.5\n"),
                 "line 2: step 'first' is not an integer");
}

TEST_CASE("TensorBoard's CSV download: the tag in the file name names the series, wall-clock time left out",
          "[csv][tensorboard]") {
  const Run run = read_log(kData + "run-version_0-tag-train_loss.csv");
  CHECK(run.step_name == "Step");
  CHECK(run.metric_names() == std::vector<std::string>{"train_loss"});
  CHECK(series(run, "train_loss").size() == 100);
  CHECK(series(run, "train_loss").steps.front() == 49);
  CHECK(recognise_roles(run).loss == "train_loss");
  CHECK(gradcheck::diag::diagnose(run).healthy());
  // Without a tag in the name, the file's name.
  const fs::path dir = gradcheck::test::scratch_dir("tb_csv");
  const Run named = read_log(write_bytes(dir / "loss.csv", "Wall time,Step,Value\n1.7e9,0,2.5\n1.7e9,1,2.0\n"));
  CHECK(named.metric_names() == std::vector<std::string>{"loss"});
}

TEST_CASE("W&B history JSON Lines: _step is the step, W&B's bookkeeping and media are no series", "[wandb]") {
  const std::string file = kData + "wandb_history.jsonl";
  CHECK(detect_log_format(file) == LogFormat::jsonl);
  const Run run = read_log(file);
  CHECK(run.step_name == "_step");
  for (const char* absent : {"_runtime", "_timestamp", "_wandb/runtime", "_step", "examples/size", "examples/ncols"}) {
    INFO(absent);
    CHECK(run.find(absent) == nullptr);
  }
  CHECK(series(run, "train/loss").size() == 80);
  CHECK(series(run, "eval/loss").size() == 8);
  CHECK(series(run, "train/loss").steps[1] == 1);
  const Roles roles = recognise_roles(run);
  CHECK(roles.loss == "train/loss");
  CHECK(roles.val_loss == "eval/loss");
  CHECK(roles.grad_norm == "train/grad_norm");
  CHECK(roles.lr == "train/learning_rate");
}

TEST_CASE("W&B history saved by pandas as CSV: _step is the step, _runtime and _timestamp are no series", "[wandb]") {
  const Run run = read_log(kData + "wandb_history.csv");
  CHECK(run.step_name == "_step");
  CHECK(run.find("_runtime") == nullptr);
  CHECK(run.find("_timestamp") == nullptr);
  CHECK(series(run, "loss").size() == 40);
  CHECK(series(run, "val_loss").steps.front() == 3);
  CHECK(recognise_roles(run).val_loss == "val_loss");
}

TEST_CASE("W&B chart export: the run stripped from the names, __MIN/__MAX left out", "[wandb]") {
  const Run run = read_log(kData + "wandb_export.csv");
  CHECK(run.step_name == "Step");
  CHECK(run.metric_names() == std::vector<std::string>{"train/loss", "val/loss"});
  CHECK(series(run, "train/loss").size() == 100);
  CHECK(series(run, "val/loss").size() == 10);
  CHECK(series(run, "val/loss").steps.front() == 45);
  const Roles roles = recognise_roles(run);
  CHECK(roles.loss == "train/loss");
  CHECK(roles.val_loss == "val/loss");
  CHECK(gradcheck::diag::diagnose(run).healthy());

  const fs::path dir = gradcheck::test::scratch_dir("wandb");
  // A run name holding " - ", W&B's _step beside the x-axis, a grouped run.
  const Run dashed = read_csv(write_bytes(dir / "dashed.csv",
                                    "\"Step\",\"lr 1e-3 - seed 2 - _step\",\"lr 1e-3 - seed 2 - _step__MIN\","
                                    "\"lr 1e-3 - seed 2 - _step__MAX\",\"lr 1e-3 - seed 2 - loss\","
                                    "\"lr 1e-3 - seed 2 - loss__MIN\",\"lr 1e-3 - seed 2 - loss__MAX\"\n"
                                    "\"0\",\"0\",\"0\",\"0\",\"2.5\",\"2.5\",\"2.5\"\n\"1\",\"1\",\"1\",\"1\",\"2\",\"2\",\"2\"\n"));
  CHECK(dashed.metric_names() == std::vector<std::string>{"loss"});
  const Run group = read_csv(write_bytes(dir / "group.csv",
                                   "Step,Group: sweep-7 - train/loss,Group: sweep-7 - train/loss__MIN,"
                                   "Group: sweep-7 - train/loss__MAX\n0,1,0.9,1.1\n"));
  CHECK(group.metric_names() == std::vector<std::string>{"train/loss"});
  // Not an export: no companions, or a companion without " - ".
  const Run plain = read_csv(write_bytes(dir / "plain.csv", "step,a - b,x__MIN,x\n0,1,2,3\n"));
  CHECK(plain.metric_names() == std::vector<std::string>{"a - b", "x__MIN", "x"});
}

TEST_CASE("W&B chart export of several runs is refused naming them", "[wandb][errors]") {
  const std::string file = kData + "wandb_export_two_runs.csv";
  expect_refused(file, "line 1: a W&B chart export of 2 runs (brisk-pond-1, swift-sun-2): export one run per file");
  const fs::path dir = gradcheck::test::scratch_dir("wandb_runs");
  std::string header = "Step";
  for (int r = 0; r < 6; ++r)
    for (const char* s : {"", "__MIN", "__MAX"}) header += ",run-" + std::to_string(r) + " - loss" + s;
  expect_refused(write_bytes(dir / "six.csv", header + "\n"), "6 runs (run-0, run-1, run-2, run-3, ...)");
}

// --- printed training logs ----------------------------------------------------

TEST_CASE("Printed logs: a tutorial's loop, its step counted on across epochs from the printed total", "[text]") {
  const std::string file = kData + "printed/tutorial_steps.log";  // Epoch [e/5], Step [s/600], Loss: x
  CHECK(detect_log_format(file) == LogFormat::text);
  const Run run = read_log(file);
  CHECK(run.step_name == "step");
  // The printed epoch is a series of its own, as a CSV logger's column is.
  CHECK(run.metric_names() == std::vector<std::string>{"loss", "epoch"});
  const Series& loss = series(run, "loss");
  REQUIRE(loss.size() == 30);
  CHECK(loss.steps.front() == 100);
  CHECK(loss.steps[6] == 700);  // epoch 2, step 100
  CHECK(series(run, "epoch").steps == loss.steps);
  CHECK(series(run, "epoch").values[6] == 2);
  CHECK(loss.steps.back() == 3000);
  CHECK(gradcheck::diag::diagnose(run).healthy());
}

TEST_CASE("Printed logs: PyTorch's MNIST example, several lines an epoch, its test lines between", "[text]") {
  const Run run = read_log(kData + "printed/mnist_example.log");
  // Ten training lines an epoch: the epoch is no step; each line is one.
  CHECK(run.step_name.empty());
  // `Test set: Average loss: 0.1017`: a line that opens with an evaluation word.
  CHECK(run.metric_names() == std::vector<std::string>{"loss", "test_average_loss"});
  CHECK(series(run, "loss").size() == 140);
  CHECK(series(run, "loss").values.front() == Approx(0.694593));
  CHECK(series(run, "test_average_loss").size() == 14);
  CHECK(series(run, "test_average_loss").steps.front() == 10);  // after the first epoch's ten lines
  CHECK(recognise_roles(run).loss == "loss");
}

TEST_CASE("Printed logs: the MetricLogger of DeiT and its kin: evaluation lines apart, set-up and summaries left out",
          "[text]") {
  const Run run = read_log(kData + "printed/metric_logger.log");
  // `Namespace(..., lr=0.004, ...)` before the first loss is set-up: no point of `lr`.
  CHECK(series(run, "lr").values.front() == Approx(0.00004));
  // `Test:  [0/4] ... loss: 1.31 (1.31)` is the evaluation's; `* Acc@1 86.1 Acc@5 93.2 loss 1.55` says
  // nothing of where it is and is left out; `Averaged stats: ... loss:` closes each epoch.
  CHECK(series(run, "loss").size() == 12 * 6 + 12);
  CHECK(series(run, "test_loss").size() == 12 * 4);
  CHECK(run.find("max_mem") != nullptr);  // `max mem: 7967`
  CHECK(run.find("eta") == nullptr);      // `eta: 0:05:04` is no number
  const Roles roles = recognise_roles(run);
  CHECK(roles.loss == "loss");
  CHECK(roles.val_loss == "test_loss");
  CHECK(roles.grad_norm == "grad_norm");
}

TEST_CASE("Printed logs: Keras's progress bar counts by its last drawing, at the epoch printed above it", "[text]") {
  const Run run = read_log(kData + "printed/keras_progress.log");
  CHECK(run.step_name == "epoch");
  CHECK(run.metric_names() == std::vector<std::string>{"loss", "accuracy", "val_loss", "val_accuracy"});
  const Series& loss = series(run, "loss");
  REQUIRE(loss.size() == 20);
  CHECK(loss.steps.front() == 1);
  CHECK(loss.values.front() == Approx(0.6));  // not the running mean of the first batches (1.0967)
  const auto d = gradcheck::diag::diagnose(run);
  REQUIRE(d.symptoms.size() == 1);
  CHECK(to_string(d.symptoms[0].kind) == std::string("overfitting"));
}

TEST_CASE("Printed logs: a hand-made loop's `train loss 0.52`, other numbers left out", "[text]") {
  const Run run = read_log(kData + "printed/handmade.log");
  CHECK(run.step_name == "epoch");
  // `params: 11.2M` and `lr 0.001` (no separator, not a loss) are no metrics.
  CHECK(run.metric_names() == std::vector<std::string>{"train_loss", "val_loss"});
  CHECK(series(run, "train_loss").steps.front() == 0);
  CHECK(series(run, "val_loss").steps.back() == 29);
  const Roles roles = recognise_roles(run);
  CHECK(roles.loss == "train_loss");
  CHECK(roles.val_loss == "val_loss");
}

TEST_CASE("Printed logs: the Trainer's printed dicts between progress bars, colour codes", "[text]") {
  const Run run = read_log(kData + "printed/trainer_stdout.out");
  CHECK(run.metric_names() ==
        std::vector<std::string>{"loss", "grad_norm", "learning_rate", "eval_loss", "eval_runtime"});
  CHECK(series(run, "loss").size() == 10);
  CHECK(series(run, "eval_loss").size() == 2);
  CHECK(recognise_roles(run).val_loss == "eval_loss");
  const Run colours = read_log(kData + "printed/colours.log");
  CHECK(colours.step_name == "epoch");
  CHECK(colours.metric_names() == std::vector<std::string>{"loss"});  // acc=51% is no value
  CHECK(series(colours, "loss").steps == std::vector<std::int64_t>{1, 2, 3});
}

TEST_CASE("Printed logs: a configuration dump that names a loss is set-up, a step header above one metric a line, "
          "numbers grouped by thousands, a logging location and a crash trace are no metrics",
          "[text]") {
  // As OLMo prints its training: `TrainConfig(..., z_loss_weight=0.0001,
  // aux_loss_multiplier=0.01, ...)` before the first step, then a
  // `[step=10/200,epoch=0]` header and one indented `name=value` a line;
  // each header opens with Python logging's `olmo.train:990<TAB>INFO`.
  const Run run = read_log(kData + "printed/config_dump_steps.log");
  CHECK(run.find("olmo.train") == nullptr);
  CHECK(run.find("node-a") == nullptr);  // `node-a:0<TAB>olmo.train:990<TAB>INFO`: the host and rank
  CHECK(run.find("torch/distributed/elastic/agent/server/api.py") == nullptr);  // glog's `api.py:725]`
  CHECK(run.step_name == "step");
  const Series& loss = series(run, "train/crossentropyloss");
  REQUIRE(loss.size() == 20);
  CHECK(loss.steps.front() == 10);
  CHECK(loss.steps.back() == 200);
  CHECK(run.find("z_loss_weight") == nullptr);  // the configuration is no point of a curve
  CHECK(series(run, "throughput/total_tokens").values.back() == 13107200.0);  // 13,107,200
  CHECK(series(run, "train/perplexity").values.front() > 10000);               // 11,305, not 11
  const Roles roles = recognise_roles(run);
  CHECK(roles.loss == "train/crossentropyloss");
  CHECK(roles.grad_norm == "optim/total_grad_norm");
  CHECK(gradcheck::diag::diagnose(run).healthy());
  // The trace of the killed run after the last step, `got signal: 15` then
  // `got signal: 1`, is printed at one mark only: no curve, and the step stays.
  CHECK(series(run, "got_signal").size() == 1);
}

TEST_CASE("Printed logs: a value printed again at the same epoch (a new best model) is that point, not a second",
          "[text]") {
  // `Epoch 5/29  train_loss=... val_mse=0.0950 ...`, then `[CHECKPOINT] New
  // best model at epoch 5  val_mse=0.0950`: the epoch stays the step.
  const Run run = read_log(kData + "printed/best_checkpoint.log");
  CHECK(run.step_name == "epoch");
  CHECK(series(run, "train_loss").size() == 30);
  const Series& val = series(run, "val_mse");
  CHECK(val.steps == std::vector<std::int64_t>{0, 5, 10, 15, 20, 25, 29});
  // A value printed again with another number at the same epoch is a second
  // point: the epoch no longer orders the log, the record index does.
  const fs::path dir = gradcheck::test::scratch_dir("printed_again");
  const Run twice = read_text_log(write_bytes(dir / "twice.log", "Epoch 0 loss=0.9 mse=0.8\nbest at epoch 0 mse=0.7\n"
                                                                  "Epoch 1 loss=0.8 mse=0.6\n"));
  CHECK(twice.step_name.empty());
  CHECK(series(twice, "mse").size() == 3);
}

TEST_CASE("Printed logs: detectron2's evaluation progress, timings with a unit and its copypaste lists are no metrics",
          "[text]") {
  // `Inference done 137/500. Dataloading: 0.0014 s/iter. Inference: 0.0384
  // s/iter. ...` between the training's `iter: 219  total_loss: ...` lines,
  // and `copypaste: 10.0000,19.0000,...`: read as metrics, they were printed
  // many times at one iteration with other values, and the log fell back to
  // its line index. Without them the iteration is the step.
  const Run run = read_log(kData + "printed/detectron2_eval.log");
  CHECK(run.step_name == "step");
  CHECK(run.find("dataloading") == nullptr);
  CHECK(run.find("copypaste") == nullptr);
  for (const auto& name : run.metric_names()) CHECK(name.find("s/iter") == std::string::npos);
  const Series& loss = series(run, "total_loss");
  REQUIRE(loss.size() == 30);
  CHECK(loss.steps.front() == 19);
  CHECK(loss.steps.back() == 599);
  CHECK(recognise_roles(run).loss == "total_loss");
  // A unit ends a value only as a word of its own after blanks: `0.5s` was
  // never a value, `loss: 0.5 (0.6)` still is.
  const fs::path dir = gradcheck::test::scratch_dir("printed_units");
  const Run units = read_text_log(write_bytes(dir / "units.log", "step 1 loss: 0.9 (0.95) time: 0.4 s eta: 12 min\n"
                                                                  "step 2 loss: 0.8 (0.9) time: 0.4 sec mem: 11 GB\n"));
  CHECK(units.metric_names() == std::vector<std::string>{"loss"});
  CHECK(series(units, "loss").values == std::vector<double>{0.9, 0.8});
}

TEST_CASE("Printed logs: a section header's phase holds for the metrics right below it", "[text]") {
  // `===== validate epoch 1 =====` above `Epoch 0 | avg_loss = 0.785`: the
  // same name at the same epoch as the training's line, told apart by the
  // header alone.
  const Run run = read_log(kData + "printed/section_headers.log");
  CHECK(run.step_name == "epoch");
  CHECK(run.metric_names() == std::vector<std::string>{"avg_loss", "val_avg_loss"});
  CHECK(series(run, "avg_loss").values.front() == 0.857);
  CHECK(series(run, "val_avg_loss").values.front() == 0.785);
  CHECK(series(run, "val_avg_loss").steps.back() == 11);
  const Roles roles = recognise_roles(run);
  CHECK(roles.loss == "avg_loss");
  CHECK(roles.val_loss == "val_avg_loss");
  // A section ends at a line without metrics, at a line printed at another
  // mark, and does not rename a line that names its phase; a long line that
  // mentions a phase heads nothing.
  const fs::path dir = gradcheck::test::scratch_dir("printed_sections");
  const Run ends = read_text_log(write_bytes(dir / "ends.log",
                                             "Validation:\nepoch 1 loss: 0.5\nepoch 2 loss: 0.4\n"
                                             "Test:\nepoch 2 acc: 0.9\nepoch 2 train loss: 0.41\n"
                                             "Evaluating the model on the validation windows now\nepoch 3 loss: 0.3\n"));
  CHECK(ends.step_name == "epoch");
  CHECK(ends.metric_names() == std::vector<std::string>{"val_loss", "loss", "test_acc", "train_loss"});
  CHECK(series(ends, "val_loss").steps == std::vector<std::int64_t>{1});
  CHECK(series(ends, "loss").steps == std::vector<std::int64_t>{2, 3});
}

TEST_CASE("Printed logs: an epoch's summary between lines of a step counted over the run keeps the step", "[text]") {
  // `Epoch 1 completed | Average loss: 0.0753` prints an epoch mark and no
  // step between `Step 200 | Loss: ...` lines whose step runs on over the
  // epochs: the summary and the validation line after it are at step 200.
  const Run run = read_log(kData + "printed/epoch_summaries.log");
  CHECK(run.step_name == "step");
  CHECK(run.metric_names() == std::vector<std::string>{"loss", "lr", "average_loss", "validation_loss"});
  CHECK(series(run, "loss").steps.front() == 50);
  CHECK(series(run, "loss").steps.back() == 800);
  CHECK(series(run, "average_loss").steps == std::vector<std::int64_t>{200, 400, 600, 800});
  CHECK(series(run, "validation_loss").steps == std::vector<std::int64_t>{200, 400, 600, 800});
  CHECK(series(run, "validation_loss").values.front() == 0.09);
  // Steps that start again each epoch: a new epoch's lines have no step until
  // one is printed, as before (the log is read by its records).
  const fs::path dir = gradcheck::test::scratch_dir("printed_epoch_summaries");
  const Run again = read_text_log(write_bytes(dir / "again.log",
                                              "Epoch 1\nstep 10/20 loss: 0.5\nstep 20/20 loss: 0.4\n"
                                              "Epoch 1 done | avg_loss: 0.45\nEpoch 2\nstep 10/20 loss: 0.3\n"
                                              "step 20/20 loss: 0.2\nEpoch 2 done | avg_loss: 0.25\n"));
  CHECK(again.step_name != "step");
  CHECK(series(again, "loss").values == std::vector<double>{0.5, 0.4, 0.3, 0.2});
  CHECK(series(again, "avg_loss").values == std::vector<double>{0.45, 0.25});
}

TEST_CASE("Printed logs: recognised by a printed loss only, and a file without any metric is refused", "[text][errors]") {
  const fs::path dir = gradcheck::test::scratch_dir("printed");
  // A CSV under a .txt or .log name stays CSV: no cell holds `name: number`.
  CHECK(detect_log_format(write_bytes(dir / "metrics.txt", "epoch,loss\n1,0.5\n2,0.4\n")) == LogFormat::csv);
  CHECK(detect_log_format(write_bytes(dir / "table.log", "epoch\tloss\n1\t0.5\n")) == LogFormat::csv);
  // ... and a .csv file is CSV whatever it holds.
  CHECK(detect_log_format(write_bytes(dir / "printed.csv", "epoch 1 loss: 0.5\n")) == LogFormat::csv);
  CHECK(detect_log_format(write_bytes(dir / "run.out", "Starting\nepoch 1 loss: 0.5\n")) == LogFormat::text);
  // `... loss 0.5` without a separator: beside an epoch or step mark only, and
  // only a name that ends in `loss` as a word or after '_' (not `gloss`).
  const Run spaced = read_text_log(write_bytes(dir / "spaced.log", "epoch 1 train_loss 0.9 gloss 3\n"
                                                                   "epoch 2 train_loss 0.7 gloss 4\n* loss 0.1\n"));
  CHECK(spaced.metric_names() == std::vector<std::string>{"train_loss"});
  CHECK(series(spaced, "train_loss").values == std::vector<double>{0.9, 0.7});
  // The words before a line's first metric say its phase, between spaces
  // only: Python logging's prefix and a module path are none.
  const Run logged = read_text_log(write_bytes(
      dir / "app.log",
      "2024-06-17 22:30:31,153 - models.evaluation - INFO - Epoch: 1 | Train loss: 0.755 | Eval loss: 0.849\n"
      "2024-06-17 22:31:02,406 - INFO - Evaluation results: {'loss': nan, 'accuracy': 0.35}\n"
      "2024-06-17 22:40:31,153 - models.evaluation - INFO - Epoch: 2 | Train loss: 0.5 | Eval loss: 0.7\n"));
  CHECK(logged.metric_names() == std::vector<std::string>{"train_loss", "eval_loss", "val_loss", "val_accuracy"});
  CHECK(series(logged, "train_loss").steps == std::vector<std::int64_t>{1, 2});
  CHECK(std::isnan(series(logged, "val_loss").values.front()));
  expect_refused([&] { (void)read_text_log(write_bytes(dir / "empty.log", "Starting\nDone in 5s\n")); },
                 (dir / "empty.log").string(), "no metric found");
  // --step-col names a metric whose values become the step.
  ReadOptions o;
  o.step_column = "round";
  const Run by_round =
      read_text_log(write_bytes(dir / "rounds.log", "round: 10 loss: 0.5\nround: 20 loss: 0.4\n"), o);
  CHECK(series(by_round, "loss").steps == std::vector<std::int64_t>{10, 20});
}

// --- detection ----------------------------------------------------------------

TEST_CASE("Detection: by name and content, folders, and the formats that were there before", "[dirs]") {
  CHECK(detect_log_format(kData + "healthy.csv") == LogFormat::csv);
  CHECK(detect_log_format(kData + "diverging.jsonl") == LogFormat::jsonl);
  CHECK(detect_log_format(kData + "bad_line.jsonl") == LogFormat::jsonl);
  const std::string tb = std::string(GRADCHECK_REAL_DATA_DIR) + "/tfevents/vicreg-ablation/lightning_logs_version_29";
  CHECK(detect_log_format(tb) == LogFormat::tfevents);
  CHECK(detect_log_format(kData + "no-such-file.json") == LogFormat::jsonl);
  CHECK(detect_log_format(kData + "no-such-file") == LogFormat::csv);
  const fs::path dir = gradcheck::test::scratch_dir("detect");
  // JSON Lines under .json; a first line that is a whole object with more lines after it.
  const std::string lines = write_bytes(dir / "metrics.json", "{\"step\": 0, \"loss\": 1}\n{\"step\": 1, \"loss\": 0.5}\n");
  CHECK(detect_log_format(lines) == LogFormat::jsonl);
  CHECK(series(read_log(lines), "loss").size() == 2);
  const std::string keras_like = write_bytes(dir / "k.jsonl", "{\"loss\": [1, 2]}\n{\"loss\": [3]}\n");
  CHECK(detect_log_format(keras_like) == LogFormat::jsonl);
  const std::string blank = write_bytes(dir / "empty.json", "\n\n");
  CHECK(detect_log_format(blank) == LogFormat::jsonl);
  CHECK(read_log(blank).series.empty());
  // A .json JSON Lines file with a broken first line says where.
  expect_refused(write_bytes(dir / "broken.json", "{\"step\": 0, \"loss\": }\n{\"step\": 1}\n"),
                 "not valid JSON: unexpected '}' at byte 21 (line 1, column 21)");
  expect_refused(write_bytes(dir / "broken.jsonl", "{\"step\": 0, \"loss\": }\n{\"step\": 1}\n"),
                 "line 1: not valid JSON: unexpected '}' at column 21");
  // A Hugging Face output folder that also holds TensorBoard runs is read as the Trainer's state.
  const fs::path out = gradcheck::test::scratch_dir("hf_with_tb");
  fs::copy(kData + "hf_output/checkpoint-500", out / "checkpoint-500", fs::copy_options::recursive);
  fs::create_directories(out / "runs" / "Jun03");
  fs::copy(tb + "/events.out.tfevents.1685262352.lzh.3132.1", out / "runs" / "Jun03" / "events.out.tfevents.1.host");
  CHECK(detect_log_format(out.string()) == LogFormat::trainer_state);
  CHECK(read_log(out.string()).find("eval_loss") != nullptr);
  // A folder of nothing known stays TensorBoard's, which says what it lacks.
  const std::string empty = gradcheck::test::scratch_dir("nothing").string();
  CHECK(detect_log_format(empty) == LogFormat::tfevents);
  expect_refused(empty, "holds no events.out.tfevents");
  CHECK(std::string(format_name(LogFormat::mlflow)) == "MLflow runs");
}

TEST_CASE("Detection: JSON Lines under another name, as DETR's and timm's log.txt, is read as JSON Lines, and its "
          "test_loss is the validation loss",
          "[dirs]") {
  // DETR's main.py appends one JSON object an epoch to log.txt: the epoch,
  // the means of its training losses, the evaluation's losses, the COCO
  // metrics as a list, the parameter count. Read by content: the losses are
  // series at their epochs, the list is no series.
  const fs::path dir = gradcheck::test::scratch_dir("detect_txt");
  std::string text;
  for (int e = 0; e < 4; ++e)
    text += "{\"train_lr\": 0.0001, \"train_loss\": " + std::to_string(20.0 - 3 * e) +
            ", \"train_loss_ce\": 0.4, \"test_loss\": " + std::to_string(18.0 - 2 * e) +
            ", \"test_coco_eval_bbox\": [0.01, 0.02, -1.0, 0.003], \"epoch\": " + std::to_string(e) +
            ", \"n_parameters\": 41279238}\n";
  for (const std::string name : {"log.txt", "train.log", "history"}) {
    const std::string path = write_bytes(dir / name, "\xEF\xBB\xBF\n" + text);
    INFO(name);
    CHECK(detect_log_format(path) == LogFormat::jsonl);
    const Run run = read_log(path);
    const Series& loss = series(run, "train_loss");
    REQUIRE(loss.size() == 4);
    CHECK(loss.steps == std::vector<std::int64_t>{0, 1, 2, 3});
    CHECK(loss.values[3] == Approx(11.0));
    CHECK(series(run, "test_loss").values[0] == Approx(18.0));
    CHECK(run.find("test_coco_eval_bbox") == nullptr);
  }
  // DETR evaluates on the held-out set each epoch and logs it as `test_loss`:
  // without a validation loss, it is the validation loss. A final test (one
  // point) is not.
  const Roles roles = recognise_roles(read_log(dir / "log.txt"));
  CHECK(roles.loss == "train_loss");
  CHECK(roles.val_loss == "test_loss");
  const std::string final_test = write_bytes(dir / "final.txt", "{\"epoch\": 0, \"train_loss\": 2.0}\n"
                                                                "{\"epoch\": 1, \"train_loss\": 1.0, \"test_loss\": 1.5}\n");
  CHECK(recognise_roles(read_log(final_test)).val_loss.empty());
  const std::string both = write_bytes(dir / "both.jsonl", "{\"epoch\": 0, \"loss\": 2.0, \"val_loss\": 2.1, \"test_loss\": 2.2}\n"
                                                           "{\"epoch\": 1, \"loss\": 1.0, \"val_loss\": 1.1, \"test_loss\": 1.2}\n");
  CHECK(recognise_roles(read_log(both)).val_loss == "val_loss");
  // A .txt that is CSV stays CSV; a .csv whose first character is a brace is
  // CSV as its name says, and refused as such.
  const std::string csv_txt = write_bytes(dir / "metrics.txt", "step,loss\n0,1.0\n1,0.5\n");
  CHECK(detect_log_format(csv_txt) == LogFormat::csv);
  CHECK(series(read_log(csv_txt), "loss").size() == 2);
  const std::string braced_csv = write_bytes(dir / "odd.csv", text);
  CHECK(detect_log_format(braced_csv) == LogFormat::csv);
  // A broken record under another name says where, as a .jsonl file would.
  expect_refused(write_bytes(dir / "broken.txt", "{\"epoch\": 0, \"train_loss\": 1.0}\n{\"epoch\": 1, \"train_loss\": }\n"),
                 "line 2: not valid JSON");
}

TEST_CASE("The new readers never crash on damaged input: seeded random corruption", "[fuzz][errors]") {
  const fs::path dir = gradcheck::test::scratch_dir("corrupt");
  const std::vector<std::pair<std::string, std::string>> seeds{
      {kData + "hf_output/checkpoint-500/trainer_state.json", "trainer_state.json"},
      {kReal + "whisper-large-v2-japanese-5k-steps/trainer_state.json", "state.json"},
      {kData + "keras_history.json", "history.json"},
      {kData + "keras_history_pandas.json", "pandas.json"},
      {kData + "wandb_export.csv", "export.csv"},
      {kData + "long_table.csv", "long.csv"},
      {kData + "run-version_0-tag-train_loss.csv", "run-tag-loss.csv"},
      {kData + "printed/keras_progress.log", "keras.log"},
      {kData + "printed/mnist_example.log", "mnist.log"},
      {kData + "wandb_history.jsonl", "history.jsonl"},
      {kHealthyRun + "/metrics/loss", "run/metrics/loss"},
      {kData + "mlruns/1/meta.yaml", "run/meta.yaml"},
      {kData + "dvclive/plots/metrics/train/loss.tsv", "dvc/plots/metrics/train/loss.tsv"}};
  std::mt19937_64 rng(2025);
  int thrown = 0, read = 0;
  for (const auto& [source, name] : seeds) {
    const std::string original = read_bytes(source);
    REQUIRE_FALSE(original.empty());
    for (int trial = 0; trial < 100; ++trial) {
      const std::string bytes = gradcheck::test::corrupt(original, rng, std::string_view("\",\n{}[]0-e\xff :N\t", 16));
      const fs::path p = dir / name;
      write_bytes(p, bytes);
      // An MLflow file is read through its run folder (meta.yaml beside metrics/).
      const bool mlflow = name.rfind("run/", 0) == 0;
      if (mlflow && !fs::exists(dir / "run" / "meta.yaml")) write_bytes(dir / "run" / "meta.yaml", "run_name: x\n");
      if (mlflow && !fs::exists(dir / "run" / "metrics" / "loss")) write_bytes(dir / "run" / "metrics" / "loss", "1 1 1\n");
      // A DVCLive table is read through its folder.
      const bool dvclive = name.rfind("dvc/", 0) == 0;
      const std::string target = mlflow ? (dir / "run").string() : dvclive ? (dir / "dvc").string() : p.string();
      try {
        (void)expand_log_sources({target});
        const Run run = read_log(target);
        for (const auto& s : run.series) {
          REQUIRE(s.steps.size() == s.values.size());
          CHECK(gradcheck::valid_utf8(s.name, /*printable=*/true));
        }
        ++read;
      } catch (const gradcheck::InputError& e) {
        const std::string what = e.what();
        CHECK(gradcheck::valid_utf8(what, /*printable=*/true));
        CHECK(what.find("json.exception") == std::string::npos);
        CHECK(what.find(dir.string()) == 0);
        ++thrown;
      }
      if (mlflow) fs::remove_all(dir / "run");
      if (dvclive) fs::remove_all(dir / "dvc");
    }
  }
  CHECK(thrown > 0);
  CHECK(read > 0);
  CHECK(read + thrown == static_cast<int>(seeds.size()) * 100);
}

TEST_CASE("a reinforcement-learning log (Spinning Up's progress.txt) is judged on its critic's loss, with the returns",
          "[formats][real][roles]") {
  using gradcheck::diag::Severity;
  using gradcheck::diag::SymptomKind;
  // TD3 on HalfCheetah: the Q-function's loss grows 100x as the Q-values grow
  // with returns that rise from -221 to 7,959. The divergence the labelling
  // rules mark is reported as a warning, with the returns beside it; the
  // policy's loss (minus a Q-value, falling to -674) is not judged.
  const Run td3 = read_log(kReal + "spinningup-td3-halfcheetah/progress.txt");
  CHECK(td3.step_name == "Epoch");
  const Roles roles = recognise_roles(td3);
  CHECK(roles.loss == "LossQ");
  CHECK(roles.critic);
  CHECK(roles.policy_loss == "LossPi");
  CHECK(roles.episode_return == "AverageEpRet");
  CHECK(roles.val_loss.empty());
  const auto d = gradcheck::diag::diagnose(td3);
  REQUIRE(d.symptoms.size() == 1);
  const auto& s = d.symptoms[0];
  CHECK(s.kind == SymptomKind::divergence);
  CHECK(s.metric == "LossQ");
  CHECK(s.severity == Severity::warning);
  CHECK(s.step_start <= 16);  // within 10% of the 153 epochs of the rise from the first ones
  CHECK_THAT(s.evidence, Catch::Contains("episode return AverageEpRet went from") && Catch::Contains("(rising)"));
  CHECK_THAT(s.advice, Catch::Contains("overestimation"));
  REQUIRE_FALSE(d.notes.empty());
  CHECK_THAT(d.notes.back(), Catch::Contains("critic's loss LossQ") && Catch::Contains("LossPi"));
  bool drawn = false;
  for (const auto& c : d.curves) drawn = drawn || (c.role == "episode_return" && c.name == "AverageEpRet");
  CHECK(drawn);

  // DDPG on Pendulum: the Q-function's loss falls from 17 to 2.5 while the
  // returns rise from -1,180 to -126: healthy. Its policy's loss (from 53 to a
  // low of 6 and back to 11) was read as a divergence while it was taken for
  // the training loss.
  const Run ddpg = read_log(kReal + "spinningup-ddpg-pendulum/progress.txt");
  const auto healthy = gradcheck::diag::diagnose(ddpg);
  CHECK(healthy.roles.loss == "LossQ");
  CHECK(healthy.symptoms.empty());
  gradcheck::diag::DiagnoseOptions policy;
  policy.columns.loss = "LossPi";
  const auto asked = gradcheck::diag::diagnose(ddpg, policy);
  CHECK_FALSE(asked.roles.critic);
  CHECK(asked.roles.loss == "LossPi");
}

TEST_CASE("Stable-Baselines3's progress.csv: stepped by its environment steps, judged on the critic's loss",
          "[formats][csv][roles]") {
  // SB3 writes every key it has logged so far as a column, sorted; the first
  // row comes before the first update, so its train/ cells are empty.
  const fs::path dir = gradcheck::test::scratch_dir("sb3_progress");
  const std::string header =
      "rollout/ep_len_mean,rollout/ep_rew_mean,time/fps,time/iterations,time/time_elapsed,time/total_timesteps,"
      "train/approx_kl,train/entropy_loss,train/explained_variance,train/learning_rate,train/loss,train/n_updates,"
      "train/policy_gradient_loss,train/value_loss\n";
  std::string text = header + "22.1,22.1,1500,1,1,2048,,,,,,,,\n";
  for (int it = 2; it <= 12; ++it) {
    const int steps = 2048 * it;
    text += "30," + std::to_string(20 + 15 * it) + ",1500," + std::to_string(it) + "," + std::to_string(it) + "," +
            std::to_string(steps) + ",0.01,-0.6,0.5,0.0003," + std::to_string(10.0 / it) + "," +
            std::to_string(10 * (it - 1)) + ",-0.01," + std::to_string(20.0 / it) + "\n";
  }
  const Run run = read_log(write_bytes(dir / "progress.csv", text));
  CHECK(run.step_name == "time/total_timesteps");
  CHECK(run.find("time/total_timesteps") == nullptr);
  const Series& value = series(run, "train/value_loss");
  CHECK(value.steps.front() == 4096);
  CHECK(value.steps.back() == 2048 * 12);
  CHECK(series(run, "rollout/ep_rew_mean").steps.front() == 2048);
  const Roles roles = recognise_roles(run);
  CHECK(roles.critic);
  CHECK(roles.loss == "train/value_loss");
  CHECK(roles.policy_loss == "train/policy_gradient_loss");
  CHECK(roles.episode_return == "rollout/ep_rew_mean");
  CHECK(roles.lr == "train/learning_rate");
}

TEST_CASE("GAN logs: pix2pix's loss_log.txt and the DCGAN example's printed losses are read, judged on the "
          "generator's loss beside the discriminator's",
          "[formats][text][gan]") {
  // Written by tests/logs/data/gan/make_gan_logs.py: a small GAN trained with
  // PyTorch, its losses printed as pix2pix and the DCGAN example print them.
  // (Until the generator and discriminator namings were known, the first was
  // refused as a malformed CSV, and the second judged on its discriminator's
  // loss as if it were a training loss.)
  const Run pix = read_log(kData + "gan/pix2pix_loss_log.txt");
  REQUIRE(pix.find("g_gan") != nullptr);
  CHECK(pix.find("g_gan")->size() == 150);
  CHECK(pix.find("d_real") != nullptr);
  CHECK(pix.find("d_fake") != nullptr);
  auto roles = gradcheck::logs::recognise_roles(pix);
  CHECK(roles.loss == "g_gan");
  CHECK(roles.discriminator_loss == "d_real");
  const Run dcgan = read_log(kData + "gan/dcgan_d_wins.log");
  roles = gradcheck::logs::recognise_roles(dcgan);
  CHECK(roles.loss == "loss_g");
  CHECK(roles.discriminator_loss == "loss_d");
  CHECK(dcgan.find("loss_g")->size() == 100);
}

TEST_CASE("Printed logs read by their records: runs appended one after another count from 0 again each", "[text][gan]") {
  // CycleGAN's loss_log.txt gains a header and a new run each time training
  // starts; its `iters` count within an epoch and print no total, so the log
  // is read by its records. Where the epoch goes back to the first, the
  // record index starts again, and the last run is diagnosed.
  const fs::path dir = gradcheck::test::scratch_dir("printed_appended");
  const std::string header = "================ Training Loss (Mon Dec  7 10:00:00 2026) ================\n";
  std::string text = header;
  for (int e = 1; e <= 3; ++e)
    for (int it = 100; it <= 400; it += 100)
      text += "(epoch: " + std::to_string(e) + ", iters: " + std::to_string(it) +
              ", time: 0.213, data: 0.175) D_A: 0.290 G_A: 0.335 cycle_A: 1.825 idt_A: 0.681 \n";
  text += header;
  for (int e = 1; e <= 2; ++e)
    for (int it = 100; it <= 400; it += 100)
      text += "(epoch: " + std::to_string(e) + ", iters: " + std::to_string(it) +
              ", time: 0.2, data: 0.1) D_A: 0.31 G_A: 0.36 cycle_A: 1.9 idt_A: 0.7 \n";
  const Run run = read_text_log(write_bytes(dir / "loss_log.txt", text));
  CHECK(run.step_name.empty());
  const auto& g = series(run, "g_a");
  REQUIRE(g.size() == 20);
  CHECK(g.steps[11] == 11);
  CHECK(g.steps[12] == 0);
  CHECK(g.steps.back() == 7);
  const auto d = gradcheck::diag::diagnose(run);
  CHECK(std::any_of(d.notes.begin(), d.notes.end(),
                    [](const std::string& n) { return n.find("holds 2 runs one after another") != std::string::npos; }));
  CHECK(d.steps == 8);
  // An epoch that goes back ten times or more is some other loop's counter:
  // the records are counted through.
  std::string folds;
  for (int fold = 0; fold < 10; ++fold)
    for (int e = 1; e <= 3; ++e) folds += "epoch: " + std::to_string(e) + " loss: 0.5\nepoch: " + std::to_string(e) + " loss: 0.4\n";
  const Run many = read_text_log(write_bytes(dir / "folds.log", folds));
  CHECK(series(many, "loss").steps.back() == 59);
}

TEST_CASE("Printed logs read by step: single minibatches are judged by their epochs, as the printed epoch says",
          "[text][oscillation]") {
  // A real Fast-SCNN training log (the benchmark's public logs, Apache-2.0:
  // tools/bench/convdiag/public/SOURCES.md): `Epoch: [  3/200] Iter [  40/1487]
  // || ... || Loss: 1.2345` every 10 iterations over 200 epochs, single
  // batches scattering from 0.43 to 5.0 around epoch means that fall smoothly
  // from 1.62 to 1.01. Without the printed epoch as a series the detectors
  // saw no epochs, judged means of 17 lines and called the scatter
  // oscillation.
  const Run run = read_log(std::string(GRADCHECK_SOURCE_DIR) + "/tools/bench/convdiag/public/fscnn-train/train.log");
  CHECK(run.step_name == "step");
  const Series& epoch = series(run, "epoch");
  CHECK(epoch.values.front() == 0);
  CHECK(epoch.values.back() == 199);
  CHECK(epoch.size() == series(run, "loss").size());
  const auto is_oscillation = [](const auto& sym) { return sym.kind == gradcheck::diag::SymptomKind::oscillation; };
  const auto d = gradcheck::diag::diagnose(run);
  CHECK(d.healthy());
  Run epochless = run;
  epochless.series.erase(std::remove_if(epochless.series.begin(), epochless.series.end(),
                                        [](const Series& x) { return x.name == "epoch"; }),
                         epochless.series.end());
  const auto e = gradcheck::diag::diagnose(epochless);
  CHECK(std::any_of(e.symptoms.begin(), e.symptoms.end(), is_oscillation));
}
