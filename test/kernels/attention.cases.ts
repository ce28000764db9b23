/** GPU cases for attention (forward, backward, causality, shape errors), run in Node and in Chromium. */
import { attentionBackward, attentionForward, type AttentionOptions } from '../../src/kernels/attention.ts';
import { subgroupLanes } from '../../src/kernels/check.ts';
import { subgroupsMissing, type GpuCase } from '../util/cases.ts';
import { assert, assertClose, assertThrows, randn, type Tolerance } from '../util/check.ts';
import { recordDispatches } from '../util/dispatches.ts';
import { attentionBackwardRef, attentionForwardRef, type AttentionDims } from './attention.ref.ts';

// Tolerances. Measured worst errors on lavapipe (all shapes below, T up to 1024): out 1.0e-6,
// lse 1.7e-6, dqkv 5.1e-6, for values of a few units. Each bound leaves ~10x margin and still
// catches a wrong index or a leaked future key (errors of order 0.1 and more).
// out is a softmax-weighted average of unit-scale v's: every score is an fp32 dot product of HS
// terms (~1e-7 * sqrt(HS) relative), WGSL's exp may be off by a few ulp, and the average of up to
// T terms adds ~1e-7 * sqrt(T).
const TOL_OUT: Tolerance = { atol: 2e-5, rtol: 1e-5, reason: 'fp32 online softmax average vs float64 naive softmax' };
// lse ~ max score + log(T) (up to ~8): the same rounding, relative to a larger value.
const TOL_LSE: Tolerance = { atol: 2e-5, rtol: 1e-5, reason: 'fp32 log-sum-exp of up to T scores vs float64' };
// dqkv sums up to T products of a recomputed P, (dp - D) and unit-scale vectors; dp - D cancels
// (both a few units), so the error is absolute rather than relative.
const TOL_GRAD: Tolerance = { atol: 5e-5, rtol: 1e-4, reason: 'fp32 recomputed P and dS summed over up to T rows vs float64' };

// B, T, C, NH (HS = C / NH)
const SHAPES: [number, number, number, number][] = [
  [2, 17, 48, 4], // HS 12, awkward T
  [1, 1, 16, 2], // T = 1: each query sees only itself (out = v)
  [3, 64, 64, 4], // HS 16, batch 3
  [1, 33, 24, 8], // HS 3 (odd)
  [2, 9, 4, 4], // HS 1
  [1, 40, 128, 2], // HS 64 (GPT-2's head size)
];

const dimsOf = ([B, T, C, NH]: readonly number[]): AttentionDims => ({ B, T, C, NH });
const label = (d: AttentionDims) => `B=${d.B} T=${d.T} C=${d.C} NH=${d.NH} (HS=${d.C / d.NH})`;

export const cases: GpuCase[] = [];

for (const shape of SHAPES) {
  const d = dimsOf(shape);
  const { B, T, C, NH } = d;
  cases.push({
    name: `forward ${label(d)}`,
    async run(gpu) {
      const x = randn(B * T * 3 * C, 1);
      const qkv = gpu.tensor([B, T, 3 * C], Float32Array.from(x));
      // pre-fill outputs with garbage: the forward must overwrite every element
      const out = gpu.tensor([B, T, C], Float32Array.from(randn(B * T * C, 2)));
      const lse = gpu.tensor([B, NH, T], Float32Array.from(randn(B * NH * T, 3)));
      attentionForward(gpu, out, lse, qkv, NH);
      const ref = attentionForwardRef(x, d);
      assertClose('out', await gpu.read(out), ref.out, TOL_OUT);
      assertClose('lse', await gpu.read(lse), ref.lse, TOL_LSE);
      gpu.release(qkv, out, lse);
    },
  });
  cases.push({
    name: `backward accumulates into dqkv ${label(d)}`,
    async run(gpu) {
      const x = randn(B * T * 3 * C, 4), g = randn(B * T * C, 5), pre = randn(B * T * 3 * C, 6);
      const qkv = gpu.tensor([B, T, 3 * C], Float32Array.from(x));
      const out = gpu.tensor([B, T, C]);
      const lse = gpu.tensor([B, NH, T]);
      const dout = gpu.tensor([B, T, C], Float32Array.from(g));
      const dqkv = gpu.tensor([B, T, 3 * C], Float32Array.from(pre));
      attentionForward(gpu, out, lse, qkv, NH);
      attentionBackward(gpu, dqkv, dout, qkv, out, lse, NH);
      const ref = attentionBackwardRef(g, x, d);
      assertClose('dqkv', await gpu.read(dqkv), ref.map((v, i) => v + pre[i]), TOL_GRAD);
      gpu.release(qkv, out, lse, dout, dqkv);
    },
  });
}

// Each kernel set forced (forward, then backward into a pre-filled dqkv, against the references):
//   - the per-invocation kernels with fewer rows per invocation (1 is the default on GPUs; CPU
//     adapters without subgroups default to 4): an awkward T (groups of 2 end past T), an odd head
//     size (scalar loads), and one row each;
//   - the per-invocation kernels with the CPU default (subgroups: false), which lavapipe no
//     longer runs by default: an awkward T, an odd head size, GPT-2's head size;
//   - the row-per-lane kernels (subgroups: true; the default on lavapipe), also where they are not
//     the default: T not a multiple of the 8 rows of a subgroup, HS 3 (scalar loads, lanes past
//     the head's vec4s), HS 64 (two vec4s per lane), and a batch. Without subgroups of 8 lanes
//     (SwiftShader), forcing them must throw a LimitError instead.
const FORCED: [[number, number, number, number], AttentionOptions][] = [
  [[2, 17, 48, 4], { rows: 1 }],
  [[2, 17, 48, 4], { rows: 2 }],
  [[1, 33, 24, 8], { rows: 1 }],
  [[2, 17, 48, 4], { subgroups: false }],
  [[1, 33, 24, 8], { subgroups: false }],
  [[1, 40, 128, 2], { subgroups: false }],
  [[2, 17, 48, 4], { subgroups: true }],
  [[1, 33, 24, 8], { subgroups: true }],
  [[1, 40, 128, 2], { subgroups: true }],
  [[3, 64, 64, 4], { subgroups: true }],
];
const optionsLabel = (o: AttentionOptions) =>
  o.rows !== undefined ? `${o.rows} row${o.rows > 1 ? 's' : ''} per invocation` : o.subgroups ? 'a row per lane (subgroups: true)' : 'per-invocation kernels (subgroups: false)';

/** True (after checking the error) when `o` forces the row-per-lane kernels on an adapter without subgroups of 8 lanes. */
function attentionSubgroupsMissing(gpu: Parameters<GpuCase['run']>[0], o: AttentionOptions): boolean {
  return subgroupsMissing(gpu, o.subgroups, () => {
    const [B, T, C, NH] = [1, 4, 8, 2];
    const qkv = gpu.tensor([B, T, 3 * C]), out = gpu.tensor([B, T, C]), lse = gpu.tensor([B, NH, T]);
    try {
      attentionForward(gpu, out, lse, qkv, NH, o);
    } finally {
      gpu.release(qkv, out, lse);
    }
  });
}

for (const [shape, o] of FORCED) {
  const d = dimsOf(shape);
  const { B, T, C, NH } = d;
  cases.push({
    name: `${optionsLabel(o)}: forward and backward ${label(d)}`,
    async run(gpu) {
      if (attentionSubgroupsMissing(gpu, o)) return;
      const x = randn(B * T * 3 * C, 7), g = randn(B * T * C, 8), pre = randn(B * T * 3 * C, 9);
      const qkv = gpu.tensor([B, T, 3 * C], Float32Array.from(x));
      const out = gpu.tensor([B, T, C], Float32Array.from(randn(B * T * C, 10)));
      const lse = gpu.tensor([B, NH, T], Float32Array.from(randn(B * NH * T, 11)));
      const dout = gpu.tensor([B, T, C], Float32Array.from(g));
      const dqkv = gpu.tensor([B, T, 3 * C], Float32Array.from(pre));
      attentionForward(gpu, out, lse, qkv, NH, o);
      attentionBackward(gpu, dqkv, dout, qkv, out, lse, NH, o);
      const ref = attentionForwardRef(x, d);
      assertClose('out', await gpu.read(out), ref.out, TOL_OUT);
      assertClose('lse', await gpu.read(lse), ref.lse, TOL_LSE);
      assertClose('dqkv', await gpu.read(dqkv), attentionBackwardRef(g, x, d).map((v, i) => v + pre[i]), TOL_GRAD);
      gpu.release(qkv, out, lse, dout, dqkv);
    },
  });
}

// The limits the model must support (GPT-2: T = 1024, HS = 64; HS = 128 for wider heads), tested one
// at a time so each case stays short: a long causal loop, and the largest private arrays.
const LARGE: [string, AttentionDims][] = [
  ['long context T=1024 (HS=32)', { B: 1, T: 1024, C: 32, NH: 1 }],
  ['large heads HS=128 (T=256, NH=2)', { B: 1, T: 256, C: 256, NH: 2 }],
];
for (const [what, d] of LARGE) {
  cases.push({
    name: `${what}: forward and backward`,
    nodeOnlyBecause: 'about 0.5 s of kernel and float64 reference time on lavapipe; several seconds on SwiftShader',
    async run(gpu) {
      const { B, T, C, NH } = d;
      const x = randn(B * T * 3 * C, 7), g = randn(B * T * C, 8);
      const qkv = gpu.tensor([B, T, 3 * C], Float32Array.from(x));
      const out = gpu.tensor([B, T, C]);
      const lse = gpu.tensor([B, NH, T]);
      const dout = gpu.tensor([B, T, C], Float32Array.from(g));
      const dqkv = gpu.tensor([B, T, 3 * C]);
      gpu.zero(dqkv);
      attentionForward(gpu, out, lse, qkv, NH);
      attentionBackward(gpu, dqkv, dout, qkv, out, lse, NH);
      const ref = attentionForwardRef(x, d);
      assertClose('out', await gpu.read(out), ref.out, TOL_OUT);
      assertClose('lse', await gpu.read(lse), ref.lse, TOL_LSE);
      assertClose('dqkv', await gpu.read(dqkv), attentionBackwardRef(g, x, d), TOL_GRAD);
      gpu.release(qkv, out, lse, dout, dqkv);
    },
  });
}

for (const o of [{}, { subgroups: false }] as AttentionOptions[]) cases.push({
  name: `the future does not touch out[t]${o.subgroups === false ? ' (per-invocation kernels)' : ''}: changed or NaN keys/values/queries at positions > t leave out[<=t] bit-identical`,
  async run(gpu) {
    const d: AttentionDims = { B: 2, T: 17, C: 48, NH: 4 };
    const { B, T, C, NH } = d;
    const t0 = 6; // rows 0..t0 must not move
    const x = Float32Array.from(randn(B * T * 3 * C, 9));
    const qkv = gpu.tensor([B, T, 3 * C], x);
    const out = gpu.tensor([B, T, C]);
    const lse = gpu.tensor([B, NH, T]);
    attentionForward(gpu, out, lse, qkv, NH, o);
    const out0 = await gpu.read(out);
    const lse0 = await gpu.read(lse);

    for (const future of ['random', 'NaN'] as const) {
      const y = x.slice();
      const noise = randn(y.length, 10, 10);
      for (let b = 0; b < B; b++) {
        for (let t = t0 + 1; t < T; t++) {
          for (let c = 0; c < 3 * C; c++) {
            const i = (b * T + t) * 3 * C + c;
            y[i] = future === 'NaN' ? NaN : noise[i];
          }
        }
      }
      gpu.write(qkv, y);
      attentionForward(gpu, out, lse, qkv, NH, o);
      const out1 = await gpu.read(out);
      const lse1 = await gpu.read(lse);
      const bits = (a: Float32Array) => new Uint32Array(a.buffer, a.byteOffset, a.length);
      const [o0, o1, l0, l1] = [bits(out0), bits(out1), bits(lse0), bits(lse1)];
      for (let b = 0; b < B; b++) {
        for (let t = 0; t <= t0; t++) {
          for (let c = 0; c < C; c++) {
            const i = (b * T + t) * C + c;
            assert(o0[i] === o1[i], `${future} future: out[b=${b}, t=${t}, c=${c}] changed from ${out0[i]} to ${out1[i]}`);
          }
          for (let h = 0; h < NH; h++) {
            const i = (b * NH + h) * T + t;
            assert(l0[i] === l1[i], `${future} future: lse[b=${b}, h=${h}, t=${t}] changed from ${lse0[i]} to ${lse1[i]}`);
          }
        }
      }
      // and the future rows did change (the test would be vacuous otherwise)
      const last = (0 * T + T - 1) * C;
      assert(o0[last] !== o1[last], `${future} future: out[0, T-1, 0] did not change`);
    }
    gpu.release(qkv, out, lse);
  },
});

cases.push({
  name: 'gpu.kernelDefaults.attention picks the kernels a call leaves open (the call wins)',
  async run(gpu) {
    const d: AttentionDims = { B: 1, T: 12, C: 16, NH: 2 };
    const { B, T, C, NH } = d;
    const x = randn(B * T * 3 * C, 12);
    const qkv = gpu.tensor([B, T, 3 * C], Float32Array.from(x)), out = gpu.tensor([B, T, C]), lse = gpu.tensor([B, NH, T]);
    const perLane = subgroupLanes(gpu) >= 8;
    const rec = recordDispatches(gpu);
    try {
      gpu.kernelDefaults = { attention: { subgroups: false } };
      attentionForward(gpu, out, lse, qkv, NH);
      assertClose('out', await gpu.read(out), attentionForwardRef(x, d).out, TOL_OUT);
      gpu.kernelDefaults = { attention: { rows: 2 } };
      attentionForward(gpu, out, lse, qkv, NH);
      if (perLane) attentionForward(gpu, out, lse, qkv, NH, { rows: undefined, subgroups: true });
      const want = ['attention.attention_forward', 'attention.attention_forward', ...(perLane ? ['attention.attention_forward_sg'] : [])];
      assert(rec.entries.join() === want.join(), `dispatched ${rec.entries.join(', ')}, want ${want.join(', ')}`);
    } finally {
      gpu.kernelDefaults = {};
      rec.restore();
    }
    gpu.release(qkv, out, lse);
  },
});

cases.push({
  name: 'by default a row per lane only up to HS = 128 (on a CPU adapter with 8-lane subgroups): HS 128 and 132',
  async run(gpu) {
    const perLane = subgroupLanes(gpu) >= 8 && gpu.report.isSoftware;
    const rec = recordDispatches(gpu);
    try {
      for (const HS of [128, 132]) {
        const d: AttentionDims = { B: 1, T: 5, C: HS, NH: 1 };
        const x = randn(d.T * 3 * HS, HS);
        const qkv = gpu.tensor([1, d.T, 3 * HS], Float32Array.from(x)), out = gpu.tensor([1, d.T, HS]), lse = gpu.tensor([1, 1, d.T]);
        attentionForward(gpu, out, lse, qkv, 1);
        assertClose(`out (HS ${HS})`, await gpu.read(out), attentionForwardRef(x, d).out, TOL_OUT);
        gpu.release(qkv, out, lse);
      }
    } finally {
      rec.restore();
    }
    const want = [`attention.attention_forward${perLane ? '_sg' : ''}`, 'attention.attention_forward'];
    assert(rec.entries.join() === want.join(), `dispatched ${rec.entries.join(', ')}, want ${want.join(', ')}`);
  },
});

cases.push({
  name: 'wrong shapes are rejected with the shapes in the message',
  run(gpu) {
    const [B, T, C, NH] = [2, 5, 16, 4];
    const qkv = gpu.tensor([B, T, 3 * C]);
    const out = gpu.tensor([B, T, C]);
    const lse = gpu.tensor([B, NH, T]);
    const dqkv = gpu.tensor([B, T, 3 * C]);
    const badQkv = gpu.tensor([B, T, 40]);
    const badLse = gpu.tensor([B, T, NH]);
    assertThrows(() => attentionForward(gpu, out, lse, qkv, 3), 'ShapeError', /C=16 .*not divisible by NH=3/);
    assertThrows(() => attentionForward(gpu, out, lse, qkv, NH, { rows: 3 as 1 }), 'ShapeError', /rows per invocation must be 1, 2 or 4, got 3/);
    assertThrows(() => attentionBackward(gpu, dqkv, out, qkv, out, lse, NH, { rows: 2, subgroups: true }), 'ShapeError', /rows per invocation \(2\) .*cannot be combined with subgroups: true/);
    assertThrows(() => attentionForward(gpu, out, lse, badQkv, NH), 'ShapeError', /qkv has shape \(2, 5, 40\), expected \(2, 5, 48\)/);
    assertThrows(() => attentionForward(gpu, out, badLse, qkv, NH), 'ShapeError', /lse has shape \(2, 5, 4\), expected \(2, 4, 5\)/);
    assertThrows(() => attentionForward(gpu, out, lse, qkv, 0), 'ShapeError', /NH must be a positive integer, got 0/);
    assertThrows(() => attentionBackward(gpu, dqkv, out, qkv, out, lse, 5), 'ShapeError', /C=16 .*not divisible by NH=5/);
    assertThrows(() => attentionBackward(gpu, dqkv, out, badQkv, out, lse, NH), 'ShapeError', /qkv has shape \(2, 5, 40\), expected \(2, 5, 48\)/);
    assertThrows(() => attentionBackward(gpu, badQkv, out, qkv, out, lse, NH), 'ShapeError', /dqkv has shape \(2, 5, 40\), expected \(2, 5, 48\)/);
    assertThrows(() => attentionBackward(gpu, qkv, out, qkv, out, lse, NH), 'ShapeError', /dqkv and qkv must be different/);
    const wideOut = gpu.tensor([1, 1, 257]);
    const wideQkv = gpu.tensor([1, 1, 3 * 257]);
    const wideLse = gpu.tensor([1, 1, 1]);
    assertThrows(() => attentionForward(gpu, wideOut, wideLse, wideQkv, 1), 'ShapeError', /head size HS = C \/ NH = 257 \/ 1 = 257 exceeds 256/);
    gpu.release(qkv, out, lse, dqkv, badQkv, badLse, wideOut, wideQkv, wideLse);
  },
});
