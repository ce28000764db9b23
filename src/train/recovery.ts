/**
 * Training that survives the loss of the GPU device (driver reset, `device.destroy()`, a
 * backgrounded tab): keep a checkpoint in memory every `checkpointEvery` steps; when the device
 * is lost, acquire a new one, rebuild the run from that checkpoint and continue. At most the steps
 * since the last checkpoint are lost, and a resumed run repeats them exactly (same data order).
 */
import { Gpu } from '../gpu/context.ts';
import { DeviceLostError, WgptError } from '../errors.ts';
import { decodeCheckpoint, type Checkpoint } from '../checkpoint/checkpoint.ts';
import type { TrainingRun } from './pretrain.ts';
import type { TrainEvent } from './trainer.ts';

export type RecoveryEvent =
  | { event: 'device_lost'; step: number; reason: string; message: string }
  | { event: 'recovered'; step: number; lost_steps: number; attempt: number };

export interface RecoveryOptions {
  /** Snapshot the full training state every N steps (default 50). */
  checkpointEvery?: number;
  /** Give up after this many losses (default 3). */
  maxRecoveries?: number;
  /** How to get a new device (default Gpu.create()). */
  acquire?: () => Promise<Gpu>;
  /** Called with each snapshot (e.g. to persist it to disk or browser storage). */
  onCheckpoint?: (bytes: Uint8Array, step: number) => void | Promise<void>;
  onEvent?: (e: RecoveryEvent) => void | Promise<void>;
}

function isDeviceLoss(gpu: Gpu, e: unknown): boolean {
  return e instanceof DeviceLostError || gpu.lostInfo !== null;
}

/**
 * Run training built by `setup` (e.g. `(gpu, resume) => pretrain(gpu, { ...opts, resume })`),
 * recovering from device loss. Returns the final run and the device it ended on.
 */
export async function trainWithRecovery(
  gpu: Gpu,
  setup: (gpu: Gpu, resume: Checkpoint | undefined) => Promise<TrainingRun>,
  o: RecoveryOptions = {},
): Promise<{ run: TrainingRun; gpu: Gpu }> {
  const every = o.checkpointEvery ?? 50;
  const maxRecoveries = o.maxRecoveries ?? 3;
  let resume: Checkpoint | undefined;
  let last: { bytes: Uint8Array; step: number } | null = null;
  for (let attempt = 0; ; attempt++) {
    const run = await setup(gpu, resume);
    const snapshot = async () => {
      const bytes = await run.checkpoint();
      last = { bytes, step: run.trainer.step };
      await o.onCheckpoint?.(bytes, last.step);
    };
    if (!last) await snapshot(); // something to come back to from the very start
    const inner = run.trainer.options.onEvent;
    run.trainer.options.onEvent = async (e: TrainEvent) => {
      await inner?.(e);
      if (e.event === 'step' && e.step % every === 0 && e.step !== last?.step) await snapshot();
    };
    try {
      await run.run();
      return { run, gpu };
    } catch (e) {
      if (!isDeviceLoss(gpu, e)) throw e;
      const step = run.trainer.step;
      const info = gpu.lostInfo;
      await o.onEvent?.({ event: 'device_lost', step, reason: info?.reason ?? 'unknown', message: info?.message || (e as Error).message });
      try { run.destroy(); } catch { /* the device is gone; so are its buffers */ }
      try { gpu.destroy(); } catch { /* already destroyed */ }
      if (attempt + 1 > maxRecoveries) {
        throw new DeviceLostError(info?.reason ?? 'unknown', `gave up after ${maxRecoveries} recoveries; the last good checkpoint is from step ${last!.step}`);
      }
      try {
        gpu = await (o.acquire ?? (() => Gpu.create()))();
      } catch (err) {
        throw new DeviceLostError(info?.reason ?? 'unknown', `no GPU device came back (${(err as Error).message}); the last good checkpoint is from step ${last!.step} and is intact`);
      }
      resume = decodeCheckpoint(last!.bytes);
      await o.onEvent?.({ event: 'recovered', step: last!.step, lost_steps: step - last!.step, attempt: attempt + 1 });
    }
  }
}

export { WgptError };
