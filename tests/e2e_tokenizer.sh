#!/usr/bin/env bash
# `trit tokenizer` and `trit tokenize`: training, encoding a .jsonl, round trips through the CLI, and
# every bad input: one stderr line naming the file and the problem, exit 1 (2 for bad flags), and no
# output file left behind.
cd "$(dirname "$0")/.."
TRIT=${TRIT:-./trit}
tmp=$(mktemp -d /tmp/trit-tokenizer-XXXXXX)
trap '[ -n "${TRIT_KEEP_TMP+1}" ] || rm -rf "$tmp"' EXIT
C=data/corpus/tinyshakespeare.txt

check() { if eval "$2"; then echo "PASS $1"; else echo "FAIL $1: $3"; fi; }

# expect NAME PATTERN -- CMD...: status 1, exactly one stderr line matching PATTERN, no $tmp/out* left.
expect() {
  local name=$1 pat=$2; shift 3
  rm -f "$tmp"/out*
  "$@" >"$tmp/stdout" 2>"$tmp/stderr"; local rc=$?
  local lines; lines=$(wc -l <"$tmp/stderr")
  if [ $rc -ne 1 ]; then echo "FAIL $name: exit status $rc, want 1: $(head -c 300 "$tmp/stderr")"; return; fi
  if [ "$lines" -ne 1 ]; then echo "FAIL $name: $lines stderr lines, want 1: $(head -c 300 "$tmp/stderr")"; return; fi
  if ! grep -qE "$pat" "$tmp/stderr"; then echo "FAIL $name: message '$(cat "$tmp/stderr")' does not match '$pat'"; return; fi
  if ls "$tmp"/out* >/dev/null 2>&1; then echo "FAIL $name: left an output file"; return; fi
  echo "PASS $name: $(cat "$tmp/stderr")"
}

# ---- training and encoding ----
$TRIT tokenizer train --vocab 1000 --out "$tmp/tok.json" $C >"$tmp/train.log" 2>&1
check "tokenizer train --vocab 1000" "grep -q 'trained 1000 tokens (256 bytes + 744 merges)' '$tmp/train.log' && [ -s '$tmp/tok.json' ]" "$(cat "$tmp/train.log")"
$TRIT tokenizer train --vocab 1000 --out "$tmp/tok2.json" $C >/dev/null 2>&1
check "training is deterministic" "cmp -s '$tmp/tok.json' '$tmp/tok2.json'" "two runs wrote different files"
$TRIT tokenizer info --tokenizer "$tmp/tok.json" >"$tmp/info" 2>&1
check "tokenizer info" "grep -q 'vocab size 1003, 744 merges, bos 1000, eos 1001' '$tmp/info'" "$(head -1 "$tmp/info")"

printf 'First Citizen:\nBefore we proceed any further, hear me speak.<|end_of_text|>' >"$tmp/text"
ids=$($TRIT tokenizer encode --tokenizer "$tmp/tok.json" <"$tmp/text")
$TRIT tokenizer decode --tokenizer "$tmp/tok.json" $ids >"$tmp/back"
check "tokenizer encode | decode round trip" "cmp -s '$tmp/text' '$tmp/back' && [[ '$ids' == *' 1001' ]]" "ids '$ids'"

python3 - "$tmp/in.jsonl" <<'PY'
import json, sys
with open(sys.argv[1], 'w') as f:
    for t in ["Hello world", "", "  spaces  ", "caf\u00e9 \U0001F600", "line\nbreak", "x" * 3000]:
        f.write(json.dumps({"text": t, "id": 1}) + "\n")
    f.write("\n")   # a blank line is skipped
    f.write(json.dumps({"meta": 1, "text": "last"}) + "\n")
PY
$TRIT tokenize --tokenizer "$tmp/tok.json" --jsonl "$tmp/in.jsonl" >"$tmp/ids.jsonl" 2>"$tmp/err"
check "tokenize: one line per non-blank input line" "[ \$(wc -l <'$tmp/ids.jsonl') -eq 7 ] && grep -q '^{\"ids\": \[\]}$' '$tmp/ids.jsonl'" "$(head -c 300 "$tmp/ids.jsonl") $(cat "$tmp/err")"
$TRIT tokenize --tokenizer "$tmp/tok.json" --jsonl "$tmp/in.jsonl" --out "$tmp/ids2.jsonl" --threads 1
check "tokenize --out and --threads 1 give the same lines" "cmp -s '$tmp/ids.jsonl' '$tmp/ids2.jsonl'" "outputs differ"
python3 - "$tmp/in.jsonl" "$tmp/ids.jsonl" "$tmp/tok.json" "$TRIT" >"$tmp/rt" <<'PY'
import json, subprocess, sys
texts = [json.loads(l)["text"] for l in open(sys.argv[1]) if l.strip()]
ids = [json.loads(l)["ids"] for l in open(sys.argv[2])]
ok = all(subprocess.run([sys.argv[4], "tokenizer", "decode", "--tokenizer", sys.argv[3]] + [str(i) for i in x],
                        capture_output=True).stdout == t.encode() for t, x in zip(texts, ids))
print("ok" if ok and len(texts) == len(ids) else "bad")
PY
check "tokenize ids decode back to each text" "grep -q ok '$tmp/rt'" "$(cat "$tmp/rt")"
$TRIT tokenizer encode --tokenizer llama3 "This is a test sentence." >"$tmp/l3" 2>&1
check "tokenizer encode --tokenizer llama3" "grep -qx '2028 374 264 1296 11914 13' '$tmp/l3'" "$(cat "$tmp/l3")"

# ---- bad tokenizer.json files (each derived from the trained one) ----
mk() {   # mk NAME PYTHON: $tmp/NAME.json = tok.json edited by PYTHON acting on t (the parsed JSON)
  python3 - "$tmp/tok.json" "$tmp/$1.json" "$2" <<'PY'
import json, sys
t = json.load(open(sys.argv[1]))
exec(sys.argv[3])
json.dump(t, open(sys.argv[2], 'w'))
PY
}
enc() { $TRIT tokenize --tokenizer "$1" --jsonl "$tmp/in.jsonl" --out "$tmp/out.jsonl"; }
head -c 5000 "$tmp/tok.json" >"$tmp/trunc.json"
expect malformed-json "trunc.json: malformed JSON near byte" -- enc "$tmp/trunc.json"
mk unigram 't["model"]["type"] = "Unigram"'
expect not-bpe "unigram.json: model.type is 'Unigram'" -- enc "$tmp/unigram.json"
mk badmerge 't["model"]["merges"][5] = ["Q\u0120", "zz"]'
expect bad-merge "badmerge.json: merge 5 'QĠ zz' names a token that is not in the vocabulary" -- enc "$tmp/badmerge.json"
mk noresult 'a, b = t["model"]["merges"][700]; del t["model"]["vocab"][a + b]'
expect merge-result-missing "noresult.json: merge [0-9]+ '.*': the merged token '.*' is not in the vocabulary" -- enc "$tmp/noresult.json"
mk dupid 't["model"]["vocab"]["\u0120the"] = 5'
expect duplicate-ids "dupid.json: model.vocab gives id 5 to both" -- enc "$tmp/dupid.json"
mk badregex 't["pre_tokenizer"]["pretokenizers"][0]["pattern"]["Regex"] = "(?i:[a-"'
expect bad-regex "badregex.json: pre_tokenizer regex '\(\?i:\[a-' does not compile" -- enc "$tmp/badregex.json"
mk novocab 'del t["model"]["vocab"]'
expect missing-vocab "novocab.json: model.vocab is missing" -- enc "$tmp/novocab.json"
expect missing-tokenizer "nothere.json: cannot open" -- enc "$tmp/nothere.json"
expect info-bad-file "badmerge.json: merge 5" -- $TRIT tokenizer info --tokenizer "$tmp/badmerge.json"

# ---- bad inputs to tokenize / train ----
printf '{"text": "ok"}\n{"text": "ok"\n' >"$tmp/badline.jsonl"
expect jsonl-malformed "badline.jsonl: line 2: malformed JSON" -- $TRIT tokenize --tokenizer "$tmp/tok.json" --jsonl "$tmp/badline.jsonl" --out "$tmp/out.jsonl"
printf '{"text": "ok"}\n\n{"txt": "ok"}\n' >"$tmp/notext.jsonl"
expect jsonl-no-text "notext.jsonl: line 3: no \"text\" string" -- $TRIT tokenize --tokenizer "$tmp/tok.json" --jsonl "$tmp/notext.jsonl"
expect jsonl-missing "missing.jsonl: cannot open" -- $TRIT tokenize --tokenizer "$tmp/tok.json" --jsonl "$tmp/missing.jsonl"
expect tokenize-unwritable "nodir/out.jsonl: cannot write" -- $TRIT tokenize --tokenizer "$tmp/tok.json" --jsonl "$tmp/in.jsonl" --out "$tmp/nodir/out.jsonl"
expect train-missing-input "nothere.txt: cannot open" -- $TRIT tokenizer train --vocab 300 --out "$tmp/out.json" "$tmp/nothere.txt"
expect train-bad-jsonl "badline.jsonl: line 2" -- $TRIT tokenizer train --vocab 300 --out "$tmp/out.json" "$tmp/badline.jsonl"
expect train-unwritable "nodir/out.json: cannot write" -- $TRIT tokenizer train --vocab 300 --out "$tmp/nodir/out.json" $C
expect decode-bad-id "tok.json: id 5000 is not a token" -- $TRIT tokenizer decode --tokenizer "$tmp/tok.json" 1 5000

# ---- flags ----
flag() { "$@" >/dev/null 2>"$tmp/stderr"; local rc=$?; [ $rc -eq 2 ] && [ "$(wc -l <"$tmp/stderr")" -eq 1 ]; }
check "train --vocab 100 exits 2" "flag $TRIT tokenizer train --vocab 100 --out '$tmp/out.json' $C" "$(cat "$tmp/stderr")"
check "train without files exits 2" "flag $TRIT tokenizer train --vocab 300 --out '$tmp/out.json'" "$(cat "$tmp/stderr")"
check "tokenize --bogus exits 2" "flag $TRIT tokenize --tokenizer '$tmp/tok.json' --jsonl '$tmp/in.jsonl' --bogus 1" "$(cat "$tmp/stderr")"
check "tokenize without --jsonl exits 2" "flag $TRIT tokenize --tokenizer '$tmp/tok.json'" "$(cat "$tmp/stderr")"
check "tokenizer frob exits 2" "flag $TRIT tokenizer frob" "$(cat "$tmp/stderr")"
check "tokenizer --help" "$TRIT tokenizer --help | grep -q -- '--vocab N'" "no usage"
check "tokenize --help" "$TRIT tokenize --help | grep -q -- '--jsonl'" "no usage"
check "trit help lists tokenizer and tokenize" "$TRIT help | grep -q '^  tokenize ' && $TRIT help | grep -q '^  tokenizer '" "missing"
exit 0
