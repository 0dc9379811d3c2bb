#!/usr/bin/env bash
# pip install --no-build-isolation ./python, as the README says, into a fresh
# virtual environment (with the system's site packages, for NumPy), from a copy
# of the parts of the repository the build reads (so the source tree stays
# clean); then a check from outside the repository.
# Usage: pip_install.sh PYTHON SOURCE_DIR WORK_DIR
set -euo pipefail
python=$1 root=$2 work=$3
rm -rf "$work"
mkdir -p "$work/src"
cp -r "$root/CMakeLists.txt" "$root/cmake" "$root/lib" "$root/python" "$work/src/"
rm -rf "$work/src/python/build" "$work/src/python/"*.egg-info
"$python" -m venv --system-site-packages "$work/venv"
"$work/venv/bin/python" -m pip install --no-build-isolation --no-index --quiet "$work/src/python"
cd "$work"
"$work/venv/bin/python" - <<'PY'
import numpy as np
import gradcheck
assert gradcheck.__file__.startswith(__import__("sys").prefix), gradcheck.__file__
ok = gradcheck.check_gradient(lambda x: float(np.sum(x ** 3)), lambda x: 3 * x ** 2, np.linspace(-1, 1, 7))
bad = gradcheck.check_gradient(lambda x: float(np.sum(x ** 3)), lambda x: 2 * x ** 2, np.linspace(-1, 1, 7))
assert ok.passed and not bad.passed, (ok.to_text(), bad.to_text())
print("installed:", gradcheck.__file__, "|", repr(ok))
PY
