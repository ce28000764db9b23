import { describe, expect, it } from 'vitest';
import { runCases } from '../util/node.ts';
import { dot, numericGrad, randn } from '../util/check.ts';
import { cases } from './matmul.cases.ts';
import { matmulBackwardRef, matmulForwardRef } from './matmul.ref.ts';

describe('matmul CPU reference vs finite differences', () => {
  it('backward matches d/dx of L = sum(out * G)', () => {
    const [N, C, OC] = [3, 5, 4];
    const x = randn(N * C, 1), w = randn(OC * C, 2), b = randn(OC, 3), G = randn(N * OC, 4);
    const ref = matmulBackwardRef(G, x, w, N, C, OC);
    const gx = numericGrad((v) => dot(matmulForwardRef(v, w, b, N, C, OC), G), x.slice());
    const gw = numericGrad((v) => dot(matmulForwardRef(x, v, b, N, C, OC), G), w.slice());
    const gb = numericGrad((v) => dot(matmulForwardRef(x, w, v, N, C, OC), G), b.slice());
    for (const [a, n] of [[ref.dinp, gx], [ref.dweight, gw], [ref.dbias, gb]] as const) {
      for (let i = 0; i < a.length; i++) expect(Math.abs(a[i] - n[i])).toBeLessThan(1e-6);
    }
  });
});

runCases('matmul on the GPU (Dawn)', cases);
