#!/usr/bin/env bash
# Runs every test binary ($BUILD/tests/test_*, BUILD defaults to build) and script (tests/e2e_*.sh) from the
# repository root, with TRIT (default ./trit) naming the trit binary under test,
# counts their PASS/FAIL lines and ends with "N passed, N failed". A binary or script that exits
# non-zero without printing a FAIL line (a crash, a sanitizer report) counts as one failure.
# Usage: tests/run.sh [FILTER]   (runs only the tests whose name contains FILTER)
set -u
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
export TRIT=${TRIT:-./trit}
pass=0; fail=0
logdir=$BUILD/test-logs; mkdir -p "$logdir"
for t in "$BUILD"/tests/test_* tests/e2e_*.sh; do
  [ -e "$t" ] || continue
  name=$(basename "$t")
  case "$name" in *.o|*.d) continue;; esac
  if [ $# -gt 0 ] && [[ "$name" != *"$1"* ]]; then continue; fi
  start=$(date +%s)
  if [[ "$t" == *.sh ]]; then bash "$t" >"$logdir/$name.log" 2>&1; rc=$?; else "./$t" >"$logdir/$name.log" 2>&1; rc=$?; fi
  p=$(grep -c '^PASS ' "$logdir/$name.log"); f=$(grep -c '^FAIL ' "$logdir/$name.log")
  if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then f=1; echo "FAIL $name: exited with status $rc" >>"$logdir/$name.log"; fi
  pass=$((pass + p)); fail=$((fail + f))
  printf '%-28s %4d passed %3d failed  %3ds\n' "$name" "$p" "$f" "$(( $(date +%s) - start ))"
  if [ "$f" -ne 0 ]; then grep '^FAIL ' "$logdir/$name.log" | head -20 | sed 's/^/    /'; tail -5 "$logdir/$name.log" | grep -v '^FAIL ' | sed 's/^/    | /'; fi
done
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
