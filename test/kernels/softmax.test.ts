import { describe, expect, it } from 'vitest';
import { runCases } from '../util/node.ts';
import { dot, numericGrad, randn } from '../util/check.ts';
import { cases } from './softmax.cases.ts';
import { softmaxBackwardRef, softmaxForwardRef } from './softmax.ref.ts';

describe('softmax CPU reference', () => {
  it('backward matches d/dinp of L = sum(out * G) by finite differences', () => {
    const [N, V] = [3, 7];
    const x = randn(N * V, 1, 2), G = randn(N * V, 2);
    const out = softmaxForwardRef(x, N, V);
    const ref = softmaxBackwardRef(G, out, N, V);
    const num = numericGrad((v) => dot(softmaxForwardRef(v, N, V), G), x.slice());
    for (let i = 0; i < ref.length; i++) expect(Math.abs(ref[i] - num[i])).toBeLessThan(1e-8);
  });

  it('forward rows sum to 1 and survive logits of 1000 (max subtracted)', () => {
    const x = Float64Array.from([1000, 999, 998, -5, 0, 5]);
    const out = softmaxForwardRef(x, 2, 3);
    for (const v of out) expect(Number.isFinite(v)).toBe(true);
    expect(out[0] + out[1] + out[2]).toBeCloseTo(1, 12);
    expect(out[3] + out[4] + out[5]).toBeCloseTo(1, 12);
  });
});

runCases('softmax on the GPU (Dawn)', cases);
