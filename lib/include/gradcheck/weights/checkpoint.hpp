#pragma once
// Reading checkpoints: every reader yields tensor descriptors whose bytes live
// in a memory-mapped file (or, for compressed members, a decoded buffer), so a
// checkpoint of any size is never loaded whole.
//
// Readers validate before they trust: header sizes, offsets in range and not
// overlapping, byte sizes equal to shape x dtype size, extents non-negative and
// their product not overflowing, known dtypes, complete data. A violation
// throws gradcheck::InputError(file, reason).

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "gradcheck/weights/dtype.hpp"

namespace gradcheck::weights {

/// One tensor of a checkpoint. Its elements are little-endian, C order
/// (row-major), contiguous at `data` (which may be unaligned); readers convert
/// anything else (Fortran order, big-endian, strided storage) into a buffer
/// owned by the Checkpoint first.
struct TensorEntry {
  std::string name;                 ///< as the file names it
  std::string file;                 ///< the file it was read from
  DType dtype = DType::F32;
  std::vector<std::int64_t> shape;  ///< empty for a 0-dim (scalar) tensor
  std::uint64_t numel = 0;          ///< product of shape (1 for a scalar)
  const std::uint8_t* data = nullptr;
  std::size_t nbytes = 0;           ///< numel * dtype_size(dtype)
};

/// A global a pickle names whose unpickling runs code or touches the system
/// (os.system, builtins.eval, subprocess, a getattr chain...): loading the file
/// with torch.load (which unpickles it) would call it. Reading it here calls
/// nothing; the report flags the file `unsafe_pickle`.
struct PickleFinding {
  std::string file;
  std::string global;         ///< "posix.system", "builtins.eval" (Python 2's __builtin__ shown as builtins)
  std::uint64_t offset = 0;   ///< byte offset of the opcode that names it, in the pickle (data.pkl)
  std::string reason;         ///< what it does, e.g. "runs commands and touches files"
};

/// Classes of a file's pickle that were kept as inert placeholders (never
/// called): an nn.Module saved whole, argparse.Namespace hyper-parameters...
struct Uninterpreted {
  std::string file;
  std::vector<std::string> classes;  ///< "module.name", sorted
};

/// One key-value pair of a file's own metadata (a GGUF header's), as text for
/// reports and, for numbers and bools, as a number for scripts.
struct MetadataEntry {
  std::string file;
  std::string key;              ///< "general.architecture", "llama.context_length"
  std::string type;             ///< "uint32", "float32", "bool", "string", "array<string>"...
  std::string value;            ///< the value; an array as its count and first elements
  std::optional<double> number; ///< a numeric or bool scalar's value
};

/// A tensor a reader found but could not read, and why: a GGUF tensor of a
/// ggml type without a dequantizer here (IQ2_XXS, ...). Reports list them.
struct SkippedTensor {
  std::string file;
  std::string name;
  std::string type;    ///< the file's name for its type ("IQ3_S")
  std::uint64_t bytes = 0;
  std::string reason;
};

/// The tensors of one or more files, and what keeps their bytes alive.
class Checkpoint {
 public:
  const std::vector<TensorEntry>& tensors() const noexcept { return tensors_; }
  const std::vector<std::string>& files() const noexcept { return files_; }
  /// Unsafe globals found in the files' pickles (torch.save files only).
  const std::vector<PickleFinding>& unsafe_globals() const noexcept { return unsafe_; }
  /// Per file, the pickled classes read as inert placeholders.
  const std::vector<Uninterpreted>& uninterpreted() const noexcept { return uninterpreted_; }
  /// Numbers saved beside the tensors (torch.save: the ints, floats and bools
  /// of the pickled containers, named by path like tensors:
  /// "optimizer.param_groups.0.lr"), in file order; what an optimizer's
  /// settings are read from.
  const std::vector<std::pair<std::string, double>>& scalars() const noexcept { return scalars_; }
  /// The files' own metadata, in file order (GGUF files only).
  const std::vector<MetadataEntry>& metadata() const noexcept { return metadata_; }
  /// Tensors found but not read (GGUF types without a dequantizer here).
  const std::vector<SkippedTensor>& skipped() const noexcept { return skipped_; }
  /// Appends another checkpoint's tensors (and keeps its storage alive).
  void append(Checkpoint&& other);

  // For readers: register storage, a file name, and a tensor.
  void keep_alive(std::shared_ptr<const void> storage) { storage_.push_back(std::move(storage)); }
  void add_file(std::string file) { files_.push_back(std::move(file)); }
  void add_tensor(TensorEntry entry) { tensors_.push_back(std::move(entry)); }
  void add_unsafe(PickleFinding finding) { unsafe_.push_back(std::move(finding)); }
  void add_scalar(std::string name, double value) { scalars_.emplace_back(std::move(name), value); }
  void add_metadata(MetadataEntry entry) { metadata_.push_back(std::move(entry)); }
  void add_skipped(SkippedTensor entry) { skipped_.push_back(std::move(entry)); }
  void add_uninterpreted(std::string file, std::vector<std::string> classes) {
    uninterpreted_.push_back({std::move(file), std::move(classes)});
  }

 private:
  std::vector<TensorEntry> tensors_;
  std::vector<std::string> files_;
  std::vector<PickleFinding> unsafe_;
  std::vector<Uninterpreted> uninterpreted_;
  std::vector<std::pair<std::string, double>> scalars_;
  std::vector<MetadataEntry> metadata_;
  std::vector<SkippedTensor> skipped_;
  std::vector<std::shared_ptr<const void>> storage_;
};

/// Reads a file, choosing the reader by its name, else by its magic bytes:
/// `*.safetensors.index.json` (sharded safetensors), `.safetensors`,
/// `.npy`, `.npz`, zip checkpoints of `torch.save` (`.pt`, `.pth`, `.bin`,
/// `.ckpt`), ONNX models (`.onnx`, by name only: protobuf has no magic), Keras
/// HDF5 files (`.h5`, `.hdf5`, or the HDF5 signature), `.keras` archives and
/// GGUF files (`.gguf`, or the magic "GGUF").
Checkpoint open_checkpoint(const std::string& path);

/// A `.safetensors` file: 8-byte little-endian header length N, N bytes of
/// JSON, then the data section that the tensors' `data_offsets` index. The data
/// section must be covered exactly (no holes, no overlaps, nothing after).
Checkpoint read_safetensors(const std::string& path);

/// A sharded checkpoint: `{"weight_map": {tensor: shard file}}`, shard files
/// relative to the index's folder. Every mapped tensor must exist in its shard;
/// tensors a shard holds but the map does not name are left out.
Checkpoint read_safetensors_index(const std::string& path);

/// A NumPy `.npy` file (format versions 1, 2 and 3; C or Fortran order;
/// little- or big-endian; bool, integer and float types). Its tensor is named
/// after the file without `.npy`. Object arrays (pickles) are refused.
Checkpoint read_npy(const std::string& path);

/// A NumPy `.npz` archive: a zip of `.npy` members, stored or deflated
/// (inflated with zlib into memory, size and CRC-32 checked). Tensors are
/// named after their members without `.npy`.
Checkpoint read_npz(const std::string& path);

/// A PyTorch checkpoint written by torch.save (the zip format of PyTorch >=
/// 1.6; `.pt`, `.pth`, `.bin`, `.ckpt`). Its `data.pkl` is interpreted, never
/// executed: the tensor rebuilds, torch.*Storage and OrderedDict are
/// understood, and every other class or function becomes an inert placeholder
/// that keeps its arguments and state and is never called (listed in
/// uninterpreted()). Tensors are found anywhere: in (nested) dicts, lists and
/// tuples, named with '.' joins ("model.fc1.weight", "state_dict.layer.weight"
/// in a Lightning file), and inside placeholders (a whole nn.Module's
/// `_parameters`, `_buffers` and `_modules` add no name: "fc.weight"). Globals
/// that would run code on torch.load are reported in unsafe_globals(). Storage
/// type, offset, shape and strides are honoured (non-contiguous tensors are
/// copied into C order); values that are not tensors are skipped.
Checkpoint read_torch(const std::string& path);

/// The initializers of an ONNX model (`.onnx`, a ModelProto): the main graph's,
/// those of subgraphs held by nodes' attributes (If/Loop/Scan bodies, named
/// "<node>.<attribute>/<name>"), and sparse initializers (reported dense). Values
/// in raw_data or in the typed fields (float_data, int32_data for the narrow
/// integer, bool and 16-bit float types, int64_data, double_data, uint64_data);
/// external data (data_location EXTERNAL: location, offset, length) is read
/// from files beside the model, never outside its folder. Types: every ONNX
/// numeric type but complex, FNUZ float8 and 4-bit ones; STRING tensors are
/// skipped. Constant nodes' values are not initializers and are not read. The
/// protobuf wire format is read directly: raw_data and packed float/double
/// values stay in the mapping (no 2 GB limit, no copy).
Checkpoint read_onnx(const std::string& path);

/// A Keras weights file in HDF5 (`.h5`, `.hdf5`, `.weights.h5`), read through the
/// HDF5 library. Keras 2's `save_weights` and `save` layouts (the `layer_names`
/// and `weight_names` attributes; `model_weights/`, and `optimizer_weights/`
/// whose tensors are named "optimizer_weights/..." and reported as optimizer
/// state) give tensors named as Keras shows them ("dense/kernel"); Keras 3's
/// `.weights.h5` and any other HDF5 file give every numeric dataset by its path
/// ("layers/dense/vars/0"; "optimizer/..." is optimizer state). Float (16, 32,
/// 64 bits, either byte order), integer and h5py's bool datasets; contiguous,
/// unfiltered ones are used in place in the mapping, the others are read
/// (decompressed) into memory, at most 16x the file's size.
Checkpoint read_keras_h5(const std::string& path);

/// A Keras 3 `.keras` archive: a zip whose `model.weights.h5` is read as by
/// read_keras_h5 (from memory). Its `config.json` names the variables of the
/// usual top-level layers (Dense, EinsumDense, Conv*, BatchNormalization,
/// LayerNormalization, Embedding) as Keras does ("dense/kernel" for
/// layers/dense/vars/0); other layers keep their paths.
Checkpoint read_keras_archive(const std::string& path);

/// A GGUF file (llama.cpp's format, versions 2 and 3, little-endian; ggml's
/// docs/gguf.md): its metadata (metadata(), every value type, arrays shown by
/// count and first elements) and its tensors, named as the file names them
/// ("blk.0.attn_q.weight"), shapes in C order (ggml's ne reversed: a matrix of
/// ne = [in, out] is out x in). Types F32, F16, BF16, F64, I8, I16, I32, I64
/// and the block-quantized Q8_0, Q4_0, Q4_1, Q5_0, Q5_1, Q2_K, Q3_K, Q4_K,
/// Q5_K, Q6_K, IQ4_NL, IQ4_XS, MXFP4, NVFP4, TQ1_0, TQ2_0 (used in place,
/// dequantized by the statistics pass). Tensors of the other ggml types
/// (IQ1-IQ3, Q1_0, Q2_0, Q8_1, Q8_K) are checked like the others and listed in
/// skipped(), not read; a type ggml does not define is refused. Tensor data must
/// lie inside the data section, aligned to general.alignment (default 32),
/// without overlaps.
Checkpoint read_gguf(const std::string& path);

/// Product of `shape` times `element_size`, or throws InputError(file, ...) when
/// an extent is negative or the product overflows 64 bits. `numel` receives the
/// element count.
std::uint64_t checked_byte_size(const std::string& file, const std::string& tensor,
                                const std::vector<std::int64_t>& shape, std::size_t element_size,
                                std::uint64_t* numel);

}  // namespace gradcheck::weights
