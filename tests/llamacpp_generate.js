// llamacpp_generate.js: greedy continuations from llama.cpp (the prebuilt library of npm's node-llama-cpp), for
// tests/e2e_llamacpp.sh. Loads MODEL.gguf on the CPU, then for each line of PROMPTS.jsonl ({"ids": [...]},
// token ids as trit's tokenizer gives them; no BOS is added) evaluates the prompt and takes N greedy tokens
// (temperature 0), stopping early at an end-of-generation token. Prints one JSON line per prompt:
// {"ids": [generated ids], "text": "their text", "eog": true|false}. Any failure (the model does not load)
// prints "ERROR message" and exits 1.
//
// usage: node tests/llamacpp_generate.js MODEL.gguf PROMPTS.jsonl N
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

const here = path.dirname(fileURLToPath(import.meta.url));
const { getLlama, LlamaLogLevel } = await import(path.join(here, "../tools/node/node_modules/node-llama-cpp/dist/index.js"));

const [modelPath, promptsPath, nArg] = process.argv.slice(2);
const n = Number(nArg);
try {
    const prompts = fs.readFileSync(promptsPath, "utf8").split("\n").filter((l) => l.trim()).map((l) => JSON.parse(l).ids);
    const llama = await getLlama({ gpu: false, build: "never", logLevel: LlamaLogLevel.error });
    const model = await llama.loadModel({ modelPath });
    const context = await model.createContext({ contextSize: 256, threads: 2, batchSize: 256 });
    const sequence = context.getSequence();
    for (const ids of prompts) {
        await sequence.clearHistory();
        const out = [];
        for await (const tok of sequence.evaluate(ids, { temperature: 0 })) {
            if (model.isEogToken(tok)) break;   // (the iterator also ends by itself at one)
            out.push(tok);
            if (out.length >= n) break;
        }
        console.log(JSON.stringify({ ids: out, text: model.detokenize(out), eog: out.length < n }));
    }
    await context.dispose();
    await model.dispose();
    await llama.dispose();
} catch (e) {
    console.log("ERROR " + String(e && e.message ? e.message : e).split("\n")[0]);
    process.exit(1);
}
