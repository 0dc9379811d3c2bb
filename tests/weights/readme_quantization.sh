#!/usr/bin/env bash
# readme_quantization.sh README WEIGHTSTATS ROOT
# Every line of the README's quantization --diff example (the fenced block after
# the command naming tiny_llama.Q4_0.gguf; "..." lines stand for the rest) is a
# line weightstats prints for that command, spaces squeezed.
set -u
readme=$1 tool=$2 root=$3
squeeze() { tr -s ' ' | sed -E 's/[[:space:]]+$//'; }
block=$(awk '/weightstats --diff .*tiny_llama.Q4_0.gguf/ { found = 1; next }
             found && /^```/ { if (inside) exit; inside = 1; next }
             inside && $0 != "..." { print }' "$readme" | squeeze)
[ -n "$block" ] || { echo "readme_quantization: no example block in $readme" >&2; exit 1; }
cd "$root" || exit 1
actual=$(NO_COLOR=1 "$tool" --diff tests/data/real/gguf/tiny_llama.safetensors tests/data/real/gguf/tiny_llama.Q4_0.gguf | squeeze)
status=0
while IFS= read -r line; do
  grep -qxF -- "$line" <<<"$actual" || { echo "readme_quantization: not printed: $line" >&2; status=1; }
done <<<"$block"
[ $status -eq 0 ] && echo "readme_quantization: the README's quantization example is what weightstats prints"
exit $status
