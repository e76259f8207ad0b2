#!/usr/bin/env bash
# `trit export` / `trit synth` end to end: every source kind (HDF5 checkpoint, run folder, Hugging Face folder,
# GGUF) to every output (GGUF types, hf-packed, hf-bf16), and every bad input: exit 1 with one stderr line naming
# the file and the problem, nothing written; bad flags exit 2.
cd "$(dirname "$0")/.."
TRIT=${TRIT:-./trit}
PY=/usr/bin/python3
G=tests/golden/hf-tiny-bitnet
tmp=$(mktemp -d /tmp/trit-e2e-export-XXXXXX)
trap '[ -n "${TRIT_KEEP_TMP+1}" ] || rm -rf "$tmp"' EXIT
export OMP_NUM_THREADS=2

# expect NAME STATUS PATTERN -- CMD...: CMD exits with STATUS, prints exactly one stderr line matching PATTERN,
# and leaves nothing under $tmp/out*.
expect() {
  local name=$1 want=$2 pat=$3; shift 4
  rm -rf "$tmp"/out*
  "$@" >"$tmp/stdout" 2>"$tmp/stderr"; local rc=$?
  local lines; lines=$(wc -l <"$tmp/stderr")
  if [ $rc -ne "$want" ]; then echo "FAIL $name: exit status $rc, want $want: $(head -c 300 "$tmp/stderr")"; return; fi
  if [ "$lines" -ne 1 ]; then echo "FAIL $name: $lines stderr lines, want 1: $(head -c 300 "$tmp/stderr")"; return; fi
  if ! grep -qE -- "$pat" "$tmp/stderr"; then echo "FAIL $name: message '$(cat "$tmp/stderr")' does not match '$pat'"; return; fi
  if ls -d "$tmp"/out* >/dev/null 2>&1; then echo "FAIL $name: left $(ls -d "$tmp"/out*)"; return; fi
  echo "PASS $name: $(cat "$tmp/stderr")"
}
ok() {   # ok NAME CMD...: CMD succeeds
  local name=$1; shift
  if "$@" >"$tmp/stdout" 2>"$tmp/stderr"; then echo "PASS $name: $(head -1 "$tmp/stdout")"
  else echo "FAIL $name: $(head -c 300 "$tmp/stderr")"; fi
}

# A tiny trained checkpoint (hidden 256 so every GGUF type fits; a byte tokenizer stored inside it).
head -c 40000 data/corpus/tinyshakespeare.txt >"$tmp/small.txt"
$TRIT tokenizer train --vocab 256 --out "$tmp/tok.json" "$tmp/small.txt" >"$tmp/log" 2>&1
$TRIT tokenizer train --vocab 300 --out "$tmp/tok300.json" "$tmp/small.txt" >>"$tmp/log" 2>&1
$TRIT shard --tokenizer "$tmp/tok.json" --out "$tmp/shards" --val-fraction 0.1 --quiet "$tmp/small.txt" >>"$tmp/log" 2>&1
cat >"$tmp/run.json" <<'EOF'
{"model": {"vocab_size": 259, "hidden_size": 256, "intermediate_size": 512, "num_hidden_layers": 2,
           "num_attention_heads": 4, "num_key_value_heads": 2, "hidden_act": "relu2", "max_position_embeddings": 64,
           "tie_word_embeddings": false, "bos_token_id": 256, "eos_token_id": 257},
 "tokenizer": "tok.json", "data": "shards", "out_dir": "run", "batch_size": 2, "seq_len": 32, "steps": 4,
 "lr": 1e-3, "warmup_steps": 1, "eval_batches": 1, "seed": 1, "threads": 2}
EOF
if ! $TRIT train "$tmp/run.json" --quiet >>"$tmp/log" 2>&1; then echo "FAIL export setup: train: $(tail -2 "$tmp/log")"; exit 0; fi
R=$tmp/run

# ---- sources and outputs ----
for ty in i2_s tq2_0 tq1_0 f16; do
  ok "run folder -> $ty" $TRIT export $R -o "$tmp/m-$ty.gguf" --type $ty
done
ok "checkpoint file -> tq2_0 with q8_0 embeddings" $TRIT export $R/latest.h5 -o "$tmp/q8.gguf" --embed q8_0 --name mymodel
$TRIT info "$tmp/q8.gguf" >"$tmp/info" 2>&1
if grep -q 'general.name .*"mymodel"' "$tmp/info" && grep -qE '^token_embd.weight +Q8_0' "$tmp/info" &&
   grep -qE '^output.weight +Q8_0' "$tmp/info" && grep -qE '^blk.1.ffn_down.weight +TQ2_0 +\[512, 256\]' "$tmp/info" &&
   grep -q 'bitnet.hidden_activation .*"relu2"' "$tmp/info" && grep -q 'tokenizer.ggml.tokens .*STRING x 259' "$tmp/info"; then
  echo "PASS export writes the documented names, types, keys and the checkpoint's tokenizer"
else echo "FAIL export names/keys: $(head -40 "$tmp/info")"; fi
grep -q 'general.architecture .*"bitnet-b1.58"' <($TRIT info "$tmp/m-i2_s.gguf") && grep -qE '^blk.0.attn_q.weight +I2_S' <($TRIT info "$tmp/m-i2_s.gguf") &&
  grep -q 'general.file_type .* 40$' <($TRIT info "$tmp/m-i2_s.gguf") &&
  echo "PASS i2_s: arch bitnet-b1.58, file type 40, I2_S linears" || echo "FAIL i2_s keys: $($TRIT info "$tmp/m-i2_s.gguf" | head -5)"
ok "GGUF -> GGUF of another type (tokenizer from the GGUF)" $TRIT export "$tmp/m-tq1_0.gguf" -o "$tmp/from-gguf.gguf" --type i2_s
# gg.py: the data bytes of a tensor of a GGUF (a minimal reader, independent of trit's)
cat >"$tmp/gg.py" <<'PY'
import struct
def tensor(path, want):
    b = open(path, 'rb').read(); o = 24; nt, nkv = struct.unpack_from('<QQ', b, 8)
    def s(o): n = struct.unpack_from('<Q', b, o)[0]; return b[o + 8:o + 8 + n], o + 8 + n
    def skip(t, o):
        size = {0: 1, 1: 1, 2: 2, 3: 2, 4: 4, 5: 4, 6: 4, 7: 1, 10: 8, 11: 8, 12: 8}
        if t in size: return o + size[t]
        if t == 8: return s(o)[1]
        et, n = struct.unpack_from('<IQ', b, o); o += 12
        if et in size: return o + n * size[et]
        for _ in range(n): o = skip(et, o)
        return o
    for _ in range(nkv): k, o = s(o); t = struct.unpack_from('<I', b, o)[0]; o = skip(t, o + 4)
    info = {}
    for _ in range(nt):
        name, o = s(o); nd = struct.unpack_from('<I', b, o)[0]; ne = struct.unpack_from('<%dQ' % nd, b, o + 4)
        o += 4 + 8 * nd; ty, off = struct.unpack_from('<IQ', b, o); o += 12; info[name.decode()] = (off, ne)
    off, ne = info[want]
    return b, (o + 31) // 32 * 32 + off, ne
PY
# the I2_S made from the TQ1_0 file has the codes of the one made from the checkpoint (scales differ by fp16)
$PY - "$tmp" <<'PY' && echo "PASS GGUF -> GGUF keeps the codes" || echo "FAIL GGUF -> GGUF codes differ"
import sys; sys.path.insert(0, sys.argv[1]); from gg import tensor
b1, o1, ne = tensor(sys.argv[1] + '/m-i2_s.gguf', 'blk.1.ffn_up.weight'); b2, o2, _ = tensor(sys.argv[1] + '/from-gguf.gguf', 'blk.1.ffn_up.weight')
n = ne[0] * ne[1] // 4
sys.exit(0 if b1[o1:o1 + n] == b2[o2:o2 + n] else 1)
PY
ok "GGUF -> hf-packed with --tokenizer" $TRIT export "$tmp/m-tq2_0.gguf" -o "$tmp/hfp" --format hf --tokenizer "$tmp/tok.json"
ok "hf-packed folder -> GGUF again (tokenizer.json beside config.json)" $TRIT export "$tmp/hfp" -o "$tmp/again.gguf" --type tq1_0
ok "run folder -> hf-bf16" $TRIT export $R -o "$tmp/hfb" --format hf-bf16
[ -f "$tmp/hfb/tokenizer.json" ] && grep -q '"quantization_mode":	"online"' "$tmp/hfb/config.json" && grep -q '"hidden_act":	"relu2"' "$tmp/hfb/config.json" &&
  echo "PASS hf-bf16 folder: config.json (online) and tokenizer.json" || echo "FAIL hf-bf16 folder: $(cat "$tmp/hfb/config.json")"
ok "golden Hugging Face latent folder -> f16 (no tokenizer)" $TRIT export $G/latent -o "$tmp/golden.gguf" --type f16 --no-tokenizer
ok "golden packed folder -> hf-packed" $TRIT export $G/packed -o "$tmp/golden-hf" --format hf-packed --no-tokenizer

# ---- bad input: one line naming the file and the problem, nothing written ----
expect "missing checkpoint" 1 "nothere.h5: No such file" -- $TRIT export "$tmp/nothere.h5" -o "$tmp/out.gguf"
printf 'hello' >"$tmp/text.h5"
expect "not a checkpoint" 1 "text.h5: " -- $TRIT export "$tmp/text.h5" -o "$tmp/out.gguf"
head -c 30000 $R/latest.h5 >"$tmp/trunc.h5"
expect "truncated checkpoint" 1 "trunc.h5: " -- $TRIT export "$tmp/trunc.h5" -o "$tmp/out.gguf"
head -c 5000 "$tmp/m-tq2_0.gguf" >"$tmp/trunc.gguf"
expect "truncated GGUF" 1 "trunc.gguf: " -- $TRIT export "$tmp/trunc.gguf" -o "$tmp/out.gguf"
expect "rows that TQ2_0 cannot hold" 1 "latent: tensor blk.0.attn_q.weight \(model.layers.0.self_attn.q_proj.weight\) has rows of 128 elements; TQ2_0 needs a multiple of 256" -- \
  $TRIT export $G/latent -o "$tmp/out.gguf" --no-tokenizer
expect "rows that I2_S cannot hold" 1 "latent: tensor blk.0.ffn_down.weight .* has rows of 344 elements; I2_S needs a multiple of 128" -- \
  $TRIT export $G/latent -o "$tmp/out.gguf" --type i2_s --no-tokenizer
expect "no tokenizer" 1 "latent: holds no tokenizer; pass --tokenizer" -- $TRIT export $G/latent -o "$tmp/out.gguf" --type f16
expect "tokenizer larger than the vocabulary" 1 "tok300.json: the tokenizer has 303 ids but the model's vocab_size is 259" -- \
  $TRIT export $R -o "$tmp/out.gguf" --tokenizer "$tmp/tok300.json"
expect "tokenizer file missing" 1 "nope.json: cannot open" -- $TRIT export $R -o "$tmp/out.gguf" --tokenizer "$tmp/nope.json"
expect "output folder missing" 1 "nodir/x.gguf: cannot write" -- $TRIT export $R -o "$tmp/out/nodir/x.gguf"
mkdir -p "$tmp/busy" && touch "$tmp/busy/keep.txt"
expect "hf into a foreign folder" 1 "busy: exists and holds 'keep.txt'" -- $TRIT export $R -o "$tmp/busy" --format hf
expect "hf-bf16 of stored ternary weights" 1 "stored ternary weights" -- $TRIT export "$tmp/m-tq2_0.gguf" -o "$tmp/out" --format hf-bf16 --no-tokenizer
# GGUFs that are not what the importer needs (edited copies of an export)
edit() {   # edit SRC DST FROM TO: replace the first occurrence of bytes FROM (after the header) by TO
  $PY - "$@" <<'PY'
import sys
b = bytearray(open(sys.argv[1], 'rb').read()); f, t = sys.argv[3].encode(), sys.argv[4].encode()
i = b.index(f); b[i:i + len(f)] = t; open(sys.argv[2], 'wb').write(b)
PY
}
$PY - "$tmp/m-tq2_0.gguf" "$tmp/arch.gguf" <<'PY'
import sys
b = bytearray(open(sys.argv[1], 'rb').read()); k = b.index(b'general.architecture') + len('general.architecture') + 4 + 8
b[k:k + 6] = b'llama!'; open(sys.argv[2], 'wb').write(b)
PY
expect "GGUF of another architecture" 1 "arch.gguf: general.architecture is 'llama!'" -- $TRIT export "$tmp/arch.gguf" -o "$tmp/out.gguf"
edit "$tmp/m-tq2_0.gguf" "$tmp/missing.gguf" 'blk.1.ffn_up.weight' 'blk.1.ffn_XX.weight'
expect "GGUF missing a tensor" 1 "missing.gguf: missing tensor 'blk.1.ffn_up.weight'" -- $TRIT export "$tmp/missing.gguf" -o "$tmp/out.gguf"
$PY - "$tmp" <<'PY'
import sys; sys.path.insert(0, sys.argv[1]); from gg import tensor
b, o, ne = tensor(sys.argv[1] + '/m-f16.gguf', 'blk.0.attn_k.weight'); b = bytearray(b)
b[o + 2:o + 4] = b'\x00\x3c' if b[o + 2:o + 4] != b'\x00\x3c' else b'\x00\x40'   # one element 1.0 (or 2.0)
open(sys.argv[1] + '/nonternary.gguf', 'wb').write(b)
PY
expect "GGUF with non-ternary linear values" 1 "nonternary.gguf: tensor 'blk.0.attn_k.weight' is not ternary" -- $TRIT export "$tmp/nonternary.gguf" -o "$tmp/out.gguf"

# ---- flags ----
expect "bad --type" 2 "--type wants i2_s, tq2_0, tq1_0 or f16, got 'q4_0'" -- $TRIT export $R -o "$tmp/out.gguf" --type q4_0
expect "bad --embed" 2 "--embed wants f16 or q8_0" -- $TRIT export $R -o "$tmp/out.gguf" --embed bf16
expect "bad --format" 2 "--format wants gguf, hf-packed or hf-bf16" -- $TRIT export $R -o "$tmp/out.gguf" --format onnx
expect "missing -o" 2 "-o OUT is required" -- $TRIT export $R
expect "unknown flag" 2 "unknown flag '--bogus'" -- $TRIT export $R -o "$tmp/out.gguf" --bogus 1
$TRIT export --help | grep -q -- "--no-tokenizer" && echo "PASS export --help" || echo "FAIL export --help"

# ---- synth ----
cat >"$tmp/cfg.json" <<'EOF'
{"vocab_size": 300, "hidden_size": 256, "intermediate_size": 512, "num_hidden_layers": 2, "num_attention_heads": 4,
 "num_key_value_heads": 2, "hidden_act": "relu2", "max_position_embeddings": 128, "tie_word_embeddings": true}
EOF
for f in gguf-i2_s gguf-tq2_0 gguf-tq1_0 gguf-f16; do
  ok "synth $f" $TRIT synth --config "$tmp/cfg.json" --format $f -o "$tmp/s-$f.gguf" --tokenizer "$tmp/tok.json" --seed 3
done
ok "synth hf-packed" $TRIT synth --config "$tmp/cfg.json" --format hf-packed -o "$tmp/s-hf" --no-tokenizer
ok "synth hf-packed -> export tq2_0" $TRIT export "$tmp/s-hf" -o "$tmp/s-hf.gguf" --no-tokenizer
$TRIT synth --config "$tmp/cfg.json" --format gguf-tq2_0 -o "$tmp/s-a.gguf" --no-tokenizer --seed 1 >/dev/null
$TRIT synth --config "$tmp/cfg.json" --format gguf-tq2_0 -o "$tmp/s-b.gguf" --no-tokenizer --seed 1 --threads 1 >/dev/null
cmp -s "$tmp/s-a.gguf" "$tmp/s-b.gguf" && echo "PASS synth: same seed, same bytes (1 or 2 threads)" || echo "FAIL synth not deterministic"
# one seed, one set of codes and scales: the TQ2_0 linears of synth gguf-tq2_0 and of synth hf-packed + export agree
$PY - "$tmp" <<'PY' && echo "PASS synth hf-packed + export = synth gguf-tq2_0 (linears byte for byte)" || echo "FAIL synth formats differ"
import sys; sys.path.insert(0, sys.argv[1]); from gg import tensor
for name in ('blk.0.attn_q.weight', 'blk.1.ffn_down.weight'):
    b1, o1, ne = tensor(sys.argv[1] + '/s-a.gguf', name); b2, o2, _ = tensor(sys.argv[1] + '/s-hf.gguf', name)
    n = ne[0] * ne[1] // 256 * 66
    if b1[o1:o1 + n] != b2[o2:o2 + n]: sys.exit(1)
PY
# the default tokenizer is Llama 3's (the 2B4T tokenizer, installed by make deps): a 2B4T-vocabulary model
sed 's/"vocab_size": 300/"vocab_size": 128256/; s/"num_hidden_layers": 2/"num_hidden_layers": 1/' "$tmp/cfg.json" >"$tmp/cfg-l3.json"
if $TRIT synth --config "$tmp/cfg-l3.json" --format gguf-i2_s -o "$tmp/l3.gguf" >"$tmp/stdout" 2>"$tmp/stderr" &&
   $TRIT info "$tmp/l3.gguf" >"$tmp/info" 2>&1 && grep -q 'tokenizer.ggml.pre .*"llama-bpe"' "$tmp/info" &&
   grep -q 'tokenizer.ggml.tokens .*STRING x 128256' "$tmp/info" && grep -q 'tokenizer.ggml.add_bos_token .*true' "$tmp/info"; then
  echo "PASS synth embeds the Llama 3 tokenizer by default (128256 tokens, add_bos)"
else echo "FAIL synth default tokenizer: $(cat "$tmp/stderr") $(grep tokenizer "$tmp/info" | head -3)"; fi
expect "synth: missing config" 1 "nope.json: cannot open" -- $TRIT synth --config "$tmp/nope.json" --format gguf-tq2_0 -o "$tmp/out.gguf" --no-tokenizer
expect "synth: tokenizer larger than vocab_size" 1 "cfg.json: vocab_size is 300 but the tokenizer .*tok300.json has 303 ids" -- \
  $TRIT synth --config "$tmp/cfg.json" --format gguf-tq2_0 -o "$tmp/out.gguf" --tokenizer "$tmp/tok300.json"
sed 's/"intermediate_size": 512/"intermediate_size": 640/' "$tmp/cfg.json" >"$tmp/cfg640.json"
expect "synth: rows TQ1_0 cannot hold" 1 "cfg640.json: tensor blk.0.ffn_down.weight .* has rows of 640 elements; TQ1_0 needs a multiple of 256" -- \
  $TRIT synth --config "$tmp/cfg640.json" --format gguf-tq1_0 -o "$tmp/out.gguf" --no-tokenizer
expect "synth: bad --format" 2 "--format wants gguf-i2_s" -- $TRIT synth --config "$tmp/cfg.json" --format gguf-q4 -o "$tmp/out.gguf"
expect "synth: missing --config" 2 "--config, --format and -o are required" -- $TRIT synth --format gguf-tq2_0 -o "$tmp/out.gguf"
exit 0
