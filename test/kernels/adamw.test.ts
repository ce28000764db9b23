import { describe, expect, it } from 'vitest';
import { runCases } from '../util/node.ts';
import { randn } from '../util/check.ts';
import { cases } from './adamw.cases.ts';
import { adamwStepRef, clipFactorRef, type AdamWHyperparamsRef } from './adamw.ref.ts';

describe('AdamW CPU reference (torch form)', () => {
  const h0: AdamWHyperparamsRef = { lr: 1e-2, beta1: 0.9, beta2: 0.95, eps: 1e-8, step: 1, gradScale: 0.5, maxGradNorm: 0 };

  it("matches llm.c's form p -= lr (mhat / (sqrt(vhat) + eps) + wd p) over 3 steps, with and without clipping", () => {
    for (const maxGradNorm of [0, 1]) {
      const n = 20, wd = 0.1;
      const p = randn(n, 1), m = new Float64Array(n), v = new Float64Array(n);
      const q = p.slice(), mq = new Float64Array(n), vq = new Float64Array(n);
      for (let step = 1; step <= 3; step++) {
        const g = randn(n, 10 + step, step);
        const h = { ...h0, step, maxGradNorm };
        const clip = clipFactorRef([{ g }], h);
        if (maxGradNorm > 0) expect(clip).toBeLessThan(1);
        adamwStepRef([{ p, g, m, v, weightDecay: wd }], h);
        for (let i = 0; i < n; i++) {
          const gi = g[i] * h.gradScale * clip;
          mq[i] = h.beta1 * mq[i] + (1 - h.beta1) * gi;
          vq[i] = h.beta2 * vq[i] + (1 - h.beta2) * gi * gi;
          const mhat = mq[i] / (1 - h.beta1 ** step), vhat = vq[i] / (1 - h.beta2 ** step);
          q[i] -= h.lr * (mhat / (Math.sqrt(vhat) + h.eps) + wd * q[i]);
        }
      }
      for (let i = 0; i < n; i++) {
        expect(Math.abs(p[i] - q[i])).toBeLessThan(1e-12);
        expect(Math.abs(m[i] - mq[i])).toBeLessThan(1e-12);
        expect(Math.abs(v[i] - vq[i])).toBeLessThan(1e-12);
      }
    }
  });

  it('clipping scales the (scaled) gradients to norm maxGradNorm, and is 1 below it', () => {
    const g = randn(100, 3, 2); // norm ~ 20, scaled by 0.5 ~ 10
    const clip = clipFactorRef([{ g }], { ...h0, maxGradNorm: 1 });
    let sq = 0;
    for (const x of g) sq += (x * 0.5 * clip) ** 2;
    expect(Math.sqrt(sq)).toBeCloseTo(1, 5);
    expect(clipFactorRef([{ g }], { ...h0, maxGradNorm: 1e3 })).toBe(1);
    expect(clipFactorRef([{ g }], { ...h0, maxGradNorm: 0 })).toBe(1);
  });
});

runCases('AdamW on the GPU (Dawn)', cases);
