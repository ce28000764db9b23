/**
 * The GPT (GPT-2 architecture) on the GPU: parameters, activations, forward, backward.
 * Explicit, llm.c style: four verbs (forward, zeroGrad, backward, and the optimizer's update),
 * no autograd. Everything is recorded into the Gpu's command encoder; nothing is read back
 * unless asked (meanLoss, logits).
 *
 * Legend: B batch, T time, C channels, NH heads, V vocab, L layers, N = B*T rows.
 */
import { TENSOR_USAGE, type Gpu } from '../gpu/context.ts';
import type { Tensor } from '../gpu/tensor.ts';
import { LimitError, ShapeError } from '../errors.ts';
import { matmulBackward, matmulForward } from '../kernels/matmul.ts';
import { layernormBackward, layernormForward } from '../kernels/layernorm.ts';
import { attentionBackward, attentionForward } from '../kernels/attention.ts';
import { geluBackward, geluForward } from '../kernels/gelu.ts';
import { residualForward } from '../kernels/residual.ts';
import { EmbeddingBackwardPlan, embeddingBackward, embeddingBackwardWpe, embeddingBackwardWte, embeddingForward } from '../kernels/embedding.ts';
import { crossEntropy } from '../kernels/crossentropy.ts';
import { countParams, validateConfig, type GPTConfig } from './config.ts';
import { paramLayout, type ParamLayout, type ParamSpec } from './params.ts';
import { planMemory, rowSplit, vocabSplit, SPLIT_ROWS } from './plan.ts';

const STORAGE = () => GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST;

/** Per-layer activations saved by forward for backward. */
interface LayerActs {
  ln1: Tensor; ln1Mean: Tensor; ln1Rstd: Tensor; // (B,T,C) (B,T) (B,T)
  qkv: Tensor; // (B,T,3C)
  atty: Tensor; // (B,T,C)
  lse: Tensor; // (B,NH,T)
  attproj: Tensor; // (B,T,C)
  residual2: Tensor; // (B,T,C)
  ln2: Tensor; ln2Mean: Tensor; ln2Rstd: Tensor;
  fch: Tensor; // (B,T,4C)
  fchGelu: Tensor; // (B,T,4C)
  fcproj: Tensor; // (B,T,C)
  residual3: Tensor; // (B,T,C)
}

/** Activations (and the activation-gradient scratch) for one batch shape (B, T). */
class Activations {
  readonly B: number;
  readonly T: number;
  readonly inputs: Tensor; // (B,T) i32
  readonly targets: Tensor; // (B,T) i32
  readonly encoded: Tensor; // (B,T,C)
  readonly layers: LayerActs[];
  readonly lnf: Tensor; lnfMean: Tensor; lnfRstd: Tensor;
  /**
   * Logits (B*T,V) as row chunks, each within one binding (one chunk = the whole (B,T,V) tensor);
   * they become dlogits in place during backward. Each chunk comes with views of its rows of
   * lnf, dlnf, targets and losses.
   */
  readonly rowChunks: RowChunk[];
  /** (rows, Vc) scratch for one (row chunk, vocabulary chunk) product when wte is split, else null. */
  readonly lmScratch: Tensor | null;
  /** Token buckets per vocabulary chunk when wte is split (else embPlan serves the whole wte). */
  readonly embChunks: ChunkedEmbedding | null;
  /** (B,T) i32 = 0, 1, ..., B*T-1: the embedding of gathered rows when wte is split. */
  readonly positions: Tensor | null;
  readonly losses: Tensor; // (B,T)
  readonly lossScale: Tensor; // (1): d(loss)/d(loss_bt) for counted positions
  // backward scratch, zeroed before each use (all backward kernels accumulate)
  readonly dres: Tensor; dln: Tensor; datty: Tensor; dqkv: Tensor; dfch: Tensor; dfchGelu: Tensor;
  /** d(loss)/d(lnf) (B,T,C): written by the LM head's backward, or by a task head (classification). */
  readonly dlnf: Tensor;
  readonly embPlan: EmbeddingBackwardPlan;
  private readonly owned: Tensor[] = [];

  constructor(gpu: Gpu, cfg: GPTConfig, B: number, T: number, wteChunks: VocabChunk[], splitBytes: number) {
    this.B = B;
    this.T = T;
    const { nEmbd: C, nHead: NH, nLayer: L, vocabSize: V } = cfg;
    const t = (shape: number[], name: string, dtype: 'f32' | 'i32' = 'f32') => {
      const x = gpu.tensor(shape, undefined, dtype, name);
      this.owned.push(x);
      return x;
    };
    this.inputs = t([B, T], 'inputs', 'i32');
    this.targets = t([B, T], 'targets', 'i32');
    this.encoded = t([B, T, C], 'encoded');
    this.layers = [];
    for (let l = 0; l < L; l++) {
      const p = `h.${l}.`;
      this.layers.push({
        ln1: t([B, T, C], p + 'ln1'), ln1Mean: t([B, T], p + 'ln1_mean'), ln1Rstd: t([B, T], p + 'ln1_rstd'),
        qkv: t([B, T, 3 * C], p + 'qkv'), atty: t([B, T, C], p + 'atty'), lse: t([B, NH, T], p + 'att_lse'),
        attproj: t([B, T, C], p + 'attproj'), residual2: t([B, T, C], p + 'residual2'),
        ln2: t([B, T, C], p + 'ln2'), ln2Mean: t([B, T], p + 'ln2_mean'), ln2Rstd: t([B, T], p + 'ln2_rstd'),
        fch: t([B, T, 4 * C], p + 'fch'), fchGelu: t([B, T, 4 * C], p + 'fch_gelu'),
        fcproj: t([B, T, C], p + 'fcproj'), residual3: t([B, T, C], p + 'residual3'),
      });
    }
    this.lnf = t([B, T, C], 'lnf');
    this.lnfMean = t([B, T], 'lnf_mean');
    this.lnfRstd = t([B, T], 'lnf_rstd');
    this.losses = t([B, T], 'losses');
    this.lossScale = t([1], 'loss_scale');
    this.dres = t([B, T, C], 'dresidual');
    this.dln = t([B, T, C], 'dln');
    this.dlnf = t([B, T, C], 'dlnf');
    this.datty = t([B, T, C], 'datty');
    this.dqkv = t([B, T, 3 * C], 'dqkv');
    this.dfch = t([B, T, 4 * C], 'dfch');
    this.dfchGelu = t([B, T, 4 * C], 'dfch_gelu');
    const rows = rowSplit(B * T, V, splitBytes);
    if (!rows) throw new LimitError('maxStorageBufferBindingSize', SPLIT_ROWS * V * 4, splitBytes, `a chunk of ${SPLIT_ROWS} rows of logits (V=${V})`);
    this.rowChunks = [];
    for (let r0 = 0; r0 < B * T; r0 += rows.rows) {
      const n = Math.min(rows.rows, B * T - r0);
      const view = (x: Tensor) => (n === B * T ? x : rowsOf(x, r0, n));
      const logits = n === B * T ? t([B, T, V], 'logits') : t([n, V], `logits[${r0}:${r0 + n}]`);
      this.rowChunks.push({ r0, rows: n, logits, lnf: view(this.lnf), dlnf: view(this.dlnf), targets: view(this.targets), losses: view(this.losses) });
    }
    this.embPlan = new EmbeddingBackwardPlan(gpu, B, T, V);
    const split = wteChunks.length > 1;
    this.lmScratch = split ? t([Math.min(rows.rows, B * T), Math.max(...wteChunks.map((c) => c.rows))], 'lm_head_scratch') : null;
    this.embChunks = split ? new ChunkedEmbedding(gpu, B, T, wteChunks) : null;
    this.positions = split ? t([B, T], 'positions', 'i32') : null;
    if (this.positions) gpu.write(this.positions, Int32Array.from({ length: B * T }, (_, i) => i));
  }

  destroy(gpu: Gpu): void {
    gpu.release(...this.owned);
    this.embPlan.destroy();
    this.embChunks?.destroy();
  }
}

/** Positions [r0, r0 + n) of a (B,T,C) tensor (a view shaped (n,C)) or of a (B,T) one (shaped (n)). */
function rowsOf(x: Tensor, r0: number, n: number): Tensor {
  const w = x.shape.length >= 3 ? x.shape[x.shape.length - 1] : 1;
  return { buffer: x.buffer, dtype: x.dtype, offset: x.offset + r0 * w * 4, size: n * w, shape: w === 1 ? [n] : [n, w], name: `${x.name ?? 'tensor'}[${r0}:${r0 + n}]` };
}

/** A vocabulary chunk of wte: rows [v0, v0 + rows). */
export interface VocabChunk {
  v0: number;
  rows: number;
}

/** One row chunk of the LM head: logits (rows,V) and views of the same rows of its inputs and outputs. */
interface RowChunk {
  r0: number;
  rows: number;
  logits: Tensor; // (rows,V), or (B,T,V) when there is one chunk
  lnf: Tensor; // (rows,C)
  dlnf: Tensor; // (rows,C)
  targets: Tensor; // (rows) i32
  losses: Tensor; // (rows)
}

/**
 * Embedding backward for a wte split into vocabulary chunks: per chunk, the positions whose token
 * is in it, bucketed by token (ids relative to the chunk), so that shaders/embedding.wgsl's
 * embedding_backward_wte runs on one chunk of dwte at a time (same buckets, same summation order
 * as EmbeddingBackwardPlan: deterministic).
 */
class ChunkedEmbedding {
  private readonly gpu: Gpu;
  readonly B: number;
  readonly T: number;
  readonly chunks: VocabChunk[];
  /** Per chunk: bucket_token (N), bucket_start (N+1), bucket_pos (N) u32, and the number of buckets. */
  private readonly buffers: { token: Tensor; start: Tensor; pos: Tensor; buckets: number }[];

  constructor(gpu: Gpu, B: number, T: number, chunks: VocabChunk[]) {
    this.gpu = gpu;
    this.B = B;
    this.T = T;
    this.chunks = chunks;
    const N = B * T;
    this.buffers = chunks.map((c, k) => ({
      token: gpu.tensor([N], undefined, 'u32', `embedding.chunk${k}.bucket_token`),
      start: gpu.tensor([N + 1], undefined, 'u32', `embedding.chunk${k}.bucket_start`),
      pos: gpu.tensor([N], undefined, 'u32', `embedding.chunk${k}.bucket_pos`),
      buckets: 0,
    }));
  }

  /** Bucket this step's ids (validated by the caller) per chunk and upload the buckets. */
  setIds(ids: Int32Array): void {
    const N = this.B * this.T;
    this.chunks.forEach((c, k) => {
      const count = new Map<number, number>();
      for (let i = 0; i < N; i++) if (ids[i] >= c.v0 && ids[i] < c.v0 + c.rows) count.set(ids[i] - c.v0, (count.get(ids[i] - c.v0) ?? 0) + 1);
      const tokens = [...count.keys()].sort((a, b) => a - b);
      const token = new Uint32Array(N).fill(c.rows); // past the last bucket: skipped by the kernel
      const start = new Uint32Array(N + 1);
      const pos = new Uint32Array(N);
      const cursor = new Map<number, number>();
      let s = 0;
      tokens.forEach((tok, u) => {
        token[u] = tok;
        start[u] = s;
        cursor.set(tok, s);
        s += count.get(tok)!;
      });
      start.fill(s, tokens.length);
      for (let i = 0; i < N; i++) {
        const tok = ids[i] - c.v0;
        if (tok >= 0 && tok < c.rows) {
          const at = cursor.get(tok)!;
          pos[at] = i;
          cursor.set(tok, at + 1);
        }
      }
      const b = this.buffers[k];
      b.buckets = tokens.length;
      this.gpu.write(b.token, token);
      this.gpu.write(b.start, start);
      this.gpu.write(b.pos, pos);
    });
  }

  /** dwte chunk k (rows,C) += the dout rows of its tokens' positions; dwpe (maxT,C) += sum over b of dout. */
  backward(dwteChunks: Tensor[], dwpe: Tensor, dout: Tensor): void {
    const { B, T } = this;
    this.chunks.forEach((c, k) => {
      const b = this.buffers[k];
      embeddingBackwardWte(this.gpu, dwteChunks[k], dout, [b.token, b.start, b.pos], b.buckets, B, T, c.rows);
    });
    embeddingBackwardWpe(this.gpu, dwpe, dout);
  }

  destroy(): void {
    for (const b of this.buffers) this.gpu.release(b.token, b.start, b.pos);
  }
}

/** Bytes one batch shape's activations take (what Activations allocates). */
export function activationBytes(cfg: GPTConfig, B: number, T: number): number {
  const { nEmbd: C, nHead: NH, nLayer: L, vocabSize: V } = cfg;
  const N = B * T;
  const perLayer = N * (C * 10 + 2 * 4 * C + 4) + N * NH; // ln1 qkv(3) atty attproj res2 ln2 fcproj res3; fch, fch_gelu; 4 stats
  const rest = N * 2 + N * C + N * (C + 2) + N * V + N + 1;
  const scratch = N * (C * 4 + 3 * C + 8 * C);
  return 4 * (L * perLayer + rest + scratch) + 4 * N * 4; // + embedding plan buffers
}

export interface CreateOptions {
  /** Seed for the GPT-2 initialisation. */
  seed?: number;
  /**
   * Largest piece, in bytes, of the two tensors the model splits to fit WebGPU bindings: wte (V,C)
   * (vocabulary chunks) and the logits (B*T,V) (row chunks). Default and maximum: the device's
   * maxStorageBufferBindingSize. Tests set it small to run the split path on small models.
   */
  splitBytes?: number;
}

export class GPT {
  readonly gpu: Gpu;
  readonly config: GPTConfig;
  readonly layout: ParamLayout;
  /** Flat parameter buffer (layout.total floats). */
  readonly params: GPUBuffer;
  /** Flat gradient buffer, same layout. */
  readonly grads: GPUBuffer;
  /** See CreateOptions.splitBytes. */
  readonly splitBytes: number;
  /** wte's vocabulary chunks: one chunk [0, V) unless wte is larger than one binding. */
  readonly wteChunks: readonly VocabChunk[];
  private acts: Activations | null = null;
  private lastCount = 0;
  private haveTargets = false;
  private headless = false;

  private constructor(gpu: Gpu, config: GPTConfig, opts: CreateOptions = {}) {
    validateConfig(config);
    this.gpu = gpu;
    this.config = config;
    const bytes = countParams(config) * 4; // closed form: a huge config fails here, before any allocation
    if (bytes > gpu.limits.maxBufferSize) throw new LimitError('maxBufferSize', bytes, gpu.limits.maxBufferSize, `the flat parameter buffer (${countParams(config)} parameters)`);
    this.layout = paramLayout(config);
    checkFits(gpu, config, this.layout);
    this.splitBytes = Math.min(opts.splitBytes ?? Infinity, gpu.limits.maxStorageBufferBindingSize);
    const split = vocabSplit(config.vocabSize, config.nEmbd, this.splitBytes);
    if (!split) throw new LimitError('maxStorageBufferBindingSize', SPLIT_ROWS * config.nEmbd * 4, this.splitBytes, `a chunk of ${SPLIT_ROWS} rows of transformer.wte.weight (C=${config.nEmbd})`);
    const chunks: VocabChunk[] = [];
    for (let v0 = 0; v0 < config.vocabSize; v0 += split.rows) chunks.push({ v0, rows: Math.min(split.rows, config.vocabSize - v0) });
    this.wteChunks = Object.freeze(chunks);
    this.params = gpu.createBuffer(this.layout.total * 4, TENSOR_USAGE(), 'params'); // weights: matmul operands, like tensors
    this.grads = gpu.createBuffer(this.layout.total * 4, STORAGE(), 'grads');
  }

  /** A new model with GPT-2 initialisation (normal(0, 0.02), residual projections / sqrt(2L)). */
  static create(gpu: Gpu, config: GPTConfig, opts: CreateOptions = {}): GPT {
    const m = new GPT(gpu, config, opts);
    m.setParams(initParams(m.layout, opts.seed ?? 1337));
    m.zeroGrad();
    return m;
  }

  /** A model whose parameters are given (flat, in this layout, or by name via setParam). */
  static empty(gpu: Gpu, config: GPTConfig, opts: Omit<CreateOptions, 'seed'> = {}): GPT {
    const m = new GPT(gpu, config, opts);
    m.zeroGrad();
    return m;
  }

  get numParams(): number {
    return countParams(this.config);
  }

  private view(buffer: GPUBuffer, s: ParamSpec, prefix = ''): Tensor {
    return { buffer, shape: s.shape, dtype: 'f32', offset: s.offset * 4, size: s.size, name: prefix + s.name };
  }

  /** The parameter tensor with GPT-2 name `name` (a view into the flat buffer). */
  param(name: string): Tensor {
    const s = this.layout.byName.get(name);
    if (!s) throw new ShapeError(`no parameter named ${name}`);
    return this.view(this.params, s);
  }

  grad(name: string): Tensor {
    const s = this.layout.byName.get(name);
    if (!s) throw new ShapeError(`no parameter named ${name}`);
    return this.view(this.grads, s, 'd:');
  }

  /** Whole flat buffer as a tensor (for bulk reads/writes). */
  flat(which: 'params' | 'grads'): Tensor {
    return { buffer: which === 'params' ? this.params : this.grads, shape: [this.layout.total], dtype: 'f32', offset: 0, size: this.layout.total, name: which };
  }

  setParams(flat: Float32Array): void {
    this.gpu.write(this.flat('params'), flat);
  }

  async getParams(): Promise<Float32Array> {
    return this.gpu.read(this.flat('params'));
  }

  async getGrads(): Promise<Float32Array> {
    return this.gpu.read(this.flat('grads'));
  }

  zeroGrad(): void {
    this.gpu.zero(this.flat('grads'));
  }

  /** Make sure activations exist for (B, T); reallocates only when the shape changes. */
  private activations(B: number, T: number): Activations {
    if (!Number.isInteger(B) || B <= 0) throw new ShapeError(`batch size must be a positive integer, got ${B}`);
    if (!Number.isInteger(T) || T <= 0) throw new ShapeError(`sequence length must be a positive integer, got ${T}`);
    if (T > this.config.blockSize) throw new ShapeError(`cannot forward sequence of length ${T}, block size is ${this.config.blockSize}`);
    if (this.acts && this.acts.B === B && this.acts.T === T) return this.acts;
    checkFits(this.gpu, this.config, this.layout, B, T);
    if (this.acts) this.acts.destroy(this.gpu);
    this.acts = new Activations(this.gpu, this.config, B, T, [...this.wteChunks], this.splitBytes);
    return this.acts;
  }

  /** Rows [v0, v0 + rows) of wte (or of its gradient): a view that fits one binding. */
  private wteChunk(which: 'params' | 'grads', c: VocabChunk): Tensor {
    const s = this.layout.byName.get('transformer.wte.weight')!;
    const C = this.config.nEmbd;
    return { buffer: which === 'params' ? this.params : this.grads, shape: [c.rows, C], dtype: 'f32', offset: (s.offset + c.v0 * C) * 4, size: c.rows * C, name: `${which === 'grads' ? 'd:' : ''}transformer.wte.weight[${c.v0}:${c.v0 + c.rows}]` };
  }

  /**
   * Record out (M,V) = x (M,C) . wte^T, the LM head, for wte in one piece or in vocabulary chunks.
   * With chunks, each chunk's (M, rows) product lands in `scratch` (at least M x the largest chunk)
   * and is copied into its columns of `out`; for M = 1 it is written in place (no scratch needed).
   * Overwrites `out`. Generators (sampling) call it on their own (1,C) state.
   */
  lmHead(out: Tensor, x: Tensor, scratch: Tensor | null = null): void {
    const gpu = this.gpu;
    const V = this.config.vocabSize;
    const M = out.size / V;
    if (this.wteChunks.length === 1) {
      matmulForward(gpu, out, x, this.param('transformer.wte.weight'));
      return;
    }
    const rowsX: Tensor = { ...x, shape: [M, this.config.nEmbd] };
    for (const c of this.wteChunks) {
      if (M === 1) {
        matmulForward(gpu, { ...out, shape: [1, c.rows], offset: out.offset + c.v0 * 4, size: c.rows }, rowsX, this.wteChunk('params', c));
        continue;
      }
      if (!scratch || scratch.size < M * c.rows) throw new ShapeError(`lmHead: ${M} rows with wte in ${this.wteChunks.length} chunks need a scratch of ${M} x ${c.rows} floats`);
      const s: Tensor = { ...scratch, shape: [M, c.rows], size: M * c.rows };
      matmulForward(gpu, s, rowsX, this.wteChunk('params', c));
      for (let i = 0; i < M; i++) gpu.copyRange(out, i * V + c.v0, s, i * c.rows, c.rows);
    }
  }

  /**
   * Record the forward pass for token ids `inputs` (B*T). With `targets` (B*T, -1 = no loss at
   * that position) it also records the fused loss + dlogits, ready for backward().
   * `gradScale` multiplies dlogits (1 / accumulation steps when accumulating gradients).
   */
  forward(inputs: Int32Array, B: number, T: number, targets: Int32Array | null = null, gradScale = 1, opts: { head?: 'lm' | 'none' } = {}): void {
    const a = this.activations(B, T);
    const gpu = this.gpu;
    const { nLayer: L, nHead: NH, vocabSize: V } = this.config;
    if (inputs.length !== B * T) throw new ShapeError(`forward: ${inputs.length} input ids for B=${B} x T=${T} = ${B * T}`);
    for (let i = 0; i < inputs.length; i++) {
      const id = inputs[i];
      if (!(id >= 0 && id < V)) throw new ShapeError(`forward: input id ${id} at position ${i} is outside the vocabulary [0, ${V})`);
    }
    if (targets && opts.head === 'none') throw new ShapeError("forward: targets need the LM head (opts.head 'lm')");
    // all uploads first, then recording: a write after recorded work would split the submission
    gpu.write(a.inputs, inputs);
    if (targets) {
      if (targets.length !== B * T) throw new ShapeError(`forward: ${targets.length} targets for B=${B} x T=${T} = ${B * T}`);
      let count = 0;
      for (let i = 0; i < targets.length; i++) {
        const t = targets[i];
        if (t >= V) throw new ShapeError(`forward: target id ${t} at position ${i} is outside the vocabulary [0, ${V})`);
        if (t >= 0) count++;
      }
      this.lastCount = count;
      gpu.write(a.targets, targets);
      gpu.write(a.lossScale, new Float32Array([count > 0 ? gradScale / count : 0]));
    }
    if (targets || opts.head === 'none') {
      if (a.embChunks) a.embChunks.setIds(inputs);
      else a.embPlan.setIds(inputs);
    }
    if (a.embChunks) {
      // wte is larger than one binding: gather each position's row with a copy (copies bind
      // nothing), then embed the gathered (B*T, C) rows at positions 0..B*T-1 (dln is free until backward)
      const C = this.config.nEmbd;
      const wte = this.param('transformer.wte.weight');
      for (let i = 0; i < B * T; i++) gpu.copyRange(a.dln, i * C, wte, inputs[i] * C, C);
      embeddingForward(gpu, a.encoded, a.positions!, { ...a.dln, shape: [B * T, C] }, this.param('transformer.wpe.weight'));
    } else {
      embeddingForward(gpu, a.encoded, a.inputs, this.param('transformer.wte.weight'), this.param('transformer.wpe.weight'));
    }
    let residual = a.encoded;
    for (let l = 0; l < L; l++) {
      const p = (n: string) => this.param(`transformer.h.${l}.${n}`);
      const x = a.layers[l];
      layernormForward(gpu, x.ln1, x.ln1Mean, x.ln1Rstd, residual, p('ln_1.weight'), p('ln_1.bias'));
      matmulForward(gpu, x.qkv, x.ln1, p('attn.c_attn.weight'), p('attn.c_attn.bias'));
      attentionForward(gpu, x.atty, x.lse, x.qkv, NH);
      matmulForward(gpu, x.attproj, x.atty, p('attn.c_proj.weight'), p('attn.c_proj.bias'));
      residualForward(gpu, x.residual2, residual, x.attproj);
      layernormForward(gpu, x.ln2, x.ln2Mean, x.ln2Rstd, x.residual2, p('ln_2.weight'), p('ln_2.bias'));
      matmulForward(gpu, x.fch, x.ln2, p('mlp.c_fc.weight'), p('mlp.c_fc.bias'));
      geluForward(gpu, x.fchGelu, x.fch);
      matmulForward(gpu, x.fcproj, x.fchGelu, p('mlp.c_proj.weight'), p('mlp.c_proj.bias'));
      residualForward(gpu, x.residual3, x.residual2, x.fcproj);
      residual = x.residual3;
    }
    layernormForward(gpu, a.lnf, a.lnfMean, a.lnfRstd, residual, this.param('transformer.ln_f.weight'), this.param('transformer.ln_f.bias'));
    this.haveTargets = false;
    this.headless = opts.head === 'none';
    if (this.headless) return; // a task head reads hiddenStates, writes hiddenGrad, calls backward()
    // LM head, by row chunks of the logits (one chunk unless (B,T,V) is over one binding)
    for (const ch of a.rowChunks) this.lmHead(ch.logits, ch.lnf, a.lmScratch);
    if (targets) {
      // losses (B,T) and dlogits written in place over the logits
      for (const ch of a.rowChunks) crossEntropy(gpu, ch.losses, ch.logits, ch.logits, ch.targets, a.lossScale);
      this.haveTargets = true;
    }
  }

  /** Mean loss over the positions with a target, from the last forward with targets. */
  async meanLoss(): Promise<number> {
    if (!this.acts || !this.haveTargets) throw new ShapeError('meanLoss: no forward pass with targets yet');
    const losses = await this.gpu.read(this.acts.losses);
    let s = 0;
    for (let i = 0; i < losses.length; i++) s += losses[i];
    return this.lastCount > 0 ? s / this.lastCount : NaN;
  }

  /** Number of positions that carried a loss in the last forward. */
  get lossCount(): number {
    return this.lastCount;
  }

  /** Logits (B,T,V) from the last forward WITHOUT targets (with targets they hold dlogits). */
  async logits(): Promise<Float32Array> {
    if (!this.acts) throw new ShapeError('logits: no forward pass yet');
    if (this.haveTargets) throw new ShapeError('logits: the last forward had targets, so the logits were overwritten by their gradient');
    const chunks = this.acts.rowChunks;
    if (chunks.length === 1) return this.gpu.read(chunks[0].logits);
    const V = this.config.vocabSize;
    const out = new Float32Array(this.acts.B * this.acts.T * V);
    for (const ch of chunks) out.set(await this.gpu.read(ch.logits), ch.r0 * V);
    return out;
  }

  /** Logits of one position (b, t) from the last forward without targets. */
  async logitsAt(b: number, t: number): Promise<Float32Array> {
    if (!this.acts || this.haveTargets) throw new ShapeError('logitsAt: needs a forward pass without targets');
    const V = this.config.vocabSize;
    const row = b * this.acts.T + t;
    const ch = this.acts.rowChunks.find((c) => row >= c.r0 && row < c.r0 + c.rows);
    if (!ch) throw new ShapeError(`logitsAt: position (${b}, ${t}) is outside the last batch (B=${this.acts.B}, T=${this.acts.T})`);
    return this.gpu.read(ch.logits, (row - ch.r0) * V, V);
  }

  /** (B,T,C) output of the final layernorm from the last forward (the input of the LM head or a task head). */
  get hiddenStates(): Tensor {
    if (!this.acts) throw new ShapeError('hiddenStates: no forward pass yet');
    return this.acts.lnf;
  }

  /**
   * (B,T,C) gradient of the loss w.r.t. hiddenStates. After a forward with head 'none', a task
   * head zeroes it, writes its gradient there, and calls backward().
   */
  get hiddenGrad(): Tensor {
    if (!this.acts) throw new ShapeError('hiddenGrad: no forward pass yet');
    return this.acts.dlnf;
  }

  /**
   * Record the backward pass; parameter gradients are ADDED to `grads` (call zeroGrad first).
   * After a forward with targets it starts at the LM head's dlogits; after a forward with head
   * 'none' it starts from hiddenGrad, which the caller filled.
   */
  backward(): void {
    const a = this.acts;
    if (!a || (!this.haveTargets && !this.headless)) throw new ShapeError('backward: call forward with targets (or with head "none" and fill hiddenGrad) first');
    const gpu = this.gpu;
    const { nLayer: L, nHead: NH } = this.config;
    if (!this.headless) {
      gpu.zero(a.dlnf);
      const V = this.config.vocabSize;
      for (const ch of a.rowChunks) {
        const dlogits = ch.logits; // (rows,V)
        if (this.wteChunks.length === 1) {
          matmulBackward(gpu, ch.dlnf, this.grad('transformer.wte.weight'), null, dlogits, ch.lnf, this.param('transformer.wte.weight'));
          continue;
        }
        // per vocabulary chunk: gather its columns of dlogits into the scratch, then
        // dlnf += dlogits[:, chunk] . wte[chunk] and dwte[chunk] += dlogits[:, chunk]^T . lnf
        const lnf: Tensor = { ...ch.lnf, shape: [ch.rows, this.config.nEmbd] };
        for (const c of this.wteChunks) {
          const s: Tensor = { ...a.lmScratch!, shape: [ch.rows, c.rows], size: ch.rows * c.rows };
          for (let i = 0; i < ch.rows; i++) gpu.copyRange(s, i * c.rows, dlogits, i * V + c.v0, c.rows);
          matmulBackward(gpu, { ...ch.dlnf, shape: [ch.rows, this.config.nEmbd] }, this.wteChunk('grads', c), null, s, lnf, this.wteChunk('params', c));
        }
      }
    }
    const lastResidual = L > 0 ? a.layers[L - 1].residual3 : a.encoded;
    gpu.zero(a.dres);
    layernormBackward(gpu, a.dres, this.grad('transformer.ln_f.weight'), this.grad('transformer.ln_f.bias'), a.dlnf, lastResidual, this.param('transformer.ln_f.weight'), a.lnfMean, a.lnfRstd);
    // a.dres now holds dL/d(residual3 of the last layer); it flows down the residual stream,
    // each block adding its branches' contributions (so no residual backward kernel is needed).
    for (let l = L - 1; l >= 0; l--) {
      const p = (n: string) => this.param(`transformer.h.${l}.${n}`);
      const g = (n: string) => this.grad(`transformer.h.${l}.${n}`);
      const x = a.layers[l];
      const residual = l === 0 ? a.encoded : a.layers[l - 1].residual3;
      // residual3 = residual2 + fcproj: d(fcproj) = d(residual2) = dres
      gpu.zero(a.dfchGelu);
      matmulBackward(gpu, a.dfchGelu, g('mlp.c_proj.weight'), g('mlp.c_proj.bias'), a.dres, x.fchGelu, p('mlp.c_proj.weight'));
      gpu.zero(a.dfch);
      geluBackward(gpu, a.dfch, x.fch, a.dfchGelu);
      gpu.zero(a.dln);
      matmulBackward(gpu, a.dln, g('mlp.c_fc.weight'), g('mlp.c_fc.bias'), a.dfch, x.ln2, p('mlp.c_fc.weight'));
      layernormBackward(gpu, a.dres, g('ln_2.weight'), g('ln_2.bias'), a.dln, x.residual2, p('ln_2.weight'), x.ln2Mean, x.ln2Rstd);
      // residual2 = residual + attproj: d(attproj) = d(residual) = dres
      gpu.zero(a.datty);
      matmulBackward(gpu, a.datty, g('attn.c_proj.weight'), g('attn.c_proj.bias'), a.dres, x.atty, p('attn.c_proj.weight'));
      gpu.zero(a.dqkv);
      attentionBackward(gpu, a.dqkv, a.datty, x.qkv, x.atty, x.lse, NH);
      gpu.zero(a.dln);
      matmulBackward(gpu, a.dln, g('attn.c_attn.weight'), g('attn.c_attn.bias'), a.dqkv, x.ln1, p('attn.c_attn.weight'));
      layernormBackward(gpu, a.dres, g('ln_1.weight'), g('ln_1.bias'), a.dln, residual, p('ln_1.weight'), x.ln1Mean, x.ln1Rstd);
    }
    if (a.embChunks) a.embChunks.backward(this.wteChunks.map((c) => this.wteChunk('grads', c)), this.grad('transformer.wpe.weight'), a.dres);
    else embeddingBackward(gpu, a.embPlan, this.grad('transformer.wte.weight'), this.grad('transformer.wpe.weight'), a.dres);
  }

  /** Free every GPU buffer of this model. */
  destroy(): void {
    if (this.acts) this.acts.destroy(this.gpu);
    this.acts = null;
    this.gpu.destroyBuffer(this.params);
    this.gpu.destroyBuffer(this.grads);
  }
}

/**
 * Check every buffer and binding the model would allocate at batch B and context T against the
 * device limits, before allocating (planMemory in plan.ts: wte and the logits may exceed one
 * binding, the model splits them). Throws LimitError naming the tensor and the limit.
 */
export function checkFits(gpu: Gpu, config: GPTConfig, layout = paramLayout(config), B = 1, T = 1): void {
  void layout;
  const plan = planMemory(config, B, Math.min(T, config.blockSize), {
    maxStorageBufferBindingSize: gpu.limits.maxStorageBufferBindingSize,
    maxBufferSize: gpu.limits.maxBufferSize,
  });
  const p = plan.problems.find((q) => q.limit === 'maxBufferSize' || q.limit === 'maxStorageBufferBindingSize');
  if (p) throw new LimitError(p.limit, p.needed, p.available, `${p.what}${plan.advice.length ? ` (${plan.advice[0]})` : ''}`);
}

/** GPT-2 initialisation, seeded: flat Float32Array in `layout`. */
export function initParams(layout: ParamLayout, seed: number): Float32Array {
  const out = new Float32Array(layout.total);
  const normal = gaussian(seed);
  for (const s of layout.specs) {
    const view = out.subarray(s.offset, s.offset + s.size);
    if (s.init.kind === 'const') view.fill(s.init.value);
    else for (let i = 0; i < s.size; i++) view[i] = s.init.std * normal();
  }
  return out;
}

/** Seeded standard normal samples (mulberry32 + Box-Muller). */
export function gaussian(seed: number): () => number {
  let a = seed >>> 0;
  const uniform = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  let spare: number | null = null;
  return () => {
    if (spare !== null) { const s = spare; spare = null; return s; }
    const u = Math.max(uniform(), 1e-300), v = uniform();
    const r = Math.sqrt(-2 * Math.log(u));
    spare = r * Math.sin(2 * Math.PI * v);
    return r * Math.cos(2 * Math.PI * v);
  };
}
