#!/usr/bin/env bash
# Builds the libFuzzer targets (tests/fuzz) with clang into build-fuzz/ and runs
# each for SECONDS (default 60), seeded from tests/fuzz/corpus/<target>/.
# New interesting inputs go to a scratch corpus (build-fuzz/corpus/<target>),
# not into the repository; a crash, leak, time-out or out-of-memory input is
# saved into tests/fuzz/regressions/<target>/, where ctest replays it from then
# on (fuzz_replay: <target>). Prints executions per target; exits 1 when any
# target found something.
#
# Usage: tools/fuzz.sh [SECONDS] [TARGET...]
# Honours BUILD_DIR (default build-fuzz), JOBS, CC/CXX (default clang-14).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
SECONDS_PER_TARGET=${1:-60}
shift || true
BUILD_DIR=${BUILD_DIR:-$ROOT/build-fuzz}
JOBS=${JOBS:-2}
CC=${CC:-clang-14}
CXX=${CXX:-clang++-14}
ALL_TARGETS=(safetensors safetensors_index npy npz torch csv jsonl tfevents trainer_state keras_history json_log mlflow
  plugin_validator onnx keras_h5 gguf model_config text)
if [ $# -gt 0 ]; then TARGETS=("$@"); else TARGETS=("${ALL_TARGETS[@]}"); fi

command -v "$CXX" >/dev/null || { echo "fuzz.sh: $CXX not found (apt-get install clang-14 libclang-rt-14-dev)" >&2; exit 2; }

# Only the library and the fuzz targets are built (the other targets are
# configured but not built: some test folders need the tools and samples).
CC=$CC CXX=$CXX cmake -S "$ROOT" -B "$BUILD_DIR" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DGRADCHECK_FUZZ=ON \
  -DGRADCHECK_BUILD_TOOLS=ON -DGRADCHECK_BUILD_SAMPLES=ON >/dev/null
cmake --build "$BUILD_DIR" -j "$JOBS" --target "${TARGETS[@]/#/fuzz_}"

# Reports must be fatal and symbolised; the memory limit turns a huge declared
# size that is believed into a finding instead of a stalled machine.
export ASAN_OPTIONS=${ASAN_OPTIONS:-halt_on_error=1:abort_on_error=1:detect_leaks=1:allocator_may_return_null=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}
# Leaks inside libhdf5 itself are known and not ours (see the file).
export LSAN_OPTIONS=${LSAN_OPTIONS:-suppressions=$ROOT/.ci/lsan-suppressions.txt}

status=0
summary=()
for t in "${TARGETS[@]}"; do
  seeds=$ROOT/tests/fuzz/corpus/$t
  work=$BUILD_DIR/corpus/$t
  crashes=$ROOT/tests/fuzz/regressions/$t
  # Inputs are written to a scratch folder first: keras_h5's reader parses in a
  # forked child, and when libhdf5 crashes there (contained: the reader refuses
  # the file) the child's sanitizer still writes the input. Only a run that
  # failed (the fuzzed process itself) saves its inputs as regressions.
  artifacts=$BUILD_DIR/artifacts/$t
  rm -rf "$artifacts"
  mkdir -p "$work" "$crashes" "$artifacts"
  log=$BUILD_DIR/fuzz_$t.log
  echo "== $t: ${SECONDS_PER_TARGET} s" >&2
  # libhdf5 (keras_h5) sizes some allocations from the file's metadata, so a
  # malformed file can ask malloc for terabytes; in a normal process malloc
  # then returns null and HDF5 reports an error, which the reader turns into a
  # refusal. Here too: the allocator may return null, and only the memory
  # actually used (-rss_limit_mb) is a finding.
  asan=$ASAN_OPTIONS
  malloc_limit=2048
  if [ "$t" = keras_h5 ]; then
    asan=${ASAN_OPTIONS//allocator_may_return_null=0/allocator_may_return_null=1}
    malloc_limit=0
  fi
  # -artifact_prefix needs the trailing slash: it is a prefix, not a folder.
  if ASAN_OPTIONS=$asan "$BUILD_DIR/tests/fuzz/fuzz_$t" "$work" "$seeds" -max_total_time="$SECONDS_PER_TARGET" \
      -artifact_prefix="$artifacts/" -rss_limit_mb=2048 -malloc_limit_mb="$malloc_limit" -timeout=10 \
      -max_len=65536 -print_final_stats=1 >"$log" 2>&1; then
    result=ok
    contained=$(find "$artifacts" -type f | wc -l)
    [ "$contained" -eq 0 ] ||
      result="ok ($contained inputs crashed the reader's forked parsing child, each refused by the reader: see $log)"
  else
    cp "$artifacts"/* "$crashes"/ 2>/dev/null || true
    result="FOUND (see $log; input saved in $crashes)"
    status=1
  fi
  runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' | tail -1 || true)
  summary+=("$(printf '%-18s %12s executions  %s' "$t" "${runs:-?}" "$result")")
  rmdir "$crashes" 2>/dev/null || true   # keep the folder only when it holds a crash
done
printf '%s\n' "${summary[@]}"
exit $status
