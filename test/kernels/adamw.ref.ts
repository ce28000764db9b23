/**
 * CPU reference (float64) for shaders/adamw.wgsl, written the way PyTorch does it:
 * torch.nn.utils.clip_grad_norm_ over all groups, then torch.optim.AdamW (decoupled weight
 * decay, applied first as p *= 1 - lr * wd), on gradients scaled by gradScale.
 */

export interface AdamWGroupRef {
  p: Float64Array; // params, updated in place
  g: ArrayLike<number>; // raw gradients (before gradScale)
  m: Float64Array; // first moment, updated in place
  v: Float64Array; // second moment, updated in place
  weightDecay: number;
}

export interface AdamWHyperparamsRef {
  lr: number;
  beta1: number;
  beta2: number;
  eps: number;
  step: number; // 1-based
  gradScale: number;
  maxGradNorm: number; // 0: no clipping
}

/** The clip factor torch's clip_grad_norm_(max_norm) applies to the scaled gradients (1 if off). */
export function clipFactorRef(groups: readonly { g: ArrayLike<number> }[], h: AdamWHyperparamsRef): number {
  if (!(h.maxGradNorm > 0)) return 1;
  let sq = 0;
  for (const { g } of groups) for (let i = 0; i < g.length; i++) sq += (g[i] * h.gradScale) ** 2;
  const totalNorm = Math.sqrt(sq);
  return Math.min(1, h.maxGradNorm / (totalNorm + 1e-6));
}

/** One optimizer step over all groups, in place. */
export function adamwStepRef(groups: AdamWGroupRef[], h: AdamWHyperparamsRef): void {
  const clip = clipFactorRef(groups, h);
  const bc1 = 1 - h.beta1 ** h.step;
  const bc2 = 1 - h.beta2 ** h.step;
  const stepSize = h.lr / bc1;
  for (const { p, g, m, v, weightDecay } of groups) {
    for (let i = 0; i < p.length; i++) {
      const grad = g[i] * h.gradScale * clip;
      p[i] *= 1 - h.lr * weightDecay; // decoupled weight decay, on the old parameter
      m[i] += (grad - m[i]) * (1 - h.beta1); // m.lerp_(grad, 1 - beta1)
      v[i] = v[i] * h.beta2 + (1 - h.beta2) * grad * grad;
      const denom = Math.sqrt(v[i]) / Math.sqrt(bc2) + h.eps;
      p[i] -= stepSize * (m[i] / denom);
    }
  }
}
