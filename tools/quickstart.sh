#!/usr/bin/env bash
# Quickstart on a fresh Debian 12 machine (as root or with sudo): installs the
# missing packages, builds into build/ and runs the main job on a sample.
set -euo pipefail
source "$(dirname "$0")/lib/setup.sh"
gradcheck_install_missing "${GRADCHECK_PACKAGES[@]}"
gradcheck_build
cd "$GRADCHECK_ROOT"

echo
echo "== A hand-written dense layer, checked through the library (samples/dense_layer) =="
"$BUILD_DIR/samples/dense_layer/dense_layer" || true
echo
echo "== The same layer with a transposed weight gradient: the check catches it =="
"$BUILD_DIR/samples/dense_layer/dense_layer" --bug transpose || true

echo
echo "== gradcheck on a plugin: a correct ReLU layer (samples/relu_layer) =="
"$BUILD_DIR/tools/gradcheck/gradcheck" "$BUILD_DIR/samples/relu_layer/relu_layer.so" || true
echo
echo "== ... and its buggy twin (backward without the mask): caught =="
"$BUILD_DIR/tools/gradcheck/gradcheck" "$BUILD_DIR/samples/buggy/buggy.so" -m relu_no_mask_f64 || true
