/** GPU cases for matmul (forward, backward, batched), run in Node and in Chromium. */
import { biasBackward, matmul, matmulBackward, matmulForward, type BatchedMatmulOptions } from '../../src/kernels/matmul.ts';
import { subgroupsMissing, type GpuCase } from '../util/cases.ts';
import { assert, assertClose, assertThrows, randn, type Tolerance } from '../util/check.ts';
import { recordDispatches } from '../util/dispatches.ts';
import { batchedMatmulRef, matmulBackwardRef, matmulForwardRef } from './matmul.ref.ts';

// fp32 products of K terms: rounding error grows ~ sqrt(K) * 2^-24 * sum|a*b|; with unit-variance
// inputs and K <= 768 that is < 1e-4 absolute. 1e-4 + 1e-4 relative leaves margin and still
// catches any wrong index (errors of order 1).
const TOL: Tolerance = { atol: 2e-4, rtol: 1e-4, reason: 'fp32 dot products of up to 768 terms vs float64' };

const SHAPES: [number, number, number][] = [
  // N (rows), C (in), OC (out)
  [768, 128, 384], // a small GPT's qkv projection (B*T = 12*64)
  [17, 48, 67], // awkward: nothing a multiple of the tile
  [1, 5, 3], // T=1-like
  [3 * 17, 64, 256], // batch 3, T 17
];

export const cases: GpuCase[] = [];

for (const [N, C, OC] of SHAPES) {
  cases.push({
    name: `forward N=${N} C=${C} OC=${OC}`,
    async run(gpu) {
      const x = randn(N * C, 1), w = randn(OC * C, 2, 0.5), b = randn(OC, 3);
      const inp = gpu.tensor([N, C], Float32Array.from(x));
      const weight = gpu.tensor([OC, C], Float32Array.from(w));
      const bias = gpu.tensor([OC], Float32Array.from(b));
      const out = gpu.tensor([N, OC]);
      matmulForward(gpu, out, inp, weight, bias);
      assertClose('out', await gpu.read(out), matmulForwardRef(x, w, b, N, C, OC), TOL);
      gpu.release(inp, weight, bias, out);
    },
  });
  cases.push({
    name: `backward accumulates N=${N} C=${C} OC=${OC}`,
    async run(gpu) {
      const x = randn(N * C, 4), w = randn(OC * C, 5, 0.5), d = randn(N * OC, 6);
      const pre = { dinp: randn(N * C, 7), dw: randn(OC * C, 8), db: randn(OC, 9) };
      const inp = gpu.tensor([N, C], Float32Array.from(x));
      const weight = gpu.tensor([OC, C], Float32Array.from(w));
      const dout = gpu.tensor([N, OC], Float32Array.from(d));
      const dinp = gpu.tensor([N, C], Float32Array.from(pre.dinp));
      const dweight = gpu.tensor([OC, C], Float32Array.from(pre.dw));
      const dbias = gpu.tensor([OC], Float32Array.from(pre.db));
      matmulBackward(gpu, dinp, dweight, dbias, dout, inp, weight);
      const ref = matmulBackwardRef(d, x, w, N, C, OC);
      const plus = (a: Float64Array, b: Float64Array) => a.map((v, i) => v + b[i]);
      // dweight sums over N rows (up to 768) of products: same bound as TOL
      assertClose('dinp', await gpu.read(dinp), plus(ref.dinp, pre.dinp), TOL);
      assertClose('dweight', await gpu.read(dweight), plus(ref.dweight, pre.dw), TOL);
      assertClose('dbias', await gpu.read(dbias), plus(ref.dbias, pre.db), TOL);
      gpu.release(inp, weight, dout, dinp, dweight, dbias);
    },
  });
}

for (const [transA, transB] of [[false, false], [true, false], [false, true], [true, true]]) {
  cases.push({
    name: `batched product batch=3 M=17 N=33 K=9 transA=${transA} transB=${transB} alpha=0.25`,
    async run(gpu) {
      const [batch, M, N, K] = [3, 17, 33, 9];
      const a = randn(batch * M * K, 10), b = randn(batch * K * N, 11);
      const ta = gpu.tensor([batch * M * K], Float32Array.from(a));
      const tb = gpu.tensor([batch * K * N], Float32Array.from(b));
      const tc = gpu.tensor([batch, M, N]);
      matmul(gpu, tc, ta, tb, M, N, K, { transA, transB, alpha: 0.25, batch });
      assertClose('c', await gpu.read(tc), batchedMatmulRef(a, b, M, N, K, { transA, transB, alpha: 0.25, batch }), TOL);
      gpu.release(ta, tb, tc);
    },
  });
}

// Both kernels on every transpose case, forced (the default picks by adapter and size):
//  - 'tiled' (general): shapes where each operand's contiguous dimension is a multiple of 4 take the
//    vec4 loads (batch strides too), the others the scalar loads; K % 4 != 0 runs the k tail.
//  - 'windows' (packed uniform windows): regions of C past 128 rows/columns, K spread over several
//    k-blocks and dispatch groups (K = 600: 5 blocks of 120, groups of 4 + 1), K = 1, a product that
//    is not square. Each compares with the float64 reference, with accumulate, alpha and bias.
//    M = 256, K = 128 also binds an operand in place instead of packing it (src/kernels/matmul.ts
//    inPlace). Both windows kernels: `matmul_windows_sg` (subgroups: true; the default where the device has
//    subgroups of 8 lanes, as lavapipe does; elsewhere the case checks that forcing it throws) and
//    `matmul_windows` (subgroups: false).
//  - 'tiled' with split-K (the default uses it on hardware adapters only): K in 6 slices of 128
//    (a weight gradient's shape), K = 51 in 4 scalar slices of 13, K = 9 in slices of 2 (or of 4
//    where an operand is read as vec4 along k).
//  - 'shared' (workgroup memory; the default on GPUs): a batch of products whose tiles
//    are cut by the edges, with K not a multiple of its 16-deep slices (scalar loads), split-K
//    (vec4 loads), and split-K slices of 13 that end inside a 16-deep slice.
const FORCED: { kernel: 'tiled' | 'windows' | 'shared'; batch: number; M: number; N: number; K: number; splitK?: number; subgroups?: boolean; kMajor?: boolean; transposedC?: boolean }[] = [
  { kernel: 'tiled', batch: 2, M: 16, N: 20, K: 12 }, // all vec4
  { kernel: 'tiled', batch: 1, M: 16, N: 20, K: 9 }, // vec4 along m / n only, k tail
  { kernel: 'tiled', batch: 1, M: 13, N: 6, K: 8 }, // vec4 along k only
  ...[false, true].flatMap((subgroups) => [
    { kernel: 'windows' as const, batch: 1, M: 130, N: 140, K: 9, subgroups },
    { kernel: 'windows' as const, batch: 1, M: 33, N: 20, K: 600, subgroups },
    { kernel: 'windows' as const, batch: 1, M: 5, N: 131, K: 1, subgroups },
    // K = 99 with (M, K) and (N, K) operands of whole vec4s (132 x 99, 40 x 99): rows packed by
    // shifting each 4 k-values out of two vec4s, at all four shifts
    { kernel: 'windows' as const, batch: 1, M: 132, N: 40, K: 99, subgroups },
    // K = 128: a (M, K) or (N, K) operand already has the packed layout and is bound in place when
    // its buffer has room for the last 64 KiB window (A here; B of 130 rows has not, so is packed;
    // with subgroups, transA and not transB take the k-major layout, and both are packed)
    { kernel: 'windows' as const, batch: 1, M: 256, N: 130, K: 128, subgroups },
  ]),
  // the subgroup kernel's row layout where the k-major one is the default (transA, not transB)
  { kernel: 'windows', batch: 1, M: 33, N: 20, K: 600, subgroups: true, kMajor: false },
  // k-major with several row blocks and k-blocks packed (A of 384 rows: 3 x 6 blocks) and an
  // operand of fewer than 128 rows (packed, never in place)
  { kernel: 'windows', batch: 1, M: 384, N: 37, K: 768, subgroups: true },
  // C^T computed and stored transposed (the default only where N fills the tiles worse than M,
  // as for M = 256, N = 130 above), forced on and off
  ...[false, true].flatMap((subgroups) => [
    { kernel: 'windows' as const, batch: 1, M: 33, N: 20, K: 600, subgroups, transposedC: true },
    { kernel: 'windows' as const, batch: 1, M: 256, N: 130, K: 128, subgroups, transposedC: false },
  ]),
  { kernel: 'tiled', batch: 1, M: 40, N: 36, K: 768, splitK: 6 },
  { kernel: 'tiled', batch: 1, M: 13, N: 6, K: 51, splitK: 4 },
  { kernel: 'tiled', batch: 1, M: 16, N: 20, K: 9, splitK: 5 },
  { kernel: 'shared', batch: 2, M: 70, N: 130, K: 37 },
  { kernel: 'shared', batch: 1, M: 40, N: 36, K: 768, splitK: 6 },
  { kernel: 'shared', batch: 1, M: 13, N: 70, K: 51, splitK: 4 },
];
for (const { kernel, batch, M, N, K, splitK = 1, subgroups, kMajor, transposedC } of FORCED) {
  const variant = (subgroups === undefined ? '' : subgroups ? ' (subgroups)' : ' (no subgroups)') + (kMajor === false ? ' (row layout)' : '') + (transposedC === undefined ? '' : transposedC ? ' (C^T)' : ' (not C^T)');
  for (const [transA, transB] of [[false, false], [true, false], [false, true], [true, true]]) {
    cases.push({
      name: `${kernel} kernel${variant}${splitK > 1 ? ` split-K ${splitK}` : ''} batch=${batch} M=${M} N=${N} K=${K} transA=${transA} transB=${transB} (accumulate, alpha, bias)`,
      async run(gpu) {
        if (matmulSubgroupsMissing(gpu, { kernel, subgroups }, M, N, K)) return;
        const a = randn(batch * M * K, 20), b = randn(batch * K * N, 21), c0 = randn(batch * M * N, 22), bv = randn(N, 23);
        const ta = gpu.tensor([batch * M * K], Float32Array.from(a));
        const tb = gpu.tensor([batch * K * N], Float32Array.from(b));
        const tc = gpu.tensor([batch, M, N], Float32Array.from(c0));
        const bias = gpu.tensor([N], Float32Array.from(bv));
        matmul(gpu, tc, ta, tb, M, N, K, { transA, transB, alpha: 0.5, batch, accumulate: true, bias, kernel, splitK, subgroups, kMajor, transposedC });
        const want = batchedMatmulRef(a, b, M, N, K, { transA, transB, alpha: 0.5, batch }).map((v, i) => v + bv[i % N] + c0[i]);
        assertClose('c', await gpu.read(tc), want, TOL);
        gpu.release(ta, tb, tc, bias);
      },
    });
  }
}

// dbias in 32 row slices per 4 columns (the GPU default) and rows in order (the CPU default),
// both forced: rows over many slices, a column count that is not a multiple of 4, a partly filled
// workgroup, fewer rows than slices.
for (const slices of [true, false]) {
  cases.push({
    name: `bias_backward ${slices ? 'in row slices' : 'rows in order'}: (N, OC) = (2048, 36), (300, 98), (17, 67), accumulating`,
    async run(gpu) {
      for (const [N, OC] of [[2048, 36], [300, 98], [17, 67]]) {
        const d = randn(N * OC, 40), pre = randn(OC, 41);
        const dout = gpu.tensor([N, OC], Float32Array.from(d));
        const dbias = gpu.tensor([OC], Float32Array.from(pre));
        biasBackward(gpu, dbias, dout, slices);
        const want = new Float64Array(OC);
        for (let r = 0; r < N; r++) for (let c = 0; c < OC; c++) want[c] += d[r * OC + c];
        assertClose(`dbias (${N}, ${OC})`, await gpu.read(dbias), want.map((v, c) => v + pre[c]), TOL);
        gpu.release(dout, dbias);
      }
    },
  });
}

/** subgroupsMissing (test/util/cases.ts) for a matmul of this shape with `opts`. */
function matmulSubgroupsMissing(gpu: Parameters<GpuCase['run']>[0], opts: BatchedMatmulOptions, M: number, N: number, K: number): boolean {
  return subgroupsMissing(gpu, opts.subgroups, () => {
    const t = gpu.tensor([M * N * K]);
    try {
      matmul(gpu, t, t, t, M, N, K, opts);
    } finally {
      gpu.release(t);
    }
  });
}

/** C (M, N) = A . B with `opts`, into a C pre-filled with 7s (stale values must not leak in), vs the reference. */
function overwriteCase(name: string, [M, N, K]: [number, number, number], opts: BatchedMatmulOptions, seed: number): GpuCase {
  return {
    name,
    async run(gpu) {
      if (matmulSubgroupsMissing(gpu, opts, M, N, K)) return;
      const a = randn(M * K, seed), b = randn(K * N, seed + 1);
      const ta = gpu.tensor([M * K], Float32Array.from(a));
      const tb = gpu.tensor([K * N], Float32Array.from(b));
      const tc = gpu.tensor([M, N], new Float32Array(M * N).fill(7));
      matmul(gpu, tc, ta, tb, M, N, K, opts);
      assertClose('c', await gpu.read(tc), batchedMatmulRef(a, b, M, N, K), TOL);
      gpu.release(ta, tb, tc);
    },
  };
}

cases.push(overwriteCase('split-K reduce over more than 65535 workgroups (folded grid): M=2100 N=2000 K=8, 2 slices', [2100, 2000, 8], { kernel: 'tiled', splitK: 2 }, 50));
cases.push(overwriteCase('windows kernel overwrites without accumulate and handles K = 600 in two dispatch groups', [40, 36, 600], { kernel: 'windows', subgroups: false }, 30));
cases.push(overwriteCase('windows kernel (subgroups) overwrites without accumulate and handles K = 600 in two dispatch groups', [40, 36, 600], { kernel: 'windows', subgroups: true }, 31));

// In place (no pack) for both operands, and never for an operand in the buffer C is written to:
// a uniform and a writable storage binding of one buffer in a dispatch is a validation error.
cases.push({
  name: 'windows kernel: operands already in the packed layout are read in place, except from the buffer of C',
  async run(gpu) {
    const [M, N, K] = [256, 128, 128];
    const a = randn(M * K, 60), b = randn(N * K, 61);
    const want = batchedMatmulRef(a, b, M, N, K, { transB: true });
    const ta = gpu.tensor([M * K], Float32Array.from(a)), tb = gpu.tensor([N * K], Float32Array.from(b));
    const tc = gpu.tensor([M, N]);
    matmul(gpu, tc, ta, tb, M, N, K, { transB: true, kernel: 'windows' });
    assertClose('c (both in place)', await gpu.read(tc), want, TOL);
    // A and C in one buffer: A at its start, C after it
    const shared = gpu.tensor([M * K + M * N]);
    gpu.write({ ...shared, size: M * K, shape: [M * K] }, Float32Array.from(a));
    const cView = { ...shared, offset: M * K * 4, size: M * N, shape: [M, N] };
    matmul(gpu, cView, { ...shared, size: M * K, shape: [M, K] }, tb, M, N, K, { transB: true, kernel: 'windows' });
    assertClose('c (A in the buffer of C)', await gpu.read(cView), want, TOL);
    gpu.release(ta, tb, tc, shared);
  },
});

// In place with rows past the end: A, B and the bias are views into one buffer that is NaN
// everywhere else, so the last 64 KiB windows read NaN rows. Those rows only feed outputs past
// the edges, which are never stored: no NaN may reach C. Both windows kernels (K = 64 and 32
// are one k-block of KC = K, read in place; A of 130 rows, op(B)^T of 70 or 131 rows).
for (const subgroups of [false, true]) {
  cases.push({
    name: `windows kernel${subgroups ? ' (subgroups)' : ' (no subgroups)'}: operands read in place next to NaNs, (M, N, K) = (130, 70, 64), (5, 131, 32)`,
    async run(gpu) {
      for (const [M, N, K] of [[130, 70, 64], [5, 131, 32]]) {
        if (matmulSubgroupsMissing(gpu, { kernel: 'windows', subgroups }, M, N, K)) return;
        const a = randn(M * K, 70), b = randn(N * K, 71), bv = randn(N, 72);
        // A at 0, B (stored (N, K): op(B)^T = B) and the bias at 256-byte aligned offsets, NaN around them
        const offB = Math.ceil((M * K) / 64) * 64, offBias = offB + Math.ceil((N * K) / 64) * 64;
        const total = offBias + N + 3 * 16384;
        const buf = gpu.tensor([total], new Float32Array(total).fill(NaN));
        const at = (off: number, n: number, shape: number[]) => ({ ...buf, offset: off * 4, size: n, shape });
        const ta = at(0, M * K, [M, K]), tb = at(offB, N * K, [N, K]), tbias = at(offBias, N, [N]);
        gpu.write(ta, Float32Array.from(a));
        gpu.write(tb, Float32Array.from(b));
        gpu.write(tbias, Float32Array.from(bv));
        const tc = gpu.tensor([M, N]);
        matmul(gpu, tc, ta, tb, M, N, K, { transB: true, bias: tbias, kernel: 'windows', subgroups });
        const want = batchedMatmulRef(a, b, M, N, K, { transB: true }).map((v, i) => v + bv[i % N]);
        assertClose(`c (${M}, ${N}, ${K})`, await gpu.read(tc), want, TOL);
        gpu.release(buf, tc);
      }
    },
  });
}

// The k-major layout (weight gradients on the subgroup kernel): A stored (K, 128) and B stored
// (K, 128) are read in place, in one buffer that is NaN everywhere else, so a window reaching
// past K (k-rows that would be summed, not only feed unstored outputs) would put NaN into C.
// K = 768: six k-blocks, three dispatch groups. K = 600 (padded to 640) must be packed: its last
// window would reach past K. Without subgroups the same products are packed in the row layout.
for (const subgroups of [false, true]) {
  cases.push({
    name: `windows kernel${subgroups ? ' (subgroups): k-major operands read in place' : ' (no subgroups): weight-gradient layout packed'} next to NaNs, (M, N) = (128, 128), K = 768, 600`,
    async run(gpu) {
      for (const K of [768, 600]) {
        const [M, N] = [128, 128];
        if (matmulSubgroupsMissing(gpu, { kernel: 'windows', subgroups }, M, N, K)) return;
        const a = randn(K * M, 73), b = randn(K * N, 74), c0 = randn(M * N, 75);
        const offB = K * M + 4096, total = offB + K * N + 16384;
        const buf = gpu.tensor([total], new Float32Array(total).fill(NaN));
        const ta = { ...buf, size: K * M, shape: [K, M] }, tb = { ...buf, offset: offB * 4, size: K * N, shape: [K, N] };
        gpu.write(ta, Float32Array.from(a));
        gpu.write(tb, Float32Array.from(b));
        const tc = gpu.tensor([M, N], Float32Array.from(c0));
        matmul(gpu, tc, ta, tb, M, N, K, { transA: true, accumulate: true, alpha: 0.5, kernel: 'windows', subgroups });
        const want = batchedMatmulRef(a, b, M, N, K, { transA: true, alpha: 0.5 }).map((v, i) => v + c0[i]);
        assertClose(`c (K = ${K})`, await gpu.read(tc), want, TOL);
        gpu.release(buf, tc);
      }
    },
  });
}

// k-major forced where it does not pay (K = 9 padded to 128, row counts not a multiple of 4
// packed element by element), and rejected where the operands are not both stored (K, rows)
cases.push({
  name: 'windows kernel (subgroups): k-major forced at K = 9, (M, N) = (37, 130); rejected unless transA and not transB',
  async run(gpu) {
    const [M, N, K] = [37, 130, 9];
    if (matmulSubgroupsMissing(gpu, { kernel: 'windows', subgroups: true }, M, N, K)) return;
    const a = randn(K * M, 76), b = randn(K * N, 77);
    const ta = gpu.tensor([K, M], Float32Array.from(a)), tb = gpu.tensor([K, N], Float32Array.from(b));
    const tc = gpu.tensor([M, N], new Float32Array(M * N).fill(7));
    matmul(gpu, tc, ta, tb, M, N, K, { transA: true, kernel: 'windows', kMajor: true });
    assertClose('c', await gpu.read(tc), batchedMatmulRef(a, b, M, N, K, { transA: true }), TOL);
    assertThrows(() => matmul(gpu, tc, ta, tb, M, N, K, { transA: true, transB: true, kernel: 'windows', kMajor: true }), 'ShapeError', /kMajor needs the subgroup windows kernel with transA and not transB, got subgroups true, transA true, transB true/);
    assertThrows(() => matmul(gpu, tc, ta, tb, M, N, K, { transA: true, kernel: 'windows', subgroups: false, kMajor: true }), 'ShapeError', /got subgroups false/);
    gpu.release(ta, tb, tc);
  },
});

cases.push({
  name: 'wrong shapes are rejected with the shapes in the message',
  run(gpu) {
    const inp = gpu.tensor([4, 8]);
    const weight = gpu.tensor([6, 7]);
    const out = gpu.tensor([4, 6]);
    assertThrows(() => matmulForward(gpu, out, inp, weight), 'ShapeError', /weight has shape \(6, 7\), expected \(\*, 8\)/);
    const w2 = gpu.tensor([6, 8]);
    const badOut = gpu.tensor([4, 5]);
    assertThrows(() => matmulForward(gpu, badOut, inp, w2), 'ShapeError', /out has shape \(4, 5\), expected \(4, 6\)/);
    assertThrows(() => matmul(gpu, out, inp, w2, 4, 6, 0), 'ShapeError', /K must be a positive integer, got 0/);
    assertThrows(() => matmul(gpu, out, inp, w2, 2, 3, 4, { batch: 2, kernel: 'windows' }), 'ShapeError', /kernel 'windows' needs batch 1, got 2/);
    assertThrows(() => matmul(gpu, out, inp, w2, 2, 3, 4, { batch: 2, splitK: 2 }), 'ShapeError', /splitK 2 needs batch 1, got 2/);
    assertThrows(() => matmul(gpu, out, inp, w2, 2, 3, 4, { splitK: 0 }), 'ShapeError', /splitK must be 'auto' or an integer >= 1, got 0/);
    assertThrows(() => matmul(gpu, out, inp, w2, 2, 3, 4, { kernel: 'windows', splitK: 2 }), 'ShapeError', /kernel 'windows' has no split-K \(splitK 2\)/);
    gpu.release(inp, weight, out, w2, badOut);
  },
});

cases.push({
  name: 'gpu.kernelDefaults.matmul picks the kernel a call leaves open, and holds kernel choices only',
  async run(gpu) {
    const [M, N, K] = [40, 24, 36];
    const a = randn(M * K, 81), b = randn(K * N, 82);
    const ta = gpu.tensor([M, K], Float32Array.from(a)), tb = gpu.tensor([K, N], Float32Array.from(b)), tc = gpu.tensor([M, N]);
    const rec = recordDispatches(gpu);
    try {
      gpu.kernelDefaults = { matmul: { kernel: 'shared' } };
      matmul(gpu, tc, ta, tb, M, N, K);
      assertClose('c', await gpu.read(tc), batchedMatmulRef(a, b, M, N, K, {}), TOL);
      matmul(gpu, tc, ta, tb, M, N, K, { kernel: 'tiled' }); // the call wins
      assert(rec.entries.join() === 'matmul.matmul_shared,matmul.matmul', `dispatched ${rec.entries.join(', ')}`);
      gpu.kernelDefaults = { matmul: { transA: true } };
      assertThrows(() => matmul(gpu, tc, ta, tb, M, N, K), 'ShapeError', /kernelDefaults.matmul may only hold kernel, splitK, subgroups, kMajor, transposedC, got transA/);
    } finally {
      gpu.kernelDefaults = {};
      rec.restore();
    }
    gpu.release(ta, tb, tc);
  },
});
