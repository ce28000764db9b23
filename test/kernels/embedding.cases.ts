/** GPU cases for embedding (forward, bucketed backward), run in Node and in Chromium. */
import { EmbeddingBackwardPlan, embeddingBackward, embeddingForward } from '../../src/kernels/embedding.ts';
import type { Gpu } from '../../src/gpu/context.ts';
import type { GpuCase } from '../util/cases.ts';
import { assert, assertClose, assertThrows, randint, randn, type Tolerance } from '../util/check.ts';
import { embeddingBackwardRef, embeddingForwardRef } from './embedding.ref.ts';

// Forward: one fp32 addition per element.
const TOL_FWD: Tolerance = { atol: 1e-6, rtol: 1e-6, reason: 'one fp32 addition per element' };
// Backward: each dwte element is an ordered fp32 sum of up to B*T = 256 unit-variance rows
// (plus the pre-filled value): error <~ k * 2^-24 * sum|terms| < 1e-5 here.
const TOL_BWD: Tolerance = { atol: 1e-5, rtol: 1e-5, reason: 'ordered fp32 sums of up to 256 rows' };

interface Shape { B: number; T: number; C: number; V: number; maxT: number }

const SHAPES: Shape[] = [
  { B: 3, T: 17, C: 48, V: 67, maxT: 20 }, // awkward everything, T < maxT
  { B: 1, T: 1, C: 48, V: 67, maxT: 1 }, // T = 1
  { B: 2, T: 5, C: 7, V: 3, maxT: 8 }, // tiny vocabulary: every id repeated many times
  { B: 4, T: 64, C: 64, V: 67, maxT: 64 },
];

const plus = (a: Float64Array, b: Float64Array) => a.map((x, i) => x + b[i]);

/** Forward, then backward into pre-filled gradients; checks all three against the reference. */
async function checkEmbedding(gpu: Gpu, s: Shape, ids: Int32Array, seed: number): Promise<void> {
  const { B, T, C, V, maxT } = s;
  const wteV = randn(V * C, seed + 1), wpeV = randn(maxT * C, seed + 2), d = randn(B * T * C, seed + 3);
  const preWte = randn(V * C, seed + 4), preWpe = randn(maxT * C, seed + 5);
  const idsT = gpu.tensor([B, T], ids, 'i32');
  const wte = gpu.tensor([V, C], Float32Array.from(wteV));
  const wpe = gpu.tensor([maxT, C], Float32Array.from(wpeV));
  const out = gpu.tensor([B, T, C]);
  const dout = gpu.tensor([B, T, C], Float32Array.from(d));
  const dwte = gpu.tensor([V, C], Float32Array.from(preWte));
  const dwpe = gpu.tensor([maxT, C], Float32Array.from(preWpe));
  const plan = new EmbeddingBackwardPlan(gpu, B, T, V);
  embeddingForward(gpu, out, idsT, wte, wpe);
  plan.setIds(ids);
  embeddingBackward(gpu, plan, dwte, dwpe, dout);
  assertClose('out', await gpu.read(out), embeddingForwardRef(ids, wteV, wpeV, B, T, C), TOL_FWD);
  const ref = embeddingBackwardRef(d, ids, B, T, C, V, maxT);
  assertClose('dwte', await gpu.read(dwte), plus(ref.dwte, preWte), TOL_BWD);
  assertClose('dwpe', await gpu.read(dwpe), plus(ref.dwpe, preWpe), TOL_BWD);
  plan.destroy();
  gpu.release(idsT, wte, wpe, out, dout, dwte, dwpe);
}

export const cases: GpuCase[] = [];

for (const s of SHAPES) {
  cases.push({
    name: `forward and backward (accumulating) B=${s.B} T=${s.T} C=${s.C} V=${s.V} maxT=${s.maxT}`,
    run: (gpu) => checkEmbedding(gpu, s, randint(s.B * s.T, s.V, 7), 10),
  });
}

cases.push({
  name: 'backward with one token everywhere, and with only the first and last ids',
  async run(gpu) {
    const s = { B: 3, T: 17, C: 48, V: 67, maxT: 17 };
    await checkEmbedding(gpu, s, new Int32Array(s.B * s.T).fill(5), 20);
    await checkEmbedding(gpu, s, Int32Array.from({ length: s.B * s.T }, (_, i) => (i % 3 === 0 ? 0 : s.V - 1)), 30);
  },
});

cases.push({
  name: 'a plan reused over steps: right buckets each time, no new GPU buffers',
  async run(gpu) {
    const [B, T, C, V] = [3, 17, 48, 67];
    const plan = new EmbeddingBackwardPlan(gpu, B, T, V);
    const dwte = gpu.tensor([V, C]);
    const dwpe = gpu.tensor([T, C]);
    const dout = gpu.tensor([B, T, C]);
    let buffers = -1;
    for (let step = 0; step < 3; step++) {
      const ids = randint(B * T, step === 1 ? 4 : V, 40 + step); // step 1: few distinct ids
      const d = randn(B * T * C, 50 + step);
      gpu.write(dout, Float32Array.from(d));
      gpu.zero(dwte);
      gpu.zero(dwpe);
      plan.setIds(ids);
      embeddingBackward(gpu, plan, dwte, dwpe, dout);
      const ref = embeddingBackwardRef(d, ids, B, T, C, V, T);
      assertClose(`dwte step ${step}`, await gpu.read(dwte), ref.dwte, TOL_BWD);
      assertClose(`dwpe step ${step}`, await gpu.read(dwpe), ref.dwpe, TOL_BWD);
      const now = gpu.stats().buffers;
      if (step > 0) assert(now === buffers, `live GPU buffers grew from ${buffers} to ${now} between steps`);
      buffers = now;
    }
    plan.destroy();
    gpu.release(dwte, dwpe, dout);
  },
});

cases.push({
  name: 'bad token ids: setIds names the first bad position and value; the forward kernel clamps',
  async run(gpu) {
    const [B, T, C, V] = [2, 4, 8, 67];
    const plan = new EmbeddingBackwardPlan(gpu, B, T, V);
    const ids = Int32Array.from([1, 2, 3, 4, 5, 67, 6, -1]);
    assertThrows(() => plan.setIds(ids), 'ShapeError', /token id 67 at position 5 \(b=1, t=1\) is outside the vocabulary \[0, 67\)/);
    assertThrows(() => plan.setIds(Int32Array.from([0, 0, 0, -3, 0, 0, 0, 0])), 'ShapeError', /token id -3 at position 3 \(b=0, t=3\)/);
    assertThrows(() => plan.setIds(new Int32Array(7)), 'ShapeError', /got 7 ids, expected B\*T = 2\*4 = 8/);
    // On the GPU a bad id reads the nearest valid row instead of out of bounds.
    const wteV = randn(V * C, 60), wpeV = randn(T * C, 61);
    const idsT = gpu.tensor([B, T], Int32Array.from([1000, 0, 66, -5, 3, 67, 2, -2147483648]), 'i32');
    const clamped = [V - 1, 0, 66, 0, 3, V - 1, 2, 0];
    const wte = gpu.tensor([V, C], Float32Array.from(wteV));
    const wpe = gpu.tensor([T, C], Float32Array.from(wpeV));
    const out = gpu.tensor([B, T, C]);
    embeddingForward(gpu, out, idsT, wte, wpe);
    assertClose('out (clamped ids)', await gpu.read(out), embeddingForwardRef(clamped, wteV, wpeV, B, T, C), TOL_FWD);
    plan.destroy();
    gpu.release(idsT, wte, wpe, out);
  },
});

cases.push({
  name: 'wrong shapes are rejected with the shapes in the message',
  run(gpu) {
    const [B, T, C, V] = [3, 17, 48, 67];
    const ids = gpu.tensor([B, T], undefined, 'i32');
    const idsF = gpu.tensor([B, T]);
    const wte = gpu.tensor([V, C]);
    const wpeShort = gpu.tensor([16, C]);
    const wpe = gpu.tensor([T, C]);
    const wpeBadC = gpu.tensor([T, C + 1]);
    const out = gpu.tensor([B, T, C]);
    const outBad = gpu.tensor([B, T, C - 1]);
    const plan = new EmbeddingBackwardPlan(gpu, B, T, V);
    assertThrows(() => embeddingForward(gpu, out, ids, wte, wpeShort), 'ShapeError', /sequence of length T=17, wpe \(16, 48\) holds only 16 positions/);
    assertThrows(() => embeddingForward(gpu, out, ids, wte, wpeBadC), 'ShapeError', /wpe has shape \(17, 49\), expected \(\*, 48\)/);
    assertThrows(() => embeddingForward(gpu, outBad, ids, wte, wpe), 'ShapeError', /out has shape \(3, 17, 47\), expected \(3, 17, 48\)/);
    assertThrows(() => embeddingForward(gpu, out, idsF, wte, wpe), 'ShapeError', /ids has dtype f32, expected i32/);
    assertThrows(() => embeddingBackward(gpu, plan, wte, wpe, out), 'ShapeError', /no token ids yet/);
    plan.setIds(new Int32Array(B * T));
    assertThrows(() => embeddingBackward(gpu, plan, wte, wpeShort, out), 'ShapeError', /dwpe \(16, 48\) holds 16 positions, dout has T=17/);
    assertThrows(() => embeddingBackward(gpu, plan, wpe, wpe, out), 'ShapeError', /dwte has shape \(17, 48\), expected \(67, 48\)/);
    assertThrows(() => embeddingBackward(gpu, plan, wte, wpe, outBad), 'ShapeError', /dwte has shape \(67, 48\), expected \(67, 47\)/);
    assertThrows(() => new EmbeddingBackwardPlan(gpu, B, 0, V), 'ShapeError', /T must be a positive integer, got 0/);
    plan.destroy();
    gpu.release(ids, idsF, wte, wpeShort, wpe, wpeBadC, out, outBad);
  },
});
