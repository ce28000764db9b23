/**
 * Text generation with a KV cache: each new token runs the model on one row; keys and values of
 * earlier positions are kept per layer, so a token costs O(pos) attention instead of a whole
 * forward pass over the context.
 *
 * Sampling: temperature, top-k and top-p (nucleus), seeded. temperature 0 means greedy (argmax).
 */
import type { Gpu } from '../gpu/context.ts';
import type { Tensor } from '../gpu/tensor.ts';
import { WgptError } from '../errors.ts';
import { matmulForward } from '../kernels/matmul.ts';
import { layernormForward } from '../kernels/layernorm.ts';
import { geluForward } from '../kernels/gelu.ts';
import { residualForward } from '../kernels/residual.ts';
import { attentionDecode } from '../kernels/attention.ts';
import type { GPT } from './gpt.ts';
import { Rng } from '../data/rng.ts';

export interface SampleOptions {
  /** Tokens to generate. */
  maxTokens: number;
  /** Softmax temperature; 0 = greedy. Default 1. */
  temperature?: number;
  /** Keep only the k most likely tokens (0 = off). */
  topK?: number;
  /** Keep the smallest set of tokens whose probability sums to p (1 = off). */
  topP?: number;
  seed?: number;
  /** Stop early when this returns true for the newest token. */
  stop?: (id: number) => boolean;
  signal?: AbortSignal;
}

/** A prompt token or setting that cannot be used. */
export class GenerationError extends WgptError {
  constructor(message: string) { super('GENERATION', message); }
}

/** Pick a token id from logits with temperature / top-k / top-p. Pure; exported for tests. */
export function sampleLogits(logits: ArrayLike<number>, o: { temperature?: number; topK?: number; topP?: number }, rand: () => number): number {
  const V = logits.length;
  const temp = o.temperature ?? 1;
  if (!(temp >= 0)) throw new GenerationError(`temperature must be >= 0, got ${temp}`);
  if (temp === 0) {
    let best = 0;
    for (let i = 1; i < V; i++) if (logits[i] > logits[best]) best = i;
    return best;
  }
  let idx = Array.from({ length: V }, (_, i) => i);
  idx.sort((a, b) => logits[b] - logits[a]);
  const k = o.topK && o.topK > 0 ? Math.min(o.topK, V) : V;
  idx = idx.slice(0, k);
  const max = logits[idx[0]];
  let probs = idx.map((i) => Math.exp((logits[i] - max) / temp));
  let sum = probs.reduce((a, b) => a + b, 0);
  probs = probs.map((p) => p / sum);
  const topP = o.topP ?? 1;
  if (topP < 1) {
    let acc = 0;
    let cut = probs.length;
    for (let i = 0; i < probs.length; i++) {
      acc += probs[i];
      if (acc >= topP) { cut = i + 1; break; }
    }
    probs = probs.slice(0, cut);
    idx = idx.slice(0, cut);
    sum = probs.reduce((a, b) => a + b, 0);
    probs = probs.map((p) => p / sum);
  }
  let r = rand();
  for (let i = 0; i < probs.length; i++) {
    r -= probs[i];
    if (r <= 0) return idx[i];
  }
  return idx[idx.length - 1];
}

interface LayerCache { kv: Tensor } // (T_max, 3C)

/** One-row activations for decoding. */
export class Generator {
  readonly model: GPT;
  private readonly gpu: Gpu;
  private readonly caches: LayerCache[];
  private readonly t: Record<string, Tensor>;
  private readonly pos: Tensor;
  /** Number of positions in the cache. */
  length = 0;
  private history: number[] = [];

  constructor(model: GPT) {
    this.model = model;
    this.gpu = model.gpu;
    const { nEmbd: C, nLayer: L, blockSize: Tm, vocabSize: V } = model.config;
    const g = this.gpu;
    this.caches = Array.from({ length: L }, (_, l) => ({ kv: g.tensor([Tm, 3 * C], undefined, 'f32', `kv_cache.${l}`) }));
    const mk = (shape: number[], name: string) => g.tensor(shape, undefined, 'f32', name);
    this.t = {
      tok: mk([1, C], 'tok'), posEmb: mk([1, C], 'pos_emb'), x: mk([1, C], 'x'), x2: mk([1, C], 'x2'),
      ln: mk([1, C], 'ln'), mean: mk([1], 'mean'), rstd: mk([1], 'rstd'), qkv: mk([1, 3 * C], 'qkv'),
      att: mk([1, C], 'att'), proj: mk([1, C], 'proj'), fch: mk([1, 4 * C], 'fch'), fchGelu: mk([1, 4 * C], 'fch_gelu'),
      logits: mk([1, V], 'logits'),
    };
    this.pos = g.tensor([1], undefined, 'u32', 'pos');
  }

  /** Forget the context. */
  reset(): void {
    this.length = 0;
    this.history = [];
  }

  /** Record the model on one token at position `this.length`; logits land in t.logits. */
  private step(id: number): void {
    const m = this.model;
    const g = this.gpu;
    const { nEmbd: C, nLayer: L, nHead: NH, vocabSize: V } = m.config;
    if (!(Number.isInteger(id) && id >= 0 && id < V)) throw new GenerationError(`token id ${id} is outside the vocabulary [0, ${V})`);
    const pos = this.length;
    const t = this.t;
    g.write(this.pos, new Uint32Array([pos]));
    g.copyRange(t.tok, 0, m.param('transformer.wte.weight'), id * C, C);
    g.copyRange(t.posEmb, 0, m.param('transformer.wpe.weight'), pos * C, C);
    residualForward(g, t.x, t.tok, t.posEmb);
    for (let l = 0; l < L; l++) {
      const p = (n: string) => m.param(`transformer.h.${l}.${n}`);
      layernormForward(g, t.ln, t.mean, t.rstd, t.x, p('ln_1.weight'), p('ln_1.bias'));
      matmulForward(g, t.qkv, t.ln, p('attn.c_attn.weight'), p('attn.c_attn.bias'));
      g.copyRange(this.caches[l].kv, pos * 3 * C, t.qkv, 0, 3 * C);
      attentionDecode(g, t.att, this.caches[l].kv, this.pos, NH);
      matmulForward(g, t.proj, t.att, p('attn.c_proj.weight'), p('attn.c_proj.bias'));
      residualForward(g, t.x2, t.x, t.proj);
      layernormForward(g, t.ln, t.mean, t.rstd, t.x2, p('ln_2.weight'), p('ln_2.bias'));
      matmulForward(g, t.fch, t.ln, p('mlp.c_fc.weight'), p('mlp.c_fc.bias'));
      geluForward(g, t.fchGelu, t.fch);
      matmulForward(g, t.proj, t.fchGelu, p('mlp.c_proj.weight'), p('mlp.c_proj.bias'));
      residualForward(g, t.x, t.x2, t.proj);
    }
    layernormForward(g, t.ln, t.mean, t.rstd, t.x, m.param('transformer.ln_f.weight'), m.param('transformer.ln_f.bias'));
    m.lmHead(t.logits, t.ln); // tied to wte; split into vocabulary chunks when wte exceeds one binding
    this.length++;
    this.history.push(id);
  }

  /** Feed tokens into the cache; returns the logits after the last one. */
  async feed(ids: ArrayLike<number>): Promise<Float32Array> {
    if (ids.length === 0) throw new GenerationError('feed: no tokens');
    for (let i = 0; i < ids.length; i++) {
      if (this.length >= this.model.config.blockSize) this.slide();
      this.step(ids[i]);
    }
    return this.gpu.read(this.t.logits);
  }

  /** The cache is full: keep the newest half of the context and recompute its keys and values. */
  private slide(): void {
    const keep = this.history.slice(this.history.length - Math.floor(this.model.config.blockSize / 2));
    this.reset();
    for (const id of keep) this.step(id);
  }

  /**
   * Generate up to `maxTokens` tokens after `prompt`, yielding each id as soon as it is sampled.
   * A prompt longer than the context is an error (say so rather than silently truncating).
   */
  async *generate(prompt: ArrayLike<number>, o: SampleOptions): AsyncGenerator<number> {
    const Tm = this.model.config.blockSize;
    if (prompt.length === 0) throw new GenerationError('the prompt is empty: give at least one token');
    if (prompt.length > Tm) throw new GenerationError(`the prompt has ${prompt.length} tokens, longer than the model's context of ${Tm}`);
    if (!(Number.isInteger(o.maxTokens) && o.maxTokens >= 0)) throw new GenerationError(`maxTokens must be a non-negative integer, got ${o.maxTokens}`);
    this.reset();
    const rng = new Rng(o.seed ?? 1);
    const rand = () => rng.next();
    let logits = await this.feed(prompt);
    for (let i = 0; i < o.maxTokens; i++) {
      if (o.signal?.aborted) return;
      const id = sampleLogits(logits, o, rand);
      yield id;
      if (o.stop?.(id)) return;
      if (i + 1 < o.maxTokens) logits = await this.feed([id]);
    }
  }

  destroy(): void {
    this.gpu.release(...this.caches.map((c) => c.kv), ...Object.values(this.t), this.pos);
  }
}

/** Convenience: generate `maxTokens` ids after `prompt` and return them. */
export async function sample(model: GPT, prompt: ArrayLike<number>, o: SampleOptions): Promise<number[]> {
  const g = new Generator(model);
  try {
    const out: number[] = [];
    for await (const id of g.generate(prompt, o)) out.push(id);
    return out;
  } finally {
    g.destroy();
  }
}

