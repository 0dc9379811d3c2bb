#pragma once
// Readers of training logs. Every reader maps the file (MappedFile) instead of
// loading it, and throws gradcheck::InputError(file, reason) on a malformed
// line or record, the reason naming the line number, byte offset or place in
// the document.

#include <cstddef>
#include <string>
#include <vector>

#include "gradcheck/logs/run.hpp"

namespace gradcheck::logs {

struct ReadOptions {
  /// Column/key used as the step. Empty: the first present of `step`,
  /// `global_step`, `_step` (W&B), `current_steps` (LLaMA-Factory's
  /// `trainer_log.jsonl`), `iteration`, `iter`, `epoch`
  /// (case-insensitive); when none is present, the 0-based record index.
  /// Formats that carry a step of their own (TensorBoard, MLflow, a Keras
  /// History) take it as a series whose values become the step of the others.
  std::string step_column;
  /// Threads for parsing a large CSV (0: all cores). Each gets at least
  /// `min_chunk_bytes` of the file; the result does not depend on either.
  int threads = 0;
  std::size_t min_chunk_bytes = std::size_t{4} << 20;
};

/// CSV with a header line (Keras CSVLogger, PyTorch Lightning CSVLogger, any
/// CSV). Empty cells and `NA`/`N/A`/`null`/`None` are missing; `nan`, `inf`,
/// `NaN`, `Infinity` (any case, signed) are values. A column whose first present
/// cell is not a number is text and is left out (e.g. a model name); a later
/// non-number in a numeric column is an error. Handles CRLF, a UTF-8 BOM and
/// RFC 4180 quoted fields on one line. A row with a different number of fields
/// than the header is an error naming the line. A step cell may repeat its
/// column's name before the integer (`Epoch 3`, `epoch: 3`, Keras's printed
/// `Epoch 3/50` in a column `epoch`); any other step that is not an integer is
/// an error naming the line.
///
/// W&B exports: a chart export (`"Step","<run> - loss","<run> - loss__MIN",
/// "<run> - loss__MAX",...`) has the run stripped from the names (`loss`) and
/// its `__MIN`/`__MAX` companions left out; an export of several runs is an
/// error (export one run per file). With W&B's `_step` as the step (a history
/// saved by pandas), and in a chart export, W&B's `_runtime`, `_timestamp` and
/// `_step` columns are no series.
Run read_csv(const std::string& path, const ReadOptions& options = {});

/// JSON Lines: one JSON object per non-blank line. Numbers (and the bare tokens
/// NaN, Infinity, -Infinity Python's json module writes, or such strings) are
/// values; nested objects are flattened with '/'. A record whose `split`,
/// `phase`, `mode` or `stage` is "val"/"valid"/"validation"/"eval" has its
/// metrics prefixed `val_` ("test": `test_`), so training and validation
/// records can be mixed. A line that is not a JSON object is an error naming it.
/// W&B history (`_step`, `_runtime`, `_timestamp`, metric keys such as
/// `train/loss`): the step is `_step`, and `_runtime`, `_timestamp`, `_wandb`
/// and media objects (a nested object with a `_type`) are no series.
Run read_jsonl(const std::string& path, const ReadOptions& options = {});

/// TensorBoard event files: TFRecord framing (u64 length, masked CRC32C of the
/// length, payload, masked CRC32C of the payload; both CRCs checked), Event and
/// Summary protobuf messages. Scalars come from `simple_value` and from rank-0
/// float/double/int tensors (TF2 summaries); histograms, images and text are
/// skipped. `path` may be a directory: every `events.out.tfevents.*` below it is
/// read, and tags from a file in a sub-directory are prefixed with that
/// sub-directory (`train/epoch_loss`, `validation/epoch_loss`). The step is the
/// Event's step. A bad CRC or a truncated record is an error naming the offset.
Run read_tfevents(const std::string& path, const ReadOptions& options = {});

/// Hugging Face Trainer's `trainer_state.json`: every entry of `log_history`
/// at its `step` (training entries: `loss`, `grad_norm`, `learning_rate`,
/// `epoch`; evaluation entries at the same step: `eval_loss`, `eval_*`; the
/// final summary: `train_loss`, `train_runtime`, ...). Numbers, `NaN` and
/// `Infinity` are values and null is missing; other values (text, lists) of
/// other keys are left out. `path` may be the file, a checkpoint directory
/// holding it (`checkpoint-500/`), or an output directory: its own
/// `trainer_state.json`, else that of its `checkpoint-N` directory with the
/// highest N. An entry without an integer step, or a `loss`, `eval_loss`,
/// `grad_norm`, `learning_rate`, `epoch` or `train_loss` that is not a number,
/// is an error naming the place (`log_history[3].loss: expected a number,
/// found a string`).
Run read_trainer_state(const std::string& path, const ReadOptions& options = {});

/// What the files beside a log say about the model it trained: a Hugging Face
/// checkpoint or output folder holds, next to `trainer_state.json`, the model's
/// `config.json` and, for a PEFT adapter (LoRA and the like), its
/// `adapter_config.json`. Read for a `trainer_state.json` (the file, or a
/// folder read_log reads it from), and for TensorBoard events (a file, or a
/// folder read as one), where the Trainer's TensorBoard callback writes the
/// model's config as the text summary `model_config` at the start of
/// training: there `architectures` is still the class the checkpoint was saved
/// as (a classifier fine-tuned from BERT says BertForMaskedLM), so a
/// classification head's `id2label` (written only when it is not the default
/// two labels) gives the classes, else a generative language model's
/// (`...ForCausalLM`, `...LMHeadModel`, `...ForConditionalGeneration`)
/// vocabulary; a masked language model's says nothing. Other logs have no
/// context.
/// - `classes`: the outputs a cross-entropy loss is over, so that ln(classes)
///   is the loss of a uniform guess. A language model's (`architectures`
///   naming a `...ForCausalLM`, `...LMHeadModel`, `...ForConditionalGeneration`
///   or `...ForMaskedLM` class): its `vocab_size` (or `text_config.vocab_size`).
///   A classifier's (`...ForSequenceClassification`, `...ForTokenClassification`,
///   `...ForImageClassification`, `...ForAudioClassification`,
///   `...ForVideoClassification`), unless its `problem_type` is regression or
///   multi-label: the entries of `id2label`, else `num_labels`, else 2
///   (transformers writes no default). 0 when the config says neither, or
///   says both.
/// - `base_model`: the pretrained model a PEFT adapter was trained over
///   (`base_model_name_or_path`), so that the run starts from a trained model;
///   empty when the adapter comes with a head trained from scratch
///   (`modules_to_save`, or a `task_type` of SEQ_CLS, TOKEN_CLS or
///   QUESTION_ANS), whose loss starts where a fresh model's does.
/// Never throws: a file beside the log that cannot be read or makes no sense
/// is left out, with a note saying which and why.
struct LogContext {
  int classes = 0;
  std::string base_model;
  std::vector<std::string> notes;  ///< what was taken from which file, or why a file was left out
};
LogContext read_log_context(const std::string& path);

/// A Keras `History.history` dict saved as JSON (`{"loss": [...], "val_loss":
/// [...], "accuracy": [...]}`): one value per epoch, the step being the 0-based
/// epoch index (`epoch`); the same dict saved through pandas
/// (`{"loss": {"0": ..., "1": ...}}`) has its epochs as keys. null is missing;
/// any other value that is not a number is an error naming the place
/// (`val_loss[3]: expected a number, found a string`).
Run read_keras_history(const std::string& path, const ReadOptions& options = {});

/// One MLflow run of a file store (`mlruns/<experiment>/<run>/`): every file
/// under its `metrics/` folder is a metric (a metric named `train/loss` is the
/// file `metrics/train/loss`), one point per line `timestamp value step`
/// (`timestamp value`, as early MLflow wrote, is at step 0). A line of
/// another shape, or a value or step that is not a number, is an error naming
/// the metric file and the line.
Run read_mlflow_run(const std::string& run_dir, const ReadOptions& options = {});

/// DVCLive's metrics history: the folder DVCLive writes (`dvclive/`, holding
/// `plots/metrics/`), the folder holding that one, or `plots/metrics/`. Each
/// `plots/metrics/<name>.tsv` is the metric `<name>` (`train/loss` is
/// `plots/metrics/train/loss.tsv`): a tab-separated table with `step` and the
/// value (and `timestamp`, left out), read as CSV is (an error names the
/// table and the line).
Run read_dvclive(const std::string& path, const ReadOptions& options = {});

/// A training loop's printed output saved to a file (`python train.py | tee
/// train.log`; a Keras progress bar; the Hugging Face Trainer's printed
/// dicts). Every `name: number` or `name=number` pair on a line (a name of up
/// to three words, `Train Loss` as `train_loss`, or a quoted name) is a
/// metric, and so is `... loss 0.52` on a line with an epoch or step mark; a
/// value followed by a letter, `%`, `/` or `:` (`5s`, `99%`, `9893/10000`) is
/// none. A line whose words before its first metric (between spaces) name an
/// evaluation (`Test:`, `Validation`, `INFO - Evaluation results: {...}`) has
/// its metrics prefixed `test_` or `val_`; lines before the first
/// loss (a printed configuration) are set-up, not points. `epoch N`, `step N`, `iter N`,
/// `iteration N` in their printed forms (`Epoch [1/5]`, `Epoch 1/10`,
/// `epoch: 3`, `Step [100/600]`) say where a line is, and carry to the lines
/// after it. The step: the step mark when every line with metrics has one
/// (counted on across epochs when it starts again each epoch and its total is
/// printed); else the epoch when every line has one; else the line's index
/// among those with metrics. A mark is the step only when it never goes back
/// and holds each metric at most once (one `epoch 100` printed above every
/// line says nothing). A
/// progress bar redrawn in place counts by its last drawing; colour codes are
/// left out; lines without a metric are skipped. A file without any metric is
/// an error. read_log takes a file for one when its name is none of the CSV
/// and JSON ones and its first MiB holds a line with a printed loss.
Run read_text_log(const std::string& path, const ReadOptions& options = {});

/// What a path holds, as read_log decides it.
enum class LogFormat {
  csv,            ///< CSV (W&B exports included)
  jsonl,          ///< JSON Lines (W&B history included)
  tfevents,       ///< TensorBoard event files, or a directory of them
  trainer_state,  ///< Hugging Face trainer_state.json, or a directory holding it
  keras_history,  ///< a Keras History dict as JSON
  json_records,   ///< a JSON list of records (e.g. a trainer's log_history on its own)
  mlflow,         ///< an MLflow file store, experiment or run directory
  dvclive,        ///< a DVCLive folder (plots/metrics/*.tsv)
  text,           ///< a training loop's printed output (read_text_log)
};

/// The format's name for messages and notes ("MLflow run", ...).
const char* format_name(LogFormat format);

/// What `path` holds, by name and content (read_log's choice):
/// - a directory holding `trainer_state.json`, or `checkpoint-N` directories
///   holding one: trainer_state;
/// - an MLflow run directory (`meta.yaml` and `metrics/`), an experiment
///   directory holding runs, or a store holding experiments: mlflow;
/// - a `plots/metrics` directory holding `.tsv` files, or a directory holding
///   `plots/metrics/*.tsv` or `dvclive/plots/metrics/*.tsv`: dvclive;
/// - any other directory: tfevents;
/// - a file named `*tfevents*`: tfevents; named `trainer_state.json`:
///   trainer_state;
/// - `.json`, `.jsonl`, `.ndjson`: by content. A first line that is a JSON
///   object with `log_history` is trainer_state, one whose every value is a
///   list (or an object keyed by epoch numbers) keras_history, any other
///   object jsonl. A file that is one JSON document over several lines is
///   looked at whole the same way (a list of objects: json_records);
/// - any other name but `.csv` and `.tsv` whose first character (after a
///   byte order mark and white space) is `{`: by content as for `.jsonl`
///   (DETR's and timm's `log.txt`);
/// - anything else: csv.
/// A file that cannot be read is judged by its name alone (reading it then
/// says why).
LogFormat detect_log_format(const std::string& path);

/// Reads `path` as detect_log_format decides; the run's source is `path` (the
/// file read, for a folder holding a Lightning CSVLogger's metrics.csv). A
/// directory holding several MLflow or CSVLogger runs is an error
/// (expand_log_sources lists them).
Run read_log(const std::string& path, const ReadOptions& options = {});

/// One log to read and diagnose: a path read_log reads, and a note saying how
/// it was chosen (empty when the path is the one given).
struct LogSource {
  std::string path;
  std::string note;
};

/// The logs `paths` hold, in order: a path is itself, except that an MLflow
/// store or experiment directory becomes each of its runs (by experiment,
/// then start time; runs marked deleted or without any metric are left out),
/// and a Hugging Face output directory without a trainer_state.json of its own
/// becomes that of its latest checkpoint (`out/checkpoint-1500/
/// trainer_state.json`, with a note naming the checkpoints it had), and a
/// PyTorch Lightning CSVLogger folder (`lightning_logs/`, holding no
/// TensorBoard events of its own) becomes the `metrics.csv` of each of its
/// runs' folders (`version_2` before `version_10`, each with a note). MLflow
/// runs get a note with their run and experiment names. Never throws for what
/// a path holds: a path that cannot be expanded is returned as it is, and
/// reading it says why.
std::vector<LogSource> expand_log_sources(const std::vector<std::string>& paths);

}  // namespace gradcheck::logs
