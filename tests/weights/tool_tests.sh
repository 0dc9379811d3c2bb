#!/usr/bin/env bash
# End-to-end checks of the weightstats executable: exit codes, messages and
# report files, on real checkpoints and on files this script writes.
# Usage: tool_tests.sh WEIGHTSTATS SHARED_DATA_DIR SAMPLES_DIR WORK_DIR
set -u
tool=$1 data=$2 samples=$3 work=$4
rm -rf "$work" && mkdir -p "$work" && cd "$work" || exit 1
failures=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }

# expect CODE PATTERN -- ARGS...: runs the tool, checks the exit code and that
# stdout+stderr match PATTERN (extended regex).
expect() {
  local code=$1 pattern=$2; shift 3
  "$tool" "$@" >out.txt 2>err.txt
  local rc=$?
  [ "$rc" -eq "$code" ] || fail "weightstats $* exited $rc, expected $code: $(cat out.txt err.txt | head -5)"
  cat out.txt err.txt | grep -Eq -- "$pattern" || fail "weightstats $* output does not match /$pattern/: $(cat out.txt err.txt | head -5)"
}

# A safetensors file from a header and raw data bytes (printf escapes).
write_st() {
  local path=$1 header=$2 data=$3 n=${#2} le="" i
  for i in 0 1 2 3 4 5 6 7; do le+=$(printf '\\x%02x' $(((n >> (8 * i)) & 255))); done
  printf "$le%s$data" "$header" >"$path"
}

expect 0 "weightstats: ok, 8 tensors in 1 file" -- --no-color "$data/dfdx-mnist.safetensors"
expect 0 "weightstats: ok, 17 tensors in 2 files" -- --no-color "$data/bogoai-model.safetensors" "$data/mlx-lora-adapters.safetensors"
expect 0 "^weightstats: ok" -- --quiet "$data/burn-multi-layer.safetensors"
[ "$(wc -l <out.txt)" -eq 1 ] || fail "--quiet printed more than the verdict line"
expect 0 "fc1.weight" -- --filter 'fc1\.' "$data/burn-multi-layer.safetensors"
grep -q conv1 out.txt && fail "--filter kept conv1"

# JSON: the contract's fields, identical for any thread count.
expect 0 '"schema": 1' -- --json - "$data/dfdx-mnist.safetensors"
for field in '"tool": "weightstats"' '"passed": true' '"files"' '"tensors"' '"abs_max"' '"l2_norm"' \
             '"zero_fraction"' '"nan_count"' '"inf_count"' '"flags"' '"diff"' '"dtype": "F32"' '"shape"'; do
  grep -q -- "$field" out.txt || fail "JSON lacks $field"
done
# --json -: standard output holds the JSON report alone; the table, verdict
# line first, goes to stderr.
"$tool" --no-color --json - "$data/dfdx-mnist.safetensors" >stdout.json 2>stderr.txt || fail "--json - exited $?"
python3 -c 'import json, sys; json.load(open(sys.argv[1]))' stdout.json || fail "--json - wrote more than the JSON report to stdout"
head -1 stderr.txt | grep -q "^weightstats: ok, 8 tensors in 1 file" || fail "--json - did not print the verdict line first on stderr"
grep -q "^name " stderr.txt || fail "--json - did not print the table on stderr"
"$tool" --threads 1 --json t1.json "$data/dfdx-mnist.safetensors" >/dev/null || fail "--threads 1"
"$tool" --threads 2 --json t2.json "$data/dfdx-mnist.safetensors" >/dev/null || fail "--threads 2"
"$tool" --threads 5 --json t5.json "$data/dfdx-mnist.safetensors" >/dev/null || fail "--threads 5"
cmp -s t1.json t2.json && cmp -s t1.json t5.json || fail "the JSON report depends on the thread count"
GRADCHECK_BASELINE_KERNELS=1 "$tool" --threads 2 --json tb.json "$data/dfdx-mnist.safetensors" >/dev/null || fail "baseline kernels"
cmp -s t1.json tb.json || fail "the baseline (non-AVX2) kernels give another JSON report"
# Each tensor's histogram: bins in value order whose counts add up to finite_count.
python3 - t1.json <<'PY' || fail "the JSON histograms are inconsistent"
import json, sys
for t in json.load(open(sys.argv[1]))["tensors"]:
    h = t["histogram"]
    assert h["scale"] == "log" and 0 <= h["mantissa_bits"] <= 7, t["name"]
    assert len(h["lower"]) == len(h["upper"]) == len(h["counts"]) <= 256, t["name"]
    assert sum(h["counts"]) == t["finite_count"], t["name"]
    assert all(a < b for a, b in zip(h["lower"], h["upper"])), t["name"]
    assert all(b <= a for a, b in zip(h["lower"][1:], h["upper"])), t["name"]
PY
ls -a | grep -q '\.tmp' && fail "a temporary report file was left behind"

# --spectral: per matrix, in the table and the JSON, independent of threads.
expect 0 "spectral: .*stable rank" -- --no-color --spectral "$data/dfdx-mnist.safetensors"
"$tool" --spectral --threads 1 --json s1.json "$data/dfdx-mnist.safetensors" >/dev/null || fail "--spectral --threads 1"
"$tool" --spectral --threads 3 --json s3.json "$data/dfdx-mnist.safetensors" >/dev/null || fail "--spectral --threads 3"
grep -q '"condition_number"' s1.json || fail "the JSON lacks the spectral fields"
cmp -s s1.json s3.json || fail "the spectral report depends on the thread count"

# Other formats: the committed samples.
expect 0 "weightstats: ok, 6 tensors" -- --no-color "$samples/tiny_mlp.pt"
expect 0 "weightstats: ok, 1 tensor" -- --no-color "$samples/fc1.weight.npy"
expect 1 "unchanged" -- --no-color --diff "$samples/tiny_mlp.npz" "$samples/tiny_mlp.pt"

# Flags: exit 1, flagged lines explained.
write_st zero.safetensors '{"w":{"dtype":"F32","shape":[2,2],"data_offsets":[0,16]}}' '\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0'
expect 1 "all_zero: all 4 values are 0" -- --no-color zero.safetensors
expect 1 "weightstats: FLAGGED" -- --no-color zero.safetensors
write_st nan.safetensors '{"b":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}' '\0\0\300\177\0\0\200\77'
expect 1 "nan: 1 of 2 values are NaN" -- --no-color nan.safetensors
expect 1 '"flags": \[' -- --json - nan.safetensors
grep -q '"passed": false' out.txt || fail "a flagged report says passed"

# Diff.
expect 1 "unchanged: none of the" -- --no-color --diff "$data/dfdx-mnist.safetensors" "$data/dfdx-mnist.safetensors"
expect 0 "diff: 0 compared" -- --no-color --diff "$data/dfdx-mnist.safetensors" "$data/bogoai-model.safetensors" --filter '^3\.bias$'

# Bad input: exit 2 with the file and the reason.
write_st trunc.safetensors '{"w":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}}' '\0\0\0\0'
expect 2 "trunc.safetensors: .*beyond the data section" -- trunc.safetensors
printf 'xx' >tiny.safetensors
expect 2 "tiny.safetensors: too short" -- tiny.safetensors
expect 2 "missing.safetensors: cannot open" -- missing.safetensors
echo "not a model" >model.onnx
expect 2 "model.onnx: not an ONNX model" -- model.onnx
expect 0 "weightstats: ok, 4 tensors in 1 file" -- --no-color "$data/../onnx/torch_mlp.onnx"
# libhdf5 is opened when an HDF5 file is read, not linked: the tool does not
# list it among the libraries it needs, reads Keras files through it, and a
# library that cannot be loaded is a refusal naming the file.
if readelf -d "$tool" | grep -q 'NEEDED.*hdf5'; then fail "weightstats links libhdf5 (it should open it only to read HDF5)"; fi
expect 0 "weightstats: ok, 8 tensors in 1 file" -- --no-color "$data/../keras/keras2_weights.h5"
GRADCHECK_HDF5_LIBRARY=/nonexistent/libhdf5.so \
  expect 2 "keras2_weights.h5: reading HDF5 needs the HDF5 library \(GRADCHECK_HDF5_LIBRARY\), which cannot be loaded" -- \
  "$data/../keras/keras2_weights.h5"
GRADCHECK_HDF5_LIBRARY=libz.so.1 \
  expect 2 "keras2_weights.h5: the HDF5 library loaded as libz.so.1 has no H5" -- "$data/../keras/keras2_weights.h5"
echo "not a checkpoint" >model.dat
expect 2 "model.dat: unknown checkpoint format" -- model.dat
expect 2 "no checkpoint given" --
expect 2 "not a valid regular expression" -- --filter '(' "$data/bogoai-model.safetensors"
# --html is implemented now (tests/html checks the page): it writes a file.
expect 0 "weightstats: ok" -- --html r.html "$data/bogoai-model.safetensors"
[ -s r.html ] || fail "--html wrote no file"
grep -q '<svg class="chart' r.html || fail "--html wrote no chart (no <svg class=\"chart...)"
expect 2 "--bogus" -- --bogus "$data/bogoai-model.safetensors"
expect 2 "cannot create|cannot write" -- --json /nonexistent-dir/r.json "$data/bogoai-model.safetensors"
expect 0 "weightstats " -- --version

[ "$failures" -eq 0 ] && echo "all weightstats tool checks passed"
exit $((failures > 0))
