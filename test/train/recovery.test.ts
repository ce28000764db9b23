/** Device loss mid-training: the run recovers from its last in-memory checkpoint and continues exactly. */
import { beforeAll, describe, expect, it } from 'vitest';
import { pretrain } from '../../src/train/pretrain.ts';
import { trainWithRecovery, type RecoveryEvent } from '../../src/train/recovery.ts';
import { Gpu } from '../../src/gpu/context.ts';
import { DeviceLostError } from '../../src/errors.ts';
import type { TrainEvent } from '../../src/train/trainer.ts';
import { loadSotuCorpus } from '../../src/data/corpus-node.ts';

let text: string;
beforeAll(async () => {
  text = (await loadSotuCorpus()).slice(0, 50_000);
});
const opts = { preset: 'tiny', config: { blockSize: 16, nLayer: 1 }, batchSize: 2, evalEvery: 0, seed: 21, steps: 12 } as const;

function stepLosses(events: (TrainEvent | RecoveryEvent)[]): Map<number, number> {
  const m = new Map<number, number>();
  for (const e of events) if (e.event === 'step') m.set(e.step, e.loss);
  return m;
}

describe('device loss', () => {
  it('device.destroy() at step 7 -> recovered from the step-5 checkpoint, same losses as an uninterrupted run', async () => {
    const ref: TrainEvent[] = [];
    const g0 = await Gpu.create();
    const a = await pretrain(g0, { text, ...opts, onEvent: (e) => void ref.push(e as TrainEvent) });
    await a.run();
    a.destroy();
    g0.destroy();

    const events: (TrainEvent | RecoveryEvent)[] = [];
    let gpu = await Gpu.create();
    let killed = false;
    const out = await trainWithRecovery(gpu, (g, resume) => {
      gpu = g;
      return pretrain(g, {
        text, ...opts, resume,
        onEvent: (e) => {
          events.push(e as TrainEvent);
          if (e.event === 'step' && e.step === 7 && !killed) { killed = true; g.device.destroy(); }
        },
      });
    }, { checkpointEvery: 5, onEvent: (e) => void events.push(e) });
    const lost = events.find((e) => e.event === 'device_lost');
    const rec = events.find((e) => e.event === 'recovered');
    expect(lost).toMatchObject({ event: 'device_lost', reason: 'destroyed' });
    expect(rec).toMatchObject({ event: 'recovered', step: 5, attempt: 1 });
    expect(out.run.trainer.step).toBe(12);
    // the repeated steps 6.. and the rest equal the uninterrupted run exactly
    const want = stepLosses(ref);
    const got = stepLosses(events);
    for (let s = 1; s <= 12; s++) expect(got.get(s), `step ${s}`).toBe(want.get(s));
    out.run.destroy();
    out.gpu.destroy();
  });

  it('when no device comes back: DeviceLostError, and the last good checkpoint is intact', async () => {
    const saved: { step: number; bytes: Uint8Array }[] = [];
    const gpu = await Gpu.create();
    const err = await trainWithRecovery(gpu, (g, resume) => pretrain(g, {
      text, ...opts, resume,
      onEvent: (e) => { if (e.event === 'step' && e.step === 4) g.device.destroy(); },
    }), {
      checkpointEvery: 3,
      acquire: async () => { throw new Error('adapter gone'); },
      onCheckpoint: (bytes, step) => void saved.push({ bytes, step }),
    }).catch((e) => e);
    expect(err).toBeInstanceOf(DeviceLostError);
    expect(err.message).toMatch(/no GPU device came back \(adapter gone\); the last good checkpoint is from step 3/);
    expect(saved.at(-1)!.step).toBe(3);
  });
});
