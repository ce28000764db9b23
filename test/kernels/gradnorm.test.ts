import { describe, expect, it } from 'vitest';
import { runCases } from '../util/node.ts';
import { cases } from './gradnorm.cases.ts';
import { gradNormSquaredRef } from './gradnorm.ref.ts';

describe('gradnorm CPU reference', () => {
  it('sums squares over all tensors', () => {
    expect(gradNormSquaredRef([3, 4], [], [12])).toBe(169);
  });
});

runCases('gradnorm on the GPU (Dawn)', cases);
