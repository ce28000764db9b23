/**
 * Compiling ahead (Gpu.precompile) and the compile helper of Gpu.create: a second device that
 * compiles a submission's new pipelines, last first, while the first device runs them. Counts and
 * results, not times (the time saved is measured by `npm run bench`, first_step_ms).
 */
import os from 'node:os';
import { afterAll, describe, expect, it } from 'vitest';
import { Gpu } from '../../src/gpu/context.ts';
import { wantsCompileHelper, type AdapterReport } from '../../src/gpu/device.ts';
import { GPT } from '../../src/model/gpt.ts';
import { Trainer } from '../../src/train/trainer.ts';
import { randomBatches } from '../util/batches.ts';
import type { GPTConfig } from '../../src/model/config.ts';

const CFG: GPTConfig = { vocabSize: 37, blockSize: 16, nLayer: 1, nHead: 2, nEmbd: 32 };

/** Two training steps of the same tiny model on `gpu`: the losses read after each. */
async function twoSteps(gpu: Gpu): Promise<number[]> {
  const model = GPT.create(gpu, CFG, { seed: 5 });
  const trainer = new Trainer(model, randomBatches(CFG.vocabSize, 99), null, { steps: 10, batchSize: 2, seqLen: 16, lr: 1e-3, warmupSteps: 0 });
  const losses = [(await trainer.trainStep(true)).loss!, (await trainer.trainStep(true)).loss!];
  trainer.destroy();
  model.destroy();
  return losses;
}

const made: Gpu[] = [];
async function gpuWith(compileHelper: boolean): Promise<Gpu> {
  const gpu = await Gpu.create({ compileHelper });
  made.push(gpu);
  return gpu;
}
afterAll(() => {
  for (const g of made) g.destroy();
});

describe('compiling ahead', () => {
  it('precompile() makes, on another device, exactly the pipelines a training step then uses', async () => {
    const a = await gpuWith(false);
    const reference = await twoSteps(a);
    const uses = a.pipelineUses();
    expect(uses.length).toBeGreaterThan(10);
    expect(uses.map((u) => `${u.kernel}.${u.entry}`)).toContain('adamw.adamw');

    const b = await gpuWith(false);
    for (const use of uses) {
      b.precompile(use);
      await b.sync(); // a placeholder binding the pipeline's layout refuses throws here
    }
    expect(b.stats().pipelines).toBe(uses.length);
    expect(b.dispatchCount).toBe(0); // nothing ran
    // the same training run finds every pipeline made (the keys match) and gives the same losses
    expect(await twoSteps(b)).toEqual(reference);
    expect(b.stats().pipelines).toBe(uses.length);
  }, 120_000);

  it('the helper takes the pipelines new in a submission, and each ends compiled or skipped', async () => {
    const plain = await gpuWith(false);
    expect(plain.compileHelperStats().enabled).toBe(false);
    const reference = await twoSteps(plain);

    const gpu = await gpuWith(true);
    expect(gpu.compileHelperStats().enabled).toBe(true);
    expect(await twoSteps(gpu)).toEqual(reference);
    await gpu.compileHelperIdle();
    const s = gpu.compileHelperStats();
    expect(s.ready, 'the helper device was made').toBe(true);
    expect(s.handed).toBe(gpu.pipelineUses().length);
    expect(s.failed).toBe(0);
    expect(s.compiled + s.skipped).toBe(s.handed);
    // a later step brings no new pipeline, so nothing more is handed over
    await twoSteps(gpu);
    await gpu.compileHelperIdle();
    expect(gpu.compileHelperStats().handed).toBe(s.handed);
  }, 120_000);

  it('is on by default for lavapipe in Node, with Mesa\'s shader cache on', async () => {
    const lavapipe: AdapterReport = {
      runtime: 'node', vendor: 'mesa', architecture: '', device: 'llvmpipe (LLVM 19.1.7, 256 bits)', description: '',
      isFallbackAdapter: false, isSoftware: true, features: [], limits: {}, subgroupMinSize: 8, subgroupMaxSize: 8,
    };
    const saved = process.env.MESA_SHADER_CACHE_DISABLE;
    try {
      delete process.env.MESA_SHADER_CACHE_DISABLE;
      // (a 1-core machine has nothing to run a helper on)
      expect(await wantsCompileHelper(lavapipe, {})).toBe((os.availableParallelism?.() ?? os.cpus().length) >= 2);
      expect(await wantsCompileHelper(lavapipe, { compileHelper: false })).toBe(false);
      expect(await wantsCompileHelper({ ...lavapipe, device: 'NVIDIA H100', isSoftware: false }, {})).toBe(false);
      expect(await wantsCompileHelper({ ...lavapipe, device: 'NVIDIA H100', isSoftware: false }, { compileHelper: true })).toBe(true);
      expect(await wantsCompileHelper({ ...lavapipe, runtime: 'browser' }, { compileHelper: true })).toBe(false);
      for (const v of ['true', '1', 'y', 'YES']) {
        process.env.MESA_SHADER_CACHE_DISABLE = v; // the helper's code could not reach the other device
        expect(await wantsCompileHelper(lavapipe, {})).toBe(false);
      }
    } finally {
      if (saved === undefined) delete process.env.MESA_SHADER_CACHE_DISABLE;
      else process.env.MESA_SHADER_CACHE_DISABLE = saved;
    }
    // and the device of this run decides the same way
    const gpu = await Gpu.create();
    made.push(gpu);
    expect(gpu.compileHelperStats().enabled).toBe(await wantsCompileHelper(gpu.report, {}));
  });
});
