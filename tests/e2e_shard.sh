#!/usr/bin/env bash
# `trit shard`: tinyshakespeare split 90/10 inside its single document (nanoGPT's numbers), the .tzst
# layout read back by an independent reader (python + the zstd CLI when installed), a text + jsonl
# corpus, and every bad input: one stderr line naming the file and the problem, status 1 (2 for a bad
# flag), and nothing written.
cd "$(dirname "$0")/.."
TRIT=${TRIT:-./trit}
PY=/usr/bin/python3
tmp=$(mktemp -d /tmp/trit-e2e-shard-XXXXXX)
trap '[ -n "${TRIT_KEEP_TMP+1}" ] || rm -rf "$tmp"' EXIT

# expect NAME STATUS PATTERN -- CMD...: CMD exits STATUS, prints exactly one stderr line matching PATTERN
# and leaves no $tmp/out folder (or, when it exists from before, no change in it).
expect() {
  local name=$1 want=$2 pat=$3; shift 4
  local before; before=$(ls -la "$tmp/out" 2>/dev/null | md5sum)
  "$@" >"$tmp/stdout" 2>"$tmp/stderr"; local rc=$?
  local lines; lines=$(wc -l <"$tmp/stderr")
  if [ $rc -ne "$want" ]; then echo "FAIL $name: exit status $rc, want $want: $(head -c 300 "$tmp/stderr")"; return; fi
  if [ "$lines" -ne 1 ]; then echo "FAIL $name: $lines stderr lines, want 1: $(head -c 300 "$tmp/stderr")"; return; fi
  if ! grep -qE -- "$pat" "$tmp/stderr"; then echo "FAIL $name: message '$(cat "$tmp/stderr")' does not match '$pat'"; return; fi
  if [ "$(ls -la "$tmp/out" 2>/dev/null | md5sum)" != "$before" ] || ls -a "$tmp/out" 2>/dev/null | grep -q staging; then
    echo "FAIL $name: the output folder changed"; return; fi
  echo "PASS $name: $(cat "$tmp/stderr")"
}

$TRIT tokenizer train --vocab 256 --out "$tmp/byte.json" data/corpus/tinyshakespeare.txt >/dev/null 2>"$tmp/err" ||
  { echo "FAIL byte tokenizer: $(cat "$tmp/err")"; exit 0; }

# tinyshakespeare, one document of 1,115,394 byte tokens: nanoGPT's int(n * 0.9) = 1,003,854 train tokens
$TRIT shard --tokenizer "$tmp/byte.json" --out "$tmp/shk" --doc-per-file data/corpus/tinyshakespeare.txt >"$tmp/stdout" 2>"$tmp/stderr"
if grep -q "train 1,003,854 tokens (1 document, 1 shard), val 111,540 tokens (1 document, 1 shard)" "$tmp/stdout" && [ ! -s "$tmp/stderr" ]; then
  echo "PASS tinyshakespeare: 90/10 inside the single document"
else echo "FAIL tinyshakespeare split: $(cat "$tmp/stdout" "$tmp/stderr" | head -c 400)"; fi
$TRIT shard --verify "$tmp/shk" >"$tmp/stdout" 2>&1
if grep -q "^train: 1,003,854 tokens, largest id .*, vocab size 259, EOS 257, checksums ok" "$tmp/stdout" &&
   grep -q "^val: 111,540 tokens" "$tmp/stdout"; then echo "PASS shard --verify"; else echo "FAIL shard --verify: $(cat "$tmp/stdout")"; fi

# An independent reader of docs/formats.md: header fields, FNV-1a-64 of the tokens, and the tokens
# themselves (the byte tokenizer maps each byte b to a fixed id, so the ids spell the corpus back).
if command -v zstd >/dev/null; then
  for s in train val; do tail -c +81 "$tmp/shk/${s}_000000.tzst" | zstd -dq >"$tmp/$s.u16" || echo "FAIL zstd -d $s"; done
  have_zstd=1
else have_zstd=0; fi
$PY - "$tmp/shk" "$tmp/byte.json" data/corpus/tinyshakespeare.txt $have_zstd <<'PY'
import json, os, struct, sys
d, tokjson, corpus, have_zstd = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4] == "1"
man = json.load(open(os.path.join(d, "shards.json")))
def fnv(b):
    h = 0xcbf29ce484222325
    for x in b: h = ((h ^ x) * 0x100000001b3) & 0xffffffffffffffff
    return h
ok = True
text = open(corpus, "rb").read()
vocab = json.load(open(tokjson))["model"]["vocab"]
# GPT-2 byte -> unicode table (the byte-level alphabet), to map each byte to its id
bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
cs = bs[:]; n = 0
for b in range(256):
    if b not in bs: bs.append(b); cs.append(256 + n); n += 1
byte_id = {b: vocab[chr(c)] for b, c in zip(bs, cs)}
want = [byte_id[b] for b in text]
for split, start, count in (("train", 0, 1003854), ("val", 1003854, 111540)):
    raw = open(os.path.join(d, split + "_000000.tzst"), "rb").read()
    f = struct.unpack("<8sIIIIIiIIQQQQQ", raw[:80])
    magic, ver, hsize, width, sp, vocab_size, eos, idx, nsh, ntok, ndocs, first, csum, zsize = f
    good = (magic == b"TRITSHRD" and ver == 1 and hsize == 80 and width == 2 and sp == (split == "val") and vocab_size == 259
            and eos == 257 and idx == 0 and nsh == 1 and ntok == count and ndocs == 1 and first == 0 and zsize == len(raw) - 80
            and raw[80:84] == b"\x28\xb5\x2f\xfd" and man[split]["shards"][0]["fnv1a64"] == "%016x" % csum)
    if have_zstd:
        toks = open(os.path.join(os.path.dirname(d), split + ".u16"), "rb").read()
        ids = list(struct.unpack("<%dH" % (len(toks) // 2), toks))
        good = good and fnv(toks) == csum and ids == want[start:start + count]
    print(("PASS" if good else "FAIL") + " independent reader: %s header%s" % (split, ", checksum and tokens" if have_zstd else " (no zstd CLI: header only)"))
PY

# A text + jsonl corpus, whole-document split, several shards; rebuilt with 1 thread: identical bytes.
printf '{"text": "First JSON document."}\n\n{"text": "second \\u00e9 document", "id": 2}\n' >"$tmp/docs.jsonl"
$TRIT shard --tokenizer llama3 --out "$tmp/mix" --val-fraction 0.05 --shard-tokens 50000 \
  data/corpus/tinystories_sample.txt "$tmp/docs.jsonl" >"$tmp/stdout" 2>"$tmp/stderr"
if grep -qE "train [0-9,]+ tokens \([0-9]+ documents, 4 shards\), val [0-9,]+ tokens \([0-9]+ documents, 1 shard\)" "$tmp/stdout"; then
  echo "PASS text + jsonl with the Llama 3 tokenizer: $(cat "$tmp/stdout")"
else echo "FAIL text + jsonl: $(cat "$tmp/stdout" "$tmp/stderr" | head -c 400)"; fi
$TRIT shard --tokenizer llama3 --out "$tmp/mix1" --val-fraction 0.05 --shard-tokens 50000 --threads 1 \
  data/corpus/tinystories_sample.txt "$tmp/docs.jsonl" >/dev/null 2>&1
same=1; for f in "$tmp"/mix/*.tzst; do cmp -s "$f" "$tmp/mix1/$(basename "$f")" || same=0; done
[ $same -eq 1 ] && echo "PASS 1 thread and 2 threads: identical shards" || echo "FAIL shards depend on the thread count"

# ---- bad inputs ----
mkdir -p "$tmp/out"; cp "$tmp"/shk/* "$tmp/out/"   # a good earlier run: failures must leave it untouched
S() { $TRIT shard --tokenizer "$tmp/byte.json" --out "$tmp/out" "$@"; }
: >"$tmp/empty.txt"; printf '\n  \n\n' >"$tmp/blank.txt"
expect empty-input 1 "empty.txt: no documents" -- S "$tmp/empty.txt"
expect blank-input 1 "blank.txt \(and 1 more inputs\): no documents" -- S "$tmp/blank.txt" "$tmp/empty.txt"
expect missing-input 1 "nope.txt: cannot open: No such file" -- S data/corpus/tinyshakespeare.txt "$tmp/nope.txt"
expect folder-input 1 "$tmp: is a directory" -- S "$tmp"
printf '{"text": "fine"}\n{"title": "no text"}\n' >"$tmp/notext.jsonl"
expect jsonl-no-text 1 "notext.jsonl: line 2: no \"text\" field" -- S "$tmp/notext.jsonl"
printf '{"text": "fine"}\n\n{"text": "broken\n' >"$tmp/broken.jsonl"
expect jsonl-malformed 1 "broken.jsonl: line 3: malformed JSON" -- S "$tmp/broken.jsonl"
printf 'ab' >"$tmp/tiny.txt"
expect too-few-tokens 1 "tiny.txt: 2 tokens are too few: with val fraction 0.9 the train split would be empty" -- S --val-fraction 0.9 "$tmp/tiny.txt"
$PY - "$tmp/byte.json" "$tmp/noeos.json" <<'PY'
import json, sys
t = json.load(open(sys.argv[1])); t["added_tokens"] = [a for a in t["added_tokens"] if a["content"] != "<|end_of_text|>"]
json.dump(t, open(sys.argv[2], "w"))
PY
expect no-eos 1 "noeos.json: the tokenizer has no EOS" -- $TRIT shard --tokenizer "$tmp/noeos.json" --out "$tmp/out" data/corpus/tinyshakespeare.txt
expect bad-tokenizer 1 "missing.json: cannot open" -- $TRIT shard --tokenizer "$tmp/missing.json" --out "$tmp/out" data/corpus/tinyshakespeare.txt
expect out-is-a-file 1 "empty.txt: exists and is not a folder" -- $TRIT shard --tokenizer "$tmp/byte.json" --out "$tmp/empty.txt" data/corpus/tinyshakespeare.txt
for f in 1 -0.1 abc 1.5 nan; do
  expect "bad --val-fraction $f" 2 "--val-fraction wants a number with 0 <= F < 1, got '$f'" -- S --val-fraction "$f" data/corpus/tinyshakespeare.txt
done
expect bad-shard-tokens 2 "--shard-tokens wants a positive integer" -- S --shard-tokens 0 data/corpus/tinyshakespeare.txt
expect unknown-flag 2 "unknown flag '--bogus'" -- S --bogus 1 data/corpus/tinyshakespeare.txt
expect no-inputs 2 "no input files" -- S
$TRIT shard --verify "$tmp/out" >/dev/null 2>&1 && echo "PASS failures left the earlier shards intact" || echo "FAIL the earlier shards were damaged"

# ---- corrupt shards (trit shard --verify; the trainer reads through the same loader) ----
corrupt() {   # corrupt NAME PYTHON-EDIT: a copy of the good folder with val_000000.tzst edited (b = bytearray)
  rm -rf "$tmp/$1"; cp -r "$tmp/shk" "$tmp/$1"
  $PY -c "import sys; p=sys.argv[1]; b=bytearray(open(p,'rb').read()); $2; open(p,'wb').write(b)" "$tmp/$1/val_000000.tzst"
}
corrupt magic 'b[0:8] = b"NOTSHARD"'
expect corrupt-magic 1 "magic/val_000000.tzst: not a trit shard \(bad magic" -- $TRIT shard --verify "$tmp/magic"
corrupt version 'b[8] = 9'
expect corrupt-version 1 "version/val_000000.tzst: unsupported shard version 9" -- $TRIT shard --verify "$tmp/version"
corrupt checksum 'b[64] ^= 1'
expect corrupt-checksum 1 "checksum/val_000000.tzst: checksum mismatch" -- $TRIT shard --verify "$tmp/checksum"
corrupt trunc 'del b[-100:]'
expect corrupt-truncated 1 "trunc/val_000000.tzst: truncated" -- $TRIT shard --verify "$tmp/trunc"
corrupt payload 'b[len(b) // 2] ^= 0xff'
expect corrupt-payload 1 "payload/val_000000.tzst: (corrupt|checksum)" -- $TRIT shard --verify "$tmp/payload"
corrupt vocab 'b[24:28] = (100).to_bytes(4, "little"); b[28:32] = (5).to_bytes(4, "little")'
expect ids-above-vocab 1 "vocab/val_000000.tzst: token [0-9]+ is [0-9]+, outside the vocabulary \(vocab size 100" -- $TRIT shard --verify "$tmp/vocab"
rm -rf "$tmp/gap"; cp -r "$tmp/mix" "$tmp/gap"; rm "$tmp/gap/train_000001.tzst"
expect missing-shard 1 "gap/train_000001.tzst: missing \(the train split has 4 shards\)" -- $TRIT shard --verify "$tmp/gap"

# llm.c and nanoGPT .bin files
$PY - "$tmp" <<'PY'
import struct, sys
d = sys.argv[1]
toks = [i * 7 % 50257 for i in range(5000)]
open(d + "/tiny_val.bin", "wb").write(struct.pack("<256i", 20240520, 1, len(toks), *([0] * 253)) + struct.pack("<%dH" % len(toks), *toks))
open(d + "/short_val.bin", "wb").write(struct.pack("<256i", 20240520, 1, 6000, *([0] * 253)) + struct.pack("<%dH" % len(toks), *toks))
open(d + "/val.bin", "wb").write(struct.pack("<%dH" % len(toks), *toks))
PY
$TRIT shard --verify "$tmp/tiny_val.bin" 2>&1 | grep -q "tiny_val.bin: 5,000 tokens, largest id 34993, checksums ok" &&
  echo "PASS verify an llm.c .bin" || echo "FAIL verify an llm.c .bin: $($TRIT shard --verify "$tmp/tiny_val.bin" 2>&1)"
$TRIT shard --verify "$tmp/val.bin" 2>&1 | grep -q "5,000 tokens" && echo "PASS verify a nanoGPT val.bin" || echo "FAIL verify a nanoGPT val.bin"
expect llmc-truncated 1 "short_val.bin: truncated: the llm.c header says 6000 tokens" -- $TRIT shard --verify "$tmp/short_val.bin"

$TRIT shard --help | grep -q -- "--val-fraction" && echo "PASS shard --help" || echo "FAIL shard --help"
exit 0
