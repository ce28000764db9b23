/**
 * Where the cold first step's time goes on lavapipe: one fresh process, Mesa's shader cache off,
 * the first training step profiled with timestamp queries (one pass per dispatch). lavapipe
 * compiles a pipeline with LLVM when its first dispatch runs, so a kernel's first-step time minus
 * its second-step time is about its compile time.
 *
 *   MESA_SHADER_CACHE_DISABLE=true npx tsx bench/probe-cold.ts [small|wide]
 */
import { Gpu } from '../src/gpu/context.ts';
import { GPT } from '../src/model/gpt.ts';
import { Trainer, type BatchSource } from '../src/train/trainer.ts';

const name = process.argv[2] ?? 'small';
const cfg = name === 'wide' ? { L: 6, C: 384, NH: 6, T: 256, B: 8 } : { L: 4, C: 128, NH: 4, T: 64, B: 12 };
const V = 99;
const batches: BatchSource = {
  next(B: number, T: number) {
    const inputs = new Int32Array(B * T), targets = new Int32Array(B * T);
    for (let i = 0; i < B * T; i++) { inputs[i] = (i * 7) % V; targets[i] = (i * 13) % V; }
    return { inputs, targets };
  },
  getState: () => 0,
  setState: () => {},
};
const t0 = performance.now();
const gpu = await Gpu.create();
const t1 = performance.now();
const model = GPT.create(gpu, { vocabSize: V, blockSize: cfg.T, nLayer: cfg.L, nHead: cfg.NH, nEmbd: cfg.C }, { seed: 1 });
const trainer = new Trainer(model, batches, null, { steps: 1 << 30, batchSize: cfg.B, seqLen: cfg.T, lr: 1e-3, warmupSteps: 0 });
const t2 = performance.now();
gpu.startProfile();
await trainer.trainStep(false);
const first = await gpu.stopProfile();
const t3 = performance.now();
gpu.startProfile();
await trainer.trainStep(false);
const second = await gpu.stopProfile();
const t4 = performance.now();
const rows = [...first].map(([k, v]) => ({ k, cold: v.ms, warm: second.get(k)?.ms ?? 0, n: v.count }));
rows.sort((a, b) => b.cold - b.warm - (a.cold - a.warm));
let sum = 0;
for (const r of rows) {
  sum += r.cold - r.warm;
  console.log(`${r.k.padEnd(34)} first ${r.cold.toFixed(1).padStart(8)} ms  second ${r.warm.toFixed(1).padStart(7)} ms  (${r.n} dispatches)  difference ${(r.cold - r.warm).toFixed(0).padStart(5)}`);
}
console.log(`device ${(t1 - t0).toFixed(0)} ms, model+trainer ${(t2 - t1).toFixed(0)} ms, first step ${(t3 - t2).toFixed(0)} ms (profiled), second ${(t4 - t3).toFixed(0)} ms; sum of differences ${sum.toFixed(0)} ms; ${gpu.stats().pipelines} pipelines`);
process.exit(0);
