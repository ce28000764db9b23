/** GPU cases for the fused softmax + cross-entropy, run in Node and in Chromium. */
import { crossEntropy } from '../../src/kernels/crossentropy.ts';
import type { Tensor } from '../../src/gpu/tensor.ts';
import type { GpuCase } from '../util/cases.ts';
import { assertClose, assertThrows, randint, randn, type Tolerance } from '../util/check.ts';
import { crossEntropyRef } from './crossentropy.ref.ts';

// loss = log(S) + M - x_t: S is a fp32 sum of up to 50257 exp terms (~785 per invocation, then 64
// partial sums), relative error ~1e-6 typical, and log(S)'s absolute error is S's relative error.
// Losses are ~2..15. Measured <= 3.5e-6 on lavapipe.
const TOL_LOSS: Tolerance = { atol: 2e-5, rtol: 1e-5, reason: 'fp32 sum of exp over <= 50257 logits vs float64' };
// dlogits = (p - onehot) * scale: p = exp(x - M) / S is off by ~25 * 2^-24 (rounded exp argument)
// plus S's relative error: 2e-5 relative (measured <= 6e-6). atol covers flush-to-zero of tiny p*scale.
const TOL_GRAD: Tolerance = { atol: 1e-9, rtol: 2e-5, reason: 'fp32 exp and row sums of <= 50257 terms vs float64' };

/** Logits of spread ~2 with per-row offsets, including +100 (overflows exp without the max). */
function makeLogits(N: number, V: number, seed: number): Float64Array {
  const x = randn(N * V, seed, 2);
  const offsets = [0, 100, -30, 5];
  for (let n = 0; n < N; n++) for (let i = 0; i < V; i++) x[n * V + i] = Math.fround(x[n * V + i] + offsets[n % offsets.length]);
  return x;
}

/** Targets in [0, V) with ignored rows: every 4th row -1, row 6 -100; row 1 the last class, row 2 class 0. */
function makeTargets(N: number, V: number, seed: number): Int32Array {
  const t = randint(N, V, seed);
  for (let n = 0; n < N; n++) if (n % 4 === 3) t[n] = -1;
  if (N > 1) t[1] = V - 1;
  if (N > 2) t[2] = 0;
  if (N > 6) t[6] = -100;
  return t;
}

const f32 = (a: ArrayLike<number>) => Float32Array.from(a as ArrayLike<number>);

const SHAPES: number[][] = [
  [1, 67], // N=1, odd V
  [17, 67],
  [3, 17, 67], // (B, T, V): losses and targets (B, T)
  [5, 1], // V=1: loss 0, gradient 0 for counted rows
  [4, 50257], // GPT-2's vocabulary: ~785 logits per invocation
];

export const cases: GpuCase[] = [];

for (const shape of SHAPES) {
  const V = shape[shape.length - 1];
  const lead = shape.slice(0, -1);
  const N = lead.reduce((a, b) => a * b, 1);

  for (const inPlace of [false, true]) {
    cases.push({
      name: `${inPlace ? 'in place (dlogits = logits)' : 'separate dlogits'}, overwrites shape=(${shape.join(',')})`,
      async run(gpu) {
        const x = makeLogits(N, V, 1);
        const tg = makeTargets(N, V, 2);
        const counted = tg.filter((t) => t >= 0).length;
        const s = Math.fround(1 / Math.max(counted, 1));
        const logits = gpu.tensor(shape, f32(x));
        const dlogits = inPlace ? logits : gpu.tensor(shape, f32(randn(N * V, 3))); // garbage to overwrite
        const losses = gpu.tensor(lead, f32(randn(N, 4)));
        const targets = gpu.tensor(lead, tg, 'i32');
        const scale = gpu.tensor([1], [s]);
        crossEntropy(gpu, losses, dlogits, logits, targets, scale);
        const ref = crossEntropyRef(x, tg, s, N, V);
        assertClose('losses', await gpu.read(losses), ref.losses, TOL_LOSS);
        assertClose('dlogits', await gpu.read(dlogits), ref.dlogits, TOL_GRAD);
        if (!inPlace) assertClose('logits (unchanged)', await gpu.read(logits), x, { atol: 0, rtol: 0, reason: 'an input must not be written' });
        gpu.release(...new Set([logits, dlogits, losses, targets, scale]));
      },
    });
  }
}

cases.push({
  name: 'scale is read on the GPU: a new value without recompiling changes dlogits, not losses',
  async run(gpu) {
    const [N, V] = [6, 67];
    const x = makeLogits(N, V, 5), tg = makeTargets(N, V, 6);
    const logits = gpu.tensor([N, V], f32(x));
    const dlogits = gpu.tensor([N, V]);
    const losses = gpu.tensor([N]);
    const targets = gpu.tensor([N], tg, 'i32');
    const scale = gpu.tensor([1], [1]);
    const pipelines = gpu.stats().pipelines;
    for (const s of [1, 0.25, -2]) {
      gpu.write(scale, [s]);
      crossEntropy(gpu, losses, dlogits, logits, targets, scale);
      const ref = crossEntropyRef(x, tg, s, N, V);
      assertClose(`losses (scale ${s})`, await gpu.read(losses), ref.losses, TOL_LOSS);
      assertClose(`dlogits (scale ${s})`, await gpu.read(dlogits), ref.dlogits, TOL_GRAD);
    }
    const added = gpu.stats().pipelines - pipelines;
    if (added > 1) throw new Error(`changing scale compiled ${added} pipelines, expected at most 1`);
    gpu.release(logits, dlogits, losses, targets, scale);
  },
});

cases.push({
  name: 'targets >= V read nothing out of bounds and count as ignored (loss 0, zero row)',
  async run(gpu) {
    const [N, V] = [4, 67];
    const x = makeLogits(N, V, 7);
    const tg = Int32Array.from([V, 5, V + 100000, 2147483647]);
    const logits = gpu.tensor([N, V], f32(x));
    const losses = gpu.tensor([N], f32(randn(N, 8)));
    const targets = gpu.tensor([N], tg, 'i32');
    const scale = gpu.tensor([1], [0.5]);
    crossEntropy(gpu, losses, logits, logits, targets, scale);
    const ref = crossEntropyRef(x, tg, 0.5, N, V);
    assertClose('losses', await gpu.read(losses), ref.losses, TOL_LOSS);
    assertClose('dlogits', await gpu.read(logits), ref.dlogits, TOL_GRAD);
    gpu.release(logits, losses, targets, scale);
  },
});

cases.push({
  name: 'wrong shapes, dtypes and shared buffers are rejected with the shapes in the message',
  run(gpu) {
    const [N, V] = [4, 6];
    const logits = gpu.tensor([N, V]);
    const dlogits = gpu.tensor([N, V]);
    const losses = gpu.tensor([N]);
    const targets = gpu.tensor([N], undefined, 'i32');
    const scale = gpu.tensor([1]);
    const fTargets = gpu.tensor([N]);
    const bad = gpu.tensor([N + 1]);
    const scale2 = gpu.tensor([2]);
    const badLogits = gpu.tensor([N, V + 1]);
    const big = gpu.tensor([2 * 64]);
    const flat = gpu.tensor([N * V]);
    const view = (offset: number): Tensor => ({ buffer: big.buffer, shape: [N, V], dtype: 'f32', offset, size: N * V });
    assertThrows(() => crossEntropy(gpu, losses, dlogits, logits, fTargets, scale), 'ShapeError', /targets has dtype f32, expected i32/);
    assertThrows(() => crossEntropy(gpu, bad, dlogits, logits, targets, scale), 'ShapeError', /losses has shape \(5\), expected \(4\)/);
    assertThrows(() => crossEntropy(gpu, losses, dlogits, logits, bad, scale), 'ShapeError', /targets has shape \(5\), expected \(4\)/);
    assertThrows(() => crossEntropy(gpu, losses, dlogits, logits, targets, scale2), 'ShapeError', /scale has shape \(2\), expected \(1\)/);
    assertThrows(() => crossEntropy(gpu, losses, badLogits, logits, targets, scale), 'ShapeError', /dlogits has shape \(4, 7\), expected \(4, 6\)/);
    assertThrows(() => crossEntropy(gpu, losses, view(256), view(0), targets, scale), 'ShapeError', /share a buffer/);
    assertThrows(() => crossEntropy(gpu, losses, logits, flat, targets, scale), 'ShapeError', /logits has shape \(24\), expected \(N, V\)/);
    gpu.release(logits, dlogits, losses, targets, scale, fTargets, bad, scale2, badLogits, big, flat);
  },
});
