/**
 * AdamW for a GPT on the GPU: moments in flat buffers with the model's layout, one fused update
 * kernel per contiguous parameter range, weight decay only on 2-D weights, gradient clipping by
 * global norm computed on the GPU (no readback in the step).
 */
import type { Gpu } from '../gpu/context.ts';
import type { Tensor } from '../gpu/tensor.ts';
import { AdamW } from '../kernels/adamw.ts';
import { GRADNORM_PARTIALS, gradNormSquared } from '../kernels/gradnorm.ts';
import type { GPT } from '../model/gpt.ts';
import type { ParamSpec } from '../model/params.ts';

export interface OptimizerConfig {
  beta1: number;
  beta2: number;
  eps: number;
  /** Decoupled weight decay for 2-D weights (biases and layernorm params get none). */
  weightDecay: number;
  /** Clip the global gradient norm to this; 0 disables clipping. */
  maxGradNorm: number;
}

export const DEFAULT_OPTIMIZER: OptimizerConfig = { beta1: 0.9, beta2: 0.95, eps: 1e-8, weightDecay: 0.1, maxGradNorm: 1.0 };

interface Range { start: number; end: number; decay: boolean }

const STORAGE = () => GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST;

export class Optimizer {
  readonly gpu: Gpu;
  readonly model: GPT;
  readonly config: OptimizerConfig;
  readonly m: GPUBuffer;
  readonly v: GPUBuffer;
  /** Number of updates done (AdamW's t; the next update uses step + 1). */
  step = 0;
  private readonly kernel: AdamW;
  private readonly normSq: Tensor;
  private readonly partials: Tensor;
  private ranges: Range[];

  constructor(model: GPT, config: Partial<OptimizerConfig> = {}, trainable: (s: ParamSpec) => boolean = () => true) {
    this.gpu = model.gpu;
    this.model = model;
    this.config = { ...DEFAULT_OPTIMIZER, ...config };
    const bytes = model.layout.total * 4;
    this.m = this.gpu.createBuffer(bytes, STORAGE(), 'adam_m');
    this.v = this.gpu.createBuffer(bytes, STORAGE(), 'adam_v');
    this.gpu.zero(this.flat(this.m, 0, model.layout.total, 'adam_m'));
    this.gpu.zero(this.flat(this.v, 0, model.layout.total, 'adam_v'));
    this.kernel = new AdamW(this.gpu);
    this.normSq = this.gpu.tensor([1], undefined, 'f32', 'grad_norm_sq');
    this.partials = this.gpu.tensor([GRADNORM_PARTIALS], undefined, 'f32', 'grad_norm_partials');
    this.ranges = this.buildRanges(trainable);
  }

  /** Which parameters train (others keep their values; their gradients are ignored, also for clipping). */
  setTrainable(trainable: (s: ParamSpec) => boolean): void {
    this.ranges = this.buildRanges(trainable);
  }

  /** Contiguous element ranges of trainable params with the same decay, split to fit one binding. */
  private buildRanges(trainable: (s: ParamSpec) => boolean): Range[] {
    const specs = this.model.layout.specs;
    const ranges: Range[] = [];
    const maxFloats = Math.floor(this.gpu.limits.maxStorageBufferBindingSize / 4 / 64) * 64;
    for (let i = 0; i < specs.length; i++) {
      const s = specs[i];
      if (!trainable(s)) continue;
      const last = ranges[ranges.length - 1];
      const end = i + 1 < specs.length ? specs[i + 1].offset : this.model.layout.total;
      if (last && last.end === s.offset && last.decay === s.decay && end - last.start <= maxFloats) last.end = end;
      else ranges.push({ start: s.offset, end, decay: s.decay });
    }
    // a single tensor larger than one binding: split it (offsets stay 256-byte aligned)
    const out: Range[] = [];
    for (const r of ranges) {
      for (let s = r.start; s < r.end; s += maxFloats) out.push({ start: s, end: Math.min(r.end, s + maxFloats), decay: r.decay });
    }
    return out;
  }

  private flat(buffer: GPUBuffer, start: number, end: number, name: string): Tensor {
    return { buffer, shape: [end - start], dtype: 'f32', offset: start * 4, size: end - start, name };
  }

  private prepared: { lr: number; gradScale: number } | null = null;

  /**
   * Upload the next update's hyperparameters. Call it before recording the step's forward and
   * backward so the step stays one submission (update() does it itself otherwise).
   */
  prepare(lr: number, gradScale = 1): void {
    const c = this.config;
    this.kernel.setHyperparams({ lr, beta1: c.beta1, beta2: c.beta2, eps: c.eps, step: this.step + 1, gradScale, maxGradNorm: c.maxGradNorm });
    this.prepared = { lr, gradScale };
  }

  /**
   * Record one AdamW update with learning rate `lr` from the gradients in model.grads.
   * `gradScale` multiplies the gradients first (e.g. 1/accumulation steps if the loss was not scaled).
   */
  update(lr: number, gradScale = 1): void {
    const pr = this.prepared;
    if (!pr || pr.lr !== lr || pr.gradScale !== gradScale) this.prepare(lr, gradScale);
    this.prepared = null;
    this.step += 1;
    const c = this.config;
    const g = this.model.grads;
    const p = this.model.params;
    // always computed: it drives clipping, and a non-finite norm makes the kernel skip the update
    const grads = this.ranges.map((r) => this.flat(g, r.start, r.end, 'grads'));
    gradNormSquared(this.gpu, this.normSq, this.partials, ...grads);
    for (const r of this.ranges) {
      this.kernel.update(
        this.flat(p, r.start, r.end, 'params'),
        this.flat(g, r.start, r.end, 'grads'),
        this.flat(this.m, r.start, r.end, 'adam_m'),
        this.flat(this.v, r.start, r.end, 'adam_v'),
        r.decay ? c.weightDecay : 0,
        this.normSq,
      );
    }
  }

  /**
   * The global gradient norm of the last update (reads back; for logging). Non-finite means the
   * update was skipped on the GPU (parameters and moments unchanged).
   */
  async lastGradNorm(): Promise<number> {
    const v = await this.gpu.read(this.normSq);
    return Math.sqrt(v[0]);
  }

  async getState(): Promise<{ m: Float32Array; v: Float32Array; step: number }> {
    const n = this.model.layout.total;
    return { m: await this.gpu.read(this.flat(this.m, 0, n, 'm')), v: await this.gpu.read(this.flat(this.v, 0, n, 'v')), step: this.step };
  }

  setState(s: { m: Float32Array; v: Float32Array; step: number }): void {
    const n = this.model.layout.total;
    this.gpu.write(this.flat(this.m, 0, n, 'm'), s.m);
    this.gpu.write(this.flat(this.v, 0, n, 'v'), s.v);
    this.step = s.step;
    this.prepared = null;
  }

  destroy(): void {
    this.kernel.destroy();
    this.gpu.release(this.normSq, this.partials);
    this.gpu.destroyBuffer(this.m);
    this.gpu.destroyBuffer(this.v);
  }
}
