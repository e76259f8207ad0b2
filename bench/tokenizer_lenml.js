// tokenizer_lenml.js: the peer of bench/tokenizer_bench.c: @lenml/tokenizers (JavaScript port of
// Hugging Face tokenizers) encoding the same paragraphs, one JSON line per tokenizer (1 thread).
// usage: node bench/tokenizer_lenml.js NAME=TOKENIZER.json... CORPUS...
'use strict';
const fs = require('fs');
const path = require('path');
const { TokenizerLoader } = require(path.join(__dirname, '../tools/node/node_modules/@lenml/tokenizers'));

const args = process.argv.slice(2);
const toks = args.filter((a) => a.includes('=')).map((a) => a.split('='));
// Paragraphs exactly as the C bench cuts them: each file followed by "\n\n", cut at every "\n\n".
const corpus = args.filter((a) => !a.includes('=')).map((f) => fs.readFileSync(f, 'utf8') + '\n\n').join('');
const paras = [];
for (let i = 0, start = 0; i + 1 < corpus.length; i++)
  if (corpus[i] === '\n' && corpus[i + 1] === '\n') {
    if (i > start) paras.push(corpus.slice(start, i));
    start = i + 2;
  }
const bytes = paras.reduce((s, p) => s + Buffer.byteLength(p), 0);

for (const [name, file] of toks) {
  const cfgPath = path.join(path.dirname(file), 'tokenizer_config.json');
  const tokenizerConfig = fs.existsSync(cfgPath) ? JSON.parse(fs.readFileSync(cfgPath, 'utf8')) : {};
  let t0 = performance.now();
  const tok = TokenizerLoader.fromPreTrained({ tokenizerJSON: JSON.parse(fs.readFileSync(file, 'utf8')), tokenizerConfig });
  const load = (performance.now() - t0) / 1000;
  let best = Infinity, tokens = 0;
  for (let rep = 0; rep < 3; rep++) {
    t0 = performance.now();
    tokens = 0;
    for (const p of paras) tokens += tok.encode(p, { add_special_tokens: false }).length;
    best = Math.min(best, (performance.now() - t0) / 1000);
  }
  console.log(JSON.stringify({ bench: 'tokenizer_load', impl: 'lenml', tokenizer: name, seconds: +load.toFixed(3) }));
  console.log(JSON.stringify({ bench: 'tokenizer_encode', impl: 'lenml', tokenizer: name, threads: 1,
    mb_per_s: +(bytes / best / 1e6).toFixed(2), tokens_per_s: Math.round(tokens / best), bytes, tokens }));
}
