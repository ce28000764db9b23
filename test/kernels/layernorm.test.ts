import { describe, expect, it } from 'vitest';
import { runCases } from '../util/node.ts';
import { dot, numericGrad, randn } from '../util/check.ts';
import { cases } from './layernorm.cases.ts';
import { layernormBackwardRef, layernormForwardRef } from './layernorm.ref.ts';

describe('layernorm CPU reference vs finite differences', () => {
  it('backward matches d/dx of L = sum(out * G) for inp, weight and bias', () => {
    const [N, C] = [3, 7];
    const x = randn(N * C, 1).map((v, i) => v + (i % 2)), w = randn(C, 2), b = randn(C, 3), G = randn(N * C, 4);
    const fwd = layernormForwardRef(x, w, b, N, C);
    const ref = layernormBackwardRef(G, x, w, fwd.mean, fwd.rstd, N, C);
    const L = (xx: Float64Array, ww: Float64Array, bb: Float64Array) => dot(layernormForwardRef(xx, ww, bb, N, C).out, G);
    const gx = numericGrad((v) => L(v, w, b), x.slice());
    const gw = numericGrad((v) => L(x, v, b), w.slice());
    const gb = numericGrad((v) => L(x, w, v), b.slice());
    for (const [a, n] of [[ref.dinp, gx], [ref.dweight, gw], [ref.dbias, gb]] as const) {
      for (let i = 0; i < a.length; i++) expect(Math.abs(a[i] - n[i])).toBeLessThan(1e-6);
    }
  });

  it('forward normalises each row to mean 0, variance 1 (biased) before the affine map', () => {
    const [N, C] = [2, 5];
    const x = randn(N * C, 5);
    const { out } = layernormForwardRef(x, new Float64Array(C).fill(1), new Float64Array(C), N, C);
    for (let n = 0; n < N; n++) {
      const row = out.slice(n * C, n * C + C);
      const m = row.reduce((a, v) => a + v, 0) / C;
      const v = row.reduce((a, y) => a + (y - m) ** 2, 0) / C;
      expect(Math.abs(m)).toBeLessThan(1e-12);
      expect(Math.abs(v - 1)).toBeLessThan(1e-4); // eps 1e-5 keeps it just under 1
    }
  });
});

runCases('layernorm on the GPU (Dawn)', cases);
