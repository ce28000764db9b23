/**
 * LanguageModel: a GPT together with its tokenizer — what users save, load, sample and evaluate.
 */
import type { Gpu } from '../gpu/context.ts';
import { GPT } from './gpt.ts';
import type { GPTConfig } from './config.ts';
import { Generator, GenerationError, type SampleOptions } from './sample.ts';
import type { Tokenizer } from '../tokenizer/types.ts';
import { tokenizerFromJSON } from '../tokenizer/index.ts';
import { decodeCheckpoint, encodeCheckpoint, type Checkpoint } from '../checkpoint/checkpoint.ts';
import { planActivationBytes, planMemory } from './plan.ts';

/** Evaluation batches keep their activations under this (GPT-2 at T=1024: 1 sequence ~ 0.9 GB). */
const EVAL_ACTIVATION_BYTES = 1 << 30;

export class LanguageModel {
  readonly gpt: GPT;
  readonly tokenizer: Tokenizer;
  /** Provenance recorded in checkpoints (fine-tuning fills it). */
  origin?: Record<string, unknown>;

  constructor(gpt: GPT, tokenizer: Tokenizer) {
    this.gpt = gpt;
    this.tokenizer = tokenizer;
  }

  get config(): GPTConfig {
    return this.gpt.config;
  }

  /** A freshly initialised model for `tokenizer`'s vocabulary. */
  static create(gpu: Gpu, config: GPTConfig, tokenizer: Tokenizer, seed = 1337): LanguageModel {
    return new LanguageModel(GPT.create(gpu, config, { seed }), tokenizer);
  }

  /** Load from checkpoint bytes (validated before any GPU allocation). */
  static fromCheckpoint(gpu: Gpu, bytes: Uint8Array | Checkpoint): { model: LanguageModel; checkpoint: Checkpoint } {
    const ck = bytes instanceof Uint8Array ? decodeCheckpoint(bytes) : bytes;
    const tokenizer = tokenizerFromJSON(ck.tokenizer);
    if (tokenizer.vocabSize !== ck.config.vocabSize) {
      throw new GenerationError(`checkpoint tokenizer has ${tokenizer.vocabSize} tokens but the model config has vocabSize ${ck.config.vocabSize}`);
    }
    const gpt = GPT.empty(gpu, ck.config);
    gpt.setParams(ck.params);
    const model = new LanguageModel(gpt, tokenizer);
    model.origin = ck.origin;
    return { model, checkpoint: ck };
  }

  /** Checkpoint bytes of the weights (plus optional training state). */
  async toCheckpoint(extra: Partial<Omit<Checkpoint, 'config' | 'tokenizer' | 'params'>> = {}): Promise<Uint8Array> {
    return encodeCheckpoint({
      config: this.gpt.config,
      tokenizer: this.tokenizer.toJSON(),
      params: await this.gpt.getParams(),
      origin: this.origin,
      ...extra,
    });
  }

  /** Stream generated text after `prompt`, one decoded piece per token. */
  async *generate(prompt: string, o: SampleOptions): AsyncGenerator<string> {
    const ids = this.tokenizer.encode(prompt);
    if (ids.length === 0) throw new GenerationError('the prompt is empty: give at least one character');
    const gen = new Generator(this.gpt);
    try {
      const out: number[] = [];
      let shown = '';
      for await (const id of gen.generate(ids, o)) {
        out.push(id);
        // decode the whole continuation so multi-byte BPE tokens appear once complete
        const text = this.tokenizer.decode(out);
        if (text.length > shown.length && !text.endsWith('\uFFFD')) {
          yield text.slice(shown.length);
          shown = text;
        }
      }
      const text = this.tokenizer.decode(out);
      if (text.length > shown.length) yield text.slice(shown.length);
    } finally {
      gen.destroy();
    }
  }

  /** Generate and return the whole continuation. */
  async generateText(prompt: string, o: SampleOptions): Promise<string> {
    let s = '';
    for await (const piece of this.generate(prompt, o)) s += piece;
    return s;
  }

  /**
   * Mean next-token cross-entropy over `ids` (scored in windows of the context length), and the
   * logits at the last position when `ids` fits in one context.
   */
  async evaluate(ids: Int32Array): Promise<{ loss: number; tokens: number; logitsLast?: Float32Array }> {
    const Tm = this.gpt.config.blockSize;
    if (ids.length < 2) throw new GenerationError(`evaluation needs at least 2 tokens, got ${ids.length}`);
    let logitsLast: Float32Array | undefined;
    if (ids.length <= Tm) {
      this.gpt.forward(ids, 1, ids.length);
      logitsLast = await this.gpt.logitsAt(0, ids.length - 1);
    }
    // full windows of T tokens scored BATCH at a time (as many as fit the adapter, at most 16),
    // then the remainder as one shorter window
    const limits = { maxStorageBufferBindingSize: this.gpt.gpu.limits.maxStorageBufferBindingSize, maxBufferSize: this.gpt.gpu.limits.maxBufferSize };
    let BATCH = 16;
    const tooBig = (b: number) => !planMemory(this.gpt.config, b, Tm, limits).fits || planActivationBytes(this.gpt.config, b, Tm) > EVAL_ACTIVATION_BYTES;
    while (BATCH > 1 && tooBig(BATCH)) BATCH >>= 1;
    const nFull = Math.floor((ids.length - 1) / Tm);
    let sum = 0;
    let count = 0;
    for (let w = 0; w < nFull; w += BATCH) {
      const B = Math.min(BATCH, nFull - w);
      const inputs = new Int32Array(B * Tm);
      const targets = new Int32Array(B * Tm);
      for (let b = 0; b < B; b++) {
        const s0 = (w + b) * Tm;
        inputs.set(ids.subarray(s0, s0 + Tm), b * Tm);
        targets.set(ids.subarray(s0 + 1, s0 + Tm + 1), b * Tm);
      }
      this.gpt.forward(inputs, B, Tm, targets);
      sum += (await this.gpt.meanLoss()) * B * Tm;
      count += B * Tm;
    }
    const rest = ids.length - 1 - nFull * Tm;
    if (rest > 0) {
      const s0 = nFull * Tm;
      this.gpt.forward(ids.subarray(s0, s0 + rest), 1, rest, ids.subarray(s0 + 1, s0 + rest + 1));
      sum += (await this.gpt.meanLoss()) * rest;
      count += rest;
    }
    return { loss: sum / count, tokens: count, logitsLast };
  }

  destroy(): void {
    this.gpt.destroy();
  }
}
