#!/usr/bin/env bash
# `trit info` on GGUF files written by an independent writer (Python, from the spec in docs/formats.md):
# the summary, metadata and tensor lines; and bad files (truncated, wrong magic, unknown version, unknown
# tensor type, data past the end): exit 1 with one stderr line naming the file.
cd "$(dirname "$0")/.."
TRIT=${TRIT:-./trit}
tmp=$(mktemp -d /tmp/trit-gguf-XXXXXX)
trap '[ -n "${TRIT_KEEP_TMP+1}" ] || rm -rf "$tmp"' EXIT

# mk OUT [corruption]: a small bitnet-style GGUF v3 file.
mk() {
  python3 - "$@" <<'PY'
import struct, sys
out = sys.argv[1]; bad = sys.argv[2] if len(sys.argv) > 2 else ""
def s(x): b = x.encode(); return struct.pack('<Q', len(b)) + b
kvs = [("general.architecture", 8, s("bitnet")), ("bitnet.block_count", 4, struct.pack('<I', 1)),
       ("bitnet.attention.layer_norm_rms_epsilon", 6, struct.pack('<f', 1e-5)), ("general.quantization_version", 4, struct.pack('<I', 2)),
       ("tokenizer.ggml.tokens", 9, struct.pack('<IQ', 8, 3) + s("a") + s('b"q') + s("\u0120the")),
       ("x.flags", 9, struct.pack('<IQ', 7, 2) + b'\x01\x00')]
tensors = [("token_embd.weight", 1, [256, 5], 256 * 5 * 2), ("blk.0.attn_q.weight", 35, [256, 4], 4 * 66),
           ("output_norm.weight", 0, [256], 1024)]
if bad == "type": tensors[1] = ("blk.0.attn_q.weight", 31, [256, 4], 4 * 66)
hdr = b"GGUF" + struct.pack('<IQQ', 9 if bad == "version" else 3, len(tensors), len(kvs))
for k, t, v in kvs: hdr += s(k) + struct.pack('<I', t) + v
off = 0; data = b""
for name, t, ne, n in tensors:
    hdr += s(name) + struct.pack('<I', len(ne)) + b"".join(struct.pack('<Q', d) for d in ne)
    hdr += struct.pack('<IQ', t, off + (4096 if bad == "offset" and name == "output_norm.weight" else 0))
    data += bytes((i * 7) % 256 for i in range(n)); pad = (-len(data)) % 32; data += b"\0" * pad; off = len(data)
hdr += b"\0" * ((-len(hdr)) % 32)
b = hdr + data
if bad == "magic": b = b"GGML" + b[4:]
if bad == "trunc": b = b[:len(hdr) + 100]
open(out, "wb").write(b)
PY
}

# expect NAME PATTERN CMD...: status 1, exactly one stderr line matching PATTERN.
expect() {
  local name=$1 pat=$2; shift 2
  "$@" >"$tmp/stdout" 2>"$tmp/stderr"; local rc=$?
  local lines; lines=$(wc -l <"$tmp/stderr")
  if [ $rc -ne 1 ]; then echo "FAIL $name: exit status $rc, want 1: $(head -c 300 "$tmp/stderr")"; return; fi
  if [ "$lines" -ne 1 ]; then echo "FAIL $name: $lines stderr lines, want 1"; return; fi
  if ! grep -qE "$pat" "$tmp/stderr"; then echo "FAIL $name: '$(cat "$tmp/stderr")' does not match '$pat'"; return; fi
  echo "PASS $name: $(cat "$tmp/stderr")"
}

mk "$tmp/m.gguf"
if ! $TRIT info "$tmp/m.gguf" >"$tmp/out" 2>"$tmp/err"; then
  echo "FAIL info on a GGUF file: $(cat "$tmp/err")"
else
  check() { if grep -qE "$2" "$tmp/out"; then echo "PASS $1"; else echo "FAIL $1: no line matching '$2' in: $(head -c 600 "$tmp/out")"; fi; }
  check "info GGUF summary line" "^$tmp/m.gguf: GGUF v3, 6 metadata keys, 3 tensors, alignment 32, data at byte [0-9]+$"
  check "info GGUF string KV" '^general\.architecture +STRING +"bitnet"$'
  check "info GGUF float KV" '^bitnet\.attention\.layer_norm_rms_epsilon +FLOAT32 +9\.99999975e-06$'
  check "info GGUF string array, escaped" '^tokenizer\.ggml\.tokens +ARRAY +\[STRING x 3\] "a", "b\\"q", "Ġthe"$'
  check "info GGUF bool array" '^x\.flags +ARRAY +\[BOOL x 2\] true, false$'
  check "info GGUF TQ2_0 tensor line" '^blk\.0\.attn_q\.weight +TQ2_0 +\[256, 4\] +\(1024 params, 264 bytes\)$'
  check "info GGUF F16 tensor line" '^token_embd\.weight +F16 +\[256, 5\] +\(1280 params, 2560 bytes\)$'
  check "info GGUF totals" '^3 tensors, 2560 parameters, 3848 bytes$'
fi
cp "$tmp/m.gguf" "$tmp/noext"
$TRIT info "$tmp/noext" 2>/dev/null | grep -q "GGUF v3" && echo "PASS info detects GGUF by its magic" || echo "FAIL info detects GGUF by its magic"

mk "$tmp/trunc.gguf" trunc
expect "info truncated GGUF" "^trit info: $tmp/trunc.gguf: tensor '.*' data \[.*runs past the end" $TRIT info "$tmp/trunc.gguf"
mk "$tmp/magic.gguf" magic
expect "info GGUF with a wrong magic" "^trit info: $tmp/magic.gguf: not a GGUF file" $TRIT info "$tmp/magic.gguf"
mk "$tmp/version.gguf" version
expect "info GGUF version 9" "^trit info: $tmp/version.gguf: unsupported GGUF version 9" $TRIT info "$tmp/version.gguf"
mk "$tmp/type.gguf" type
expect "info GGUF unknown tensor type" "^trit info: $tmp/type.gguf: tensor 'blk.0.attn_q.weight' has unknown type 31$" $TRIT info "$tmp/type.gguf"
mk "$tmp/offset.gguf" offset
expect "info GGUF offset past the end" "^trit info: $tmp/offset.gguf: tensor 'output_norm.weight' data \[" $TRIT info "$tmp/offset.gguf"
expect "info missing GGUF" "^trit info: $tmp/nope.gguf: cannot open" $TRIT info "$tmp/nope.gguf"
exit 0
