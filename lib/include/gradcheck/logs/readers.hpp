#pragma once
// Readers of training logs. Every reader maps the file (MappedFile) instead of
// loading it, and throws gradcheck::InputError(file, reason) on a malformed
// line or record, the reason naming the line number or byte offset.

#include <cstddef>
#include <string>

#include "gradcheck/logs/run.hpp"

namespace gradcheck::logs {

struct ReadOptions {
  /// Column/key used as the step. Empty: the first present of `step`,
  /// `global_step`, `iteration`, `iter`, `epoch` (case-insensitive); when none
  /// is present, the 0-based record index.
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
/// than the header is an error naming the line.
Run read_csv(const std::string& path, const ReadOptions& options = {});

/// JSON Lines: one JSON object per non-blank line. Numbers (and the bare tokens
/// NaN, Infinity, -Infinity Python's json module writes, or such strings) are
/// values; nested objects are flattened with '/'. A record whose `split`,
/// `phase`, `mode` or `stage` is "val"/"valid"/"validation"/"eval" has its
/// metrics prefixed `val_` ("test": `test_`), so training and validation
/// records can be mixed. A line that is not a JSON object is an error naming it.
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

/// Reads any of the above, chosen by name: a directory or a file named
/// `*tfevents*` is TensorBoard, `.jsonl`/`.ndjson`/`.json` is JSON Lines, and
/// anything else is CSV.
Run read_log(const std::string& path, const ReadOptions& options = {});

}  // namespace gradcheck::logs
