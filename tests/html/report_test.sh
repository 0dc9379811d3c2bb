#!/usr/bin/env bash
# report_test.sh BROWSER_CHECK PNG_INK OUTDIR NAME EXPECTED_RC "CLASS=MIN ..." COMMAND...
#
# Runs COMMAND --html OUTDIR/NAME.html, requires its exit code, then checks the
# page in the browser (browser_check.sh) and leaves the screenshot in
# OUTDIR/NAME.png.
set -u
check=$1 ink=$2 out=$3 name=$4 want=$5 classes=$6
shift 6
mkdir -p "$out"
html="$out/$name.html"
rm -f "$html"
"$@" --html "$html" >"$out/$name.stdout" 2>"$out/$name.stderr"
rc=$?
[ $rc -eq "$want" ] || { echo "report_test: $* exited $rc, expected $want: $(head -3 "$out/$name.stderr")" >&2; exit 1; }
# shellcheck disable=SC2086 # the class specs are words
exec bash "$check" "$ink" "$html" "$out/$name.png" $classes
