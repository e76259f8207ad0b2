#!/usr/bin/env bash
# The layering rule of DEVELOPERS.md: a folder includes only folders below it
# (common -> kernels -> autograd -> model, data -> train, export -> eval -> cli).
cd "$(dirname "$0")/.."
rank() { case "$1" in common) echo 0;; kernels) echo 1;; autograd) echo 2;; model|data) echo 3;; train|export) echo 4;;
         eval) echo 5;; cli) echo 6;; *) echo -1;; esac; }
bad=0
for dir in common kernels autograd model data train export eval cli; do
  r=$(rank "$dir")
  for f in "$dir"/*.[ch]; do
    [ -e "$f" ] || continue
    while read -r inc; do
      top=${inc%%/*}
      t=$(rank "$top")
      [ "$t" -lt 0 ] && continue
      if [ "$t" -gt "$r" ] || { [ "$t" -eq "$r" ] && [ "$top" != "$dir" ]; }; then
        echo "FAIL layering: $f includes $inc"; bad=1
      fi
    done < <(grep -oE '#include "[a-z]+/[^"]+"' "$f" | sed 's/#include "//; s/"$//')
  done
done
[ $bad -eq 0 ] && echo "PASS layering: every folder includes only folders below it"
exit 0
