#!/usr/bin/env bash
# bench/run.sh: `make bench`. Runs trit's benchmarks next to their peers in the same invocation and prints one
# JSON line per figure, then one "ratio" line per comparison. Absolute times on shared machines are noisy:
# compare within one run. THREADS (default 2) sets the thread count for everyone.
set -u
cd "$(dirname "$0")/.."
THREADS=${THREADS:-2}
export OMP_NUM_THREADS=$THREADS
out=$(mktemp /tmp/trit-bench-XXXXXX)
trap 'rm -f "$out"' EXIT
run() { "$@" 2>/dev/null | tee -a "$out"; }

# Training: forward + backward of the BitNet graph, trit vs PyTorch (Debian python3-torch).
run build/bench/train_bench --case all --iters 10
run /usr/bin/python3 bench/torch_train_bench.py --case all --iters 10 --threads "1,$THREADS"

# Ratios: trit / peer for every bench both printed.
/usr/bin/python3 - "$out" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.startswith("{")]
by = {}
for r in rows:
    by.setdefault(r["bench"], {})[r["impl"]] = r
for bench, impls in by.items():
    if "trit" not in impls: continue
    for peer, r in impls.items():
        if peer == "trit": continue
        for key in ("tokens_per_s", "decode_tokens_per_s", "prefill_tokens_per_s", "mb_per_s"):
            if key in r and key in impls["trit"] and r[key]:
                print(json.dumps({"bench": bench, "ratio": key, "trit_over": peer,
                                  "value": round(impls["trit"][key] / r[key], 2)}))
PY
