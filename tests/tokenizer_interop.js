// tokenizer_interop.js: trit's ids against @lenml/tokenizers (a JavaScript port of Hugging Face
// tokenizers, from tools/node/node_modules) on the same texts, with the same tokenizer.json.
//
// usage: node tests/tokenizer_interop.js TRIT TOKENIZER.json NAME TMPDIR MAX_SAMPLES CORPUS...
// Samples: every paragraph of the corpora (blank-line separated), every 7th line, random windows that cut
// across paragraphs and words, and a few edge strings; at most MAX_SAMPLES of them (a seeded choice).
// trit encodes them with `trit tokenize`; lenml with encode(text, {add_special_tokens: false}). Then
// lenml decodes trit's ids back to the text. Prints PASS / FAIL lines for tests/run.sh.
'use strict';
process.on('uncaughtException', (e) => {   // a crash is a failure, reported as one line
  console.log(`FAIL tokenizer interop: ${String(e.stack || e).split('\n').slice(0, 2).join(' ')}`);
  process.exit(1);
});
const fs = require('fs');
const path = require('path');
const { spawnSync } = require('child_process');

const [trit, tokPath, name, tmp, maxSamples, ...corpora] = process.argv.slice(2);
const root = path.join(__dirname, '..');
let lenml;
try {
  lenml = require(path.join(root, 'tools/node/node_modules/@lenml/tokenizers'));
} catch (e) {
  console.log(`FAIL ${name} interop: @lenml/tokenizers is not installed (run \`make deps\`): ${e.message}`);
  process.exit(0);
}

let seed = 12345;   // a small LCG: the same samples on every run
const rand = (n) => { seed = (seed * 1103515245 + 12345) % 2147483648; return seed % n; };

function samples() {
  const out = ['', ' ', '\n\n\n', 'Hello  world', "I'm here, they'LL go", '12345678 3.14', '<|end_of_text|>x<|pad|>',
               'tab\tsep', 'naïve café 中文 😀'];
  for (const file of corpora) {
    const text = fs.readFileSync(file, 'utf8');
    for (const p of text.split(/\n\s*\n/)) if (p.length) out.push(p);
    text.split('\n').forEach((l, i) => { if (i % 7 === 0) out.push(l); });
    const chars = Array.from(text.slice(0, 400000));
    for (let k = 0; k < 1500; k++) {
      const a = rand(chars.length), n = 1 + rand(300);
      out.push(chars.slice(a, a + n).join(''));
    }
  }
  const max = parseInt(maxSamples, 10);
  while (out.length > max) out.splice(9 + rand(out.length - 9), 1);
  return out;
}

const texts = samples();
const inFile = path.join(tmp, `${name}-samples.jsonl`), outFile = path.join(tmp, `${name}-ids.jsonl`);
fs.writeFileSync(inFile, texts.map((t) => JSON.stringify({ text: t })).join('\n') + '\n');
const r = spawnSync(trit, ['tokenize', '--tokenizer', tokPath, '--jsonl', inFile, '--out', outFile], { encoding: 'utf8' });
if (r.status !== 0) {
  console.log(`FAIL ${name} interop: trit tokenize exited with ${r.status}: ${(r.stderr || '').trim()}`);
  process.exit(0);
}
const got = fs.readFileSync(outFile, 'utf8').trimEnd().split('\n').map((l) => JSON.parse(l).ids);
const tokJSON = JSON.parse(fs.readFileSync(tokPath, 'utf8'));
const cfgPath = path.join(path.dirname(tokPath), 'tokenizer_config.json');
const tokenizerConfig = fs.existsSync(cfgPath) ? JSON.parse(fs.readFileSync(cfgPath, 'utf8')) : {};
const peer = lenml.TokenizerLoader.fromPreTrained({ tokenizerJSON: tokJSON, tokenizerConfig });

let bad = 0, badDecode = 0, ids = 0, bytes = 0;
if (got.length !== texts.length) {
  console.log(`FAIL ${name} interop: trit wrote ${got.length} lines for ${texts.length} texts`);
  process.exit(0);
}
for (let i = 0; i < texts.length; i++) {
  const want = peer.encode(texts[i], { add_special_tokens: false });
  ids += want.length;
  bytes += Buffer.byteLength(texts[i]);
  if (JSON.stringify(want) !== JSON.stringify(got[i])) {
    if (++bad <= 5) {
      let k = 0;
      while (k < want.length && want[k] === got[i][k]) k++;
      console.log(`FAIL ${name} interop sample ${i} ${JSON.stringify(texts[i].slice(0, 60))}: ids differ at ${k}: trit ${got[i][k]}, lenml ${want[k]}`);
    }
    continue;
  }
  const back = got[i].length ? peer.decode(got[i], { skip_special_tokens: false, clean_up_tokenization_spaces: false }) : '';
  if (back !== texts[i] && ++badDecode <= 5)
    console.log(`FAIL ${name} interop decode ${i}: lenml decodes trit's ids to ${JSON.stringify(back.slice(0, 60))}`);
}
if (bad === 0) console.log(`PASS ${name} interop: trit and @lenml/tokenizers give the same ids on ${texts.length} texts (${bytes} bytes, ${ids} ids)`);
else console.log(`FAIL ${name} interop: ${bad} of ${texts.length} texts differ`);
if (badDecode === 0) console.log(`PASS ${name} interop: @lenml/tokenizers decodes trit's ids back to every text`);
