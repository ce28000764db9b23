/** Pre-training end to end on real text: the loss falls, and resuming from a checkpoint is exact. */
import { beforeAll, describe, expect, it } from 'vitest';
import { pretrain } from '../../src/train/pretrain.ts';
import { decodeCheckpoint } from '../../src/checkpoint/checkpoint.ts';
import { loadSotuCorpus } from '../../src/data/corpus-node.ts';
import { CorpusError } from '../../src/data/errors.ts';
import type { Gpu } from '../../src/gpu/context.ts';
import type { TrainEvent } from '../../src/train/trainer.ts';
import { testGpu } from '../util/node.ts';

let gpu: Gpu;
let text: string;
beforeAll(async () => {
  gpu = await testGpu();
  text = (await loadSotuCorpus()).slice(0, 200_000);
});

const small = { preset: 'tiny', config: { blockSize: 32 }, batchSize: 4, evalEvery: 0, seed: 5 } as const;

function losses(events: TrainEvent[]): number[] {
  return events.filter((e): e is Extract<TrainEvent, { event: 'step' }> => e.event === 'step').map((e) => e.loss);
}

describe('pretrain', () => {
  it('lowers the loss on State of the Union text (char-level, tiny)', async () => {
    const events: TrainEvent[] = [];
    const run = await pretrain(gpu, { text, ...small, steps: 60, lr: 3e-3, evalEvery: 60, onEvent: (e) => void events.push(e as TrainEvent) });
    await run.run();
    const l = losses(events);
    expect(l.length).toBe(60);
    const first = l.slice(0, 5).reduce((a, b) => a + b) / 5;
    const last = l.slice(-5).reduce((a, b) => a + b) / 5;
    // starts near ln(vocab) (uniform guess) and must drop well below it
    expect(first).toBeGreaterThan(Math.log(run.model.tokenizer.vocabSize) - 0.5);
    expect(last).toBeLessThan(first - 1.0);
    const ev = events.find((e) => e.event === 'eval');
    expect(ev && ev.event === 'eval' && ev.val_loss < first).toBe(true);
    run.destroy();
  });

  it('resumes exactly: 8 steps == 4 steps, save, load, 4 steps', async () => {
    const full: TrainEvent[] = [];
    const a = await pretrain(gpu, { text, ...small, steps: 8, onEvent: (e) => void full.push(e as TrainEvent) });
    await a.run();
    a.destroy();

    const first: TrainEvent[] = [];
    const stop = new AbortController();
    const b = await pretrain(gpu, {
      text, ...small, steps: 8, signal: stop.signal,
      onEvent: (e) => { first.push(e as TrainEvent); if (e.event === 'step' && e.step === 4) stop.abort(); },
    });
    await b.run();
    expect(b.trainer.step).toBe(4);
    const bytes = await b.checkpoint();
    b.destroy();

    const ck = decodeCheckpoint(bytes);
    expect(ck.train?.step).toBe(4);
    const second: TrainEvent[] = [];
    const c = await pretrain(gpu, { text, ...small, steps: 8, resume: ck, onEvent: (e) => void second.push(e as TrainEvent) });
    await c.run();
    c.destroy();
    // deterministic kernels and a restored RNG: bit-identical losses
    expect([...losses(first), ...losses(second)]).toEqual(losses(full));
  });

  it('rejects empty and too-short text with the lengths', async () => {
    await expect(pretrain(gpu, { text: '', ...small })).rejects.toThrow(CorpusError);
    await expect(pretrain(gpu, { text: 'abc abc abc', ...small })).rejects.toThrow(/fewer than one context of 33/);
  });
});
