import { describe, expect, it } from 'vitest';
import { runCases } from '../util/node.ts';
import { dot, numericGrad, randn } from '../util/check.ts';
import { cases } from './attention.cases.ts';
import { attentionBackwardRef, attentionForwardRef, type AttentionDims } from './attention.ref.ts';

describe('attention CPU reference', () => {
  for (const d of [
    { B: 2, T: 5, C: 6, NH: 2 }, // HS 3
    { B: 1, T: 4, C: 8, NH: 1 }, // one head, HS 8
  ] as AttentionDims[]) {
    it(`backward matches d/dqkv of L = sum(out * G) for B=${d.B} T=${d.T} C=${d.C} NH=${d.NH}`, () => {
      const { B, T, C } = d;
      const x = randn(B * T * 3 * C, 1), G = randn(B * T * C, 2);
      const analytic = attentionBackwardRef(G, x, d);
      const numeric = numericGrad((v) => dot(attentionForwardRef(v, d).out, G), x.slice());
      for (let i = 0; i < x.length; i++) expect(Math.abs(analytic[i] - numeric[i])).toBeLessThan(1e-6);
    });
  }

  it('is causal, softmax rows sum to 1, and lse = log sum exp of the scaled scores', () => {
    const d: AttentionDims = { B: 1, T: 6, C: 4, NH: 2 };
    const x = randn(d.T * 3 * d.C, 3);
    const { P, lse } = attentionForwardRef(x, d);
    const HS = d.C / d.NH;
    for (let h = 0; h < d.NH; h++) {
      for (let t = 0; t < d.T; t++) {
        let sum = 0;
        let sumExp = 0;
        for (let s = 0; s < d.T; s++) {
          const p = P[(h * d.T + t) * d.T + s];
          if (s > t) expect(p).toBe(0);
          sum += p;
          if (s <= t) {
            let qk = 0;
            for (let i = 0; i < HS; i++) qk += x[t * 3 * d.C + h * HS + i] * x[s * 3 * d.C + d.C + h * HS + i];
            sumExp += Math.exp(qk / Math.sqrt(HS));
          }
        }
        expect(Math.abs(sum - 1)).toBeLessThan(1e-12);
        expect(Math.abs(lse[h * d.T + t] - Math.log(sumExp))).toBeLessThan(1e-12);
      }
    }
  });
});

runCases('attention on the GPU (Dawn)', cases);
