/** Generation: the KV-cache path gives the same logits as a full forward; sampling rules. */
import { describe, expect, it } from 'vitest';
import { GPT } from '../../src/model/gpt.ts';
import { Generator, sampleLogits, sample } from '../../src/model/sample.ts';
import { testGpu } from '../util/node.ts';
import { assertClose, randint } from '../util/check.ts';

const cfg = { vocabSize: 67, blockSize: 16, nLayer: 2, nHead: 4, nEmbd: 48 };

describe('generation with a KV cache', () => {
  it('logits at every position equal those of a full forward pass', async () => {
    const gpu = await testGpu();
    const model = GPT.create(gpu, cfg, { seed: 3 });
    const ids = randint(11, cfg.vocabSize, 9);
    model.forward(ids, 1, ids.length);
    const full = await model.logits();
    const gen = new Generator(model);
    for (let t = 0; t < ids.length; t++) {
      const logits = await gen.feed([ids[t]]);
      // same fp32 ops in a different grouping (one row vs the whole sequence)
      assertClose(`logits at t=${t}`, logits, full.subarray(t * cfg.vocabSize, (t + 1) * cfg.vocabSize), { atol: 1e-5, rtol: 1e-4, reason: 'same math, one row at a time' });
    }
    gen.destroy();
    model.destroy();
  });

  it('greedy generation is deterministic, seeded sampling repeats, and runs past the context', async () => {
    const gpu = await testGpu();
    const model = GPT.create(gpu, cfg, { seed: 4 });
    const a = await sample(model, [1, 2, 3], { maxTokens: 30, temperature: 0 });
    const b = await sample(model, [1, 2, 3], { maxTokens: 30, temperature: 0 });
    expect(a).toEqual(b);
    expect(a.length).toBe(30); // 3 + 30 > blockSize 16: the cache slides
    const c = await sample(model, [5], { maxTokens: 20, temperature: 1, seed: 7 });
    const d = await sample(model, [5], { maxTokens: 20, temperature: 1, seed: 7 });
    const e = await sample(model, [5], { maxTokens: 20, temperature: 1, seed: 8 });
    expect(c).toEqual(d);
    expect(c).not.toEqual(e);
    await expect(sample(model, Array(17).fill(1), { maxTokens: 1 })).rejects.toThrow(/prompt has 17 tokens, longer than the model's context of 16/);
    await expect(sample(model, [67], { maxTokens: 1 })).rejects.toThrow(/token id 67 is outside the vocabulary \[0, 67\)/);
    model.destroy();
  });
});

describe('sampleLogits', () => {
  const logits = [0, 3, 1, 2.5, -1];
  let seed = 1;
  const rand = () => ((seed = (seed * 16807) % 2147483647) / 2147483647);
  it('temperature 0 is argmax', () => expect(sampleLogits(logits, { temperature: 0 }, rand)).toBe(1));
  it('top-k 2 only yields the two best', () => {
    const seen = new Set<number>();
    for (let i = 0; i < 500; i++) seen.add(sampleLogits(logits, { topK: 2 }, rand));
    expect([...seen].sort()).toEqual([1, 3]);
  });
  it('top-p keeps the smallest set reaching p', () => {
    // softmax: p(1) ~ 0.55, p(3) ~ 0.33: top-p 0.5 keeps only token 1
    const seen = new Set<number>();
    for (let i = 0; i < 200; i++) seen.add(sampleLogits(logits, { topP: 0.5 }, rand));
    expect([...seen]).toEqual([1]);
  });
  it('frequencies follow the softmax at temperature 1', () => {
    const counts = new Array(5).fill(0);
    const n = 20000;
    for (let i = 0; i < n; i++) counts[sampleLogits(logits, {}, rand)]++;
    const z = logits.reduce((s, x) => s + Math.exp(x), 0);
    logits.forEach((x, i) => expect(Math.abs(counts[i] / n - Math.exp(x) / z)).toBeLessThan(0.015));
  });
});
