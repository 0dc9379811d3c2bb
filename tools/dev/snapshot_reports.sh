#!/usr/bin/env bash
# snapshot_reports.sh BUILD_DIR OUT_DIR
# Writes what the tools produce into OUT_DIR, with wall time removed, so that
# two builds can be compared with `diff -r`: a refactoring that changes no
# behaviour leaves them identical.
# - NAME.json: the JSON report of every sample and benchmark model (gradcheck),
#   every sample and real checkpoint (weightstats) and every sample and real log
#   (convdiag, and its active checks on the MLP sample), with the fields that
#   measure time ("seconds") removed; NAME.rc its exit code; NAME.out and
#   NAME.err the terminal text of the same run (--no-color).
# - text/NAME.{out,err,rc}: the terminal text of --quiet, --json -, --html -,
#   --version, --help and usage errors, for a few cases of each tool.
# - html/NAME.html: the HTML report of a few cases of each tool.
# Wall time in text ("in 0.12 s;", as tests/samples/readme_output.sh) and in
# HTML (a model's seconds) is replaced by N.
# Needs a build with GRADCHECK_BUILD_BENCHMARKS=ON and python3.
set -euo pipefail
build=$(cd "$1" && pwd)
mkdir -p "$2"
out=$(cd "$2" && pwd)
mkdir -p "$out/text" "$out/html"
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
# Wall time in terminal text: gradcheck's "N evaluations in 0.12 s;".
normalise_text() {
  sed -E -e 's/ in [0-9]+\.[0-9]+ s;/ in N s;/' "$1" >"$1.norm" && mv "$1.norm" "$1"
}
# Wall time in an HTML report: the gradcheck page's seconds per model (in the
# models table and the line under each model's heading).
normalise_html() {
  sed -E -e 's/ evaluations, [0-9.e+-]+ s, noise level/ evaluations, N s, noise level/' \
    -e 's#(<td class="num">[0-9]+</td><td class="num">)[0-9.e+-]+(</td></tr>)#\1N\2#g' "$1" >"$1.norm" &&
    mv "$1.norm" "$1"
}
run() {  # run NAME TOOL ARGS...: the JSON report and the terminal text; the exit code is kept beside them
  local name=$1
  shift
  local rc=0
  "$@" --no-color --json "$out/$name.json" >"$out/$name.out" 2>"$out/$name.err" || rc=$?
  echo "$rc" >"$out/$name.rc"
  [ -s "$out/$name.json" ] && normalise "$out/$name.json"
  normalise_text "$out/$name.out"
  normalise_text "$out/$name.err"
  return 0
}
text() {  # text NAME TOOL ARGS...: stdout, stderr and exit code of one command (nothing added)
  local name=$1
  shift
  local rc=0
  "$@" >"$out/text/$name.out" 2>"$out/text/$name.err" || rc=$?
  echo "$rc" >"$out/text/$name.rc"
  normalise_text "$out/text/$name.out"
  normalise_text "$out/text/$name.err"
  return 0
}
json_stdout() {  # json_stdout NAME TOOL ARGS...: --json - (the report normalised) and the text on stderr
  local name=$1
  shift
  text "$name" "$@" --no-color --json -
  normalise "$out/text/$name.out"
}
html_stdout() {  # html_stdout NAME TOOL ARGS...: --html - and the text on stderr
  local name=$1
  shift
  text "$name" "$@" --no-color --html -
  normalise_html "$out/text/$name.out"
}
html() {  # html NAME TOOL ARGS...: the HTML report
  local name=$1
  shift
  "$@" --no-color --html "$out/html/$name.html" >/dev/null 2>&1 || true
  [ -s "$out/html/$name.html" ] && normalise_html "$out/html/$name.html"
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
run convdiag_logs_and_active "$cd_" tests/logs/data/diverging.jsonl --model "$build/samples/mlp/mlp.so" --classes 5
run convdiag_two_logs "$cd_" tests/logs/data/healthy.csv tests/logs/data/diverging.jsonl

# Terminal text beyond the plain report: --quiet, reports on standard output,
# --version, --help and usage errors.
relu=$build/samples/relu_layer/relu_layer.so buggy=$build/samples/buggy/buggy.so mlp=$build/samples/mlp/mlp.so
tiny=samples/checkpoints/tiny_mlp.safetensors broken=samples/checkpoints/broken_mlp.safetensors
healthy=tests/logs/data/healthy.csv diverging=tests/logs/data/diverging.jsonl
for t in gradcheck:"$gc" weightstats:"$ws" convdiag:"$cd_"; do
  tool=${t%%:*} exe=${t#*:}
  text "${tool}_version" "$exe" --version
  text "${tool}_help" "$exe" --help
  text "${tool}_no_arguments" "$exe"
done
text gradcheck_both_stdout "$gc" "$relu" --json - --html -
text weightstats_both_stdout "$ws" "$tiny" --json - --html -
text convdiag_both_stdout "$cd_" "$healthy" --json - --html -
text gradcheck_list "$gc" "$buggy" --list
text gradcheck_quiet_pass "$gc" "$relu" --threads 2 --quiet --no-color
text gradcheck_quiet_fail "$gc" "$buggy" --threads 2 --quiet --no-color
text weightstats_quiet_pass "$ws" "$tiny" --quiet --no-color
text weightstats_quiet_flagged "$ws" "$broken" --quiet --no-color
text weightstats_quiet_diff "$ws" --diff "$tiny" "$broken" --quiet --no-color
text convdiag_quiet_healthy "$cd_" "$healthy" --quiet --no-color
text convdiag_quiet_two_logs "$cd_" "$healthy" "$diverging" --quiet --no-color
text convdiag_quiet_active "$cd_" --model "$mlp" --classes 5 --quiet --no-color
text convdiag_quiet_logs_and_active "$cd_" "$diverging" --model "$mlp" --classes 5 --quiet --no-color
json_stdout gradcheck_json_stdout "$gc" "$buggy" --threads 2
json_stdout gradcheck_json_stdout_quiet "$gc" "$buggy" --threads 2 --quiet
json_stdout weightstats_json_stdout "$ws" "$broken"
json_stdout weightstats_json_stdout_quiet "$ws" "$broken" --quiet
json_stdout convdiag_json_stdout "$cd_" "$diverging"
json_stdout convdiag_json_stdout_quiet "$cd_" "$diverging" --quiet
json_stdout convdiag_json_stdout_active "$cd_" "$healthy" --model "$mlp" --classes 5
html_stdout gradcheck_html_stdout "$gc" "$buggy" --threads 2
html_stdout weightstats_html_stdout "$ws" "$broken"
html_stdout convdiag_html_stdout "$cd_" "$diverging"

# HTML reports.
html gradcheck_buggy "$gc" "$buggy" --threads 2
html gradcheck_mlp "$gc" "$mlp" --threads 2
html weightstats_tiny_mlp_spectral "$ws" "$tiny" --spectral
html weightstats_diff "$ws" --diff "$tiny" "$broken"
html convdiag_diverging "$cd_" "$diverging"
html convdiag_real_lightning "$cd_" tests/data/real/trainlogs/mnist_lightning-020.csv
html convdiag_active_mlp "$cd_" --model "$mlp" --classes 5
html convdiag_logs_and_active "$cd_" "$diverging" --model "$mlp" --classes 5
echo "snapshot_reports: $(ls "$out"/*.json | wc -l) reports, $(ls "$out"/text/*.out | wc -l) more outputs and" \
  "$(ls "$out"/html/*.html | wc -l) HTML pages in $out"
