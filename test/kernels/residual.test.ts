import { describe, expect, it } from 'vitest';
import { runCases } from '../util/node.ts';
import { dot, numericGrad, randn } from '../util/check.ts';
import { cases } from './residual.cases.ts';
import { residualBackwardRef, residualForwardRef } from './residual.ref.ts';

describe('residual CPU reference vs finite differences', () => {
  it('backward matches d/da and d/db of L = sum((a + b) * G)', () => {
    const n = 10;
    const a = randn(n, 1), b = randn(n, 2), G = randn(n, 3);
    const ref = residualBackwardRef(G);
    const ga = numericGrad((v) => dot(residualForwardRef(v, b), G), a.slice());
    const gb = numericGrad((v) => dot(residualForwardRef(a, v), G), b.slice());
    for (let i = 0; i < n; i++) {
      expect(Math.abs(ref.da[i] - ga[i])).toBeLessThan(1e-8);
      expect(Math.abs(ref.db[i] - gb[i])).toBeLessThan(1e-8);
    }
  });
});

runCases('residual on the GPU (Dawn)', cases);
