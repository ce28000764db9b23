import { describe, expect, it } from 'vitest';
import { runCases } from '../util/node.ts';
import { dot, numericGrad, randint, randn } from '../util/check.ts';
import { cases } from './embedding.cases.ts';
import { embeddingBackwardRef, embeddingForwardRef } from './embedding.ref.ts';

describe('embedding CPU reference vs finite differences', () => {
  it('backward matches d/dwte and d/dwpe of L = sum(out * G), with repeated ids', () => {
    const [B, T, C, V, maxT] = [2, 3, 4, 5, 4];
    const ids = randint(B * T, 3, 1); // ids in [0, 3): repeats, and tokens 3, 4 unused
    const wte = randn(V * C, 2), wpe = randn(maxT * C, 3), G = randn(B * T * C, 4);
    const ref = embeddingBackwardRef(G, ids, B, T, C, V, maxT);
    const gwte = numericGrad((v) => dot(embeddingForwardRef(ids, v, wpe, B, T, C), G), wte.slice());
    const gwpe = numericGrad((v) => dot(embeddingForwardRef(ids, wte, v, B, T, C), G), wpe.slice());
    for (let i = 0; i < gwte.length; i++) expect(Math.abs(ref.dwte[i] - gwte[i])).toBeLessThan(1e-8);
    for (let i = 0; i < gwpe.length; i++) expect(Math.abs(ref.dwpe[i] - gwpe[i])).toBeLessThan(1e-8);
    // unused tokens and positions t >= T get no gradient
    for (let c = 0; c < C; c++) expect(ref.dwte[4 * C + c]).toBe(0);
    for (let c = 0; c < C; c++) expect(ref.dwpe[3 * C + c]).toBe(0);
  });
});

runCases('embedding on the GPU (Dawn)', cases);
