/**
 * Two kernel choices interleaved inside whole training steps, in one process: for step-level
 * differences smaller than this machine's noise between processes (on the shared 2-core VM,
 * TensorFlow.js and PyTorch themselves moved by 10-16 % between two `npm run bench` runs).
 *
 *   npx tsx bench/step-ab.ts [--config small|wide] [--a JSON] [--b JSON] [--rounds R] [--steps S]
 *
 * --a / --b: gpu.kernelDefaults of the two variants (default {"attention":{"subgroups":false}}
 * and {}: the per-invocation attention kernels against the defaults). One warm-up batch of each
 * (compiles), then R rounds of S steps of A, then S of B, wall clock to the GPU being done
 * (bench/train.ts's trainer: random token batches, one seeded model; speed does not depend on
 * the data). Prints ms per
 * step per round, the medians, and A / B per round.
 */
import { Gpu } from '../src/gpu/context.ts';
import { describeAdapter } from '../src/gpu/device.ts';
import { TRAIN_CONFIGS, makeTrainer } from './train.ts';
import { median } from './stats.ts';

const args = process.argv.slice(2);
const value = (f: string) => {
  const i = args.indexOf(f);
  return i >= 0 ? args[i + 1] : undefined;
};
const name = value('--config') ?? 'small';
const cfg = TRAIN_CONFIGS.find((c) => c.name === name);
if (!cfg) throw new Error(`--config: ${TRAIN_CONFIGS.map((c) => c.name).join(' or ')}, got ${name}`);
const variants: Record<'A' | 'B', Gpu['kernelDefaults']> = {
  A: JSON.parse(value('--a') ?? '{"attention":{"subgroups":false}}'),
  B: JSON.parse(value('--b') ?? '{}'),
};
const ROUNDS = Number(value('--rounds') ?? (name === 'wide' ? 4 : 8));
const STEPS = Number(value('--steps') ?? (name === 'wide' ? 1 : 8));

const gpu = await Gpu.create();
console.log(`adapter: ${describeAdapter(gpu.report)}; ${name} (L=${cfg.L} C=${cfg.C} NH=${cfg.NH} T=${cfg.T} B=${cfg.B} V=${cfg.V}); A = ${JSON.stringify(variants.A)}, B = ${JSON.stringify(variants.B)}; ${ROUNDS} rounds of ${STEPS} steps`);
const trainer = makeTrainer(gpu, cfg);
async function msPerStep(v: 'A' | 'B'): Promise<number> {
  gpu.kernelDefaults = variants[v];
  const t0 = performance.now();
  for (let i = 0; i < STEPS; i++) await trainer.trainStep(false);
  await gpu.sync();
  return (performance.now() - t0) / STEPS;
}
await msPerStep('A');
await msPerStep('B');
const ms: Record<'A' | 'B', number[]> = { A: [], B: [] };
for (let r = 0; r < ROUNDS; r++) {
  for (const v of ['A', 'B'] as const) ms[v].push(await msPerStep(v));
  console.log(`round ${r + 1}: A ${ms.A[r].toFixed(1)} ms/step, B ${ms.B[r].toFixed(1)}, A / B ${(ms.A[r] / ms.B[r]).toFixed(3)}`);
}
const ratios = ms.A.map((a, i) => a / ms.B[i]);
const tok = (m: number) => ((cfg.B * cfg.T) / m) * 1000;
console.log(`median: A ${median(ms.A).toFixed(1)} ms/step (${tok(median(ms.A)).toFixed(0)} tokens/s), B ${median(ms.B).toFixed(1)} (${tok(median(ms.B)).toFixed(0)}); A / B median ${median(ratios).toFixed(3)}, range ${Math.min(...ratios).toFixed(3)}-${Math.max(...ratios).toFixed(3)}`);
gpu.destroy();
process.exit(0);
