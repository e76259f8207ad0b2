#!/usr/bin/env bash
# `trit train` / `trit sample` end to end on a tiny model: every run-config key missing or of the wrong type
# gives one line naming the file and the key; a process killed (SIGKILL) while it writes a checkpoint leaves
# the previous checkpoint loadable, and resuming from it gives the same result as an uninterrupted run;
# Ctrl-C stops with a checkpoint; sampling from a checkpoint; CLI errors.
cd "$(dirname "$0")/.."
TRIT=${TRIT:-./trit}
PY=/usr/bin/python3
tmp=$(mktemp -d /tmp/trit-e2e-train-XXXXXX)
trap '[ -n "${TRIT_KEEP_TMP+1}" ] || rm -rf "$tmp"' EXIT
export OMP_NUM_THREADS=2

# expect NAME STATUS PATTERN -- CMD...: CMD exits with STATUS and prints exactly one stderr line matching PATTERN.
expect() {
  local name=$1 want=$2 pat=$3; shift 4
  "$@" >"$tmp/stdout" 2>"$tmp/stderr"; local rc=$?
  local lines; lines=$(wc -l <"$tmp/stderr")
  if [ $rc -ne "$want" ]; then echo "FAIL $name: exit status $rc, want $want: $(head -c 300 "$tmp/stderr")"; return; fi
  if [ "$lines" -ne 1 ]; then echo "FAIL $name: $lines stderr lines, want 1: $(head -c 300 "$tmp/stderr")"; return; fi
  if ! grep -qE -- "$pat" "$tmp/stderr"; then echo "FAIL $name: message '$(cat "$tmp/stderr")' does not match '$pat'"; return; fi
  echo "PASS $name: $(cat "$tmp/stderr")"
}

# A byte tokenizer and shards of the first 60 kB of the bundled corpus (the last 10% is the val split).
head -c 60000 data/corpus/tinyshakespeare.txt >"$tmp/small.txt"
if ! $TRIT tokenizer train --vocab 256 --out "$tmp/tok.json" "$tmp/small.txt" >"$tmp/log" 2>&1 ||
   ! $TRIT shard --tokenizer "$tmp/tok.json" --out "$tmp/shards" --val-fraction 0.1 "$tmp/small.txt" >>"$tmp/log" 2>&1; then
  echo "FAIL e2e_train setup: tokenizer/shard failed: $(tail -3 "$tmp/log")"; exit 0
fi

# config FILE [KEY=JSON ...] [-KEY ...]: the tiny run with keys set (KEY=JSON) or removed (-KEY).
config() {
  local file=$1; shift
  $PY - "$file" "$@" <<'PY'
import json, sys
c = {"model": {"vocab_size": 259, "hidden_size": 32, "intermediate_size": 48, "num_hidden_layers": 2,
               "num_attention_heads": 4, "num_key_value_heads": 2, "hidden_act": "relu2",
               "max_position_embeddings": 32, "tie_word_embeddings": True, "eos_token_id": 257},
     "tokenizer": "tok.json", "data": "shards", "out_dir": "run", "batch_size": 4, "seq_len": 32, "steps": 30,
     "lr": 3e-3, "schedule": "cosine", "warmup_steps": 5, "min_lr": 3e-4, "betas": [0.9, 0.99], "eps": 1e-8,
     "weight_decay": 0.1, "clip": 1.0, "init_std": 0.02, "seed": 3, "eval_every": 10, "eval_batches": 4,
     "ckpt_every": 10, "keep_checkpoints": 0, "threads": 2, "grad_accum": 1, "decay_norms": False,
     "decay_embeddings": True}
for a in sys.argv[2:]:
    if a.startswith("-"): c.pop(a[1:], None)
    else: k, v = a.split("=", 1); c[k] = json.loads(v)
json.dump(c, open(sys.argv[1], "w"), indent=1)
PY
}

# ---- every key: missing (required ones) and of the wrong type: exit 1, one line naming file and key ----
for key in model data steps batch_size seq_len lr out_dir; do
  config "$tmp/c.json" "-$key"
  expect "missing key $key" 1 "c.json: key '$key' is missing" -- $TRIT train "$tmp/c.json"
done
while read -r key bad kind; do
  extra=()
  case $key in lr_stage2|stage2_start|decay) extra=('schedule="bitnet"');; esac
  config "$tmp/c.json" "${extra[@]}" "$key=$bad"
  expect "wrong-typed key $key" 1 "c.json: key '$key' must be $kind" -- $TRIT train "$tmp/c.json"
done <<'EOF'
model 5 a config.json path or an object
data 5 a string
tokenizer true a string
out_dir [] a string
batch_size "12" an integer
seq_len 6.5 an integer
grad_accum "2" an integer
steps null an integer
lr "1e-3" a number
schedule 3 a string
warmup_steps "100" an integer
min_lr "0" a number
lr_stage2 "x" a number
stage2_start false a number
decay 5 a string
betas 0.9 an array of two numbers
eps "1e-8" a number
weight_decay "0.1" a number
decay_norms 1 true or false
decay_embeddings "yes" true or false
clip "1" a number
init_std "0.02" a number
seed "7" a number
threads 1.5 an integer
eval_every "10" an integer
eval_batches false an integer
ckpt_every {} an integer
keep_checkpoints "3" an integer
EOF
# out of range / unknown values
while read -r name arg pat; do
  config "$tmp/c.json" "$arg"
  expect "$name" 1 "c.json: $pat" -- $TRIT train "$tmp/c.json"
done <<'EOF'
zero-batch batch_size=0 key 'batch_size' must be in \[1, 1048576\] \(got 0\)
negative-lr lr=-1 key 'lr' must be > 0
unknown-key lrate=1 unknown key 'lrate'
unknown-schedule schedule="cosin" key 'schedule' is 'cosin', expected constant, cosine, linear or bitnet
bitnet-only-key lr_stage2=1e-4 key 'lr_stage2' only applies to schedule bitnet
beta-range betas=[0.9,1.5] key 'betas' must hold two numbers in \[0, 1\)
long-seq seq_len=64 seq_len 64 exceeds max_position_embeddings 32
warmup-too-long warmup_steps=30 key 'warmup_steps' \(30\) must be below 'steps'
EOF
config "$tmp/c.json" 'model={"vocab_size": 259}'
expect "model config missing a key" 1 "c.json \(model\): key 'hidden_size' is missing" -- $TRIT train "$tmp/c.json"
config "$tmp/c.json" 'model="nope/config.json"'
expect "model config file missing" 1 "nope/config.json: cannot open" -- $TRIT train "$tmp/c.json"
printf '{"model": ' >"$tmp/bad.json"
expect "malformed config JSON" 1 "bad.json: malformed JSON" -- $TRIT train "$tmp/bad.json"
expect "missing config file" 1 "none.json: cannot open" -- $TRIT train "$tmp/none.json"
config "$tmp/c.json" 'model={"vocab_size": 200, "hidden_size": 32, "intermediate_size": 48, "num_hidden_layers": 1, "num_attention_heads": 4, "hidden_act": "relu2", "max_position_embeddings": 32}'
expect "data ids beyond the vocabulary" 1 "shards: token id 25[0-9] in the train split is outside the model's vocabulary \(vocab_size 200" -- $TRIT train "$tmp/c.json"
if $TRIT tokenizer info --tokenizer llama3 >/dev/null 2>&1; then
  config "$tmp/c.json" 'tokenizer="llama3"'
  expect "tokenizer larger than the vocabulary" 1 "tokenizer.json: the tokenizer has 128256 ids but the model's vocab_size is 259" -- $TRIT train "$tmp/c.json"
fi

# ---- bad flags exit 2 ----
config "$tmp/c.json"
expect "bad flag" 2 "unknown flag '--bogus'" -- $TRIT train "$tmp/c.json" --bogus 1
expect "no config" 2 "a run config \(CONFIG.json\) is required" -- $TRIT train --quiet
expect "bad --threads" 2 "--threads wants a positive integer" -- $TRIT train "$tmp/c.json" --threads 0
expect "bad --stop-after" 2 "--stop-after wants a step number" -- $TRIT train "$tmp/c.json" --stop-after x
expect "sample bad --top-p" 2 "--top-p wants a number in \(0, 1\]" -- $TRIT sample "$tmp/run" --top-p 2
expect "sample without checkpoint" 2 "a checkpoint \(CKPT\) is required" -- $TRIT sample -n 3

# ---- a straight run, and a run killed while writing its step-20 checkpoint, then resumed ----
$TRIT train "$tmp/c.json" --out "$tmp/straight" --quiet >"$tmp/log" 2>&1 || { echo "FAIL straight run: $(tail -3 "$tmp/log")"; }
n=$(wc -l <"$tmp/straight/metrics.jsonl"); nv=$(grep -c val_loss "$tmp/straight/metrics.jsonl")
[ "$n" -eq 30 ] && [ "$nv" -eq 3 ] && [ -s "$tmp/straight/loss.svg" ] && [ -L "$tmp/straight/latest.h5" ] &&
  echo "PASS run folder: metrics.jsonl (30 lines, 3 with val_loss), loss.svg, latest.h5" ||
  echo "FAIL run folder: $n metrics lines, $nv evaluations: $(ls "$tmp/straight")"
(TRIT_FAULT_KILL_CKPT=20 $TRIT train "$tmp/c.json" --out "$tmp/killed" --quiet >"$tmp/log" 2>&1; exit $?) 2>/dev/null; rc=$?
[ $rc -eq 137 ] && [ -e "$tmp/killed/ckpt_000020.h5.tmp" ] && [ ! -e "$tmp/killed/ckpt_000020.h5" ] &&
  [ "$(readlink "$tmp/killed/latest.h5")" = ckpt_000010.h5 ] &&
  echo "PASS kill -9 during the step-20 checkpoint write: half-written temporary, latest.h5 -> ckpt_000010.h5" ||
  echo "FAIL kill during checkpoint write: status $rc, files: $(ls "$tmp/killed" | tr '\n' ' ')"
if $PY - "$tmp/killed/latest.h5" >"$tmp/log" 2>&1 <<'PY'
import h5py, sys
f = h5py.File(sys.argv[1], "r")
assert f.attrs["format"] == "trit-checkpoint" and f.attrs["format_version"] == 1 and f.attrs["step"] == 10
assert f["model/model.norm.weight"].shape == (32,) and "optim/m/model.norm.weight" in f and f["train"].attrs["step"] == 10
assert "tokenizer/tokenizer.json" in f
PY
then echo "PASS the previous checkpoint loads with h5py after the kill (step 10, weights, moments, tokenizer)"
else echo "FAIL h5py on latest.h5 after the kill: $(tail -2 "$tmp/log")"; fi
cp "$tmp/killed/ckpt_000020.h5.tmp" "$tmp/half.h5"
expect "the half-written temporary is no checkpoint" 1 "half.h5: " -- $TRIT train "$tmp/c.json" --out "$tmp/y" --resume "$tmp/half.h5"
$TRIT sample "$tmp/killed" --prompt "First" -n 8 --temp 0 >"$tmp/out" 2>"$tmp/err" &&
  echo "PASS trit sample loads the previous checkpoint after the kill" || echo "FAIL sample after kill: $(cat "$tmp/err")"
$TRIT train "$tmp/c.json" --out "$tmp/killed" --resume "$tmp/killed" --quiet >"$tmp/log" 2>&1 ||
  echo "FAIL resume after the kill: $(tail -2 "$tmp/log")"
if [ ! -e "$tmp/killed/ckpt_000020.h5.tmp" ] && [ -e "$tmp/killed/ckpt_000020.h5" ] &&
   cmp -s <(cut -d, -f1,2,3,5,6 "$tmp/straight/metrics.jsonl") <(cut -d, -f1,2,3,5,6 "$tmp/killed/metrics.jsonl") &&
   $PY - "$tmp/straight/latest.h5" "$tmp/killed/latest.h5" <<'PY'
import h5py, numpy as np, sys
a, b = h5py.File(sys.argv[1], "r"), h5py.File(sys.argv[2], "r")
for g in ("model", "optim/m", "optim/v"):
    for k in a[g]:
        assert np.array_equal(a[g][k][()], b[g][k][()]), k
assert a["train"].attrs["step"] == b["train"].attrs["step"] == 30
PY
then echo "PASS resumed after the kill == uninterrupted run (weights, moments, every step's loss, lr, val_loss)"
else echo "FAIL resumed run differs from the straight run"; fi
expect "fresh run into a run folder" 1 "killed/latest.h5: the folder already holds a run" -- $TRIT train "$tmp/c.json" --out "$tmp/killed"
expect "resume from a missing checkpoint" 1 "nothing.h5: cannot open" -- $TRIT train "$tmp/c.json" --out "$tmp/z" --resume "$tmp/nothing.h5"
[ ! -e "$tmp/z" ] && echo "PASS a failed resume creates no run folder" || echo "FAIL a failed resume left $tmp/z"
expect "resume from a non-HDF5 file" 1 "c.json: not an HDF5 file" -- $TRIT train "$tmp/c.json" --out "$tmp/x" --resume "$tmp/c.json"

# ---- Ctrl-C: stops after the current step with a checkpoint at that step; the run resumes from it ----
config "$tmp/long.json" steps=1000000 eval_every=0 ckpt_every=0
$TRIT train "$tmp/long.json" --out "$tmp/int" --quiet >"$tmp/int.out" 2>"$tmp/int.err" &
pid=$!
for _ in $(seq 600); do [ "$(cat "$tmp/int/metrics.jsonl" 2>/dev/null | wc -l)" -ge 3 ] && break; sleep 0.1; done
kill -INT $pid
for _ in $(seq 300); do kill -0 $pid 2>/dev/null || break; sleep 0.1; done
kill -KILL $pid 2>/dev/null && echo "FAIL Ctrl-C: still running 30 s after SIGINT"
wait $pid; rc=$?
steps=$(wc -l <"$tmp/int/metrics.jsonl")
if [ $rc -eq 0 ] && grep -q "stopped after steps 1..$steps " "$tmp/int.out" && grep -q -- "--resume" "$tmp/int.out" &&
   [ "$(readlink "$tmp/int/latest.h5")" = "$(printf 'ckpt_%06d.h5' "$steps")" ]; then
  echo "PASS Ctrl-C (SIGINT) stops after step $steps with a checkpoint and a resume hint"
else echo "FAIL Ctrl-C: status $rc, $steps steps, $(cat "$tmp/int.out" "$tmp/int.err" | head -3), latest -> $(readlink "$tmp/int/latest.h5")"; fi
config "$tmp/more.json" steps=$((steps + 10)) eval_every=0 ckpt_every=0
$TRIT train "$tmp/more.json" --out "$tmp/int" --resume "$tmp/int" --quiet >"$tmp/log" 2>&1 &&
  [ "$(wc -l <"$tmp/int/metrics.jsonl")" -eq $((steps + 10)) ] &&
  echo "PASS resume after Ctrl-C with another config (10 more steps)" || echo "FAIL resume after Ctrl-C: $(tail -2 "$tmp/log")"

# ---- sample ----
out=$($TRIT sample "$tmp/straight" --prompt "First Citizen" -n 20 --temp 0)
out2=$($TRIT sample "$tmp/straight/ckpt_000030.h5" --prompt "First Citizen" -n 20 --temp 0)
[ ${#out} -gt 13 ] && [[ "$out" == "First Citizen"* ]] && [ "$out" = "$out2" ] &&
  echo "PASS sample: echoes the prompt and continues; greedy is deterministic" || echo "FAIL sample: '$out' vs '$out2'"
a=$($TRIT sample "$tmp/straight" -n 30 --seed 5 --top-k 10 --top-p 0.9); b=$($TRIT sample "$tmp/straight" -n 30 --seed 5 --top-k 10 --top-p 0.9)
[ -n "$a" ] && [ "$a" = "$b" ] && echo "PASS sample: empty prompt, same seed gives the same text" || echo "FAIL sample with seed: '$a' vs '$b'"
expect "sample a non-HDF5 file" 1 "tok.json: not an HDF5 file" -- $TRIT sample "$tmp/tok.json"
$TRIT train --help | grep -q -- "--resume" && echo "PASS train --help" || echo "FAIL train --help"
$TRIT sample --help | grep -q -- "--top-p" && echo "PASS sample --help" || echo "FAIL sample --help"
exit 0
