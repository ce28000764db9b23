/**
 * The training loop shared by pre-training and fine-tuning (nanoGPT's idea: fine-tuning is a
 * config override of pre-training, not a second code path).
 *
 * Each step: for each micro-batch, forward + backward (gradients accumulate), then clip + AdamW,
 * all recorded into one command submission per micro-batch; the loss is read back only on
 * logging steps. Progress is reported through `onEvent`; `signal` cancels between steps.
 */
import type { GPT } from '../model/gpt.ts';
import { Optimizer, type OptimizerConfig } from '../optim/optimizer.ts';
import { lrAt, type Schedule } from '../optim/schedule.ts';
import type { ParamSpec } from '../model/params.ts';
import { WgptError } from '../errors.ts';

/** A source of (inputs, targets) batches whose position can be saved and restored exactly. */
export interface BatchSource {
  /** B*T input ids and B*T targets (-1: no loss at that position). */
  next(B: number, T: number): { inputs: Int32Array; targets: Int32Array };
  /** Serializable position (RNG state, cursor). */
  getState(): unknown;
  setState(s: unknown): void;
}

export interface TrainOptions {
  /** Optimizer steps to run (total, counting steps already done when resuming). */
  steps: number;
  batchSize: number;
  /** Context length per sequence (defaults to the model's blockSize). */
  seqLen?: number;
  /** Peak learning rate. */
  lr: number;
  /** Floor of the cosine decay (default lr / 10). */
  minLr?: number;
  /** Linear warmup steps (default min(100, steps / 10)). */
  warmupSteps?: number;
  /** Micro-batches per optimizer step (gradient accumulation). */
  accumSteps?: number;
  optimizer?: Partial<OptimizerConfig>;
  /** Evaluate validation loss every N steps (0: never) over `evalBatches` batches. */
  evalEvery?: number;
  evalBatches?: number;
  /** Read the training loss back and emit a step event every N steps (default 1). */
  logEvery?: number;
  /** Which parameters train (fine-tuning can freeze embeddings or blocks). */
  trainable?: (s: ParamSpec) => boolean;
  /** Stop early when the validation loss has not improved for this many evaluations (0: never). */
  earlyStopPatience?: number;
  /**
   * What to do when the loss or gradient norm is NaN/Inf (checked whenever the loss is read back,
   * every `logEvery` steps): stop with NonFiniteError naming the step (default), or skip the step.
   * Either way the bad update itself is never applied: the AdamW kernel skips it on the GPU.
   */
  onNonFinite?: 'stop' | 'skip';
  onEvent?: (e: TrainEvent) => void | Promise<void>;
  signal?: AbortSignal;
}

export type TrainEvent =
  | { event: 'step'; step: number; loss: number; lr: number; tokens_per_s: number; elapsed_ms: number; eta_ms: number; grad_norm?: number }
  | { event: 'eval'; step: number; val_loss: number }
  | { event: 'skip'; step: number; reason: string }
  | { event: 'early_stop'; step: number; best_val_loss: number }
  | { event: 'cancelled'; step: number }
  | { event: 'done'; step: number; elapsed_ms: number };

/** Training produced a NaN or infinite loss or gradient norm. */
export class NonFiniteError extends WgptError {
  readonly step: number;
  constructor(step: number, what: string, value: number) {
    super('NON_FINITE', `training diverged at step ${step}: ${what} is ${value}. Lower the learning rate or check the data.`);
    this.step = step;
  }
}

/** Everything needed to continue training exactly where it stopped. */
export interface TrainState {
  step: number;
  optimizer: { m: Float32Array; v: Float32Array; step: number };
  data: unknown;
  bestValLoss: number | null;
}

function now(): number {
  return typeof performance !== 'undefined' ? performance.now() : Date.now();
}

export class Trainer {
  readonly model: GPT;
  readonly opt: Optimizer;
  readonly options: Required<Omit<TrainOptions, 'onEvent' | 'signal' | 'trainable' | 'optimizer' | 'minLr' | 'warmupSteps' | 'seqLen'>> & TrainOptions;
  readonly schedule: Schedule;
  readonly seqLen: number;
  /** Optimizer steps completed. */
  step = 0;
  bestValLoss: number | null = null;
  private badEvals = 0;
  readonly train: BatchSource;
  readonly val: BatchSource | null;
  /** Loss history (step, loss) of logged steps and evals, for plots. */
  readonly history: { step: number; loss?: number; val_loss?: number }[] = [];

  constructor(model: GPT, train: BatchSource, val: BatchSource | null, options: TrainOptions) {
    this.model = model;
    this.train = train;
    this.val = val;
    const o = options;
    if (!(o.steps >= 0) || !Number.isInteger(o.steps)) throw new WgptError('CONFIG', `steps must be a non-negative integer, got ${o.steps}`);
    if (!(o.batchSize > 0) || !Number.isInteger(o.batchSize)) throw new WgptError('CONFIG', `batch size must be a positive integer, got ${o.batchSize}`);
    if (!(o.lr > 0)) throw new WgptError('CONFIG', `learning rate must be > 0, got ${o.lr}`);
    this.seqLen = o.seqLen ?? model.config.blockSize;
    if (this.seqLen > model.config.blockSize) throw new WgptError('CONFIG', `sequence length ${this.seqLen} is longer than the model's block size ${model.config.blockSize}`);
    this.options = { accumSteps: 1, evalEvery: 0, evalBatches: 4, logEvery: 1, earlyStopPatience: 0, onNonFinite: 'stop', ...o } as any;
    this.schedule = {
      lr: o.lr,
      minLr: o.minLr ?? o.lr / 10,
      warmupSteps: o.warmupSteps ?? Math.min(100, Math.floor(o.steps / 10)),
      decaySteps: o.steps,
    };
    this.opt = new Optimizer(model, o.optimizer ?? {}, o.trainable ?? (() => true));
  }

  /** Mean validation loss over `batches` batches from the validation source (its state is restored after). */
  async evaluate(batches = this.options.evalBatches): Promise<number> {
    if (!this.val) throw new WgptError('CONFIG', 'no validation data');
    const saved = this.val.getState();
    let sum = 0;
    for (let i = 0; i < batches; i++) {
      const { inputs, targets } = this.val.next(this.options.batchSize, this.seqLen);
      this.model.forward(inputs, this.options.batchSize, this.seqLen, targets);
      sum += await this.model.meanLoss();
    }
    this.val.setState(saved);
    return sum / batches;
  }

  /** One optimizer step (all micro-batches). Returns the mean loss if `readLoss`. */
  async trainStep(readLoss: boolean): Promise<{ loss: number | null; gradNorm: number | null }> {
    const { batchSize: B, accumSteps } = this.options;
    const T = this.seqLen;
    const lr = lrAt(this.step, this.schedule);
    this.opt.prepare(lr);
    this.model.zeroGrad();
    let lossSum = 0;
    for (let micro = 0; micro < accumSteps; micro++) {
      const { inputs, targets } = this.train.next(B, T);
      this.model.forward(inputs, B, T, targets, 1 / accumSteps);
      this.model.backward();
      if (micro < accumSteps - 1) {
        if (readLoss) lossSum += await this.model.meanLoss();
        else await this.model.gpu.submit();
      }
    }
    this.opt.update(lr);
    let loss: number | null = null;
    let gradNorm: number | null = null;
    if (readLoss) {
      lossSum += await this.model.meanLoss(); // submits the step
      loss = lossSum / accumSteps;
      gradNorm = await this.opt.lastGradNorm();
    } else {
      await this.model.gpu.submit();
    }
    this.step++;
    return { loss, gradNorm };
  }

  /** Run until options.steps (or cancellation / early stop). */
  async run(): Promise<void> {
    const o = this.options;
    const t0 = now();
    let lastT = t0;
    let lastStep = this.step;
    const tokensPerStep = o.batchSize * this.seqLen * o.accumSteps;
    while (this.step < o.steps) {
      if (o.signal?.aborted) {
        await this.model.gpu.sync();
        await o.onEvent?.({ event: 'cancelled', step: this.step });
        return;
      }
      const log = (this.step + 1) % o.logEvery === 0 || this.step + 1 === o.steps;
      const { loss, gradNorm } = await this.trainStep(log);
      if (log && loss !== null) {
        const bad = !Number.isFinite(loss) ? ['loss', loss] : gradNorm !== null && !Number.isFinite(gradNorm) ? ['gradient norm', gradNorm] : null;
        if (bad) {
          // the AdamW kernel already skipped this update on the GPU (non-finite gradient norm)
          if (o.onNonFinite === 'stop') throw new NonFiniteError(this.step, bad[0] as string, bad[1] as number);
          await o.onEvent?.({ event: 'skip', step: this.step, reason: `${bad[0]} is ${bad[1]}; the update was skipped` });
          continue;
        }
        const t = now();
        const tps = ((this.step - lastStep) * tokensPerStep) / ((t - lastT) / 1000);
        lastT = t;
        lastStep = this.step;
        const elapsed = t - t0;
        this.history.push({ step: this.step, loss });
        await o.onEvent?.({
          event: 'step', step: this.step, loss, lr: lrAt(this.step - 1, this.schedule), tokens_per_s: tps,
          elapsed_ms: elapsed, eta_ms: (o.steps - this.step) * (tokensPerStep / Math.max(tps, 1e-9)) * 1000,
          ...(gradNorm !== null ? { grad_norm: gradNorm } : {}),
        });
      }
      if (this.val && o.evalEvery > 0 && (this.step % o.evalEvery === 0 || this.step === o.steps)) {
        const valLoss = await this.evaluate();
        this.history.push({ step: this.step, val_loss: valLoss });
        await o.onEvent?.({ event: 'eval', step: this.step, val_loss: valLoss });
        if (this.bestValLoss === null || valLoss < this.bestValLoss) {
          this.bestValLoss = valLoss;
          this.badEvals = 0;
        } else if (o.earlyStopPatience > 0 && ++this.badEvals >= o.earlyStopPatience) {
          await o.onEvent?.({ event: 'early_stop', step: this.step, best_val_loss: this.bestValLoss });
          break;
        }
      }
    }
    await o.onEvent?.({ event: 'done', step: this.step, elapsed_ms: now() - t0 });
  }

  async getState(): Promise<TrainState> {
    return { step: this.step, optimizer: await this.opt.getState(), data: this.train.getState(), bestValLoss: this.bestValLoss };
  }

  setState(s: TrainState): void {
    this.step = s.step;
    this.opt.setState(s.optimizer);
    this.train.setState(s.data);
    this.bestValLoss = s.bestValLoss;
  }

  destroy(): void {
    this.opt.destroy();
  }
}
