/** GPU cases for softmax (forward, backward), run in Node and in Chromium. */
import { softmaxBackward, softmaxForward } from '../../src/kernels/softmax.ts';
import type { GpuCase } from '../util/cases.ts';
import { assertClose, assertThrows, randn, type Tolerance } from '../util/check.ts';
import { softmaxBackwardRef, softmaxForwardRef } from './softmax.ref.ts';

// Forward: exp(x - max) with |x - max| <= ~25 has a relative error of ~25 * 2^-24 from rounding
// its argument, the fp32 row sum (<= 5000 terms) adds ~1e-6 relative: 2e-5 relative is ample and
// still catches a wrong max, sum or index (errors of order 1). Probabilities are <= 1.
const TOL_FWD: Tolerance = { atol: 1e-7, rtol: 2e-5, reason: 'fp32 exp and row sums of <= 5000 terms vs float64' };
// Backward: out * (dout - s), s a fp32 row dot product of <= 5000 terms of size <= |dout| ~ 3:
// the error is ~1e-6 * out, plus rtol for the product.
const TOL_BWD: Tolerance = { atol: 1e-6, rtol: 1e-4, reason: 'fp32 row dot product of <= 5000 terms vs float64' };

/** Logits of spread ~3 with per-row offsets, including +100 (overflows exp without the max) and -100. */
function logits(N: number, V: number, seed: number): Float64Array {
  const x = randn(N * V, seed, 3);
  const offsets = [0, 100, -100, 7, -3];
  for (let n = 0; n < N; n++) for (let i = 0; i < V; i++) x[n * V + i] = Math.fround(x[n * V + i] + offsets[n % offsets.length]);
  return x;
}

const f32 = (a: ArrayLike<number>) => Float32Array.from(a as ArrayLike<number>);

const SHAPES: number[][] = [
  [1, 67], // N=1, odd V
  [17, 67],
  [3, 4, 17], // (B, NH, T) rows of T=17 attention scores
  [5, 1], // V=1: every output is 1
  [8, 1024],
  [2, 5000], // ~78 elements per invocation
];

export const cases: GpuCase[] = [];

for (const shape of SHAPES) {
  const V = shape[shape.length - 1];
  const N = shape.slice(0, -1).reduce((a, b) => a * b, 1);

  cases.push({
    name: `forward overwrites shape=(${shape.join(',')})`,
    async run(gpu) {
      const x = logits(N, V, 1);
      const inp = gpu.tensor(shape, f32(x));
      const out = gpu.tensor(shape, f32(randn(N * V, 2))); // garbage that must be overwritten
      softmaxForward(gpu, out, inp);
      assertClose('out', await gpu.read(out), softmaxForwardRef(x, N, V), TOL_FWD);
      gpu.release(inp, out);
    },
  });

  cases.push({
    name: `backward accumulates shape=(${shape.join(',')})`,
    async run(gpu) {
      const o = softmaxForwardRef(logits(N, V, 3), N, V).map(Math.fround); // what the forward stored
      const d = randn(N * V, 4), pre = randn(N * V, 5);
      const out = gpu.tensor(shape, f32(o));
      const dout = gpu.tensor(shape, f32(d));
      const dinp = gpu.tensor(shape, f32(pre));
      softmaxBackward(gpu, dinp, dout, out);
      const ref = softmaxBackwardRef(d, o, N, V).map((v, i) => v + pre[i]);
      assertClose('dinp', await gpu.read(dinp), ref, TOL_BWD);
      gpu.release(out, dout, dinp);
    },
  });
}

cases.push({
  name: 'wrong shapes are rejected with the shapes in the message',
  run(gpu) {
    const a = gpu.tensor([3, 5]);
    const b = gpu.tensor([3, 5]);
    const bad = gpu.tensor([5, 3]);
    const ints = gpu.tensor([3, 5], undefined, 'i32');
    assertThrows(() => softmaxForward(gpu, bad, a), 'ShapeError', /out has shape \(5, 3\), expected \(3, 5\)/);
    assertThrows(() => softmaxForward(gpu, a, a), 'ShapeError', /out and inp must be different tensors/);
    assertThrows(() => softmaxForward(gpu, a, ints), 'ShapeError', /inp has dtype i32, expected f32/);
    assertThrows(() => softmaxBackward(gpu, a, bad, b), 'ShapeError', /dout has shape \(5, 3\), expected \(3, 5\)/);
    assertThrows(() => softmaxBackward(gpu, bad, a, b), 'ShapeError', /dinp has shape \(5, 3\), expected \(3, 5\)/);
    gpu.release(a, b, bad, ints);
  },
});
