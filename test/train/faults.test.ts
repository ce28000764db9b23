/** Numerical trouble, cancellation and memory over time: what the trainer promises. */
import { beforeAll, describe, expect, it } from 'vitest';
import { pretrain, type TrainingRun } from '../../src/train/pretrain.ts';
import { NonFiniteError, type TrainEvent } from '../../src/train/trainer.ts';
import { loadSotuCorpus } from '../../src/data/corpus-node.ts';
import type { Gpu } from '../../src/gpu/context.ts';
import { testGpu } from '../util/node.ts';

let gpu: Gpu;
let text: string;
beforeAll(async () => {
  gpu = await testGpu();
  text = (await loadSotuCorpus()).slice(0, 50_000);
});

// the 'tiny' preset, with a shorter context and one block so 2000 steps stay quick on a software adapter
const cfg = { preset: 'tiny', config: { blockSize: 16, nLayer: 1 }, batchSize: 2, evalEvery: 0, seed: 11 } as const;

/** Make the forward of optimizer step `bad` (1-based) produce NaN gradients. */
function poison(run: TrainingRun, bad: number): void {
  const gpt = run.model.gpt;
  const forward = gpt.forward.bind(gpt);
  gpt.forward = (inputs, B, T, targets, gradScale, opts) => forward(inputs, B, T, targets, run.trainer.step + 1 === bad && targets ? NaN : gradScale, opts);
}

describe('non-finite gradients', () => {
  it("stop (default): NonFiniteError names the step; the bad update is not applied", async () => {
    const run = await pretrain(gpu, { text, ...cfg, steps: 6 });
    poison(run, 4);
    let before: Float32Array | null = null;
    run.trainer.options.onEvent = async (e) => { if (e.event === 'step' && e.step === 3) before = await run.model.gpt.getParams(); };
    const err = await run.run().catch((e) => e);
    expect(err).toBeInstanceOf(NonFiniteError);
    expect(err.message).toMatch(/at step 4: gradient norm is NaN/);
    const after = await run.model.gpt.getParams();
    expect(after).toEqual(before); // bit-identical: AdamW skipped the poisoned step on the GPU
    run.destroy();
  });

  it('skip: the step is reported and training goes on with finite parameters', async () => {
    const events: TrainEvent[] = [];
    const run = await pretrain(gpu, { text, ...cfg, steps: 6, train: { onNonFinite: 'skip' }, onEvent: (e) => void events.push(e as TrainEvent) });
    poison(run, 2);
    await run.run();
    expect(events.filter((e) => e.event === 'skip').map((e) => e.step)).toEqual([2]);
    expect(events.filter((e) => e.event === 'step').length).toBe(5);
    expect((await run.model.gpt.getParams()).every(Number.isFinite)).toBe(true);
    run.destroy();
  });
});

function heapAfterGc(): number {
  const gc = (globalThis as any).gc as (() => void) | undefined;
  if (!gc) throw new Error('run node with --expose-gc (vitest.config.ts sets it) to measure the heap');
  gc();
  gc();
  return process.memoryUsage().heapUsed;
}

describe('cancellation and memory', () => {
  it('cancelling leaves no pending GPU work, and destroy() frees every buffer', async () => {
    const start = gpu.stats();
    const stop = new AbortController();
    const events: TrainEvent[] = [];
    const run = await pretrain(gpu, { text, ...cfg, steps: 50, signal: stop.signal, onEvent: (e) => { events.push(e as TrainEvent); if (e.event === 'step' && e.step === 3) stop.abort(); } });
    await run.run();
    expect(events.at(-1)).toEqual({ event: 'cancelled', step: 3 });
    await gpu.device.queue.onSubmittedWorkDone(); // resolves: nothing left running
    run.destroy();
    const end = gpu.stats();
    expect({ buffers: end.buffers, bytes: end.bytes }).toEqual({ buffers: start.buffers, bytes: start.bytes });
  });

  it('2000 steps: GPU buffers, bytes, pipelines and bind groups the same at step 10 and step 2000, JS heap flat', async () => {
    let at10: ReturnType<Gpu['stats']> | null = null;
    let heap10 = 0;
    const run = await pretrain(gpu, {
      text, ...cfg, steps: 2000, train: { logEvery: 10 },
      onEvent: (e) => { if (e.event === 'step' && e.step === 10) { at10 = gpu.stats(); heap10 = heapAfterGc(); } },
    });
    await run.run();
    const at2000 = gpu.stats();
    expect(at2000).toEqual(at10);
    // JS heap after full collections: no per-step growth (1 MB over 1990 steps would be ~0.5 KB a step)
    const grown = heapAfterGc() - heap10;
    expect(grown).toBeLessThan(1024 * 1024);
    run.destroy();
  });
});
