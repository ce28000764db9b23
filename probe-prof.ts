import { Gpu } from './src/gpu/context.ts';
import { matmul } from './src/kernels/matmul.ts';
const gpu = await Gpu.create();
const shapes = (process.env.SHAPES ?? '768,128,384,0,1;768,384,128,0,0;384,768,128,1,0;768,128,98,0,1').split(';').map((s) => s.split(',').map(Number));
for (const [M, K, N, ta, tb] of shapes) {
  const a = gpu.tensor([M * K], Float32Array.from({ length: M * K }, () => Math.random()));
  const b = gpu.tensor([K * N], Float32Array.from({ length: K * N }, () => Math.random()));
  const c = gpu.tensor([M, N]);
  const run = () => matmul(gpu, c, a, b, M, N, K, { transA: !!ta, transB: !!tb, subgroups: process.env.SG !== 'off' });
  run(); await gpu.sync();
  const tot = new Map<string, number[]>();
  for (let r = 0; r < 7; r++) {
    gpu.startProfile(); for (let i = 0; i < 5; i++) run(); const p = await gpu.stopProfile();
    for (const [k, v] of p) tot.set(k, [...(tot.get(k) ?? []), v.ms / 5]);
  }
  const cpus: number[] = [];
  for (let r = 0; r < 5; r++) { const c0 = process.cpuUsage(); for (let i = 0; i < 20; i++) run(); await gpu.sync(); const cu = process.cpuUsage(c0); cpus.push((cu.user + cu.system) / 1e3 / 20); }
  const med = (x: number[]) => x.sort((p, q) => p - q)[x.length >> 1];
  let sum = 0; const parts: string[] = [];
  for (const [k, v] of tot) { const m = med(v); sum += m; parts.push(`${k.split('.')[1]} ${m.toFixed(2)}`); }
  console.log(`${M}x${K}x${N} t${ta}${tb}: total ${sum.toFixed(2)} ms = ${(2 * M * N * K / sum / 1e6).toFixed(1)} GFLOP/s | ${parts.join(', ')} | cpu ${med(cpus).toFixed(2)} ms = ${(2 * M * N * K / med(cpus) / 1e6).toFixed(1)} GFLOP/core-s`);
  gpu.release(a, b, c);
}
gpu.destroy(); process.exit(0);
