import { describe, expect, it } from 'vitest';
import { runCases } from '../util/node.ts';
import { dot, numericGrad, randn } from '../util/check.ts';
import { cases } from './gelu.cases.ts';
import { geluBackwardRef, geluForwardRef } from './gelu.ref.ts';

describe('gelu CPU reference', () => {
  it('backward matches d/dx of L = sum(gelu(x) * G), x over [-6, 6]', () => {
    const n = 200;
    const x = new Float64Array(n);
    for (let i = 0; i < n; i++) x[i] = -6 + (12 * i) / (n - 1);
    const G = randn(n, 4);
    const num = numericGrad((v) => dot(geluForwardRef(v), G), x.slice());
    const ref = geluBackwardRef(x, G);
    for (let i = 0; i < n; i++) expect(Math.abs(ref[i] - num[i])).toBeLessThan(1e-7 * (1 + Math.abs(G[i])) * 10);
  });

  it('known values: gelu(0) = 0, gelu(1) = 0.841192, gelu(-1) = -0.158808, saturates to x and 0', () => {
    const out = geluForwardRef([0, 1, -1, 20, -20]);
    expect(out[0]).toBe(0);
    expect(out[1]).toBeCloseTo(0.8411919906, 9);
    expect(out[2]).toBeCloseTo(-0.1588080094, 9);
    expect(out[3]).toBe(20);
    expect(Math.abs(out[4])).toBeLessThan(1e-300);
  });
});

runCases('gelu on the GPU (Dawn)', cases);
