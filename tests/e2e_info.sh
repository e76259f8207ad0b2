#!/usr/bin/env bash
# `trit info`: lists the golden model's tensors; a truncated file fails with one stderr line naming it;
# a missing argument is a usage error (status 2).
cd "$(dirname "$0")/.."
TRIT=${TRIT:-./trit}
ST=tests/golden/hf-tiny-bitnet/latent/model.safetensors
if [ ! -f "$ST" ]; then echo "FAIL info: $ST is missing"; exit 0; fi
tmp=$(mktemp -d /tmp/trit-info-XXXXXX)
trap '[ -n "${TRIT_KEEP_TMP+1}" ] || rm -rf "$tmp"' EXIT

"$TRIT" info "$ST" >"$tmp/out" 2>"$tmp/err"; rc=$?
if [ $rc -ne 0 ]; then echo "FAIL info lists tensors: status $rc: $(head -c 300 "$tmp/err")"
elif grep -qE '^model\.embed_tokens\.weight +F32 +\[512, 128\] +\(65536 params\)$' "$tmp/out"; then
  echo "PASS info lists model.embed_tokens.weight F32 [512, 128]"
else echo "FAIL info lists tensors: no embed_tokens line in: $(head -c 300 "$tmp/out")"; fi

n=$(grep -c ' params)$' "$tmp/out")
if tail -1 "$tmp/out" | grep -qE "^$n tensors, [0-9]+ parameters, [0-9]+ bytes$" && [ "$n" -gt 0 ]; then
  echo "PASS info total line: $(tail -1 "$tmp/out")"
else echo "FAIL info total line: '$(tail -1 "$tmp/out")' for $n tensor lines"; fi

# The columns line up: every tensor line has its dtype at the same offset.
cols=$(grep ' params)$' "$tmp/out" | awk '{ print index($0, " F32 ") }' | sort -u | wc -l)
[ "$cols" -eq 1 ] && echo "PASS info columns aligned" || echo "FAIL info columns: dtype at $cols different offsets"

# A folder: the same tensors.
dir=$(dirname "$ST")
if [ "$(basename "$ST")" = model.safetensors ]; then
  "$TRIT" info "$dir" >"$tmp/out2" 2>&1; rc=$?
  if [ $rc -eq 0 ] && grep -q '^model\.norm\.weight ' "$tmp/out2"; then echo "PASS info on a folder"
  else echo "FAIL info on a folder: status $rc: $(head -c 300 "$tmp/out2")"; fi
fi

# A truncated copy: status 1, exactly one stderr line that names the file.
head -c 1000 "$ST" >"$tmp/trunc.safetensors"
"$TRIT" info "$tmp/trunc.safetensors" >/dev/null 2>"$tmp/err"; rc=$?
lines=$(wc -l <"$tmp/err")
if [ $rc -ne 1 ]; then echo "FAIL info truncated: status $rc, want 1: $(head -c 300 "$tmp/err")"
elif [ "$lines" -ne 1 ]; then echo "FAIL info truncated: $lines stderr lines, want 1"
elif ! grep -q "trunc.safetensors: " "$tmp/err"; then echo "FAIL info truncated: message does not name the file: $(cat "$tmp/err")"
else echo "PASS info truncated file: $(cat "$tmp/err")"; fi

# A file that does not exist: status 1, names it.
"$TRIT" info "$tmp/nope.safetensors" >/dev/null 2>"$tmp/err"; rc=$?
[ $rc -eq 1 ] && grep -q "nope.safetensors: " "$tmp/err" && echo "PASS info missing file" ||
  echo "FAIL info missing file: status $rc: $(head -c 300 "$tmp/err")"

# Usage: no argument exits 2; --help exits 0 with the usage on stdout.
"$TRIT" info >/dev/null 2>&1; rc=$?
[ $rc -eq 2 ] && echo "PASS info without an argument exits 2" || echo "FAIL info without an argument: status $rc, want 2"
out=$("$TRIT" info --help 2>/dev/null); rc=$?
[ $rc -eq 0 ] && [[ "$out" == *"usage: trit info"* ]] && echo "PASS info --help" || echo "FAIL info --help: status $rc"
exit 0
