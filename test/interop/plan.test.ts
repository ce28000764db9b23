/**
 * planMemory: the memory and limits plan for training (no GPU needed). The numbers are checked by
 * hand against the buffers GPT and Optimizer allocate.
 */
import { describe, expect, it } from 'vitest';
import { planMemory, formatPlan, rowSplit, vocabSplit, planActivationBytes } from '../../src/model/plan.ts';
import { activationBytes } from '../../src/model/gpt.ts';
import { presetConfig, countParams, type GPTConfig } from '../../src/model/config.ts';
import { paramLayout } from '../../src/model/params.ts';

const MiB = 1024 * 1024;
const LAVAPIPE = { maxStorageBufferBindingSize: 128 * MiB, maxBufferSize: 2 ** 32 - 1 };
const WEBGPU_DEFAULT = { maxStorageBufferBindingSize: 128 * MiB, maxBufferSize: 256 * MiB };
const gpt2 = presetConfig('gpt2', 0);

describe('planMemory', () => {
  it('counts the activations GPT allocates (activationBytes) and the four flat buffers', () => {
    for (const [c, B, T] of [[gpt2, 4, 256], [presetConfig('tiny', 65), 3, 17], [{ vocabSize: 97, blockSize: 32, nLayer: 2, nHead: 4, nEmbd: 48 }, 1, 1]] as [GPTConfig, number, number][]) {
      expect(planActivationBytes(c, B, T)).toBe(activationBytes(c, B, T));
      const p = planMemory(c, B, T, LAVAPIPE);
      expect(p.bytes.params).toBe(paramLayout(c).total * 4);
      expect(p.paramCount).toBe(countParams(c));
      expect(p.bytes.total).toBe(4 * p.bytes.params + p.bytes.activations + p.bytes.splitScratch);
    }
  });

  it('GPT-2 124M at B=4, T=256 on lavapipe: fits, with wte and the logits split', () => {
    const p = planMemory(gpt2, 4, 256, LAVAPIPE);
    expect(p.fits).toBe(true);
    expect(p.paramCount).toBe(124_439_808);
    expect(p.bytes.logits).toBe(1024 * 50257 * 4); // 205.9 MB
    expect(p.splits.wte).toEqual({ count: 2, rows: 25152 }); // 2 x 77 MB
    expect(p.splits.logits).toEqual({ count: 2, rows: 512 }); // 2 x 103 MB
    expect(p.largestBinding.bytes).toBeLessThanOrEqual(128 * MiB);
    expect(p.largestBuffer.name).toMatch(/^params/);
    expect(p.bytes.total).toBeGreaterThan(2.9e9);
    expect(p.bytes.total).toBeLessThan(3.1e9);
    const text = formatPlan(p);
    expect(text).toMatch(/verdict: fits/);
    expect(text).toMatch(/2 vocabulary chunks of 25152 rows/);
  });

  it('with WebGPU default limits the flat parameters are over maxBufferSize, and it says so', () => {
    const p = planMemory(gpt2, 4, 256, WEBGPU_DEFAULT);
    expect(p.fits).toBe(false);
    expect(p.problems[0]).toMatchObject({ limit: 'maxBufferSize', needed: paramLayout(gpt2).total * 4, available: 256 * MiB });
    expect(p.advice[0]).toMatch(/use a smaller model/);
  });

  it('an activation over one binding names the tensor and the largest B and T that fit', () => {
    const p = planMemory(gpt2, 64, 1024, LAVAPIPE);
    expect(p.fits).toBe(false);
    const fch = p.problems.find((q) => q.what.startsWith('h.0.fch '))!;
    expect(fch).toMatchObject({ limit: 'maxStorageBufferBindingSize', needed: 64 * 1024 * 3072 * 4 });
    // (B*T) x 4C x 4 bytes <= 128 MiB  <=>  B*T <= 10922
    expect(p.advice.join('\n')).toMatch(/use B <= 10 at T=1024 or T <= 170 at B=64 \(B\*T <= 10922\)/);
    const ok = planMemory(gpt2, 10, 1024, LAVAPIPE);
    expect(ok.problems.filter((q) => q.limit === 'maxStorageBufferBindingSize')).toEqual([]);
  });

  it('memory and context problems come with advice', () => {
    const p = planMemory(gpt2, 4, 2048, { ...LAVAPIPE, memoryBytes: 2.5e9 });
    expect(p.problems.map((q) => q.limit)).toEqual(expect.arrayContaining(['context', 'memory']));
    expect(p.advice.join('\n')).toMatch(/use T <= 1024/);
    expect(p.advice.join('\n')).toMatch(/available: keep B\*T <= \d+ \(T <= \d+ at B=4\)/);
    expect(formatPlan(p)).toMatch(/verdict: does NOT fit/);
    // the B*T the advice gives does fit
    const n = Number(/B\*T <= (\d+)/.exec(p.advice.join('\n'))![1]);
    expect(planMemory(gpt2, 1, n, { ...LAVAPIPE, memoryBytes: 2.5e9 }).problems.filter((q) => q.limit === 'memory')).toEqual([]);
    expect(planMemory(gpt2, 1, n + 8, { ...LAVAPIPE, memoryBytes: 2.5e9 }).problems.filter((q) => q.limit === 'memory').length).toBe(1);
    expect(planMemory(gpt2, 4, 256, { ...LAVAPIPE, memoryBytes: 1.9e9 }).advice.join('\n')).toMatch(/alone need .* use a smaller model/);
  });

  it('splits: fewest balanced chunks, 64-row multiples, null when 64 rows do not fit', () => {
    expect(vocabSplit(50257, 768, 128 * MiB)).toEqual({ count: 2, rows: 25152 });
    expect(vocabSplit(50257, 768, 256 * MiB)).toEqual({ count: 1, rows: 50257 });
    expect(vocabSplit(50257, 1600, 128 * MiB)).toEqual({ count: 3, rows: 16768 }); // gpt2-xl
    expect(rowSplit(1024, 50257, 128 * MiB)).toEqual({ count: 2, rows: 512 });
    expect(rowSplit(16384, 50257, 128 * MiB)).toEqual({ count: 26, rows: 640 }); // B=16, T=1024 (LanguageModel.evaluate)
    expect(rowSplit(100, 50257, 13_000_000)).toEqual({ count: 2, rows: 64 });
    expect(rowSplit(100, 50257, 1_000_000)).toBeNull();
    for (const [n, w, max] of [[50257, 3072, 128 * MiB], [777, 4000, 1 << 20], [100000, 4, 4096]]) {
      const s = vocabSplit(n, w / 4, max)!;
      expect(s.rows % 64 === 0 || s.count === 1).toBe(true);
      expect(s.rows * w).toBeLessThanOrEqual(max);
      expect(s.count).toBe(Math.ceil(n / s.rows));
      expect(s.count).toBe(Math.ceil((n * w) / (Math.floor(max / w / 64) * 64 * w))); // fewest chunks
    }
  });
});
