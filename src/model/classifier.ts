/**
 * Sequence classification on top of a (pre-trained) GPT: a linear head on a pooled final hidden
 * state of each sequence, by default that of its LAST real token.
 *
 *   h      (B,C)  = pooled hiddenStates (the output of ln_f), n_b = min(len_b, T) real tokens:
 *                   'last-token': the row b*T + (n_b - 1)
 *                   'mean':       the mean of the rows b*T + 0 .. b*T + n_b - 1
 *   logits (B,K)  = h . W^T + b          W (K,C) 'head.weight', b (K) 'head.bias'
 *   loss          = mean over b of cross-entropy(logits[b], label[b])
 *
 * Why the last token: attention is causal, so only the last real token has seen the whole
 * sequence (the GPT-2 / HF GPT2ForSequenceClassification choice). Mean pooling reads every real
 * position instead (each one has seen its prefix). Sequences are the start of each text
 * (truncated to the context), left-aligned; shorter ones are padded with id 0 after their end,
 * which causal attention keeps from influencing the positions before it (and pooling never reads).
 *
 * Backward: the head's dW, db (+=) and dh (B,C); dh is scattered into the GPT's hiddenGrad (zeroed
 * first) and the GPT's backward runs from there. Last token: gather and scatter are B row copies
 * recorded in order with the dispatches (no extra kernel; one row per sequence, so a copy is the
 * sum). Mean: a batched matmul with the (B,T) pooling weights P (P[b,t] = 1/n_b for t < n_b, else
 * 0): h[b] (1,C) = P[b] (1,T) . hidden[b] (T,C), and dhidden[b] (T,C) += P[b]^T (T,1) . dh[b] (1,C).
 *
 * Legend: B batch, T time, C channels, K classes (labels), V vocab.
 */
import type { Gpu } from '../gpu/context.ts';
import type { Tensor } from '../gpu/tensor.ts';
import { ShapeError, WgptError } from '../errors.ts';
import { matmul, matmulBackward, matmulForward } from '../kernels/matmul.ts';
import { crossEntropy } from '../kernels/crossentropy.ts';
import { decodeCheckpoint, CheckpointError, type Checkpoint } from '../checkpoint/checkpoint.ts';
import { LanguageModel } from './language-model.ts';
import { gaussian, type GPT } from './gpt.ts';

export const HEAD_TYPE = 'sequence-classification';
export const HEAD_WEIGHT = 'head.weight';
export const HEAD_BIAS = 'head.bias';

/** Which hidden state(s) feed the head: the last real token's, or the mean over the real tokens. */
export type Pooling = 'last-token' | 'mean';
export const POOLINGS: readonly Pooling[] = ['last-token', 'mean'];

/** The checkpoint's `head` metadata for a classifier. */
export interface ClassifierHeadMeta {
  type: typeof HEAD_TYPE;
  /** Label of class k = labels[k]. */
  labels: string[];
  /** Which hidden state feeds the head (checkpoints written before mean pooling existed lack it: 'last-token'). */
  pooling: Pooling;
  tensors: [typeof HEAD_WEIGHT, typeof HEAD_BIAS];
}

/** A checkpoint has no usable classification head, or a classifier is used inconsistently. */
export class ClassifierError extends WgptError {
  constructor(message: string) { super('CLASSIFIER', message); }
}

/** Data labels that the classification head does not have (or a head with other labels). */
export class LabelMismatchError extends WgptError {
  readonly headLabels: string[];
  readonly dataLabels: string[];
  constructor(headLabels: readonly string[], dataLabels: readonly string[], what: string) {
    const unknown = dataLabels.filter((l) => !headLabels.includes(l));
    super('LABEL_MISMATCH', `${what}: the head's labels are [${headLabels.map((l) => JSON.stringify(l)).join(', ')}], the data's are [${dataLabels.map((l) => JSON.stringify(l)).join(', ')}]${unknown.length ? ` (not in the head: ${unknown.map((l) => JSON.stringify(l)).join(', ')})` : ''}`);
    this.headLabels = [...headLabels];
    this.dataLabels = [...dataLabels];
  }
}

/** One batch packed for the GPU. */
export interface PackedBatch {
  /** (B,T) token ids, each sequence left-aligned, padded with 0 after its end. */
  inputs: Int32Array;
  /** (B) position of the last real token of each sequence, in [0, T). */
  last: Int32Array;
  B: number;
  T: number;
}

/**
 * Pack B token sequences into (B, T): the first min(len, T) ids of each, left-aligned, padded with
 * id 0. Throws ShapeError for an empty sequence (it has no last token).
 */
export function packSequences(seqs: readonly Int32Array[], T: number): PackedBatch {
  const B = seqs.length;
  if (B === 0) throw new ShapeError('packSequences: no sequences');
  if (!Number.isInteger(T) || T < 1) throw new ShapeError(`packSequences: T must be a positive integer, got ${T}`);
  const inputs = new Int32Array(B * T);
  const last = new Int32Array(B);
  for (let b = 0; b < B; b++) {
    const n = Math.min(seqs[b].length, T);
    if (n === 0) throw new ShapeError(`packSequences: sequence ${b} is empty (0 tokens); a classifier needs at least one token per text`);
    inputs.set(seqs[b].subarray(0, n), b * T);
    last[b] = n - 1;
  }
  return { inputs, last, B, T };
}

/** Scratch for one batch size B. */
class HeadActs {
  readonly B: number;
  readonly h: Tensor; // (B,C) gathered hidden states
  readonly dh: Tensor; // (B,C)
  readonly logits: Tensor; // (B,K)
  readonly dlogits: Tensor; // (B,K)
  readonly losses: Tensor; // (B)
  readonly targets: Tensor; // (B) i32
  readonly scale: Tensor; // (1)
  readonly T: number;
  readonly pool: Tensor | null; // (B,T) mean-pooling weights (null for last-token pooling)
  constructor(gpu: Gpu, B: number, T: number, C: number, K: number, pooling: Pooling) {
    this.B = B;
    this.h = gpu.tensor([B, C], undefined, 'f32', 'head.h');
    this.dh = gpu.tensor([B, C], undefined, 'f32', 'head.dh');
    this.logits = gpu.tensor([B, K], undefined, 'f32', 'head.logits');
    this.dlogits = gpu.tensor([B, K], undefined, 'f32', 'head.dlogits');
    this.losses = gpu.tensor([B], undefined, 'f32', 'head.losses');
    this.targets = gpu.tensor([B], undefined, 'i32', 'head.targets');
    this.scale = gpu.tensor([1], undefined, 'f32', 'head.loss_scale');
    this.T = T;
    this.pool = pooling === 'mean' ? gpu.tensor([B, T], undefined, 'f32', 'head.pool') : null;
  }
  destroy(gpu: Gpu): void {
    gpu.release(this.h, this.dh, this.logits, this.dlogits, this.losses, this.targets, this.scale);
    if (this.pool) gpu.release(this.pool);
  }
}

/** One prediction: the most probable label and every class probability (in `labels` order). */
export interface Prediction {
  label: string;
  index: number;
  probs: number[];
}

export class SequenceClassifier {
  readonly lm: LanguageModel;
  readonly labels: readonly string[];
  readonly pooling: Pooling;
  /** (K,C) head weight (nn.Linear layout) and its gradient. */
  readonly weight: Tensor;
  readonly dweight: Tensor;
  /** (K) head bias and its gradient. */
  readonly bias: Tensor;
  readonly dbias: Tensor;
  private acts: HeadActs | null = null;
  private rows: number[] = [];
  private haveLabels = false;

  private constructor(lm: LanguageModel, labels: readonly string[], pooling: Pooling) {
    checkLabels(labels, 'classifier labels');
    checkPooling(pooling, 'classifier pooling');
    this.lm = lm;
    this.labels = Object.freeze([...labels]);
    this.pooling = pooling;
    const gpu = lm.gpt.gpu;
    const K = labels.length, C = lm.config.nEmbd;
    this.weight = gpu.tensor([K, C], undefined, 'f32', HEAD_WEIGHT);
    this.dweight = gpu.tensor([K, C], undefined, 'f32', 'd:' + HEAD_WEIGHT);
    this.bias = gpu.tensor([K], undefined, 'f32', HEAD_BIAS);
    this.dbias = gpu.tensor([K], undefined, 'f32', 'd:' + HEAD_BIAS);
  }

  /**
   * A new head (normal(0, 0.02) weight, zero bias, seeded) on `lm`, reading `pooling` (default
   * 'last-token'); the classifier owns lm from now on. Throws ClassifierError for an unknown pooling.
   */
  static create(lm: LanguageModel, labels: readonly string[], seed = 1337, pooling: Pooling = 'last-token'): SequenceClassifier {
    const c = new SequenceClassifier(lm, labels, pooling);
    const normal = gaussian(seed);
    const w = new Float32Array(c.weight.size);
    for (let i = 0; i < w.length; i++) w[i] = 0.02 * normal();
    c.setHead(w, new Float32Array(c.bias.size));
    return c;
  }

  /**
   * Load a classifier checkpoint (a fine-tuned GPT plus head tensors and labels). Throws
   * ClassifierError when the checkpoint has no classification head, CheckpointError naming the
   * head tensor whose shape does not fit.
   */
  static fromCheckpoint(gpu: Gpu, bytes: Uint8Array | Checkpoint): { classifier: SequenceClassifier; checkpoint: Checkpoint } {
    const ck = bytes instanceof Uint8Array ? decodeCheckpoint(bytes) : bytes;
    const head = readHead(ck);
    if (!head) throw new ClassifierError('the checkpoint has no classification head (it is a language model); fine-tune it for classification first (wgpt finetune --task classify)');
    const { model } = LanguageModel.fromCheckpoint(gpu, ck);
    const c = new SequenceClassifier(model, head.labels, head.pooling);
    c.setHead(head.weight, head.bias);
    return { classifier: c, checkpoint: ck };
  }

  get gpu(): Gpu {
    return this.lm.gpt.gpu;
  }

  get gpt(): GPT {
    return this.lm.gpt;
  }

  get numClasses(): number {
    return this.labels.length;
  }

  /** Upload head parameters: weight (K*C), bias (K). */
  setHead(weight: Float32Array, bias: Float32Array): void {
    this.gpu.write(this.weight, weight);
    this.gpu.write(this.bias, bias);
  }

  async getHead(): Promise<{ weight: Float32Array; bias: Float32Array }> {
    return { weight: await this.gpu.read(this.weight), bias: await this.gpu.read(this.bias) };
  }

  private scratch(B: number, T: number): HeadActs {
    if (this.acts && this.acts.B === B && (!this.acts.pool || this.acts.T === T)) return this.acts;
    this.acts?.destroy(this.gpu);
    this.acts = new HeadActs(this.gpu, B, T, this.lm.config.nEmbd, this.numClasses, this.pooling);
    return this.acts;
  }

  /**
   * Record the forward pass of a packed batch. With `labels` (B class indices in [0, K)) it also
   * records the loss (mean over the batch, times gradScale) and dlogits, ready for backward().
   */
  forward(batch: PackedBatch, labels: Int32Array | null = null, gradScale = 1): void {
    const { inputs, last, B, T } = batch;
    const C = this.lm.config.nEmbd, K = this.numClasses;
    if (last.length !== B) throw new ShapeError(`classifier forward: ${last.length} last positions for B=${B}`);
    for (let b = 0; b < B; b++) {
      if (!(last[b] >= 0 && last[b] < T)) throw new ShapeError(`classifier forward: last position ${last[b]} of sequence ${b} is outside [0, ${T})`);
    }
    const a = this.scratch(B, T);
    // uploads first, then recording (one submission per step)
    if (a.pool) {
      const p = new Float32Array(B * T); // P[b,t] = 1/n_b for t < n_b = last[b] + 1
      for (let b = 0; b < B; b++) p.fill(1 / (last[b] + 1), b * T, b * T + last[b] + 1);
      this.gpu.write(a.pool, p);
    }
    if (labels) {
      if (labels.length !== B) throw new ShapeError(`classifier forward: ${labels.length} labels for B=${B}`);
      for (let b = 0; b < B; b++) {
        if (!(labels[b] >= 0 && labels[b] < K)) throw new ShapeError(`classifier forward: label ${labels[b]} of sequence ${b} is outside [0, ${K})`);
      }
      this.gpu.write(a.targets, labels);
      this.gpu.write(a.scale, new Float32Array([gradScale / B]));
    }
    this.gpt.forward(inputs, B, T, null, 1, { head: 'none' });
    const hidden = this.gpt.hiddenStates; // (B,T,C)
    if (a.pool) {
      // h[b] (1,C) = P[b] (1,T) . hidden[b] (T,C)
      matmul(this.gpu, a.h, a.pool, hidden, 1, C, T, { batch: B, strideA: T, strideB: T * C, strideC: C });
    } else {
      this.rows = Array.from(last, (t, b) => b * T + t);
      this.rows.forEach((row, b) => this.gpu.copyRange(a.h, b * C, hidden, row * C, C));
    }
    matmulForward(this.gpu, a.logits, a.h, this.weight, this.bias);
    this.haveLabels = !!labels;
    if (labels) crossEntropy(this.gpu, a.losses, a.dlogits, a.logits, a.targets, a.scale);
  }

  /** Zero the gradients of the GPT and of the head. */
  zeroGrad(): void {
    this.gpt.zeroGrad();
    this.gpu.zero(this.dweight);
    this.gpu.zero(this.dbias);
  }

  /** Record the backward pass: head gradients and all GPT gradients are ADDED (+=). */
  backward(): void {
    const a = this.acts;
    if (!a || !this.haveLabels) throw new ShapeError('classifier backward: call forward with labels first');
    const C = this.lm.config.nEmbd;
    this.gpu.zero(a.dh);
    matmulBackward(this.gpu, a.dh, this.dweight, this.dbias, a.dlogits, a.h, this.weight);
    const dhidden = this.gpt.hiddenGrad; // (B,T,C)
    this.gpu.zero(dhidden);
    if (a.pool) {
      // dhidden[b] (T,C) += P[b]^T (T,1) . dh[b] (1,C); P[b] is stored (1,T), i.e. transposed
      const T = a.T;
      matmul(this.gpu, dhidden, a.pool, a.dh, T, C, 1, { batch: a.B, transA: true, strideA: T, strideB: C, strideC: T * C, accumulate: true });
    } else {
      // each sequence owns one row, so copying dh there is the same as adding it to zero
      this.rows.forEach((row, b) => this.gpu.copyRange(dhidden, row * C, a.dh, b * C, C));
    }
    this.gpt.backward();
  }

  /** Mean loss of the last forward with labels (reads back). */
  async meanLoss(): Promise<number> {
    if (!this.acts || !this.haveLabels) throw new ShapeError('meanLoss: no forward pass with labels yet');
    const l = await this.gpu.read(this.acts.losses);
    let s = 0;
    for (const x of l) s += x;
    return s / l.length;
  }

  /** Logits (B,K) of the last forward (reads back). */
  async logits(): Promise<Float32Array> {
    if (!this.acts) throw new ShapeError('logits: no forward pass yet');
    return this.gpu.read(this.acts.logits);
  }

  /** (B,C) pooled hidden states of the last forward (reads back; for tests). */
  async pooled(): Promise<Float32Array> {
    if (!this.acts) throw new ShapeError('pooled: no forward pass yet');
    return this.gpu.read(this.acts.h);
  }

  /**
   * Logits (n,K) of token sequences, scored in batches of exactly `batchSize` rows of T tokens (the
   * last batch padded with copies of the first sequence, whose rows are dropped), so training and
   * evaluation share one activation allocation.
   */
  async scoreIds(seqs: readonly Int32Array[], batchSize: number, T = this.lm.config.blockSize): Promise<Float32Array> {
    const K = this.numClasses;
    const out = new Float32Array(seqs.length * K);
    for (let s = 0; s < seqs.length; s += batchSize) {
      const chunk = seqs.slice(s, s + batchSize);
      const real = chunk.length;
      while (chunk.length < batchSize) chunk.push(seqs[0]);
      this.forward(packSequences(chunk, T));
      const l = await this.logits();
      out.set(l.subarray(0, real * K), s * K);
    }
    return out;
  }

  /**
   * Predict labels for texts, encoded with the model's tokenizer (unknown characters become
   * `<unk>` where the tokenizer has one, see encodeWithUnknownPolicy).
   */
  async predictIds(seqs: readonly Int32Array[], batchSize = 16): Promise<Prediction[]> {
    if (seqs.length === 0) return [];
    const B = Math.min(batchSize, seqs.length);
    const T = Math.min(this.lm.config.blockSize, Math.max(...seqs.map((s) => s.length)));
    const logits = await this.scoreIds(seqs, B, T);
    const K = this.numClasses;
    return seqs.map((_, i) => {
      const probs = softmax(logits.subarray(i * K, (i + 1) * K));
      let best = 0;
      for (let k = 1; k < K; k++) if (probs[k] > probs[best]) best = k;
      return { label: this.labels[best], index: best, probs };
    });
  }

  /** Checkpoint bytes: the GPT, the tokenizer, the provenance (lm.origin) and the head. */
  async toCheckpoint(): Promise<Uint8Array> {
    const { weight, bias } = await this.getHead();
    const meta: ClassifierHeadMeta = { type: HEAD_TYPE, labels: [...this.labels], pooling: this.pooling, tensors: [HEAD_WEIGHT, HEAD_BIAS] };
    return this.lm.toCheckpoint({
      head: {
        meta: meta as unknown as Record<string, unknown>,
        tensors: [
          { name: HEAD_WEIGHT, shape: [...this.weight.shape], data: weight },
          { name: HEAD_BIAS, shape: [...this.bias.shape], data: bias },
        ],
      },
    });
  }

  destroy(): void {
    this.acts?.destroy(this.gpu);
    this.acts = null;
    this.gpu.release(this.weight, this.dweight, this.bias, this.dbias);
    this.lm.destroy();
  }
}

/** Softmax of one row of logits, in float64. */
export function softmax(row: ArrayLike<number>): number[] {
  let max = -Infinity;
  for (let i = 0; i < row.length; i++) max = Math.max(max, row[i]);
  const e = Array.from(row, (x) => Math.exp(x - max));
  const s = e.reduce((a, b) => a + b, 0);
  return e.map((x) => x / s);
}

/** Throw ClassifierError unless `labels` are >= 2 distinct non-empty strings. */
export function checkLabels(labels: readonly unknown[], what: string): asserts labels is string[] {
  if (!Array.isArray(labels) || labels.length < 2) throw new ClassifierError(`${what}: a classifier needs at least 2 labels, got ${JSON.stringify(labels)}`);
  const seen = new Set<string>();
  for (const l of labels) {
    if (typeof l !== 'string' || l.length === 0) throw new ClassifierError(`${what}: labels must be non-empty strings, got ${JSON.stringify(l)}`);
    if (seen.has(l)) throw new ClassifierError(`${what}: label ${JSON.stringify(l)} appears twice`);
    seen.add(l);
  }
}

/** Throw ClassifierError unless `pooling` is one of POOLINGS. */
export function checkPooling(pooling: unknown, what: string): asserts pooling is Pooling {
  if (!POOLINGS.includes(pooling as Pooling)) throw new ClassifierError(`${what}: pooling must be one of ${POOLINGS.map((p) => `'${p}'`).join(', ')}, got ${JSON.stringify(pooling)}`);
}

/**
 * The classification head stored in a checkpoint, validated against its config, or null when the
 * checkpoint has none. A head without `pooling` metadata reads the last token. Throws
 * CheckpointError naming a head tensor with the wrong shape, or for an unknown pooling.
 */
export function readHead(ck: Checkpoint): { labels: string[]; pooling: Pooling; weight: Float32Array; bias: Float32Array } | null {
  if (!ck.head || ck.head.meta.type !== HEAD_TYPE) return null;
  const labels = ck.head.meta.labels as unknown[];
  const pooling = ck.head.meta.pooling ?? 'last-token';
  try {
    checkLabels(labels, 'checkpoint head');
    checkPooling(pooling, 'checkpoint head');
  } catch (e) {
    throw new CheckpointError((e as Error).message);
  }
  const K = labels.length, C = ck.config.nEmbd;
  const get = (name: string, shape: number[]) => {
    const t = ck.head!.tensors.find((x) => x.name === name);
    if (!t) throw new CheckpointError(`checkpoint is missing head tensor ${name} (expected shape (${shape.join(', ')}))`);
    if (t.shape.length !== shape.length || t.shape.some((d, i) => d !== shape[i])) {
      throw new CheckpointError(`shape mismatch in tensor ${name}: checkpoint has (${t.shape.join(', ')}), ${K} labels and nEmbd ${C} need (${shape.join(', ')})`);
    }
    return t.data;
  };
  return { labels: labels as string[], pooling, weight: get(HEAD_WEIGHT, [K, C]), bias: get(HEAD_BIAS, [K]) };
}
