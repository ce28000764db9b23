/** GPU cases for layernorm (forward, backward), run in Node and in Chromium. */
import { layernormBackward, layernormForward } from '../../src/kernels/layernorm.ts';
import type { Tensor } from '../../src/gpu/tensor.ts';
import type { GpuCase } from '../util/cases.ts';
import { assert, assertClose, assertThrows, randn, type Tolerance } from '../util/check.ts';
import { layernormBackwardRef, layernormForwardRef } from './layernorm.ref.ts';

// Forward: the fp32 row mean of inputs with offsets up to 6 is off by ~2^-24 * 6 * (a few) ~ 3e-6;
// that error is multiplied by rstd (<= 2) and |weight| (<= ~2.5), so outputs (|out| <= ~5) can be off
// by ~1.5e-5 absolute (measured 1.3e-5 on lavapipe for N=1024, C=64). mean/rstd are off by < 3e-6.
const TOL_OUT: Tolerance = { atol: 4e-5, rtol: 1e-5, reason: 'fp32 row mean of offset inputs, amplified by rstd*weight, vs float64' };
// dinp: two row means of products (dnorm * norm) then a product with rstd; terms O(1), C <= 768.
const TOL_DINP: Tolerance = { atol: 2e-5, rtol: 1e-4, reason: 'fp32 row reductions of <= 768 products vs float64' };
// dweight/dbias: column sums over up to 1024 rows of O(1) terms: rounding ~ sqrt(N) * 2^-24 * |sum terms|.
const TOL_PARAM: Tolerance = { atol: 1e-4, rtol: 1e-4, reason: 'fp32 column sums over <= 1024 rows vs float64' };

/** Inputs with a different offset and spread per row, so the two-pass variance matters. */
function lnInput(N: number, C: number, seed: number): Float64Array {
  const x = randn(N * C, seed);
  for (let n = 0; n < N; n++) {
    const offset = ((n % 5) - 2) * 3;
    const spread = 0.5 + (n % 3);
    for (let c = 0; c < C; c++) x[n * C + c] = Math.fround(offset + spread * x[n * C + c]);
  }
  return x;
}

const f32 = (a: ArrayLike<number>) => Float32Array.from(a as ArrayLike<number>);
const plus = (a: Float64Array, b: Float64Array) => a.map((v, i) => v + b[i]);

// shapes: leading dims of inp, then C
const SHAPES: number[][] = [
  [3, 17, 48], // batch 3, T=17, C=48
  [1, 48], // N=1
  [17, 67], // odd C just above the workgroup size
  [100, 3], // C smaller than the workgroup: most invocations idle
  [256, 768], // GPT-2 small's C
  [1024, 64], // many rows: 32 chunks in the parameter-gradient pass
];

export const cases: GpuCase[] = [];

for (const shape of SHAPES) {
  const C = shape[shape.length - 1];
  const N = shape.slice(0, -1).reduce((a, b) => a * b, 1);
  const lead = shape.slice(0, -1);

  cases.push({
    name: `forward overwrites shape=(${shape.join(',')})`,
    async run(gpu) {
      const x = lnInput(N, C, 1), w = randn(C, 2, 0.5).map((v) => Math.fround(1 + v)), b = randn(C, 3, 0.5);
      const inp = gpu.tensor(shape, f32(x));
      const weight = gpu.tensor([C], f32(w));
      const bias = gpu.tensor([C], f32(b));
      const out = gpu.tensor(shape, f32(randn(N * C, 4))); // garbage that must be overwritten
      const mean = gpu.tensor(lead, f32(randn(N, 5)));
      const rstd = gpu.tensor([N], f32(randn(N, 6)));
      layernormForward(gpu, out, mean, rstd, inp, weight, bias);
      const ref = layernormForwardRef(x, w, b, N, C);
      assertClose('out', await gpu.read(out), ref.out, TOL_OUT);
      assertClose('mean', await gpu.read(mean), ref.mean, TOL_OUT);
      assertClose('rstd', await gpu.read(rstd), ref.rstd, TOL_OUT);
      gpu.release(inp, weight, bias, out, mean, rstd);
    },
  });

  cases.push({
    name: `backward accumulates shape=(${shape.join(',')})`,
    async run(gpu) {
      const x = lnInput(N, C, 7), w = randn(C, 8, 0.5).map((v) => Math.fround(1 + v)), b = randn(C, 9);
      const fwd = layernormForwardRef(x, w, b, N, C);
      const m = fwd.mean.map(Math.fround), r = fwd.rstd.map(Math.fround); // what the forward stored
      const d = randn(N * C, 10);
      const pre = { dinp: randn(N * C, 11), dw: randn(C, 12), db: randn(C, 13) };
      const inp = gpu.tensor(shape, f32(x));
      const weight = gpu.tensor([C], f32(w));
      const mean = gpu.tensor(lead, f32(m));
      const rstd = gpu.tensor(lead, f32(r));
      const dout = gpu.tensor(shape, f32(d));
      const dinp = gpu.tensor(shape, f32(pre.dinp));
      const dweight = gpu.tensor([C], f32(pre.dw));
      const dbias = gpu.tensor([C], f32(pre.db));
      layernormBackward(gpu, dinp, dweight, dbias, dout, inp, weight, mean, rstd);
      const ref = layernormBackwardRef(d, x, w, m, r, N, C);
      assertClose('dinp', await gpu.read(dinp), plus(ref.dinp, pre.dinp), TOL_DINP);
      assertClose('dweight', await gpu.read(dweight), plus(ref.dweight, pre.dw), TOL_PARAM);
      assertClose('dbias', await gpu.read(dbias), plus(ref.dbias, pre.db), TOL_PARAM);
      gpu.release(inp, weight, mean, rstd, dout, dinp, dweight, dbias);
    },
  });
}

cases.push({
  name: 'backward is deterministic (bit-identical on repeat) N=1024 C=64',
  async run(gpu) {
    const [N, C] = [1024, 64];
    const x = lnInput(N, C, 20), w = randn(C, 21), d = randn(N * C, 22);
    const fwd = layernormForwardRef(x, w, new Float64Array(C), N, C);
    const inp = gpu.tensor([N, C], f32(x));
    const weight = gpu.tensor([C], f32(w));
    const mean = gpu.tensor([N], f32(fwd.mean));
    const rstd = gpu.tensor([N], f32(fwd.rstd));
    const dout = gpu.tensor([N, C], f32(d));
    const dinp = gpu.tensor([N, C]);
    const dweight = gpu.tensor([C]);
    const dbias = gpu.tensor([C]);
    const results: Float32Array[][] = [];
    for (let rep = 0; rep < 2; rep++) {
      for (const t of [dinp, dweight, dbias]) gpu.zero(t);
      layernormBackward(gpu, dinp, dweight, dbias, dout, inp, weight, mean, rstd);
      results.push([await gpu.read(dinp), await gpu.read(dweight), await gpu.read(dbias)]);
    }
    for (let i = 0; i < 3; i++) {
      const [a, b] = [results[0][i], results[1][i]];
      for (let j = 0; j < a.length; j++) assert(Object.is(a[j], b[j]), `gradient ${i} differs between runs at [${j}]: ${a[j]} vs ${b[j]}`);
    }
    gpu.release(inp, weight, mean, rstd, dout, dinp, dweight, dbias);
  },
});

cases.push({
  name: 'parameters and gradients as views into one flat buffer (as the model stores them)',
  async run(gpu) {
    const [N, C] = [17, 48];
    // layout: weight at 0, bias at 256 bytes (C*4 = 192 rounded up to the 256-byte binding alignment)
    const stride = 64; // floats
    const flatW = gpu.tensor([2 * stride]);
    const flatG = gpu.tensor([2 * stride]);
    const view = (t: Tensor, i: number, name: string): Tensor => ({ buffer: t.buffer, shape: [C], dtype: 'f32', offset: i * stride * 4, size: C, name });
    const x = lnInput(N, C, 30), w = randn(C, 31), b = randn(C, 32), d = randn(N * C, 33);
    const hostW = new Float32Array(2 * stride);
    hostW.set(f32(w), 0);
    hostW.set(f32(b), stride);
    gpu.write(flatW, hostW);
    const weight = view(flatW, 0, 'ln.weight'), bias = view(flatW, 1, 'ln.bias');
    const dweight = view(flatG, 0, 'ln.weight.grad'), dbias = view(flatG, 1, 'ln.bias.grad');
    const inp = gpu.tensor([N, C], f32(x));
    const out = gpu.tensor([N, C]);
    const mean = gpu.tensor([N]);
    const rstd = gpu.tensor([N]);
    const dout = gpu.tensor([N, C], f32(d));
    const dinp = gpu.tensor([N, C]);
    layernormForward(gpu, out, mean, rstd, inp, weight, bias);
    layernormBackward(gpu, dinp, dweight, dbias, dout, inp, weight, mean, rstd);
    const fwd = layernormForwardRef(x, w, b, N, C);
    assertClose('out', await gpu.read(out), fwd.out, TOL_OUT);
    const ref = layernormBackwardRef(d, x, w, await gpu.read(mean), await gpu.read(rstd), N, C);
    assertClose('dinp', await gpu.read(dinp), ref.dinp, TOL_DINP);
    assertClose('dweight', await gpu.read(dweight), ref.dweight, TOL_PARAM);
    assertClose('dbias', await gpu.read(dbias), ref.dbias, TOL_PARAM);
    gpu.release(flatW, flatG, inp, out, mean, rstd, dout, dinp);
  },
});

cases.push({
  name: 'wrong shapes are rejected with the shapes in the message',
  run(gpu) {
    const inp = gpu.tensor([2, 3, 8]);
    const out = gpu.tensor([2, 3, 8]);
    const mean = gpu.tensor([2, 3]);
    const rstd = gpu.tensor([6]);
    const w = gpu.tensor([8]);
    const badW = gpu.tensor([7]);
    const badOut = gpu.tensor([6, 8]);
    const badMean = gpu.tensor([5]);
    const flat = gpu.tensor([48]);
    assertThrows(() => layernormForward(gpu, out, mean, rstd, inp, badW, w), 'ShapeError', /weight has shape \(7\), expected \(8\)/);
    assertThrows(() => layernormForward(gpu, badOut, mean, rstd, inp, w, w), 'ShapeError', /out has shape \(6, 8\), expected \(2, 3, 8\)/);
    assertThrows(() => layernormForward(gpu, out, badMean, rstd, inp, w, w), 'ShapeError', /mean has shape \(5\), expected \(2, 3\) or \(6\)/);
    assertThrows(() => layernormForward(gpu, flat, mean, rstd, flat, w, w), 'ShapeError', /inp has shape \(48\), expected \(N, C\)/);
    assertThrows(() => layernormBackward(gpu, out, w, badW, out, inp, w, mean, rstd), 'ShapeError', /dbias has shape \(7\), expected \(8\)/);
    assertThrows(() => layernormBackward(gpu, out, w, w, badOut, inp, w, mean, rstd), 'ShapeError', /dout has shape \(6, 8\), expected \(2, 3, 8\)/);
    assertThrows(() => layernormBackward(gpu, out, w, w, out, inp, w, mean, badMean), 'ShapeError', /rstd has shape \(5\), expected/);
    gpu.release(inp, out, mean, rstd, w, badW, badOut, badMean, flat);
  },
});
