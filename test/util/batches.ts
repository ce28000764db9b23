/** Random token batches for tests that train: a fixed LCG, so a run is reproducible from its seed. */
import type { BatchSource } from '../../src/train/trainer.ts';

/** Inputs and targets uniform over [0, V), from an LCG seeded with `seed`; its state is the batch source's state. */
export function randomBatches(V: number, seed: number): BatchSource {
  let s = seed;
  const rand = () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 4294967296);
  return {
    next(B: number, T: number) {
      const inputs = new Int32Array(B * T).map(() => Math.floor(rand() * V));
      const targets = new Int32Array(B * T).map(() => Math.floor(rand() * V));
      return { inputs, targets };
    },
    getState: () => s,
    setState: (x: unknown) => void (s = x as number),
  };
}
