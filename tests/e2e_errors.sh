#!/usr/bin/env bash
# Bad input to `trit grad` / `trit info`: one line on stderr naming the file and the problem, a non-zero
# exit, and no output file left behind.
cd "$(dirname "$0")/.."
TRIT=${TRIT:-./trit}
G=tests/golden/hf-tiny-bitnet
tmp=$(mktemp -d /tmp/trit-errors-XXXXXX)
trap '[ -n "${TRIT_KEEP_TMP+1}" ] || rm -rf "$tmp"' EXIT

# expect NAME PATTERN -- CMD...: CMD fails (status 1), prints exactly one stderr line matching PATTERN
# (a grep -E regex that must name the file), and writes no $tmp/out.safetensors.
expect() {
  local name=$1 pat=$2; shift 3
  rm -f "$tmp/out.safetensors"
  "$@" >"$tmp/stdout" 2>"$tmp/stderr"; local rc=$?
  local lines; lines=$(wc -l <"$tmp/stderr")
  if [ $rc -ne 1 ]; then echo "FAIL $name: exit status $rc, want 1: $(head -c 300 "$tmp/stderr")"; return; fi
  if [ "$lines" -ne 1 ]; then echo "FAIL $name: $lines stderr lines, want 1: $(head -c 300 "$tmp/stderr")"; return; fi
  if ! grep -qE "$pat" "$tmp/stderr"; then echo "FAIL $name: message '$(cat "$tmp/stderr")' does not match '$pat'"; return; fi
  if ls "$tmp"/out.safetensors* >/dev/null 2>&1; then echo "FAIL $name: left an output file"; return; fi
  echo "PASS $name: $(cat "$tmp/stderr")"
}

model() {   # model NAME: a copy of the golden latent model in $tmp/NAME
  rm -rf "$tmp/$1"; mkdir -p "$tmp/$1"; cp $G/latent/config.json $G/latent/model.safetensors "$tmp/$1/"
}
grad() { $TRIT grad --model "$1" --batch $G/batch.safetensors --out "$tmp/out.safetensors"; }

# truncated safetensors
model trunc; head -c 100000 $G/latent/model.safetensors >"$tmp/trunc/model.safetensors"
expect truncated-safetensors "trunc/model.safetensors: .*(past|end|truncat)" -- grad "$tmp/trunc"

# a header whose offsets run past the end of the file (offsets grown, file size unchanged)
model offsets
python3 - "$tmp/offsets/model.safetensors" <<'PY'
import json, struct, sys
p = sys.argv[1]; b = open(p, 'rb').read(); n = struct.unpack('<Q', b[:8])[0]; h = json.loads(b[8:8 + n])
k = 'model.norm.weight'; h[k]['data_offsets'][1] += 4096; h[k]['data_offsets'][0] += 4096
s = json.dumps(h, separators=(',', ':')).encode(); s += b' ' * ((8 - len(s) % 8) % 8)
open(p, 'wb').write(struct.pack('<Q', len(s)) + s + b[8 + n:])
PY
expect offsets-past-end "offsets/model.safetensors: .*model.norm.weight" -- grad "$tmp/offsets"

# a shape that does not match the config
model shape; sed -i 's/"intermediate_size": 344/"intermediate_size": 300/' "$tmp/shape/config.json"
expect shape-mismatch "shape/model.safetensors: tensor 'model.layers.0.mlp.((gate|down|up)_proj|ffn_sub_norm).weight' has shape .*config.json" -- grad "$tmp/shape"

# a dtype that does not match the config (latent F32 weights, config says packed)
model dtype; sed -i 's/"online"/"offline"/' "$tmp/dtype/config.json"
expect dtype-mismatch "dtype/model.safetensors: tensor '.*' is F32 but .*config.json says quantization_mode offline" -- grad "$tmp/dtype"

# a dtype the model cannot use at all (an int tensor where a float norm belongs)
model intdtype
python3 - "$tmp/intdtype/model.safetensors" <<'PY'
import json, struct, sys
p = sys.argv[1]; b = open(p, 'rb').read(); n = struct.unpack('<Q', b[:8])[0]; h = json.loads(b[8:8 + n])
h['model.norm.weight']['dtype'] = 'I32'
s = json.dumps(h, separators=(',', ':')).encode(); s += b' ' * ((8 - len(s) % 8) % 8)
open(p, 'wb').write(struct.pack('<Q', len(s)) + s + b[8 + n:])
PY
expect int-dtype "intdtype/model.safetensors: tensor 'model.norm.weight' has dtype I32" -- grad "$tmp/intdtype"

# a missing tensor (the config asks for a third layer)
model missing; sed -i 's/"num_hidden_layers": 2/"num_hidden_layers": 3/' "$tmp/missing/config.json"
expect missing-tensor "missing(/model.safetensors)?: missing tensor 'model.layers.2\." -- grad "$tmp/missing"

# malformed JSON
model badjson; head -c 120 $G/latent/config.json >"$tmp/badjson/config.json"
expect malformed-json "badjson/config.json: .*JSON" -- grad "$tmp/badjson"

# unknown hidden_act
model act; sed -i 's/"relu2"/"gelu"/' "$tmp/act/config.json"
expect unknown-hidden-act "act/config.json: unknown hidden_act 'gelu'" -- grad "$tmp/act"

# a missing config key of the right name
model nokey; sed -i '/"hidden_size"/d' "$tmp/nokey/config.json"
expect missing-config-key "nokey/config.json: key 'hidden_size' is missing" -- grad "$tmp/nokey"

# a batch with an out-of-vocabulary id
expect bad-batch "batch.safetensors: tensor 'input_ids' is missing|missing tensor 'input_ids'" -- \
  $TRIT grad --model $G/latent --batch $G/reference.safetensors --out "$tmp/out.safetensors"

# a LoRA file whose shapes do not fit the model
expect lora-shape "lora-init.safetensors: LoRA shapes" -- \
  $TRIT grad --model $G/latent --batch $G/batch.safetensors --out "$tmp/out.safetensors" --lora tests/golden/mha5/lora-init.safetensors

# output into a folder that does not exist: nothing written, one line
expect unwritable-out "nodir/out.safetensors" -- \
  $TRIT grad --model $G/latent --batch $G/batch.safetensors --out "$tmp/nodir/out.safetensors"

# bad flags exit 2
$TRIT grad --model $G/latent --bogus 1 >/dev/null 2>&1; rc=$?
[ $rc -eq 2 ] && echo "PASS bad-flag exits 2" || echo "FAIL bad-flag: status $rc, want 2"
$TRIT frobnicate >/dev/null 2>&1; rc=$?
[ $rc -eq 2 ] && echo "PASS unknown-command exits 2" || echo "FAIL unknown-command: status $rc, want 2"
$TRIT grad --help | grep -q -- "--lora-alpha" && echo "PASS grad --help" || echo "FAIL grad --help"
$TRIT help | grep -q "grad" && echo "PASS trit help lists commands" || echo "FAIL trit help"
exit 0
