/**
 * Probe: one attention kernel set's first call (LLVM compile on lavapipe, which compiles a
 * pipeline when its first dispatch runs) and its best later call, forward and backward, in a
 * fresh process. Use an empty Mesa shader cache, or the first call measures the cache instead:
 *
 *   MESA_SHADER_CACHE_DISABLE=true npx tsx bench/probe-attn-compile.ts sg|1|2|4 [B,T,NH,C]
 *
 * sg: the row-per-lane kernels (subgroups: true); 1, 2, 4: the per-invocation kernels with that
 * many rows per invocation. Shape default 12,64,4,128 (the `small` config's); `wide` is 8,256,6,384.
 */
import { Gpu } from '../src/gpu/context.ts';
import { attentionForward, attentionBackward, type AttentionOptions } from '../src/kernels/attention.ts';

const arg = process.argv[2] ?? 'sg';
const o: AttentionOptions = arg === 'sg' ? { subgroups: true } : { rows: Number(arg) as 1 | 2 | 4 };
const [B, T, NH, C] = (process.argv[3] ?? '12,64,4,128').split(',').map(Number);
const gpu = await Gpu.create();
const qkv = gpu.tensor([B, T, 3 * C], new Float32Array(B * T * 3 * C).map((_, i) => Math.sin(i)));
const out = gpu.tensor([B, T, C]), lse = gpu.tensor([B, NH, T]), dqkv = gpu.tensor([B, T, 3 * C]);
const dout = gpu.tensor([B, T, C], new Float32Array(B * T * C).fill(0.1));
const time = async (f: () => void) => {
  const t0 = performance.now();
  f();
  await gpu.sync();
  return performance.now() - t0;
};
const fwd: number[] = [], bwd: number[] = [];
for (let i = 0; i < 6; i++) {
  fwd.push(await time(() => attentionForward(gpu, out, lse, qkv, NH, o)));
  bwd.push(await time(() => attentionBackward(gpu, dqkv, dout, qkv, out, lse, NH, o)));
}
const later = (xs: number[]) => Math.min(...xs.slice(1)).toFixed(1);
console.log(`${arg} B,T,NH,C=${B},${T},${NH},${C}: forward first ${fwd[0].toFixed(0)} ms, then ${later(fwd)} ms; backward first ${bwd[0].toFixed(0)} ms, then ${later(bwd)} ms`);
process.exit(0);
