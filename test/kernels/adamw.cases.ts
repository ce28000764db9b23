/** GPU cases for the AdamW optimizer step, run in Node and in Chromium. */
import { AdamW, type AdamWHyperparams } from '../../src/kernels/adamw.ts';
import { GRADNORM_PARTIALS, gradNormSquared } from '../../src/kernels/gradnorm.ts';
import type { Gpu } from '../../src/gpu/context.ts';
import type { Tensor } from '../../src/gpu/tensor.ts';
import type { GpuCase } from '../util/cases.ts';
import { assert, assertClose, assertThrows, randn, type Tolerance } from '../util/check.ts';
import { adamwStepRef, clipFactorRef, type AdamWGroupRef, type AdamWHyperparamsRef } from './adamw.ref.ts';
import { gradNormSquaredRef } from './gradnorm.ref.ts';

// Params ~ N(0, 0.5^2) (ulp <= 2.4e-7) move by about lr = 1e-2 per step; the update direction
// m / (sqrt(v) + eps) carries ~1e-6 relative fp32 error, i.e. 1e-8 absolute. 2e-6 is a few ulp over
// 3 steps. The weight-decay term alone is lr * wd * p ~ 5e-4, and decaying the updated instead of
// the old parameter would differ by ~1e-5: both would fail.
const TOL_P: Tolerance = { atol: 2e-6, rtol: 1e-6, reason: 'a few fp32 ulp of params over 3 steps' };
// m and v: short fp32 recurrences (3 steps): a few ulp of relative error. atol is set per case from
// the gradient scale (m ~ g, v ~ g^2) for elements where m crosses zero.
const RTOL_MV = 1e-5;

const BASE: Omit<AdamWHyperparamsRef, 'step' | 'maxGradNorm'> = { lr: 1e-2, beta1: 0.9, beta2: 0.95, eps: 1e-8, gradScale: 0.5 };

/** Two parameter groups as views at 256-byte-aligned offsets into flat buffers (as the trainer does). */
interface Groups {
  flat: { p: Tensor; g: Tensor; m: Tensor; v: Tensor };
  views: { p: Tensor; g: Tensor; m: Tensor; v: Tensor; weightDecay: number }[];
  ref: AdamWGroupRef[];
  flatGrads: Float32Array; // host copy of the whole grads buffer (zeros between the views)
}

const GROUPS = [
  { shape: [67, 48], weightDecay: 0.1 }, // a weight matrix: decayed
  { shape: [48], weightDecay: 0 }, // a bias: not decayed
];

function makeGroups(gpu: Gpu): Groups {
  const sizes = GROUPS.map((g) => g.shape.reduce((a, b) => a * b, 1));
  const offsets: number[] = []; // bytes
  let bytes = 0;
  for (const n of sizes) {
    offsets.push(bytes);
    bytes = Math.ceil((bytes + n * 4) / 256) * 256;
  }
  const total = bytes / 4;
  const flat = { p: gpu.tensor([total]), g: gpu.tensor([total]), m: gpu.tensor([total]), v: gpu.tensor([total]) };
  const view = (t: Tensor, k: number): Tensor => ({ ...t, shape: GROUPS[k].shape, offset: offsets[k], size: sizes[k] });
  const views = GROUPS.map((grp, k) => ({ p: view(flat.p, k), g: view(flat.g, k), m: view(flat.m, k), v: view(flat.v, k), weightDecay: grp.weightDecay }));
  const ref = GROUPS.map((grp, k) => {
    const p = randn(sizes[k], 10 + k, 0.5);
    gpu.write(views[k].p, Float32Array.from(p));
    return { p, g: new Float64Array(sizes[k]), m: new Float64Array(sizes[k]), v: new Float64Array(sizes[k]), weightDecay: grp.weightDecay };
  });
  gpu.zero(flat.m);
  gpu.zero(flat.v);
  return { flat, views, ref, flatGrads: new Float32Array(total) };
}

/** New raw gradients for `step` (std = step, so the clip factor differs from step to step). */
function setGrads(gpu: Gpu, gs: Groups, step: number): void {
  gs.ref.forEach((r, k) => {
    const g = randn(r.p.length, 100 * step + k, step);
    r.g = g;
    gs.flatGrads.set(Float32Array.from(g), gs.views[k].g.offset / 4);
  });
  gpu.write(gs.flat.g, gs.flatGrads);
}

async function checkGroups(gpu: Gpu, gs: Groups, what: string, gscale: number): Promise<void> {
  for (let k = 0; k < gs.views.length; k++) {
    const { p, m, v } = gs.views[k];
    const r = gs.ref[k];
    assertClose(`${what} group ${k} params`, await gpu.read(p), r.p, TOL_P);
    assertClose(`${what} group ${k} m`, await gpu.read(m), r.m, { atol: 1e-6 * gscale, rtol: RTOL_MV, reason: 'fp32 moment recurrence, 3 steps' });
    assertClose(`${what} group ${k} v`, await gpu.read(v), r.v, { atol: 1e-6 * gscale * gscale, rtol: RTOL_MV, reason: 'fp32 moment recurrence, 3 steps' });
  }
}

/** Three steps over two groups; normSq from the host (float64 sum, as fp32) or from gradNormSquared. */
async function threeSteps(gpu: Gpu, maxGradNorm: number, normOnGpu: boolean): Promise<number[]> {
  const opt = new AdamW(gpu);
  const gs = makeGroups(gpu);
  const normSq = gpu.tensor([1]);
  const partials = gpu.tensor([GRADNORM_PARTIALS]);
  const clips: number[] = [];
  for (let step = 1; step <= 3; step++) {
    setGrads(gpu, gs, step);
    const h: AdamWHyperparamsRef = { ...BASE, step, maxGradNorm };
    if (normOnGpu) gradNormSquared(gpu, normSq, partials, gs.flat.g);
    else gpu.write(normSq, [gradNormSquaredRef(...gs.ref.map((r) => r.g))]);
    const clip = clipFactorRef(gs.ref, h);
    clips.push(clip);
    opt.setHyperparams(h satisfies AdamWHyperparams);
    for (const w of gs.views) opt.update(w.p, w.g, w.m, w.v, w.weightDecay, maxGradNorm > 0 ? normSq : undefined);
    adamwStepRef(gs.ref, h);
    await checkGroups(gpu, gs, `step ${step} (clip ${clip.toPrecision(4)})`, step * BASE.gradScale * clip);
  }
  opt.destroy();
  gpu.release(gs.flat.p, gs.flat.g, gs.flat.m, gs.flat.v, normSq, partials);
  return clips;
}

export const cases: GpuCase[] = [
  {
    name: 'three steps, two groups (decay 0.1 / 0) as views into flat buffers, no clipping',
    async run(gpu) {
      await threeSteps(gpu, 0, false);
    },
  },
  {
    name: 'three steps with clipping active (maxGradNorm 1, a different clip factor each step)',
    async run(gpu) {
      const clips = await threeSteps(gpu, 1, false);
      assert(clips.every((c) => c < 0.1) && new Set(clips).size === 3, `clip factors ${clips} should be < 0.1 and differ`);
    },
  },
  {
    name: 'three steps with clipping on but inactive (norm below maxGradNorm 1e4)',
    async run(gpu) {
      const clips = await threeSteps(gpu, 1e4, false);
      assert(clips.every((c) => c === 1), `clip factors ${clips} should all be 1`);
    },
  },
  {
    name: 'clipping with the squared norm computed on the GPU (gradNormSquared over the flat grads)',
    async run(gpu) {
      await threeSteps(gpu, 1, true);
    },
  },
  {
    name: 'wrong shapes, missing norm and bad hyperparameters are rejected with the values in the message',
    run(gpu) {
      const opt = new AdamW(gpu);
      const p = gpu.tensor([67, 48]);
      const g = gpu.tensor([67, 48]);
      const m = gpu.tensor([67, 48]);
      const v = gpu.tensor([67, 47]);
      const norm2 = gpu.tensor([2]);
      assertThrows(() => opt.update(p, g, m, m, 0), 'ShapeError', /call setHyperparams before update/);
      assertThrows(() => opt.setHyperparams({ ...BASE, step: 0 }), 'ShapeError', /step must be an integer >= 1 \(1-based\), got 0/);
      assertThrows(() => opt.setHyperparams({ ...BASE, step: 1, beta2: 1 }), 'ShapeError', /beta2 must be in \[0, 1\), got 1/);
      opt.setHyperparams({ ...BASE, step: 1, maxGradNorm: 1 });
      assertThrows(() => opt.update(p, g, m, v, 0.1), 'ShapeError', /v \(67, 47\) has 3149 elements, expected 3216 \(as many as params \(67, 48\)\)/);
      assertThrows(() => opt.update(p, g, m, m, 0.1), 'ShapeError', /m and v must be different tensors/);
      assertThrows(() => opt.update(p, g, m, g, 0.1), 'ShapeError', /grads and v share a buffer/);
      const v2 = gpu.tensor([67, 48]);
      assertThrows(() => opt.update(p, g, m, v2, 0.1), 'ShapeError', /maxGradNorm is 1 but no normSq tensor was given/);
      assertThrows(() => opt.update(p, g, m, v2, 0.1, norm2), 'ShapeError', /normSq has shape \(2\), expected \(1\)/);
      assertThrows(() => opt.update(p, g, m, v2, -0.1, norm2), 'ShapeError', /weightDecay must be finite and >= 0, got -0.1/);
      opt.destroy();
      gpu.release(p, g, m, v, v2, norm2);
    },
  },
];

// A NaN or Inf in the gradients (seen as a non-finite norm) must leave params, m and v untouched.
for (const bad of [NaN, Infinity]) {
  cases.push({
    name: `a non-finite gradient norm (${bad}) skips the update: params, m, v unchanged`,
    async run(gpu) {
      const n = 100;
      const p0 = Float32Array.from(randn(n, 31)), m0 = Float32Array.from(randn(n, 32, 0.1)), v0 = Float32Array.from(randn(n, 33, 0.1)).map(Math.abs);
      const g0 = Float32Array.from(randn(n, 34));
      g0[17] = bad;
      const p = gpu.tensor([n], p0), g = gpu.tensor([n], g0), m = gpu.tensor([n], m0), v = gpu.tensor([n], v0);
      const normSq = gpu.tensor([1]);
      const partials = gpu.tensor([GRADNORM_PARTIALS]);
      const opt = new AdamW(gpu);
      opt.setHyperparams({ ...BASE, step: 3, maxGradNorm: 0 });
      gradNormSquared(gpu, normSq, partials, g);
      opt.update(p, g, m, v, 0.1, normSq);
      for (const [name, t, want] of [['params', p, p0], ['m', m, m0], ['v', v, v0]] as const) {
        const got = await gpu.read(t);
        for (let i = 0; i < n; i++) assert(Object.is(got[i], want[i]), `${name}[${i}] changed: ${want[i]} -> ${got[i]}`);
      }
      opt.destroy();
      gpu.release(p, g, m, v, normSq, partials);
    },
  });
}
