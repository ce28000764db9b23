/** GPU cases for residual (forward, backward), run in Node and in Chromium. */
import { residualBackward, residualForward } from '../../src/kernels/residual.ts';
import type { GpuCase } from '../util/cases.ts';
import { assertClose, assertThrows, randn, type Tolerance } from '../util/check.ts';
import { residualBackwardRef, residualForwardRef } from './residual.ref.ts';

// One fp32 addition per element: half an ulp of the result (|x| < 10: < 1e-6).
const TOL: Tolerance = { atol: 1e-6, rtol: 1e-6, reason: 'one fp32 addition per element' };

const SHAPES: number[][] = [
  [3, 17, 48], // batch 3, T 17, C 48
  [1, 1, 48], // T = 1
  [67], // odd length
  [4, 64, 128],
];

export const cases: GpuCase[] = [];

for (const shape of SHAPES) {
  const n = shape.reduce((a, b) => a * b, 1);
  cases.push({
    name: `forward and backward (accumulating) shape (${shape.join(', ')})`,
    async run(gpu) {
      const av = randn(n, 1), bv = randn(n, 2), d = randn(n, 3), preA = randn(n, 4), preB = randn(n, 5);
      const a = gpu.tensor(shape, Float32Array.from(av));
      const b = gpu.tensor(shape, Float32Array.from(bv));
      const out = gpu.tensor(shape);
      const dout = gpu.tensor(shape, Float32Array.from(d));
      const da = gpu.tensor(shape, Float32Array.from(preA));
      const db = gpu.tensor(shape, Float32Array.from(preB));
      residualForward(gpu, out, a, b);
      residualBackward(gpu, da, db, dout);
      assertClose('out', await gpu.read(out), residualForwardRef(av, bv), TOL);
      const ref = residualBackwardRef(d);
      assertClose('da', await gpu.read(da), ref.da.map((v, i) => v + preA[i]), TOL);
      assertClose('db', await gpu.read(db), ref.db.map((v, i) => v + preB[i]), TOL);
      gpu.release(a, b, out, dout, da, db);
    },
  });
}

cases.push({
  name: 'wrong shapes and aliased gradients are rejected with the shapes in the message',
  run(gpu) {
    const a = gpu.tensor([3, 17, 48]);
    const b = gpu.tensor([3, 17, 47]);
    const out = gpu.tensor([3, 17, 48]);
    const da = gpu.tensor([3, 17, 48]);
    const dout = gpu.tensor([3, 17, 48]);
    assertThrows(() => residualForward(gpu, out, a, b), 'ShapeError', /b has shape \(3, 17, 47\), expected \(3, 17, 48\)/);
    assertThrows(() => residualBackward(gpu, da, b, dout), 'ShapeError', /db has shape \(3, 17, 47\), expected \(3, 17, 48\)/);
    assertThrows(() => residualBackward(gpu, da, da, dout), 'ShapeError', /da and db must be different tensors/);
    assertThrows(() => residualForward(gpu, a, a, out), 'ShapeError', /out and a must be different tensors/);
    gpu.release(a, b, out, da, dout);
  },
});
