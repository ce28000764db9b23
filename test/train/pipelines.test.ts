/**
 * Kernel sizes come from uniform buffers (src/kernels/uniforms.ts), so a pipeline serves every
 * shape: after the first training step, another batch size, sequence length or model width (same
 * head size; widths and vocabularies that are multiples of 4, which pick the same vec4 variants)
 * compiles no new pipeline. On lavapipe a pipeline costs 0.1-3 s of LLVM compile, so this count is
 * what keeps a validation pass or a new shape from stalling. A count, not a time.
 */
import { describe, expect, it } from 'vitest';
import { GPT } from '../../src/model/gpt.ts';
import { Trainer } from '../../src/train/trainer.ts';
import { randomBatches } from '../util/batches.ts';
import type { GPTConfig } from '../../src/model/config.ts';
import { testGpu } from '../util/node.ts';

async function steps(cfg: GPTConfig, B: number, T: number): Promise<{ pipelines: number; loss: number }> {
  const gpu = await testGpu();
  const model = GPT.create(gpu, cfg, { seed: 3 });
  const trainer = new Trainer(model, randomBatches(cfg.vocabSize, 12345), null, { steps: 100, batchSize: B, seqLen: T, lr: 1e-3, warmupSteps: 0 });
  await trainer.trainStep(false);
  const { loss } = await trainer.trainStep(true);
  trainer.destroy();
  model.destroy();
  return { pipelines: gpu.stats().pipelines, loss: loss! };
}

describe('one pipeline per entry point', () => {
  it('a new batch size, sequence length, depth, width or vocabulary compiles nothing new', async () => {
    const base: GPTConfig = { vocabSize: 40, blockSize: 32, nLayer: 1, nHead: 2, nEmbd: 32 };
    const first = await steps(base, 2, 16);
    expect(first.pipelines).toBeGreaterThan(10); // the step really compiled its kernels
    const counts = [
      (await steps(base, 3, 8)).pipelines, // batch and sequence length
      (await steps(base, 1, 32)).pipelines,
      (await steps({ ...base, nLayer: 2, nHead: 3, nEmbd: 48 }, 2, 16)).pipelines, // depth and width, head size 16 kept
      (await steps({ ...base, vocabSize: 64 }, 2, 16)).pipelines, // vocabulary
    ];
    expect(counts).toEqual(counts.map(() => first.pipelines));
    expect(Number.isFinite(first.loss)).toBe(true);
  });

  it('a new head size compiles only its attention kernels', async () => {
    const gpu = await testGpu();
    await steps({ vocabSize: 40, blockSize: 32, nLayer: 1, nHead: 2, nEmbd: 32 }, 2, 16); // head size 16 (compiled once per file)
    const before = gpu.stats().pipelines;
    await steps({ vocabSize: 40, blockSize: 32, nLayer: 1, nHead: 4, nEmbd: 32 }, 2, 16); // head size 8
    expect(gpu.stats().pipelines - before).toBeLessThanOrEqual(3); // attention forward, dq, dkv
  });
});
