// run_peer.js: llama.cpp's prefill and decode speed on a GGUF (the prebuilt library of npm's node-llama-cpp,
// installed by `make deps`), measured the way `trit bench-run` measures trit: a prefill of P random tokens, then
// G greedy decode steps, R times after a warm-up; medians. Prints one JSON line with trit bench-run's keys and
// "impl": "llama.cpp". peak_rss_mb is the process's VmHWM (node itself included, about 50 MB).
//
// usage: node bench/run_peer.js MODEL.gguf [--prompt-tokens P] [--gen-tokens G] [--threads T] [--reps R]
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

const here = path.dirname(fileURLToPath(import.meta.url));
const { getLlama, LlamaLogLevel } = await import(path.join(here, "../tools/node/node_modules/node-llama-cpp/dist/index.js"));

const argv = process.argv.slice(2);
const opt = { "--prompt-tokens": 128, "--gen-tokens": 128, "--threads": 2, "--reps": 3 };
let modelPath = null;
for (let i = 0; i < argv.length; i++) {
    if (argv[i] in opt && i + 1 < argv.length) opt[argv[i]] = Number(argv[++i]);
    else if (!argv[i].startsWith("-") && !modelPath) modelPath = argv[i];
    else {
        console.error(`run_peer.js: bad argument '${argv[i]}'`);
        process.exit(2);
    }
}
const [P, G, T, R] = [opt["--prompt-tokens"], opt["--gen-tokens"], opt["--threads"], opt["--reps"]];
const median = (v) => [...v].sort((a, b) => a - b)[Math.floor(v.length / 2)];

try {
    const t0 = performance.now();
    const llama = await getLlama({ gpu: false, build: "never", logLevel: LlamaLogLevel.error });
    const model = await llama.loadModel({ modelPath });
    const loadS = (performance.now() - t0) / 1000;
    const context = await model.createContext({ contextSize: P + G + 8, threads: T, batchSize: P });
    const sequence = context.getSequence();
    // P deterministic "random" ids among the first 30000 (ordinary tokens in any Llama-3-sized vocabulary)
    let state = 1;
    const prompt = Array.from({ length: P }, () => ((state = (state * 1103515245 + 12345) % 2147483648), 100 + (state % 30000)));
    const prefill = [], decode = [];
    for (let rep = -1; rep < R; rep++) {   // rep -1: warm-up
        await sequence.clearHistory();
        const n = rep < 0 ? Math.min(P, 16) : P;
        let t = performance.now();
        await sequence.evaluateWithoutGeneratingNewTokens(prompt.slice(0, n));
        const tp = (performance.now() - t) / 1000;
        const g = rep < 0 ? 2 : G;
        let count = 0;
        t = performance.now();
        for await (const tok of sequence.evaluate([prompt[0]], { temperature: 0, yieldEogToken: true })) {
            void tok;
            if (++count >= g) break;
        }
        const td = (performance.now() - t) / 1000;
        if (rep >= 0) prefill.push(P / tp), decode.push(G / td);
    }
    const hwm = /VmHWM:\s+(\d+) kB/.exec(fs.readFileSync("/proc/self/status", "utf8"));
    console.log(JSON.stringify({
        bench: "run", impl: "llama.cpp", model: path.basename(modelPath), threads: T, prompt_tokens: P, gen_tokens: G, reps: R,
        load_s: +loadS.toFixed(2), prefill_tokens_per_s: +median(prefill).toFixed(2), decode_tokens_per_s: +median(decode).toFixed(2),
        peak_rss_mb: hwm ? Math.round(Number(hwm[1]) / 1024) : null,
    }));
    await context.dispose();
    await model.dispose();
    await llama.dispose();
} catch (e) {
    console.error("run_peer.js: " + String(e && e.message ? e.message : e).split("\n")[0]);
    process.exit(1);
}
