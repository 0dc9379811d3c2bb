#!/usr/bin/env bash
# tools/screenshots.sh [BUILD_DIR]
#
# Renders each tool's HTML report on the samples and screenshots it in
# headless Chromium into docs/screenshots/*.png (the README shows them).
# BUILD_DIR defaults to build-screenshots (configured here); an existing build
# directory may be given instead. Each PNG must stay under 300 KB.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=$(realpath -m "${1:-$root/build-screenshots}")
out=$root/docs/screenshots
chromium=$(command -v chromium || command -v chromium-browser || true)
[ -n "$chromium" ] || { echo "screenshots.sh: chromium not found (install Debian's chromium)" >&2; exit 1; }

[ -f "$build/CMakeCache.txt" ] || cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$build" -j2 --target gradcheck_tool weightstats sample_buggy render_convdiag >/dev/null

# Paths in the reports read as a user would type them: relative to the repository.
cd "$root"
rel_build=${build#"$root"/}

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$out"

# shot NAME: screenshots $work/NAME.html into docs/screenshots/NAME.png.
shot() {
  local name=$1 profile
  profile=$(mktemp -d "$work/profile.XXXXXX")
  timeout 60 "$chromium" --headless --no-sandbox --disable-gpu --disable-background-networking \
    --disable-component-update --disable-sync --no-first-run --user-data-dir="$profile" --hide-scrollbars \
    --window-size=1280,1600 --screenshot="$out/$name.png" "file://$work/$name.html" >/dev/null 2>&1
  local size
  size=$(stat -c %s "$out/$name.png")
  [ "$size" -lt 307200 ] || { echo "screenshots.sh: $name.png is $size bytes (limit 300 KB)" >&2; exit 1; }
  echo "docs/screenshots/$name.png ($((size / 1024)) KB)"
}

# The tools exit 1 when they find a problem, which these samples have.
"$build/tools/gradcheck/gradcheck" "$rel_build/samples/buggy/buggy.so" -m relu_no_mask_f64 -m softmax_ce_missing_batch_factor_f64 \
  --html "$work/gradcheck.html" >/dev/null || [ $? -eq 1 ]
shot gradcheck
"$build/tools/weightstats/weightstats" "samples/checkpoints/broken_mlp.safetensors" \
  tests/data/real/weights/dfdx-mnist.safetensors --spectral \
  --html "$work/weightstats.html" >/dev/null || [ $? -eq 1 ]
shot weightstats
"$build/tools/weightstats/weightstats" --diff "samples/checkpoints/tiny_mlp.safetensors" \
  "samples/checkpoints/broken_mlp.safetensors" --html "$work/weightstats_diff.html" >/dev/null || [ $? -eq 1 ]
shot weightstats_diff
# convdiag's --html is wired by the lead; until then the page is rendered by
# the browser test's program (real logs plus a hand-filled active report).
logs=(tests/logs/data/diverging.jsonl tests/data/real/trainlogs/mnist_lightning-020.csv)
rm -f "$work/convdiag.html"
if [ -x "$build/tools/convdiag/convdiag" ]; then
  "$build/tools/convdiag/convdiag" "${logs[@]}" --html "$work/convdiag.html" >/dev/null 2>&1 || true
fi
[ -s "$work/convdiag.html" ] || "$build/tests/html/render_convdiag" "${logs[@]}" --html "$work/convdiag.html"
shot convdiag
