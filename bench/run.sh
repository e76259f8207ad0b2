#!/usr/bin/env bash
# bench/run.sh: `make bench`. Runs trit's benchmarks next to their peers in the same invocation and prints one
# JSON line per figure, then one "ratio" line per comparison (trit / peer). Absolute times on shared machines
# are noisy: compare within one run. THREADS (default 2) sets the thread count for everyone.
set -u
cd "$(dirname "$0")/.."
THREADS=${THREADS:-2}
export OMP_NUM_THREADS=$THREADS
out=$(mktemp /tmp/trit-bench-XXXXXX)
trap 'rm -f "$out"' EXIT
run() { "$@" 2>/dev/null | tee -a "$out"; }

# Training: forward + backward of the BitNet graph, trit vs PyTorch (Debian python3-torch): the 4-layer
# 128-wide shakespeare-char model at B=12, T=64, and one 2B4T-sized block at T=256; the OpenBLAS sgemm peak.
run build/bench/train_bench --case all --iters 10
run /usr/bin/python3 bench/torch_train_bench.py --case all --iters 10 --threads "1,$THREADS"

# Data: tokenizer MB/s (trit vs @lenml/tokenizers in node), shard write/read and loader tokens/s.
run build/bench/tokenizer_bench
run build/bench/shard_bench

# Ratios: trit / peer for every figure both printed (same bench, same tokenizer; same threads for the
# tokenizer, the peer's best thread count for training).
/usr/bin/python3 - "$out" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.startswith("{")]
def key(r):
    k = [r["bench"], str(r.get("tokenizer", "")), str(r.get("model", ""))]
    if r["bench"].startswith("tokenizer"): k.append(str(r.get("threads", "")))
    return "|".join(k)
by = {}
for r in rows:
    if "impl" in r: by.setdefault(key(r), {})[r["impl"]] = r
for k, impls in by.items():
    if "trit" not in impls: continue
    for peer, r in impls.items():
        if peer == "trit": continue
        for m in ("tokens_per_s", "decode_tokens_per_s", "prefill_tokens_per_s", "mb_per_s"):
            if m in r and m in impls["trit"] and r[m]:
                out = {"ratio": m, "bench": impls["trit"]["bench"], "trit_over": peer, "value": round(impls["trit"][m] / r[m], 2)}
                for f in ("tokenizer", "threads"):
                    if f in impls["trit"] and impls["trit"]["bench"].startswith("tokenizer"): out[f] = impls["trit"][f]
                print(json.dumps(out))
PY
