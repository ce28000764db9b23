/** Learning-rate schedule: linear warmup, then cosine decay to minLr (nanoGPT's get_lr). A pure function. */
export interface Schedule {
  /** Peak learning rate. */
  lr: number;
  /** Steps of linear warmup from lr/warmup to lr. */
  warmupSteps: number;
  /** Step at which the cosine reaches minLr (usually the total number of steps). */
  decaySteps: number;
  /** Floor of the decay (nanoGPT: lr / 10). */
  minLr: number;
}

/** Learning rate at 0-based `step`. */
export function lrAt(step: number, s: Schedule): number {
  if (step < s.warmupSteps) return (s.lr * (step + 1)) / s.warmupSteps;
  if (step >= s.decaySteps) return s.minLr;
  const span = Math.max(1, s.decaySteps - s.warmupSteps);
  const ratio = (step - s.warmupSteps) / span;
  const coeff = 0.5 * (1 + Math.cos(Math.PI * ratio));
  return s.minLr + coeff * (s.lr - s.minLr);
}
