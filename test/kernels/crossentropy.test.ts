import { describe, expect, it } from 'vitest';
import { checkTargets } from '../../src/kernels/crossentropy.ts';
import { runCases } from '../util/node.ts';
import { assertThrows, numericGrad, randn } from '../util/check.ts';
import { cases } from './crossentropy.cases.ts';
import { crossEntropyRef } from './crossentropy.ref.ts';

describe('crossentropy CPU reference', () => {
  it('dlogits = scale * d(sum of losses)/dlogits by finite differences, ignored rows zero', () => {
    const [N, V] = [4, 7];
    const x = randn(N * V, 1, 2), targets = Int32Array.from([3, -1, 0, 6]), scale = 0.3;
    const ref = crossEntropyRef(x, targets, scale, N, V);
    const sumLoss = (v: Float64Array) => crossEntropyRef(v, targets, scale, N, V).losses.reduce((a, b) => a + b, 0);
    const num = numericGrad(sumLoss, x.slice());
    for (let i = 0; i < x.length; i++) expect(Math.abs(ref.dlogits[i] - scale * num[i])).toBeLessThan(1e-8);
    expect(ref.losses[1]).toBe(0);
    for (let i = V; i < 2 * V; i++) expect(ref.dlogits[i]).toBe(0);
  });

  it('loss is -log softmax(target): uniform logits give log V', () => {
    const V = 67;
    const { losses } = crossEntropyRef(new Float64Array(V).fill(3), [5], 1, 1, V);
    expect(losses[0]).toBeCloseTo(Math.log(V), 12);
  });

  it('checkTargets counts targets and rejects ones >= V', () => {
    expect(checkTargets([0, 5, -1, -100, 66], 67)).toBe(3);
    assertThrows(() => checkTargets([1, 67], 67), 'ShapeError', /target 67 at position 1 is out of range for vocabulary size 67/);
  });
});

runCases('crossentropy on the GPU (Dawn)', cases);
