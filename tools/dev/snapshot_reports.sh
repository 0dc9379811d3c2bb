#!/usr/bin/env bash
# snapshot_reports.sh BUILD_DIR OUT_DIR
# Writes the JSON report of every sample and benchmark model (gradcheck), every
# sample and real checkpoint (weightstats) and every sample and real log
# (convdiag, and its active checks on the MLP sample) into OUT_DIR, with the
# fields that measure time removed, so that two builds can be compared with
# `diff -r`: a refactoring that changes no behaviour leaves them identical.
# Needs a build with GRADCHECK_BUILD_BENCHMARKS=ON and python3.
set -euo pipefail
build=$(cd "$1" && pwd)
mkdir -p "$2"
out=$(cd "$2" && pwd)
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
gc=$build/tools/gradcheck/gradcheck ws=$build/tools/weightstats/weightstats cd_=$build/tools/convdiag/convdiag

# Removes every "seconds" field (wall time) and keeps the rest byte-stable.
normalise() {
  python3 -c '
import json, sys
def strip(v):
    if isinstance(v, dict):
        return {k: strip(x) for k, x in v.items() if k != "seconds"}
    if isinstance(v, list):
        return [strip(x) for x in v]
    return v
print(json.dumps(strip(json.load(open(sys.argv[1]))), indent=1, sort_keys=True))' "$1" >"$1.norm" && mv "$1.norm" "$1"
}
run() {  # run NAME TOOL ARGS...: the JSON report; the exit code is kept beside it
  local name=$1
  shift
  local rc=0
  "$@" --json "$out/$name.json" >/dev/null 2>&1 || rc=$?
  echo "$rc" >"$out/$name.rc"
  [ -s "$out/$name.json" ] && normalise "$out/$name.json"
  return 0
}

for p in relu_layer/relu_layer mlp/mlp focal_loss/focal_loss buggy/buggy; do
  run "gradcheck_$(basename $p)" "$gc" "$build/samples/$p.so" --threads 2
done
for m in mlp10k_f64 mlp10k_f32 mlp10k_fc1_weight_x1.001_f64 mlp10k_fc1_weight_x1.001_f32 mlp200k_f64 \
         mlp200k_fc1_weight_x1.001_f64 mlp200k_f32; do
  run "gradcheck_bench_$m" "$gc" "$build/tools/bench/checker/bench_models.so" -m "$m" --threads 2
done
for f in samples/checkpoints/*.safetensors samples/checkpoints/*.npy samples/checkpoints/*.npz \
         samples/checkpoints/*.pt tests/data/real/weights/*.safetensors; do
  run "weightstats_$(basename "$f")" "$ws" "$f" --spectral
done
run weightstats_diff "$ws" --diff samples/checkpoints/tiny_mlp.safetensors samples/checkpoints/broken_mlp.safetensors
for f in tests/logs/data/* tests/data/real/trainlogs/*.csv tests/data/real/tfevents/vicreg-ablation/*; do
  run "convdiag_$(basename "$f")" "$cd_" "$f"
done
run convdiag_active_mlp "$cd_" --model "$build/samples/mlp/mlp.so" --classes 5
echo "snapshot_reports: $(ls "$out"/*.json | wc -l) reports in $out"
