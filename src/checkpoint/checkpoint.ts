/**
 * wgpt checkpoints: one safetensors file.
 *
 * Tensors: every model parameter under its GPT-2 (nanoGPT) name, F32, nn.Linear layout (out, in);
 * with training state also `optim.m.<name>` and `optim.v.<name>` (AdamW moments).
 * Metadata (safetensors `__metadata__`, string -> string):
 *   format     "wgpt-checkpoint-1"
 *   config     GPTConfig as JSON
 *   tokenizer  the tokenizer's JSON
 *   train      JSON: step, optimizer config and step, data-source state (RNG), best val loss,
 *              options (only in checkpoints that can resume training)
 *   origin     JSON: where a fine-tuned model came from (parent checkpoint, task, steps)
 *   head       JSON: a classification head's labels and layout, when there is one
 *
 * Loading validates everything before touching a model: the names, shapes and dtypes of all
 * tensors (the first mismatch is reported by tensor name), missing and unexpected tensors.
 */
import { WgptError } from '../errors.ts';
import { countParams, validateConfig, type GPTConfig } from '../model/config.ts';
import { paramLayout, type ParamLayout } from '../model/params.ts';
import { readSafetensors, writeSafetensors, CheckpointError } from './safetensors.ts';

export { CheckpointError };
export const FORMAT = 'wgpt-checkpoint-1';

export interface TrainMeta {
  step: number;
  optimizerStep: number;
  optimizer: Record<string, number>;
  data: unknown;
  bestValLoss: number | null;
  options?: Record<string, unknown>;
}

export interface Checkpoint {
  config: GPTConfig;
  tokenizer: unknown;
  /** Parameters, flat, in paramLayout(config) (with alignment padding). */
  params: Float32Array;
  /** AdamW moments in the same layout, and the rest of the training state. */
  train?: TrainMeta & { m: Float32Array; v: Float32Array };
  origin?: Record<string, unknown>;
  /** Extra tensors (e.g. a classification head) by name, and their description. */
  head?: { meta: Record<string, unknown>; tensors: { name: string; shape: number[]; data: Float32Array }[] };
}

/** Serialize a checkpoint to safetensors bytes. */
export function encodeCheckpoint(c: Checkpoint): Uint8Array {
  const layout = paramLayout(c.config);
  if (c.params.length !== layout.total) throw new CheckpointError(`encodeCheckpoint: params has ${c.params.length} floats, the layout of this config has ${layout.total}`);
  const tensors: { name: string; dtype: 'F32'; shape: number[]; data: Float32Array }[] = [];
  for (const s of layout.specs) tensors.push({ name: s.name, dtype: 'F32', shape: s.shape, data: c.params.subarray(s.offset, s.offset + s.size) });
  if (c.train) {
    for (const s of layout.specs) tensors.push({ name: `optim.m.${s.name}`, dtype: 'F32', shape: s.shape, data: c.train.m.subarray(s.offset, s.offset + s.size) });
    for (const s of layout.specs) tensors.push({ name: `optim.v.${s.name}`, dtype: 'F32', shape: s.shape, data: c.train.v.subarray(s.offset, s.offset + s.size) });
  }
  for (const t of c.head?.tensors ?? []) tensors.push({ name: t.name, dtype: 'F32', shape: t.shape, data: t.data });
  const metadata: Record<string, string> = { format: FORMAT, config: JSON.stringify(c.config), tokenizer: JSON.stringify(c.tokenizer) };
  if (c.train) {
    const { m: _m, v: _v, ...rest } = c.train;
    metadata.train = JSON.stringify(rest);
  }
  if (c.origin) metadata.origin = JSON.stringify(c.origin);
  if (c.head) metadata.head = JSON.stringify(c.head.meta);
  return writeSafetensors(tensors, metadata);
}

function parseJSON(meta: Record<string, string>, key: string): any {
  const s = meta[key];
  if (s === undefined) return undefined;
  try {
    return JSON.parse(s);
  } catch (e) {
    throw new CheckpointError(`checkpoint metadata '${key}' is not valid JSON: ${(e as Error).message}`);
  }
}

function flatten(layout: ParamLayout, get: (name: string, shape: number[]) => Float32Array): Float32Array {
  const out = new Float32Array(layout.total);
  for (const s of layout.specs) out.set(get(s.name, s.shape), s.offset);
  return out;
}

/** Parse and validate checkpoint bytes. Throws CheckpointError naming the first problem. */
export function decodeCheckpoint(bytes: Uint8Array): Checkpoint {
  const st = readSafetensors(bytes);
  const meta = st.metadata ?? {};
  if (meta.format !== FORMAT) throw new CheckpointError(`not a wgpt checkpoint: metadata format is ${JSON.stringify(meta.format)}, expected "${FORMAT}"`);
  const config = parseJSON(meta, 'config') as GPTConfig;
  if (!config || typeof config !== 'object') throw new CheckpointError('checkpoint metadata has no model config');
  try {
    validateConfig(config);
  } catch (e) {
    throw new CheckpointError(`checkpoint config is invalid: ${(e as Error).message}`);
  }
  const tokenizer = parseJSON(meta, 'tokenizer');
  if (tokenizer === undefined) throw new CheckpointError('checkpoint metadata has no tokenizer');
  // the config must be backed by the file's bytes before anything of its size is built or allocated
  const nParams = countParams(config);
  if (nParams * 4 > bytes.length) {
    throw new CheckpointError(`checkpoint config describes ${nParams} parameters (${nParams * 4} bytes) but the file has only ${bytes.length} bytes`);
  }
  const layout = paramLayout(config);
  const seen = new Set<string>();
  const get = (name: string, shape: number[]): Float32Array => {
    const t = st.tensors.get(name);
    if (!t) throw new CheckpointError(`checkpoint is missing tensor ${name} (expected shape (${shape.join(', ')}))`);
    if (t.dtype !== 'F32' && t.dtype !== 'F16' && t.dtype !== 'BF16') throw new CheckpointError(`tensor ${name} has dtype ${t.dtype}, expected F32`);
    if (t.shape.length !== shape.length || t.shape.some((d: number, i: number) => d !== shape[i])) {
      throw new CheckpointError(`shape mismatch in tensor ${name}: checkpoint has (${t.shape.join(', ')}), the config needs (${shape.join(', ')})`);
    }
    seen.add(name);
    return t.data as Float32Array;
  };
  const params = flatten(layout, get);
  const trainMeta = parseJSON(meta, 'train') as TrainMeta | undefined;
  let train: Checkpoint['train'];
  if (trainMeta) {
    const m = flatten(layout, (n, s) => get(`optim.m.${n}`, s));
    const v = flatten(layout, (n, s) => get(`optim.v.${n}`, s));
    if (!Number.isInteger(trainMeta.step) || trainMeta.step < 0) throw new CheckpointError(`checkpoint train.step is ${trainMeta.step}, expected a non-negative integer`);
    train = { ...trainMeta, m, v };
  }
  const headMeta = parseJSON(meta, 'head') as Record<string, unknown> | undefined;
  let head: Checkpoint['head'];
  if (headMeta) {
    const names = Array.isArray(headMeta.tensors) ? (headMeta.tensors as string[]) : [];
    head = {
      meta: headMeta,
      tensors: names.map((n) => {
        const t = st.tensors.get(n);
        if (!t) throw new CheckpointError(`checkpoint is missing head tensor ${n}`);
        seen.add(n);
        return { name: n, shape: t.shape, data: t.data as Float32Array };
      }),
    };
  }
  for (const name of st.tensors.keys()) {
    if (!seen.has(name)) throw new CheckpointError(`checkpoint has an unexpected tensor ${name} (not part of a ${config.nLayer}-layer model${train ? ' with optimizer state' : ''})`);
  }
  return { config, tokenizer, params, train, origin: parseJSON(meta, 'origin'), head };
}

export { WgptError };
