#!/usr/bin/env bash
# expect.sh RC REGEX CMD...: runs CMD, fails unless it exits with RC and its
# combined stdout+stderr matches the extended REGEX.
set -u
want_rc=$1; regex=$2; shift 2
out=$("$@" 2>&1); rc=$?
printf '%s\n' "$out"
if [ "$rc" != "$want_rc" ]; then echo "expect.sh: exit code $rc, expected $want_rc" >&2; exit 1; fi
if ! printf '%s' "$out" | tr '\n' ' ' | grep -Eq -- "$regex"; then echo "expect.sh: output does not match /$regex/" >&2; exit 1; fi
