/**
 * Hugging Face GPT-2 interop, pure (no Node APIs): import a GPT-2 model directory's contents into
 * a wgpt checkpoint, and export any wgpt model as a GPT-2 directory that Hugging Face's
 * GPT2LMHeadModel (or any PyTorch code written for GPT-2's state dict) loads unchanged.
 *
 * Hugging Face's GPT-2 state dict (model.safetensors), L layers, C channels, V vocab, T positions:
 *   wte.weight (V, C)   wpe.weight (T, C)   ln_f.weight/bias (C)
 *   h.{l}.ln_1.weight/bias (C)              h.{l}.ln_2.weight/bias (C)
 *   h.{l}.attn.c_attn.weight (C, 3C)  .bias (3C)      Conv1D: y = x @ W + b, W stored (in, out)
 *   h.{l}.attn.c_proj.weight (C, C)   .bias (C)
 *   h.{l}.mlp.c_fc.weight    (C, 4C)  .bias (4C)
 *   h.{l}.mlp.c_proj.weight  (4C, C)  .bias (C)
 * optionally all under "transformer." (what save_pretrained of GPT2LMHeadModel writes), plus
 * buffers to ignore (h.{l}.attn.bias, h.{l}.attn.masked_bias: the causal mask) and lm_head.weight
 * (V, C), which GPT-2 ties to wte.weight. wgpt's names are the same with "transformer." and
 * nn.Linear layouts (out, in): the four Conv1D weights are transposed on the way in and out.
 *
 * config.json fields used: n_embd, n_layer, n_head, n_positions (or n_ctx), vocab_size, and the
 * ones that must match wgpt's architecture: layer_norm_epsilon (1e-5), activation_function
 * (gelu_new: the tanh approximation), n_inner (null or 4 * n_embd), scale_attn_weights (true),
 * scale_attn_by_inverse_layer_idx (false), tie_word_embeddings (true). Without a config, the shapes
 * give everything but the number of heads, which defaults to n_embd / 64 (every GPT-2 size).
 */
import { WgptError } from '../errors.ts';
import { validateConfig, type GPTConfig } from '../model/config.ts';
import { paramLayout } from '../model/params.ts';
import { readSafetensorsHeader, writeSafetensors, f16BitsToF32, bf16BitsToF32, type TensorToWrite } from '../checkpoint/safetensors.ts';
import type { Checkpoint } from '../checkpoint/checkpoint.ts';
import { tokenizerFromJSON } from '../tokenizer/json.ts';
import type { Tokenizer } from '../tokenizer/types.ts';
import type { BpeTokenizer } from '../tokenizer/bpe.ts';
import { Gpt2Tokenizer, bytesToTokenString } from './gpt2-tokenizer.ts';

/** A Hugging Face file is malformed or describes a model wgpt cannot hold; `tensor` / `file` name it. */
export class HfFormatError extends WgptError {
  readonly tensor?: string;
  readonly file?: string;
  constructor(message: string, where: { tensor?: string; file?: string } = {}) {
    const prefix = where.tensor !== undefined ? `tensor '${where.tensor}': ` : where.file !== undefined ? `${where.file}: ` : '';
    super('HF_FORMAT', prefix + message);
    this.tensor = where.tensor;
    this.file = where.file;
  }
}

// ---- config.json ----------------------------------------------------------------------------------

const LN_EPS = 1e-5;
const TANH_GELUS = ['gelu_new', 'gelu_pytorch_tanh', 'gelu_fast'];

/** wgpt's GPTConfig from a GPT-2 config.json (text or object); throws HfFormatError naming the field. */
export function configFromHF(json: unknown): GPTConfig {
  const file = 'config.json';
  let o: any = json;
  if (typeof o === 'string') {
    try {
      o = JSON.parse(o);
    } catch (e) {
      throw new HfFormatError(`not valid JSON (${(e as Error).message})`, { file });
    }
  }
  if (typeof o !== 'object' || o === null || Array.isArray(o)) throw new HfFormatError('expected a JSON object', { file });
  if (o.model_type !== undefined && o.model_type !== 'gpt2') throw new HfFormatError(`model_type is ${JSON.stringify(o.model_type)}; only "gpt2" models can be imported`, { file });
  const int = (k: string, v: unknown = o[k]): number => {
    if (typeof v !== 'number' || !Number.isInteger(v) || v <= 0) throw new HfFormatError(`${k} must be a positive integer, got ${JSON.stringify(v)}`, { file });
    return v;
  };
  const C = int('n_embd');
  const cfg: GPTConfig = {
    vocabSize: int('vocab_size'),
    blockSize: o.n_positions !== undefined ? int('n_positions') : int('n_ctx'),
    nLayer: int('n_layer'),
    nHead: int('n_head'),
    nEmbd: C,
  };
  const eps = o.layer_norm_epsilon ?? LN_EPS;
  if (typeof eps !== 'number' || Math.abs(eps - LN_EPS) > 1e-12) throw new HfFormatError(`layer_norm_epsilon is ${eps}; wgpt's layernorm uses ${LN_EPS}`, { file });
  const act = o.activation_function ?? 'gelu_new';
  if (!TANH_GELUS.includes(act)) throw new HfFormatError(`activation_function is ${JSON.stringify(act)}; wgpt computes GELU's tanh approximation (${TANH_GELUS.join(', ')})`, { file });
  if (o.n_inner !== undefined && o.n_inner !== null && o.n_inner !== 4 * C) throw new HfFormatError(`n_inner is ${o.n_inner}; wgpt's MLP width is 4 * n_embd = ${4 * C}`, { file });
  if (o.scale_attn_weights === false) throw new HfFormatError('scale_attn_weights is false; wgpt scales attention by 1/sqrt(head size)', { file });
  if (o.scale_attn_by_inverse_layer_idx === true) throw new HfFormatError('scale_attn_by_inverse_layer_idx is true; not supported', { file });
  if (o.tie_word_embeddings === false) throw new HfFormatError('tie_word_embeddings is false; wgpt ties the LM head to wte', { file });
  try {
    validateConfig(cfg);
  } catch (e) {
    throw new HfFormatError((e as Error).message, { file });
  }
  return cfg;
}

/** A GPT-2 config.json object for `config` (no dropout: wgpt trains without it). */
export function configToHF(config: GPTConfig, tokens: { bos?: number; eos?: number } = {}): Record<string, unknown> {
  return {
    architectures: ['GPT2LMHeadModel'],
    model_type: 'gpt2',
    vocab_size: config.vocabSize,
    n_positions: config.blockSize,
    n_ctx: config.blockSize,
    n_embd: config.nEmbd,
    n_layer: config.nLayer,
    n_head: config.nHead,
    n_inner: null,
    activation_function: 'gelu_new',
    layer_norm_epsilon: LN_EPS,
    initializer_range: 0.02,
    resid_pdrop: 0.0,
    embd_pdrop: 0.0,
    attn_pdrop: 0.0,
    scale_attn_weights: true,
    scale_attn_by_inverse_layer_idx: false,
    reorder_and_upcast_attn: false,
    tie_word_embeddings: true,
    bos_token_id: tokens.bos ?? null,
    eos_token_id: tokens.eos ?? null,
    torch_dtype: 'float32',
  };
}

// ---- tensors ----------------------------------------------------------------------------------------

export interface TensorInfo {
  dtype: string;
  shape: number[];
}

/**
 * Where tensors come from: a safetensors file in memory (tensorSourceFromBytes) or on disk, read
 * one tensor at a time (src/interop/hf-node.ts), so a model never needs two copies in memory.
 */
export interface TensorSource {
  readonly names: readonly string[];
  info(name: string): TensorInfo;
  /** The tensor's elements as float32 (F32, F16, BF16 and F64 files). */
  read(name: string): Float32Array;
}

const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** float32 elements of raw little-endian bytes of a float tensor. */
export function floatsFromBytes(raw: Uint8Array, dtype: string, name: string): Float32Array {
  const dv = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
  switch (dtype) {
    case 'F32': {
      if (LITTLE_ENDIAN) return new Float32Array(raw.slice().buffer);
      const out = new Float32Array(raw.length / 4);
      for (let i = 0; i < out.length; i++) out[i] = dv.getFloat32(4 * i, true);
      return out;
    }
    case 'F16':
    case 'BF16': {
      const conv = dtype === 'F16' ? f16BitsToF32 : bf16BitsToF32;
      const out = new Float32Array(raw.length / 2);
      for (let i = 0; i < out.length; i++) out[i] = conv(dv.getUint16(2 * i, true));
      return out;
    }
    case 'F64': {
      const out = new Float32Array(raw.length / 8);
      for (let i = 0; i < out.length; i++) out[i] = dv.getFloat64(8 * i, true);
      return out;
    }
    default:
      throw new HfFormatError(`dtype ${dtype} is not a float type (F32, F16, BF16, F64)`, { tensor: name });
  }
}

/** A TensorSource over safetensors bytes (the header is validated first; data copied per read). */
export function tensorSourceFromBytes(bytes: Uint8Array): TensorSource {
  const { entries, dataStart } = readSafetensorsHeader(bytes);
  const byName = new Map(entries.map((e) => [e.name, e]));
  return {
    names: entries.map((e) => e.name),
    info: (name) => {
      const e = byName.get(name);
      if (!e) throw new HfFormatError('not in the file', { tensor: name });
      return { dtype: e.dtype, shape: e.shape };
    },
    read: (name) => {
      const e = byName.get(name);
      if (!e) throw new HfFormatError('not in the file', { tensor: name });
      return floatsFromBytes(bytes.subarray(dataStart + e.begin, dataStart + e.end), e.dtype, name);
    },
  };
}

/** The four Conv1D weights, stored (in, out) by Hugging Face and (out, in) by wgpt. */
const CONV1D = /\.(attn\.c_attn|attn\.c_proj|mlp\.c_fc|mlp\.c_proj)\.weight$/;
/** Buffers in GPT-2 files that are not parameters. */
const IGNORED = /^(transformer\.)?h\.\d+\.attn\.(bias|masked_bias)$/;

/** Hugging Face's name for wgpt parameter `name`, and whether its layout is transposed (Conv1D). */
export function hfName(name: string, prefix = ''): { name: string; transpose: boolean } {
  if (!name.startsWith('transformer.')) throw new HfFormatError(`not a wgpt parameter name: ${name}`);
  return { name: prefix + name.slice('transformer.'.length), transpose: CONV1D.test(name) };
}

/** (R, C) row-major -> (C, R). */
export function transpose2d(x: Float32Array, R: number, C: number): Float32Array {
  const out = new Float32Array(R * C);
  const BS = 64; // blocks keep both sides in cache
  for (let r0 = 0; r0 < R; r0 += BS) {
    for (let c0 = 0; c0 < C; c0 += BS) {
      const r1 = Math.min(R, r0 + BS), c1 = Math.min(C, c0 + BS);
      for (let r = r0; r < r1; r++) for (let c = c0; c < c1; c++) out[c * R + r] = x[r * C + c];
    }
  }
  return out;
}

/** "transformer." when the file's names carry it, else "". */
function detectPrefix(src: TensorSource): string {
  if (src.names.some((n) => n === 'transformer.wte.weight')) return 'transformer.';
  if (src.names.some((n) => n === 'wte.weight')) return '';
  throw new HfFormatError(`no token embedding: expected 'wte.weight' or 'transformer.wte.weight' (the file has: ${listNames(src.names)})`, { tensor: 'wte.weight' });
}

function listNames(names: readonly string[]): string {
  return names.slice(0, 8).join(', ') + (names.length > 8 ? `, ... (${names.length} in all)` : '') || 'no tensors';
}

/**
 * The model shape from the tensors alone: V and C from wte, T from wpe, L from the h.{l} blocks;
 * the number of heads (not visible in shapes) is `nHead` or C / 64 (every GPT-2 size).
 */
export function inferConfig(src: TensorSource, nHead?: number): GPTConfig {
  const prefix = detectPrefix(src);
  const wte = src.info(prefix + 'wte.weight').shape;
  const wpeName = prefix + 'wpe.weight';
  if (!src.names.includes(wpeName)) throw new HfFormatError('missing: cannot infer the context length', { tensor: wpeName });
  const wpe = src.info(wpeName).shape;
  if (wte.length !== 2 || wpe.length !== 2) throw new HfFormatError(`expected 2-D embeddings, got wte (${wte.join(', ')}) and wpe (${wpe.join(', ')})`, { tensor: prefix + 'wte.weight' });
  let L = 0;
  const re = new RegExp(`^${prefix.replace('.', '\\.')}h\\.(\\d+)\\.`);
  for (const n of src.names) {
    const m = re.exec(n);
    if (m) L = Math.max(L, Number(m[1]) + 1);
  }
  const C = wte[1];
  const NH = nHead ?? (C % 64 === 0 ? C / 64 : 0);
  if (!NH) throw new HfFormatError(`cannot infer the number of heads for n_embd ${C} (not a multiple of 64): give a config.json or nHead`);
  const cfg = { vocabSize: wte[0], blockSize: wpe[0], nLayer: L, nHead: NH, nEmbd: C };
  try {
    validateConfig(cfg);
  } catch (e) {
    throw new HfFormatError(`shapes give an invalid config ${JSON.stringify(cfg)}: ${(e as Error).message}`);
  }
  return cfg;
}

export interface WeightsImport {
  config: GPTConfig;
  /** Parameters, flat, in paramLayout(config). */
  params: Float32Array;
  /** What was assumed or ignored (shown to the user). */
  notes: string[];
}

/**
 * GPT-2 weights in Hugging Face naming -> wgpt's flat parameters. `config` is config.json (text
 * or object); without it the shapes decide (inferConfig). Every tensor is checked by name against
 * the config before anything is copied: a missing tensor, a wrong shape or dtype, an untied
 * lm_head.weight or an unknown tensor throws HfFormatError naming it.
 */
export function importWeights(weights: TensorSource | Uint8Array, opts: { config?: unknown; nHead?: number } = {}): WeightsImport {
  const src = weights instanceof Uint8Array ? tensorSourceFromBytes(weights) : weights;
  const notes: string[] = [];
  const prefix = detectPrefix(src);
  let config: GPTConfig;
  if (opts.config !== undefined) {
    config = configFromHF(opts.config);
  } else {
    config = inferConfig(src, opts.nHead);
    notes.push(`no config.json: shapes give ${JSON.stringify(config)}${opts.nHead ? '' : ` (n_head = n_embd / 64 = ${config.nHead}, as in every GPT-2 size)`}`);
  }
  const layout = paramLayout(config);
  const names = new Set(src.names);
  const used = new Set<string>();
  // validate every name, shape and dtype first
  const plan = layout.specs.map((s) => {
    const { name, transpose } = hfName(s.name, prefix);
    if (!names.has(name)) {
      throw new HfFormatError(`missing from the weights (a ${config.nLayer}-layer GPT-2 needs it; the file has: ${listNames(src.names)})`, { tensor: name });
    }
    const info = src.info(name);
    const want = transpose ? [s.shape[1], s.shape[0]] : s.shape;
    if (info.shape.length !== want.length || info.shape.some((d, i) => d !== want[i])) {
      throw new HfFormatError(`shape (${info.shape.join(', ')}) in the file, the config ${JSON.stringify(config)} needs (${want.join(', ')})${transpose ? ' (Conv1D layout: (in, out))' : ''}`, { tensor: name });
    }
    if (!['F32', 'F16', 'BF16', 'F64'].includes(info.dtype)) throw new HfFormatError(`dtype ${info.dtype} is not a float type (F32, F16, BF16, F64)`, { tensor: name });
    used.add(name);
    return { spec: s, name, transpose };
  });
  const ignored: string[] = [];
  let lmHead: string | null = null;
  for (const n of src.names) {
    if (used.has(n)) continue;
    if (IGNORED.test(n)) ignored.push(n);
    else if (n === 'lm_head.weight' || n === prefix + 'lm_head.weight') lmHead = n;
    else throw new HfFormatError(`not part of a GPT-2 language model (wgpt would drop it; remove it from the file if that is intended)`, { tensor: n });
  }
  if (ignored.length) notes.push(`ignored ${ignored.length} attention mask buffer(s) (${ignored[0]}, ...)`);
  const dtypes = new Set(plan.map((p) => src.info(p.name).dtype));
  if (!dtypes.has('F32') || dtypes.size > 1) notes.push(`weights stored as ${[...dtypes].join('/')}, converted to F32`);

  const params = new Float32Array(layout.total);
  for (const { spec, name, transpose } of plan) {
    const data = src.read(name);
    params.set(transpose ? transpose2d(data, spec.shape[1], spec.shape[0]) : data, spec.offset);
  }
  if (lmHead) {
    const wte = layout.byName.get('transformer.wte.weight')!;
    const info = src.info(lmHead);
    if (info.shape.length !== 2 || info.shape[0] !== wte.shape[0] || info.shape[1] !== wte.shape[1]) {
      throw new HfFormatError(`shape (${info.shape.join(', ')}) differs from wte (${wte.shape.join(', ')}); wgpt ties the LM head to wte`, { tensor: lmHead });
    }
    const head = src.read(lmHead);
    let maxDiff = 0;
    for (let i = 0; i < head.length; i++) maxDiff = Math.max(maxDiff, Math.abs(head[i] - params[wte.offset + i]));
    if (!(maxDiff === 0)) throw new HfFormatError(`differs from wte.weight (max |difference| ${maxDiff}): an untied LM head is not supported, wgpt ties it to wte`, { tensor: lmHead });
    notes.push(`${lmHead} equals wte.weight (tied)`);
  }
  return { config, params, notes };
}

/** Safetensors bytes of `params` (paramLayout(config)) in Hugging Face's GPT-2 naming and layouts. */
export function exportWeights(config: GPTConfig, params: Float32Array): Uint8Array {
  const layout = paramLayout(config);
  if (params.length !== layout.total) throw new HfFormatError(`params has ${params.length} floats, the layout of ${JSON.stringify(config)} has ${layout.total}`);
  const tensors: TensorToWrite[] = layout.specs.map((s) => {
    const { name, transpose } = hfName(s.name);
    const data = params.subarray(s.offset, s.offset + s.size);
    return transpose
      ? { name, dtype: 'F32', shape: [s.shape[1], s.shape[0]], data: transpose2d(data, s.shape[0], s.shape[1]) }
      : { name, dtype: 'F32', shape: s.shape, data };
  });
  // transformers refuses safetensors whose metadata lacks format "pt"
  return writeSafetensors(tensors, { format: 'pt' });
}

// ---- tokenizers -------------------------------------------------------------------------------------

/** The text files of a model directory that can describe its tokenizer. */
export interface TokenizerFiles {
  /** wgpt's own tokenizer JSON (written by exportHF for tokenizers HF cannot express). */
  wgptTokenizer?: string;
  vocabJson?: string;
  mergesTxt?: string;
  tokenizerJson?: string;
}

/**
 * The tokenizer the files describe, for a model with `vocabSize` ids (a GPT-2 vocabulary smaller
 * than the model's is padded), or null when there are no tokenizer files. Preference:
 * wgpt-tokenizer.json (exact), then vocab.json + merges.txt, then tokenizer.json.
 */
export function tokenizerFromFiles(files: TokenizerFiles, vocabSize: number): { tokenizer: Tokenizer; source: string } | null {
  let tokenizer: Tokenizer;
  let source: string;
  if (files.wgptTokenizer !== undefined) {
    tokenizer = tokenizerFromJSON(files.wgptTokenizer);
    source = 'wgpt-tokenizer.json';
  } else if (files.vocabJson !== undefined && files.mergesTxt !== undefined) {
    tokenizer = Gpt2Tokenizer.fromFiles(files.vocabJson, files.mergesTxt, { vocabSize });
    source = 'vocab.json + merges.txt';
  } else if (files.vocabJson !== undefined || files.mergesTxt !== undefined) {
    throw new HfFormatError(`has ${files.vocabJson !== undefined ? 'vocab.json but no merges.txt' : 'merges.txt but no vocab.json'}: GPT-2's tokenizer needs both`, { file: 'tokenizer' });
  } else if (files.tokenizerJson !== undefined) {
    tokenizer = Gpt2Tokenizer.fromHFTokenizerJSON(files.tokenizerJson, { vocabSize });
    source = 'tokenizer.json';
  } else {
    return null;
  }
  if (tokenizer.vocabSize !== vocabSize) {
    throw new HfFormatError(`the tokenizer (${source}) has ${tokenizer.vocabSize} ids but the model's vocabulary is ${vocabSize}`, { file: source });
  }
  return { tokenizer, source };
}

/**
 * vocab.json + merges.txt for wgpt's own byte-level BPE (same pre-tokenizer pattern, same merge
 * order), and the ids Hugging Face would read differently: tokens whose bytes another id already
 * spells (vocab.json maps a string to one id), so encoding with the files never produces them.
 */
export function bpeToGpt2Files(bpe: BpeTokenizer): { vocabJson: string; mergesTxt: string; shadowed: number[] } {
  const spell = (id: number) => bytesToTokenString(bpe.tokenBytes(id));
  const vocab: Record<string, number> = {};
  const shadowed: number[] = [];
  for (let id = 0; id < bpe.vocabSize; id++) {
    const s = spell(id);
    if (s in vocab) shadowed.push(id);
    else vocab[s] = id;
  }
  const mergesTxt = '#version: 0.2\n' + bpe.merges.map(([a, b]) => `${spell(a)} ${spell(b)}\n`).join('');
  return { vocabJson: JSON.stringify(vocab), mergesTxt, shadowed };
}

// ---- whole directories ------------------------------------------------------------------------------

/** A Hugging Face model directory's contents that matter here. */
export interface HfDirectory extends TokenizerFiles {
  /** config.json (text or object); optional: the shapes decide without it. */
  config?: unknown;
  /** model.safetensors. */
  weights: TensorSource | Uint8Array;
}

export interface HfImport {
  checkpoint: Checkpoint;
  tokenizer: Tokenizer;
  notes: string[];
}

/**
 * A wgpt checkpoint (weights + tokenizer, no training state) from a Hugging Face GPT-2 directory.
 * The tokenizer comes from `opts.tokenizer`, else from the files (tokenizerFromFiles); with
 * neither, HfFormatError (Node's importHF falls back to GPT-2's own tokenizer for V >= 50257).
 */
export function importHFDirectory(dir: HfDirectory, opts: { tokenizer?: Tokenizer; nHead?: number; origin?: Record<string, unknown> } = {}): HfImport {
  const { config, params, notes } = importWeights(dir.weights, { config: dir.config, nHead: opts.nHead });
  let tokenizer = opts.tokenizer;
  if (tokenizer) {
    if (tokenizer.vocabSize !== config.vocabSize) throw new HfFormatError(`the tokenizer given has ${tokenizer.vocabSize} ids but the model's vocabulary is ${config.vocabSize}`);
  } else {
    const found = tokenizerFromFiles(dir, config.vocabSize);
    if (!found) throw new HfFormatError('no tokenizer files (vocab.json + merges.txt, tokenizer.json or wgpt-tokenizer.json); pass a tokenizer', { file: 'tokenizer' });
    tokenizer = found.tokenizer;
    notes.push(`tokenizer: ${found.tokenizer.type} from ${found.source}`);
  }
  const checkpoint: Checkpoint = { config, tokenizer: tokenizer.toJSON(), params, origin: { format: 'huggingface-gpt2', ...opts.origin } };
  return { checkpoint, tokenizer, notes };
}

export type HfFiles = Record<string, string | Uint8Array>;

/**
 * A Hugging Face GPT-2 directory for a wgpt model: config.json, model.safetensors (HF names,
 * Conv1D layouts, F32), the tokenizer (vocab.json + merges.txt + tokenizer_config.json for GPT-2
 * and byte-level BPE tokenizers; wgpt-tokenizer.json for what HF tokenizers cannot express), and
 * a README.md that says how to load it and what to watch for.
 */
export function exportHFDirectory(ck: Pick<Checkpoint, 'config' | 'params' | 'tokenizer'> & Partial<Pick<Checkpoint, 'head' | 'train'>>): { files: HfFiles; notes: string[] } {
  const { config } = ck;
  const tokenizer = tokenizerFromJSON(ck.tokenizer);
  if (tokenizer.vocabSize !== config.vocabSize) throw new HfFormatError(`the tokenizer has ${tokenizer.vocabSize} ids but the model's vocabulary is ${config.vocabSize}`);
  const files: HfFiles = {};
  const notes: string[] = [];
  let eot: number | undefined;
  let tokenizerText: string;
  const tokenizerConfig = (special: string | null) => JSON.stringify({
    tokenizer_class: 'GPT2Tokenizer',
    model_max_length: config.blockSize,
    add_prefix_space: false,
    bos_token: special,
    eos_token: special,
    unk_token: special,
  }, null, 2);
  if (tokenizer instanceof Gpt2Tokenizer) {
    const f = tokenizer.toFiles();
    files['vocab.json'] = f.vocabJson;
    files['merges.txt'] = f.mergesTxt;
    eot = tokenizer.tokenId('<|endoftext|>');
    files['tokenizer_config.json'] = tokenizerConfig(eot !== undefined ? '<|endoftext|>' : null);
    tokenizerText = "GPT-2's byte-level BPE: `vocab.json` + `merges.txt` (load with `GPT2Tokenizer.from_pretrained(dir)`).";
  } else if (tokenizer.type === 'bpe') {
    const f = bpeToGpt2Files(tokenizer as BpeTokenizer);
    files['vocab.json'] = f.vocabJson;
    files['merges.txt'] = f.mergesTxt;
    files['tokenizer_config.json'] = tokenizerConfig(null);
    files['wgpt-tokenizer.json'] = JSON.stringify(tokenizer.toJSON());
    tokenizerText =
      "wgpt's byte-level BPE, written as GPT-2 tokenizer files (`vocab.json` + `merges.txt`): same pre-tokenizer pattern, same merges. " +
      "Two differences from wgpt's own encoder: wgpt cuts pre-tokenizer chunks longer than 256 UTF-16 units (GPT-2 does not), " +
      'so text with such runs may encode differently; ' +
      (f.shadowed.length
        ? `and ${f.shadowed.length} token(s) (ids ${f.shadowed.slice(0, 10).join(', ')}${f.shadowed.length > 10 ? ', ...' : ''}) spell the same bytes as a lower id, which vocab.json cannot hold, so Hugging Face never produces them. `
        : 'no two tokens spell the same bytes, so the vocabularies agree. ') +
      '`wgpt-tokenizer.json` holds the exact wgpt tokenizer.';
    if (f.shadowed.length) notes.push(`${f.shadowed.length} BPE token(s) duplicate another token's bytes: Hugging Face's tokenizer will never produce them`);
  } else {
    files['wgpt-tokenizer.json'] = JSON.stringify(tokenizer.toJSON());
    tokenizerText =
      `wgpt's ${tokenizer.type}-level tokenizer (${tokenizer.vocabSize} ids), in \`wgpt-tokenizer.json\`. Hugging Face's GPT-2 tokenizer files ` +
      '(byte-level BPE) cannot express a character-level vocabulary, so there is no `vocab.json`/`merges.txt`: map text to ids with ' +
      'wgpt (`tokenizerFromJSON`), or in Python from the JSON (ids are the positions of the code points in `vocab`; an `<unk>` id, if any, is the last).';
    notes.push(`the ${tokenizer.type} tokenizer cannot be written as Hugging Face tokenizer files; wrote wgpt-tokenizer.json`);
  }
  files['config.json'] = JSON.stringify(configToHF(config, { bos: eot, eos: eot }), null, 2);
  files['model.safetensors'] = exportWeights(config, ck.params);
  files['README.md'] = readme(config, tokenizerText);
  if (ck.head) notes.push(`the checkpoint's classification head (${ck.head.tensors.map((t) => t.name).join(', ')}) is not part of a GPT-2 language model and was not exported`);
  if (ck.train) notes.push('the optimizer state (AdamW moments) was not exported');
  return { files, notes };
}

function readme(c: GPTConfig, tokenizerText: string): string {
  return `# GPT-2 model exported by wgpt

A GPT-2-architecture language model (L=${c.nLayer} layers, C=${c.nEmbd} channels, ${c.nHead} heads,
context ${c.blockSize}, vocabulary ${c.vocabSize}) in Hugging Face's GPT-2 layout.

- \`config.json\`: a \`GPT2Config\` (\`model_type: gpt2\`, GELU tanh approximation, layernorm eps 1e-5,
  dropout 0 because wgpt trains without dropout; set \`*_pdrop\` if you fine-tune with it).
- \`model.safetensors\`: float32 weights under GPT-2's names (\`wte.weight\`, \`h.0.attn.c_attn.weight\`, ...)
  with Conv1D layouts (weights stored (in, out)). The LM head is tied to \`wte.weight\`.

Load it with \`transformers\`:

\`\`\`python
from transformers import GPT2LMHeadModel
model = GPT2LMHeadModel.from_pretrained("path/to/this/dir")
\`\`\`

Tokenizer: ${tokenizerText}
`;
}
