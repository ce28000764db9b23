/**
 * Fine-tuning a pre-trained GPT for sequence classification (see model/classifier.ts for the head),
 * evaluating it (accuracy, per-class precision / recall, confusion matrix) and predicting.
 *
 * The loop is the Trainer's, for a different loss: per step, forward (GPT + head), backward, then
 * AdamW on the backbone (the same Optimizer as pre-training: trainable ranges, weight decay on
 * 2-D weights, clipping) and AdamW on the head (its own moments, same schedule), in one
 * submission. Events have the Trainer's shapes; evaluations add `accuracy`.
 *
 * Defaults follow language-model fine-tuning (lr 3e-4, 10 warmup steps, batch 8), plus a
 * held-out fraction of 0.2: classification data sets are small and the report needs enough
 * examples per class.
 */
import type { Gpu } from '../gpu/context.ts';
import type { Tensor } from '../gpu/tensor.ts';
import { AdamW } from '../kernels/adamw.ts';
import { GRADNORM_PARTIALS, gradNormSquared } from '../kernels/gradnorm.ts';
import { Optimizer, DEFAULT_OPTIMIZER, type OptimizerConfig } from '../optim/optimizer.ts';
import { lrAt, type Schedule } from '../optim/schedule.ts';
import { LanguageModel } from '../model/language-model.ts';
import { ClassifierError, LabelMismatchError, SequenceClassifier, checkPooling, packSequences, readHead, softmax, type Pooling, type Prediction } from '../model/classifier.ts';
import { labelsOf, LabeledDataError, splitExamples, type LabeledExample } from '../data/labeled.ts';
import { Rng } from '../data/rng.ts';
import { WgptError } from '../errors.ts';
import { NonFiniteError, type TrainEvent } from './trainer.ts';
import { encodeWithUnknownPolicy, FINETUNE_DEFAULTS, resolveParent, trainableFor, type FreezeOptions, type Origin, type ParentCheckpoint, type UnknownCharactersEvent } from './finetune.ts';

export type ClassifyEvent =
  | Exclude<TrainEvent, { event: 'eval' }>
  | { event: 'eval'; step: number; val_loss: number; accuracy: number }
  | UnknownCharactersEvent
  | { event: 'examples'; labels: string[]; train: number; val: number; seq_len: number };

export interface ClassifyOptions extends FreezeOptions {
  /** The pre-trained checkpoint (a language model, or a classifier with the same labels to continue). */
  from: ParentCheckpoint;
  /** A name for the parent in the provenance (e.g. its file name). */
  parentName?: string;
  /** Labelled examples; a stratified, seeded part of them is held out unless `validation` is given. */
  examples: readonly LabeledExample[];
  validation?: readonly LabeledExample[];
  /** Optimizer steps (default 200). */
  steps?: number;
  /** Peak learning rate of backbone and head (default 3e-4). */
  lr?: number;
  /** Peak learning rate of the head only (default: lr). */
  headLr?: number;
  /** Linear warmup steps (default 10, at most steps / 2). */
  warmupSteps?: number;
  /** Sequences per step (default 8). */
  batchSize?: number;
  /** Tokens per sequence: the start of each text (default: the model's context). */
  seqLen?: number;
  /**
   * Which hidden state feeds a new head: the last real token's ('last-token', the default) or the
   * mean over the real tokens ('mean'). A classifier continued from a checkpoint keeps its own
   * pooling; asking for another one is a ClassifierError.
   */
  pooling?: Pooling;
  /** Evaluate on the held-out examples every N steps (default 50; 0: only at the end). */
  evalEvery?: number;
  /** Held-out fraction per label (default 0.2). */
  valFraction?: number;
  /** Stop when the validation loss has not improved for this many evaluations (default 0: never). */
  earlyStopPatience?: number;
  /** Read the loss back every N steps (default 1). */
  logEvery?: number;
  seed?: number;
  optimizer?: Partial<OptimizerConfig>;
  onEvent?: (e: ClassifyEvent) => void | Promise<void>;
  signal?: AbortSignal;
}

/** Per-class precision (of the predictions of this class, the right fraction; 0 when never predicted) and recall. */
export interface ClassReport {
  label: string;
  precision: number;
  recall: number;
  f1: number;
  /** Examples whose true label is this class. */
  support: number;
  /** Examples predicted as this class. */
  predicted: number;
}

export interface ClassificationReport {
  labels: string[];
  n: number;
  accuracy: number;
  /** Mean cross-entropy, when computed from logits. */
  loss?: number;
  perClass: ClassReport[];
  /** confusion[true][predicted] counts, in `labels` order. */
  confusion: number[][];
}

/** Accuracy, per-class precision / recall / F1 and the confusion matrix of class indices. */
export function classificationReport(labels: readonly string[], yTrue: ArrayLike<number>, yPred: ArrayLike<number>): ClassificationReport {
  const K = labels.length;
  if (yTrue.length !== yPred.length) throw new WgptError('CONFIG', `classificationReport: ${yTrue.length} true labels, ${yPred.length} predictions`);
  const confusion = Array.from({ length: K }, () => new Array<number>(K).fill(0));
  let right = 0;
  for (let i = 0; i < yTrue.length; i++) {
    confusion[yTrue[i]][yPred[i]]++;
    if (yTrue[i] === yPred[i]) right++;
  }
  const perClass = labels.map((label, k) => {
    const tp = confusion[k][k];
    const support = confusion[k].reduce((a, b) => a + b, 0);
    const predicted = confusion.reduce((a, row) => a + row[k], 0);
    const precision = predicted > 0 ? tp / predicted : 0;
    const recall = support > 0 ? tp / support : 0;
    const f1 = precision + recall > 0 ? (2 * precision * recall) / (precision + recall) : 0;
    return { label, precision, recall, f1, support, predicted };
  });
  return { labels: [...labels], n: yTrue.length, accuracy: yTrue.length ? right / yTrue.length : NaN, perClass, confusion };
}

/** The report as a fixed-width text table (for the CLI and docs). */
export function formatReport(r: ClassificationReport): string {
  const w = Math.max(8, ...r.labels.map((l) => l.length));
  const lines = [`accuracy ${(100 * r.accuracy).toFixed(1)}% on ${r.n} held-out examples${r.loss !== undefined ? `, loss ${r.loss.toFixed(4)}` : ''}`];
  lines.push(`${'label'.padEnd(w)}  precision  recall     f1  support`);
  for (const c of r.perClass) lines.push(`${c.label.padEnd(w)}  ${c.precision.toFixed(3).padStart(9)}  ${c.recall.toFixed(3).padStart(6)}  ${c.f1.toFixed(3).padStart(5)}  ${String(c.support).padStart(7)}`);
  lines.push(`confusion (rows: true, columns: predicted)`);
  lines.push(`${''.padEnd(w)}  ${r.labels.map((l) => l.padStart(Math.max(6, l.length))).join(' ')}`);
  r.confusion.forEach((row, k) => lines.push(`${r.labels[k].padEnd(w)}  ${row.map((x, j) => String(x).padStart(Math.max(6, r.labels[j].length))).join(' ')}`));
  return lines.join('\n');
}

/** AdamW for the head's two tensors (weight with decay, bias without), clipped by their own norm (not jointly with the backbone's). */
class HeadOptimizer {
  private readonly gpu: Gpu;
  private readonly adam: AdamW;
  private readonly config: OptimizerConfig;
  private readonly groups: { p: Tensor; g: Tensor; m: Tensor; v: Tensor; decay: boolean }[];
  private readonly normSq: Tensor;
  private readonly partials: Tensor;
  step = 0;

  constructor(c: SequenceClassifier, config: OptimizerConfig) {
    this.gpu = c.gpu;
    this.config = config;
    this.adam = new AdamW(this.gpu);
    const zeros = (t: Tensor, name: string) => this.gpu.tensor(t.shape, new Float32Array(t.size), 'f32', name);
    this.groups = [
      { p: c.weight, g: c.dweight, m: zeros(c.weight, 'head.adam_m.w'), v: zeros(c.weight, 'head.adam_v.w'), decay: true },
      { p: c.bias, g: c.dbias, m: zeros(c.bias, 'head.adam_m.b'), v: zeros(c.bias, 'head.adam_v.b'), decay: false },
    ];
    this.normSq = this.gpu.tensor([1], undefined, 'f32', 'head.grad_norm_sq');
    this.partials = this.gpu.tensor([GRADNORM_PARTIALS], undefined, 'f32', 'head.grad_norm_partials');
  }

  /** Upload this step's hyperparameters (before recording the step). */
  prepare(lr: number): void {
    const c = this.config;
    this.adam.setHyperparams({ lr, beta1: c.beta1, beta2: c.beta2, eps: c.eps, step: this.step + 1, maxGradNorm: c.maxGradNorm });
  }

  /** Record the update (after backward). */
  update(): void {
    this.step++;
    // always computed (as in Optimizer): it drives clipping, and a non-finite norm makes the kernel skip the update
    gradNormSquared(this.gpu, this.normSq, this.partials, ...this.groups.map((g) => g.g));
    for (const g of this.groups) this.adam.update(g.p, g.g, g.m, g.v, g.decay ? this.config.weightDecay : 0, this.normSq);
  }

  destroy(): void {
    this.adam.destroy();
    this.gpu.release(this.normSq, this.partials, ...this.groups.flatMap((g) => [g.m, g.v]));
  }
}

/** Random batches of example indices: a seeded shuffle per epoch. */
class EpochSampler {
  private order: number[] = [];
  private pos = 0;
  private readonly rng: Rng;
  constructor(private readonly n: number, seed: number) {
    this.rng = new Rng(seed);
  }
  next(B: number): number[] {
    const out: number[] = [];
    while (out.length < B) {
      if (this.pos >= this.order.length) {
        this.order = Array.from({ length: this.n }, (_, i) => i);
        for (let i = this.n - 1; i > 0; i--) {
          const j = this.rng.nextInt(i + 1);
          [this.order[i], this.order[j]] = [this.order[j], this.order[i]];
        }
        this.pos = 0;
      }
      out.push(this.order[this.pos++]);
    }
    return out;
  }
}

export interface ClassifierRun {
  classifier: SequenceClassifier;
  labels: readonly string[];
  train: readonly LabeledExample[];
  val: readonly LabeledExample[];
  /** Optimizer steps done. */
  readonly step: number;
  /** (step, loss) of logged steps and (step, val_loss, accuracy) of evaluations. */
  readonly history: { step: number; loss?: number; val_loss?: number; accuracy?: number }[];
  /** Train until `steps`, early stop or cancellation; evaluates at the end. */
  run(): Promise<void>;
  /** Report on the held-out examples (accuracy, per class, confusion, loss). */
  evaluate(): Promise<ClassificationReport>;
  /** Checkpoint bytes: fine-tuned GPT, head, labels, provenance (no optimizer state). */
  checkpoint(): Promise<Uint8Array>;
  destroy(): void;
}

function now(): number {
  return typeof performance !== 'undefined' ? performance.now() : Date.now();
}

/** Encode examples under the unknown-character policy; an example with no tokens is a LabeledDataError. */
function encodeExamples(c: SequenceClassifier, examples: readonly LabeledExample[]): { ids: Int32Array[]; unknown: UnknownCharactersEvent | null } {
  const r = encodeWithUnknownPolicy(c.lm.tokenizer, examples.map((e) => e.text));
  r.ids.forEach((ids, i) => {
    if (ids.length === 0) throw new LabeledDataError(examples[i].source ?? `example ${i}`, 'the text has no tokens');
  });
  return r;
}

/**
 * Set up classification fine-tuning (nothing runs until run()). Throws LabeledDataError for an
 * empty data set or a label with no training example, LabelMismatchError when continuing from a
 * classifier whose labels differ, FinetuneError / UnknownCharacterError / CheckpointError as finetune().
 */
export async function finetuneClassifier(gpu: Gpu, o: ClassifyOptions): Promise<ClassifierRun> {
  const d = FINETUNE_DEFAULTS;
  if (!o.examples || o.examples.length === 0) throw new LabeledDataError('(examples)', 'the dataset is empty');
  const seed = o.seed ?? d.seed;
  const { checkpoint, parent } = await resolveParent(o.from, o.parentName);
  const trainable = trainableFor(checkpoint.config, o);
  const split = o.validation ? { train: [...o.examples], val: [...o.validation] } : splitExamples(o.examples, o.valFraction ?? 0.2, seed);
  const dataLabels = labelsOf([...split.train, ...split.val]);
  for (const l of dataLabels) {
    if (!split.train.some((e) => e.label === l)) throw new LabeledDataError(split.val.find((e) => e.label === l)?.source ?? l, `label '${l}' has no training example`);
  }
  if (o.pooling !== undefined) checkPooling(o.pooling, 'finetuneClassifier');
  const head = readHead(checkpoint);
  if (head && o.pooling !== undefined && o.pooling !== head.pooling) {
    throw new ClassifierError(`cannot continue a classifier whose head reads '${head.pooling}' pooling with pooling '${o.pooling}'`);
  }
  const pooling: Pooling = head?.pooling ?? o.pooling ?? 'last-token';
  let labels: string[];
  if (head) {
    const same = head.labels.length === dataLabels.length && dataLabels.every((l) => head.labels.includes(l));
    if (!same) throw new LabelMismatchError(head.labels, dataLabels, 'cannot continue fine-tuning this classifier on these examples');
    labels = head.labels;
  } else {
    labels = dataLabels;
  }
  if (labels.length < 2) throw new LabeledDataError(o.examples[0].source ?? '(examples)', `a classifier needs at least 2 labels, found ${labels.length} (${labels.join(', ')})`);
  const lm = LanguageModel.fromCheckpoint(gpu, checkpoint).model;
  const classifier = SequenceClassifier.create(lm, labels, seed, pooling);
  let opt: Optimizer | null = null;
  let headOpt: HeadOptimizer | null = null;
  try {
    if (head) classifier.setHead(head.weight, head.bias);
    const T = o.seqLen ?? checkpoint.config.blockSize;
    if (!Number.isInteger(T) || T < 1 || T > checkpoint.config.blockSize) throw new ClassifierError(`seqLen must be an integer in [1, ${checkpoint.config.blockSize}], got ${T}`);
    const trainEnc = encodeExamples(classifier, split.train);
    const valEnc = encodeExamples(classifier, split.val);
    const labelIndex = new Map(labels.map((l, k) => [l, k]));
    const trainY = split.train.map((e) => labelIndex.get(e.label)!);
    const valY = split.val.map((e) => labelIndex.get(e.label)!);
    const steps = o.steps ?? d.steps;
    if (!Number.isInteger(steps) || steps < 0) throw new WgptError('CONFIG', `steps must be a non-negative integer, got ${steps}`);
    const B = o.batchSize ?? d.batchSize;
    if (!Number.isInteger(B) || B < 1) throw new WgptError('CONFIG', `batch size must be a positive integer, got ${B}`);
    const lr = o.lr ?? d.lr;
    if (!(lr > 0)) throw new WgptError('CONFIG', `learning rate must be > 0, got ${lr}`);
    const headLr = o.headLr ?? lr;
    const warmupSteps = o.warmupSteps ?? Math.min(d.warmupSteps, Math.floor(steps / 2));
    const schedule: Schedule = { lr, minLr: lr / 10, warmupSteps, decaySteps: steps };
    const headScale = headLr / lr;
    const evalEvery = o.evalEvery ?? d.evalEvery;
    const logEvery = o.logEvery ?? 1;
    const patience = o.earlyStopPatience ?? 0;
    const optConfig = { ...DEFAULT_OPTIMIZER, ...o.optimizer };
    opt = new Optimizer(classifier.gpt, optConfig, trainable);
    headOpt = new HeadOptimizer(classifier, optConfig);
    await gpu.submit(); // the optimizer's recorded zeroing: nothing pending if destroyed without run()
    lm.origin = {
      parent, task: 'classify', steps: 0, date: new Date().toISOString(), lr, labels,
      frozen: { embeddings: !!o.freezeEmbeddings, layers: o.freezeLayers ?? 0 },
    } satisfies Origin;
    const unknown = trainEnc.unknown || valEnc.unknown
      ? mergeUnknown([trainEnc.unknown, valEnc.unknown])
      : null;
    if (unknown) await o.onEvent?.(unknown);
    await o.onEvent?.({ event: 'examples', labels, train: split.train.length, val: split.val.length, seq_len: T });

    const sampler = new EpochSampler(split.train.length, seed);
    const history: ClassifierRun['history'] = [];
    let step = 0;
    let best: number | null = null;
    let badEvals = 0;
    const o2 = { opt, headOpt };

    const trainStep = async (readLoss: boolean): Promise<{ loss: number | null; gradNorm: number | null }> => {
      const rate = lrAt(step, schedule);
      const idx = sampler.next(B);
      const batch = packSequences(idx.map((i) => trainEnc.ids[i]), T);
      const y = Int32Array.from(idx, (i) => trainY[i]);
      o2.opt.prepare(rate);
      o2.headOpt.prepare(rate * headScale);
      classifier.forward(batch, y);
      classifier.zeroGrad();
      classifier.backward();
      o2.opt.update(rate);
      o2.headOpt.update();
      step++;
      if (!readLoss) {
        await gpu.submit();
        return { loss: null, gradNorm: null };
      }
      const loss = await classifier.meanLoss();
      return { loss, gradNorm: await o2.opt.lastGradNorm() };
    };

    const evaluate = async (): Promise<ClassificationReport> => {
      if (split.val.length === 0) throw new LabeledDataError('(validation)', 'no held-out examples to evaluate on');
      const logits = await classifier.scoreIds(valEnc.ids, B, T);
      return reportFromLogits(labels, logits, valY);
    };

    const run = async (): Promise<void> => {
      const t0 = now();
      let lastT = t0, lastStep = step;
      const tokensPerStep = B * T;
      const evalNow = async (): Promise<boolean> => {
        const r = await evaluate();
        history.push({ step, val_loss: r.loss, accuracy: r.accuracy });
        await o.onEvent?.({ event: 'eval', step, val_loss: r.loss!, accuracy: r.accuracy });
        if (best === null || r.loss! < best) {
          best = r.loss!;
          badEvals = 0;
        } else if (patience > 0 && ++badEvals >= patience) {
          await o.onEvent?.({ event: 'early_stop', step, best_val_loss: best });
          return true;
        }
        return false;
      };
      while (step < steps) {
        if (o.signal?.aborted) {
          await gpu.sync();
          await o.onEvent?.({ event: 'cancelled', step });
          return;
        }
        const log = (step + 1) % logEvery === 0 || step + 1 === steps;
        const { loss, gradNorm } = await trainStep(log);
        if (loss !== null) {
          if (!Number.isFinite(loss)) throw new NonFiniteError(step, 'loss', loss);
          if (gradNorm !== null && !Number.isFinite(gradNorm)) throw new NonFiniteError(step, 'gradient norm', gradNorm);
          const t = now();
          const tps = ((step - lastStep) * tokensPerStep) / ((t - lastT) / 1000);
          lastT = t;
          lastStep = step;
          history.push({ step, loss });
          await o.onEvent?.({
            event: 'step', step, loss, lr: lrAt(step - 1, schedule), tokens_per_s: tps, elapsed_ms: t - t0,
            eta_ms: (steps - step) * (tokensPerStep / Math.max(tps, 1e-9)) * 1000, ...(gradNorm !== null ? { grad_norm: gradNorm } : {}),
          });
        }
        const due = evalEvery > 0 ? step % evalEvery === 0 || step === steps : step === steps;
        if (due && split.val.length > 0 && (await evalNow())) break;
      }
      await o.onEvent?.({ event: 'done', step, elapsed_ms: now() - t0 });
    };

    return {
      classifier,
      labels,
      train: split.train,
      val: split.val,
      get step() { return step; },
      history,
      run,
      evaluate,
      async checkpoint() {
        lm.origin = { ...lm.origin, steps: step, date: new Date().toISOString() };
        return classifier.toCheckpoint();
      },
      destroy() {
        o2.opt.destroy();
        o2.headOpt.destroy();
        classifier.destroy();
      },
    };
  } catch (e) {
    opt?.destroy();
    headOpt?.destroy();
    classifier.destroy();
    throw e;
  }
}

function mergeUnknown(rs: (UnknownCharactersEvent | null)[]): UnknownCharactersEvent {
  const chars = new Set<string>();
  let count = 0, distinct = 0;
  for (const r of rs) {
    if (!r) continue;
    count += r.count;
    distinct = Math.max(distinct, r.distinct);
    for (const c of r.characters) chars.add(c);
  }
  return { event: 'unknown_characters', count, distinct: Math.max(distinct, chars.size), characters: [...chars].slice(0, 10), replaced_with: '<unk>' };
}

/** Report (with the mean cross-entropy) from logits (n,K) and true class indices. */
export function reportFromLogits(labels: readonly string[], logits: Float32Array, y: readonly number[]): ClassificationReport {
  const K = labels.length;
  const pred: number[] = [];
  let loss = 0;
  for (let i = 0; i < y.length; i++) {
    const p = softmax(logits.subarray(i * K, (i + 1) * K));
    let best = 0;
    for (let k = 1; k < K; k++) if (p[k] > p[best]) best = k;
    pred.push(best);
    loss -= Math.log(Math.max(p[y[i]], 1e-300));
  }
  return { ...classificationReport(labels, y, pred), loss: y.length ? loss / y.length : NaN };
}

/**
 * Predict labels of texts with a classifier (unknown characters map to `<unk>` where the tokenizer
 * has one and are returned in `unknown`; otherwise UnknownCharacterError). Throws ClassifierError
 * for an empty text.
 */
export async function predict(classifier: SequenceClassifier, texts: readonly string[], batchSize = 16): Promise<{ predictions: Prediction[]; unknown: UnknownCharactersEvent | null }> {
  texts.forEach((t, i) => {
    if (typeof t !== 'string' || t.length === 0) throw new ClassifierError(`text ${i} is empty: nothing to classify`);
  });
  const { ids, unknown } = encodeWithUnknownPolicy(classifier.lm.tokenizer, texts);
  return { predictions: await classifier.predictIds(ids, batchSize), unknown };
}

/**
 * Evaluate a classifier on labelled examples. Throws LabelMismatchError when the examples carry
 * labels the head does not have.
 */
export async function evaluateClassifier(classifier: SequenceClassifier, examples: readonly LabeledExample[], batchSize = 16): Promise<ClassificationReport> {
  if (examples.length === 0) throw new LabeledDataError('(examples)', 'the dataset is empty');
  const dataLabels = labelsOf(examples);
  if (dataLabels.some((l) => !classifier.labels.includes(l))) throw new LabelMismatchError(classifier.labels, dataLabels, 'cannot evaluate on these examples');
  const { ids } = encodeExamples(classifier, examples);
  const B = Math.min(batchSize, ids.length);
  const logits = await classifier.scoreIds(ids, B, classifier.lm.config.blockSize);
  return reportFromLogits(classifier.labels, logits, examples.map((e) => classifier.labels.indexOf(e.label)));
}
