#!/usr/bin/env bash
# browser_check.sh PNG_INK HTML PNG [CLASS=MIN]...
#
# Renders HTML in headless Chromium and fails (exit 1, one line saying why)
# unless: the page logged nothing to the console (a script error, a failed
# load or a console.error all appear as CONSOLE lines with --enable-logging);
# every CLASS occurs on at least MIN elements of the rendered DOM; and the
# screenshot (1280x2000, written to PNG) is not blank (PNG_INK decodes it).
# With SCHEME=dark in the environment the page is rendered in the dark colour
# scheme (prefers-color-scheme) and its background must be dark; otherwise
# light.
set -u
ink=$1 html=$2 png=$3
shift 3
fail() { echo "browser_check: $html: $*" >&2; exit 1; }

chromium=$(command -v chromium || command -v chromium-browser || true)
[ -n "$chromium" ] || fail "chromium not found: install Debian's chromium package (tools/test.sh does)"
[ -s "$html" ] || fail "no HTML file (or it is empty)"
case $html in /*) url="file://$html" ;; *) url="file://$PWD/$html" ;; esac

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
flags=(--headless --no-sandbox --disable-gpu --disable-background-networking --disable-component-update
       --disable-sync --no-first-run --enable-logging=stderr --v=0)

mkdir "$work/p1" "$work/p2"
timeout 60 "$chromium" "${flags[@]}" --user-data-dir="$work/p1" --dump-dom "$url" >"$work/dom.html" 2>"$work/log1.txt"
rc=$?
[ $rc -eq 0 ] || fail "chromium --dump-dom exited $rc: $(tail -3 "$work/log1.txt")"
if grep -q ':CONSOLE' "$work/log1.txt"; then
  fail "console errors: $(grep ':CONSOLE' "$work/log1.txt" | head -5 | tr '\n' ' ')"
fi

# Count classes token by token, as the browser parsed them.
grep -oE 'class="[^"]*"' "$work/dom.html" | sed -e 's/^class="//' -e 's/"$//' | tr ' ' '\n' >"$work/classes.txt"
for spec in "$@"; do
  cls=${spec%%=*} min=${spec#*=}
  n=$(grep -cx -- "$cls" "$work/classes.txt")
  [ "$n" -ge "$min" ] || fail "expected at least $min elements of class '$cls' in the rendered page, found $n"
  echo "class $cls: $n"
done

mkdir -p "$(dirname "$png")"
rm -f "$png"
scheme=${SCHEME:-light}
extra=()
[ "$scheme" = dark ] && extra=(--force-dark-mode)
# --virtual-time-budget: the screenshot waits until the page has loaded and
# painted (in virtual time), not a wall-clock moment a loaded machine may
# reach before the first paint.
timeout 60 "$chromium" "${flags[@]}" "${extra[@]}" --user-data-dir="$work/p2" --hide-scrollbars --window-size=1280,2000 \
  --virtual-time-budget=5000 --screenshot="$png" "$url" >/dev/null 2>"$work/log2.txt"
rc=$?
[ $rc -eq 0 ] || fail "chromium --screenshot exited $rc: $(tail -3 "$work/log2.txt")"
if grep -q ':CONSOLE' "$work/log2.txt"; then
  fail "console errors: $(grep ':CONSOLE' "$work/log2.txt" | head -5 | tr '\n' ' ')"
fi
[ -s "$png" ] || fail "no screenshot written"
"$ink" "$png" 0.01 "$scheme" || fail "blank screenshot, or not in the $scheme scheme"
echo "browser_check: $html: ok"
