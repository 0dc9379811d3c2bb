#!/usr/bin/env bash
# Quickstart on a fresh Debian 12 machine (as root or with sudo): installs the
# missing packages, builds into build/ only what it runs (the library, the
# gradcheck tool and three samples), and shows the main job: a hand-written
# layer checked through the library, then model plugins checked by the tool.
# tools/test.sh builds the rest (tests, benchmarks) in the same build/.
set -euo pipefail
source "$(dirname "$0")/lib/setup.sh"
gradcheck_install_missing "${GRADCHECK_PACKAGES[@]}"
gradcheck_configure
cd "$GRADCHECK_ROOT"

echo "== Building the library and samples/dense_layer into $BUILD_DIR =="
gradcheck_build dense_layer
echo
echo "== A hand-written dense layer, checked through the library (samples/dense_layer) =="
"$BUILD_DIR/samples/dense_layer/dense_layer" || true
echo
echo "== The same layer with a transposed weight gradient: the check catches it =="
"$BUILD_DIR/samples/dense_layer/dense_layer" --bug transpose || true

echo
echo "== Building the gradcheck tool and two plugins =="
gradcheck_build gradcheck_tool sample_relu_layer sample_buggy
echo
echo "== gradcheck on a plugin: a correct ReLU layer (samples/relu_layer) =="
"$BUILD_DIR/tools/gradcheck/gradcheck" "$BUILD_DIR/samples/relu_layer/relu_layer.so" || true
echo
echo "== ... and its buggy twin (backward without the mask): caught =="
"$BUILD_DIR/tools/gradcheck/gradcheck" "$BUILD_DIR/samples/buggy/buggy.so" -m relu_no_mask_f64 || true
