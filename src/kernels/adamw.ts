/**
 * adamw: the AdamW optimizer step (decoupled weight decay, as torch.optim.AdamW) in one
 * elementwise pass per parameter group. See shaders/adamw.wgsl.
 *
 * AdamW.update overwrites params, m and v in place (that is the step); grads are only read.
 */
import type { Gpu } from '../gpu/context.ts';
import { shapeStr, type Tensor } from '../gpu/tensor.ts';
import { ShapeError } from '../errors.ts';
import { expectDistinct, expectShape, expectSize } from './check.ts';
import { dims } from './uniforms.ts';

const WG = 256; // invocations per workgroup, 4 elements each when the group's size is a multiple of 4

export interface AdamWHyperparams {
  /** Learning rate of this step (schedules are applied by the caller). */
  lr: number;
  beta1: number;
  beta2: number;
  eps: number;
  /** 1-based step number, for the bias corrections 1 - beta^step. */
  step: number;
  /** Multiplies every gradient, e.g. 1 / gradient-accumulation steps. Default 1. */
  gradScale?: number;
  /** Clip the global norm of the (scaled) gradients to this; 0 (default) = no clipping. */
  maxGradNorm?: number;
}

/**
 * AdamW over any number of parameter groups. Hyperparameters that change every step (lr, step,
 * ...) live in a small GPU buffer written by setHyperparams; the weight decay lives in a small
 * uniform buffer per distinct value (written once), because two groups (decay / no decay) are
 * updated in the same submit and a buffer written with queue.writeBuffer holds one value per submit.
 *
 * Per step: setHyperparams(...) once, then update(...) per group, then gpu.submit(). As with any
 * queue write, setHyperparams takes effect for everything submitted after it, so call it once per
 * submit.
 */
export class AdamW {
  private readonly gpu: Gpu;
  /** (12) f32, the Hyperparams struct of shaders/adamw.wgsl (10 words) and padding. */
  private readonly hp: Tensor;
  private current: Required<AdamWHyperparams> | null = null;

  constructor(gpu: Gpu) {
    this.gpu = gpu;
    // bound as a uniform buffer (12 words: the struct's 10, padded to 16 bytes): every invocation
    // reads every field, and on lavapipe a uniform load costs a fraction of a storage load
    this.hp = gpu.tensor([12], undefined, 'f32', 'adamw.hyperparams');
  }

  /** The hyperparameters last set (null before the first setHyperparams). */
  get hyperparams(): Readonly<Required<AdamWHyperparams>> | null {
    return this.current;
  }

  /** Validate and upload this step's hyperparameters (bias corrections computed here). */
  setHyperparams(h: AdamWHyperparams): void {
    const op = 'AdamW.setHyperparams';
    const full: Required<AdamWHyperparams> = { gradScale: 1, maxGradNorm: 0, ...h };
    const { lr, beta1, beta2, eps, step, gradScale, maxGradNorm } = full;
    const bad = (what: string, v: number) => new ShapeError(`${op}: ${what}, got ${v}`);
    if (!Number.isFinite(lr) || lr < 0) throw bad('lr must be finite and >= 0', lr);
    if (!(beta1 >= 0 && beta1 < 1)) throw bad('beta1 must be in [0, 1)', beta1);
    if (!(beta2 >= 0 && beta2 < 1)) throw bad('beta2 must be in [0, 1)', beta2);
    if (!(eps > 0) || !Number.isFinite(eps)) throw bad('eps must be finite and > 0', eps);
    if (!Number.isInteger(step) || step < 1) throw bad('step must be an integer >= 1 (1-based)', step);
    if (!(gradScale > 0) || !Number.isFinite(gradScale)) throw bad('gradScale must be finite and > 0', gradScale);
    if (!(maxGradNorm >= 0) || !Number.isFinite(maxGradNorm)) throw bad('maxGradNorm must be finite and >= 0 (0 = no clipping)', maxGradNorm);
    // 1 - beta and the bias corrections in float64 (1 - f32(beta2) would be off by ~1e-5)
    const biasCorrection1 = 1 - Math.pow(beta1, step);
    const biasCorrection2 = 1 - Math.pow(beta2, step);
    // Same field order as struct Hyperparams in shaders/adamw.wgsl.
    this.gpu.write(this.hp, new Float32Array([lr, beta1, beta2, eps, 1 - beta1, 1 - beta2, biasCorrection1, biasCorrection2, gradScale, maxGradNorm, 0, 0]));
    this.current = full;
  }

  /**
   * Record one AdamW step over one parameter group: params, m, v updated in place (=) from grads.
   * All four have the same number of elements (any shapes; views at 256-byte-aligned offsets into
   * larger buffers are fine) and must be different tensors. `grads` must not share a buffer with
   * params, m or v (WebGPU forbids a buffer bound both read-only and writable in one dispatch).
   * `weightDecay` applies to this group (0 for biases and layernorm parameters).
   * `normSq` (1): the sum of squares of all raw gradients (gradNormSquared), needed when the
   * current maxGradNorm > 0. When it is given and not finite (a NaN/Inf gradient anywhere), the
   * update is skipped entirely: params, m and v stay as they were.
   */
  update(params: Tensor, grads: Tensor, m: Tensor, v: Tensor, weightDecay: number, normSq?: Tensor): void {
    const op = 'AdamW.update';
    const h = this.current;
    if (!h) throw new ShapeError(`${op}: call setHyperparams before update`);
    const n = params.size;
    expectShape(op, 'params', params, params.shape); // dtype f32
    for (const [name, t] of [['grads', grads], ['m', m], ['v', v]] as const) {
      expectShape(op, name, t, t.shape);
      expectSize(op, name, t, n, `as many as params ${shapeStr(params.shape)}`);
    }
    expectDistinct(op, params, m, 'params and m');
    expectDistinct(op, params, v, 'params and v');
    expectDistinct(op, m, v, 'm and v');
    for (const [name, t] of [['params', params], ['m', m], ['v', v]] as const) {
      if (t.buffer === grads.buffer) throw new ShapeError(`${op}: grads and ${name} share a buffer (grads is bound read-only, ${name} writable)`);
    }
    if (!Number.isFinite(weightDecay) || weightDecay < 0) throw new ShapeError(`${op}: weightDecay must be finite and >= 0, got ${weightDecay}`);
    if (normSq) expectShape(op, 'normSq', normSq, [1]);
    if (h.maxGradNorm > 0 && !normSq) throw new ShapeError(`${op}: maxGradNorm is ${h.maxGradNorm} but no normSq tensor was given`);
    if (n === 0) return;
    // vec4 units when every view allows it (sizes a multiple of 4; offsets are 256-byte aligned when bound)
    const vec4 = n % 4 === 0;
    const units = vec4 ? n / 4 : n;
    this.gpu.dispatch('adamw', 'adamw', [params, grads, m, v, this.hp, normSq ?? this.gpu.dummy(), dims(this.gpu, [], [weightDecay])], this.gpu.grid(Math.ceil(units / WG)), {
      defines: { VEC4: vec4 },
    });
  }

  /** Free the hyperparameter buffer. */
  destroy(): void {
    this.gpu.release(this.hp);
  }
}
