/**
 * Where the cold first step's time goes on lavapipe: one fresh process, Mesa's shader cache off,
 * the first training step profiled with timestamp queries (one pass per dispatch). lavapipe
 * compiles a pipeline with LLVM when its first dispatch runs, so a kernel's first-step time minus
 * its second-step time is about its compile time.
 *
 *   MESA_SHADER_CACHE_DISABLE=true npx tsx bench/probe-cold.ts [small|wide]
 */
import { Gpu } from '../src/gpu/context.ts';
import { TRAIN_CONFIGS, makeTrainer } from './train.ts';

const name = process.argv[2] ?? 'small';
const cfg = TRAIN_CONFIGS.find((c) => c.name === name);
if (!cfg) throw new Error(`config: ${TRAIN_CONFIGS.map((c) => c.name).join(' or ')}, got ${name}`);
const t0 = performance.now();
const gpu = await Gpu.create({ compileHelper: false }); // per-kernel compile times: this device compiles everything itself
const t1 = performance.now();
const trainer = makeTrainer(gpu, cfg);
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
