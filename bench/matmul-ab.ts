/**
 * Two variants of one matmul interleaved in one process: for differences smaller than this
 * machine's noise between processes (lavapipe on a shared 2-core VM moved unchanged products by
 * up to 30 % between two `npm run bench` runs).
 *
 *   npx tsx bench/matmul-ab.ts [--shapes "M,K,N,transA,transB;..."] [--a JSON] [--b JSON] [--reps R]
 *
 * --a / --b: matmul options of the two variants (default {"kMajor":false} and {}: the subgroup
 * kernel's row layout against the default). Each rep times 4 calls of A, then 4 of B, per kernel
 * with `startProfile` (one compute pass per dispatch); prints the median and the minimum per call,
 * whole and per kernel. Default shapes: the `small` model's weight gradients (M, K, N) =
 * (OC, B*T, C), A stored (K, M), B stored (K, N).
 */
import { Gpu } from '../src/gpu/context.ts';
import { describeAdapter } from '../src/gpu/device.ts';
import { matmul, type BatchedMatmulOptions } from '../src/kernels/matmul.ts';
import { median } from './stats.ts';

const args = process.argv.slice(2);
const value = (f: string) => {
  const i = args.indexOf(f);
  return i >= 0 ? args[i + 1] : undefined;
};
const shapes = (value('--shapes') ?? '384,768,128,1,0;128,768,128,1,0;512,768,128,1,0;128,768,512,1,0;98,768,128,1,0')
  .split(';')
  .map((s) => s.split(',').map(Number));
const variants: Record<string, BatchedMatmulOptions> = { A: JSON.parse(value('--a') ?? '{"kMajor":false}'), B: JSON.parse(value('--b') ?? '{}') };
const REPS = Number(value('--reps') ?? 15);
for (const [M, K, N, ta, tb] of shapes) {
  if (![M, K, N].every((x) => Number.isInteger(x) && x > 0)) throw new Error(`--shapes: M,K,N,transA,transB; got ${[M, K, N, ta, tb].join(',')}`);
}

const gpu = await Gpu.create();
console.log(`adapter: ${describeAdapter(gpu.report)}; A = ${JSON.stringify(variants.A)}, B = ${JSON.stringify(variants.B)}; ${REPS} reps`);
for (const [M, K, N, ta, tb] of shapes) {
  const a = gpu.tensor([M * K], Float32Array.from({ length: M * K }, () => Math.random() - 0.5));
  const b = gpu.tensor([K * N], Float32Array.from({ length: K * N }, () => Math.random() - 0.5));
  const c = gpu.tensor([M, N]);
  const run = (v: string) => matmul(gpu, c, a, b, M, N, K, { transA: !!ta, transB: !!tb, ...variants[v] });
  const total: Record<string, number[]> = { A: [], B: [] };
  const parts: Record<string, Map<string, number[]>> = { A: new Map(), B: new Map() };
  for (const v of ['A', 'B']) run(v); // compile
  await gpu.sync();
  for (let r = 0; r < REPS; r++) {
    for (const v of ['A', 'B']) {
      gpu.startProfile();
      for (let i = 0; i < 4; i++) run(v);
      const p = await gpu.stopProfile();
      let sum = 0;
      for (const [k, x] of p) {
        sum += x.ms / 4;
        parts[v].set(k, [...(parts[v].get(k) ?? []), x.ms / 4]);
      }
      total[v].push(sum);
    }
  }
  for (const v of ['A', 'B']) {
    const t = median(total[v]);
    const per = [...parts[v]].map(([k, x]) => `${k.split('.')[1]} ${median(x).toFixed(2)}`).join(', ');
    console.log(`${M}x${K}x${N} t${ta}${tb} ${v}: ${t.toFixed(2)} ms (min ${Math.min(...total[v]).toFixed(2)}) = ${((2 * M * N * K) / t / 1e6).toFixed(1)} GFLOP/s | ${per}`);
  }
  gpu.release(a, b, c);
}
gpu.destroy();
