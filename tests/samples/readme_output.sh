#!/usr/bin/env bash
# readme_output.sh README EXPECTED_RC COMMAND...
# The README's first fenced block is what COMMAND prints: runs COMMAND, checks
# its exit code, and compares its standard output with that block line by
# line, so the front page cannot drift from the program.
set -u
readme=$1 want_rc=$2
shift 2
# Wall time ("in 0.00 s") and trailing blanks are the only things allowed to differ.
normalise() { sed -E -e 's/ in [0-9]+\.[0-9]+ s;/ in N s;/' -e 's/[[:space:]]+$//'; }
expected=$(awk '/^```/ { if (inside) exit; inside = 1; next } inside' "$readme" | normalise)
[ -n "$expected" ] || { echo "readme_output: no fenced block in $readme" >&2; exit 1; }
actual=$(NO_COLOR=1 "$@")
rc=$?
actual=$(printf '%s\n' "$actual" | normalise)
[ "$rc" -eq "$want_rc" ] || { echo "readme_output: $* exited $rc, expected $want_rc" >&2; exit 1; }
if [ "$expected" != "$actual" ]; then
  echo "readme_output: the first fenced block of $readme differs from the output of $*:" >&2
  diff <(printf '%s\n' "$expected") <(printf '%s\n' "$actual") >&2
  exit 1
fi
echo "readme_output: the README's first block is exactly the output of $*"
