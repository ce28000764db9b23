/**
 * Hugging Face GPT-2 interop in Node: read a model directory (or one .safetensors file) into a
 * wgpt checkpoint, write a wgpt checkpoint as a GPT-2 directory, and load any model path (wgpt
 * checkpoint file, HF directory, HF safetensors file) for eval, sample and fine-tuning.
 *
 * Weights are read from disk one tensor at a time (never the whole file at once), so files past
 * Node's 2 GiB readFile limit (GPT-2 large, 3.1 GB) import with one copy of the model in memory.
 */
import { closeSync, existsSync, fstatSync, mkdirSync, openSync, readFileSync, readSync, readdirSync, statSync } from 'node:fs';
import { basename, join } from 'node:path';
import type { Gpu } from '../gpu/context.ts';
import { CheckpointError, DTYPE_SIZE, type SafetensorsDtype } from '../checkpoint/safetensors.ts';
import { decodeCheckpoint, FORMAT, type Checkpoint } from '../checkpoint/checkpoint.ts';
import { readCheckpointFile, writeFileAtomic } from '../checkpoint/node.ts';
import { LanguageModel } from '../model/language-model.ts';
import type { Tokenizer } from '../tokenizer/types.ts';
import { gpt2Reference } from './gpt2-tokenizer.ts';
import { configFromHF, exportHFDirectory, floatsFromBytes, HfFormatError, importHFDirectory, type HfImport, type TensorInfo, type TensorSource, type TokenizerFiles } from './hf.ts';

const MAX_HEADER = 100_000_000;

/** A safetensors file on disk: its metadata, and a TensorSource that reads one tensor per call. */
export interface SafetensorsFileSource extends TensorSource {
  readonly metadata: Record<string, string>;
  close(): void;
}

/**
 * Open a safetensors file: the header is read and validated (known dtypes, integer shapes,
 * data_offsets that match the shapes and tile the data section exactly); no tensor data is read.
 * A malformed file throws CheckpointError naming the file or the tensor.
 */
export function openSafetensorsFile(path: string): SafetensorsFileSource {
  const file = basename(path);
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch {
    throw new CheckpointError(`cannot open ${path}`);
  }
  try {
    const size = fstatSync(fd).size;
    const read = (pos: number, len: number): Buffer => {
      const buf = Buffer.allocUnsafe(len);
      let got = 0;
      while (got < len) {
        const n = readSync(fd, buf, got, len - got, pos + got);
        if (n === 0) throw new CheckpointError(`${file}: unexpected end of file at byte ${pos + got} (file is ${size} bytes)`);
        got += n;
      }
      return buf;
    };
    if (size < 8) throw new CheckpointError(`${file}: ${size} bytes: too short for a safetensors file`);
    const head = read(0, 8);
    const n = head.readUInt32LE(0) + head.readUInt32LE(4) * 2 ** 32;
    if (n > MAX_HEADER || 8 + n > size) throw new CheckpointError(`${file}: header length ${n} does not fit the file (${size} bytes): not a safetensors file?`);
    let header: Record<string, any>;
    try {
      header = JSON.parse(read(8, n).toString('utf8'));
    } catch (e) {
      throw new CheckpointError(`${file}: header is not valid JSON (${(e as Error).message})`);
    }
    if (typeof header !== 'object' || header === null || Array.isArray(header)) throw new CheckpointError(`${file}: header is not a JSON object`);
    const dataStart = 8 + n;
    const dataLen = size - dataStart;
    const entries: { name: string; dtype: string; shape: number[]; begin: number; end: number }[] = [];
    let metadata: Record<string, string> = {};
    for (const [name, info] of Object.entries(header)) {
      if (name === '__metadata__') {
        metadata = info ?? {};
        continue;
      }
      const { dtype, shape, data_offsets: off } = info ?? {};
      const size1 = DTYPE_SIZE[dtype as SafetensorsDtype];
      if (!size1) throw new CheckpointError(`unsupported dtype ${JSON.stringify(dtype)}`, name);
      if (!Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && d >= 0)) throw new CheckpointError(`bad shape ${JSON.stringify(shape)}`, name);
      if (!Array.isArray(off) || off.length !== 2 || !off.every((x) => Number.isSafeInteger(x) && x >= 0)) throw new CheckpointError(`bad data_offsets ${JSON.stringify(off)}`, name);
      const bytes = shape.reduce((a: number, d: number) => a * d, 1) * size1;
      if (off[1] - off[0] !== bytes || off[1] > dataLen) {
        throw new CheckpointError(`data_offsets [${off[0]}, ${off[1]}] do not hold (${shape.join(', ')}) ${dtype} = ${bytes} bytes within the data section (${dataLen} bytes)`, name);
      }
      entries.push({ name, dtype, shape, begin: off[0], end: off[1] });
    }
    entries.sort((a, b) => a.begin - b.begin);
    let pos = 0;
    for (const e of entries) {
      if (e.begin !== pos) throw new CheckpointError(`data_offsets start at ${e.begin}, expected ${pos} (tensors must tile the data section)`, e.name);
      pos = e.end;
    }
    if (pos !== dataLen) throw new CheckpointError(`${file}: the tensors cover ${pos} bytes of a ${dataLen}-byte data section`);
    const byName = new Map(entries.map((e) => [e.name, e]));
    const get = (name: string) => {
      const e = byName.get(name);
      if (!e) throw new CheckpointError(`not in ${file}`, name);
      return e;
    };
    let closed = false;
    return {
      metadata,
      names: entries.map((e) => e.name),
      info: (name): TensorInfo => ({ dtype: get(name).dtype, shape: get(name).shape.slice() }),
      read: (name) => {
        const e = get(name);
        if (closed) throw new CheckpointError('file already closed', name);
        const raw = read(dataStart + e.begin, e.end - e.begin);
        return floatsFromBytes(new Uint8Array(raw.buffer, raw.byteOffset, raw.byteLength), e.dtype, name);
      },
      close: () => {
        if (!closed) closeSync(fd);
        closed = true;
      },
    };
  } catch (e) {
    closeSync(fd);
    throw e;
  }
}

function readText(path: string): string | undefined {
  return existsSync(path) ? readFileSync(path, 'utf8') : undefined;
}

/** The tokenizer files present in a directory. */
export function readTokenizerFiles(dir: string): TokenizerFiles {
  return {
    wgptTokenizer: readText(join(dir, 'wgpt-tokenizer.json')),
    vocabJson: readText(join(dir, 'vocab.json')),
    mergesTxt: readText(join(dir, 'merges.txt')),
    tokenizerJson: readText(join(dir, 'tokenizer.json')),
  };
}

export interface ImportOptions {
  /** config.json contents (object or text) or a path to it; default: the directory's config.json, or the shapes. */
  config?: unknown;
  /** A tokenizer to use instead of the directory's files. */
  tokenizer?: Tokenizer;
  /** Heads, when there is no config (default n_embd / 64). */
  nHead?: number;
}

/**
 * Import a Hugging Face GPT-2 model: a directory (config.json, model.safetensors, tokenizer files)
 * or a single .safetensors file (config from opts.config or the shapes). With no tokenizer files
 * and a vocabulary of at least 50257 ids, GPT-2's own tokenizer is used (padded to the model's
 * vocabulary), with a note. Throws HfFormatError naming the file or tensor at fault.
 */
export async function importHF(path: string, opts: ImportOptions = {}): Promise<HfImport> {
  let st: ReturnType<typeof statSync>;
  try {
    st = statSync(path);
  } catch {
    throw new HfFormatError(`${path} does not exist`);
  }
  const isDir = st.isDirectory();
  const weightsPath = isDir ? join(path, 'model.safetensors') : path;
  if (isDir && !existsSync(weightsPath)) {
    const has = readdirSync(path);
    const hint = has.includes('pytorch_model.bin') ? ' (it has pytorch_model.bin: convert it to safetensors first)' : has.some((f) => /\.safetensors\.index\.json$/.test(f)) ? ' (sharded checkpoints are not supported)' : '';
    throw new HfFormatError(`${path} has no model.safetensors${hint}`, { file: 'model.safetensors' });
  }
  let config = opts.config;
  if (typeof config === 'string' && !config.trimStart().startsWith('{')) config = readText(config) ?? (() => { throw new HfFormatError(`config file ${opts.config} does not exist`); })();
  if (config === undefined && isDir) config = readText(join(path, 'config.json'));
  const tokFiles = isDir ? readTokenizerFiles(path) : {};
  const src = openSafetensorsFile(weightsPath);
  try {
    if (src.metadata.format === FORMAT) throw new HfFormatError(`${weightsPath} is a wgpt checkpoint, not a Hugging Face model (use it directly)`);
    let tokenizer = opts.tokenizer;
    const notes: string[] = [];
    if (!tokenizer && !Object.values(tokFiles).some((x) => x !== undefined)) {
      const V = vocabSizeOf(config, src);
      if (V !== undefined && Number.isInteger(V) && V >= 50257) {
        tokenizer = (await gpt2Reference()).padTo(V);
        notes.push(`no tokenizer files: using GPT-2's tokenizer (gpt-tokenizer r50k_base)${V > 50257 ? `, padded to ${V} ids` : ''}`);
      }
    }
    const r = importHFDirectory({ ...tokFiles, config, weights: src }, { tokenizer, nHead: opts.nHead, origin: { path } });
    r.notes.unshift(...notes);
    return r;
  } finally {
    src.close();
  }
}

/** The vocabulary size from the config, or from wte's shape; undefined when neither says (errors come later). */
function vocabSizeOf(config: unknown, src: TensorSource): number | undefined {
  try {
    if (config !== undefined) return configFromHF(config).vocabSize;
    const wte = src.names.find((n) => n === 'wte.weight' || n === 'transformer.wte.weight');
    return wte ? src.info(wte).shape[0] : undefined;
  } catch {
    return undefined;
  }
}

/** Write `files` into directory `dir` (created if needed; each file written atomically). */
export function writeHFFiles(dir: string, files: Record<string, string | Uint8Array>): string[] {
  mkdirSync(dir, { recursive: true });
  const written: string[] = [];
  for (const [name, data] of Object.entries(files)) {
    const path = join(dir, name);
    writeFileAtomic(path, typeof data === 'string' ? new TextEncoder().encode(data) : data);
    written.push(path);
  }
  return written;
}

/** Export a checkpoint (object, or a wgpt checkpoint path) as a Hugging Face GPT-2 directory. */
export function exportHF(checkpoint: Checkpoint | string, dir: string): { written: string[]; notes: string[] } {
  const ck = typeof checkpoint === 'string' ? decodeCheckpoint(readCheckpointFile(checkpoint)) : checkpoint;
  const { files, notes } = exportHFDirectory(ck);
  return { written: writeHFFiles(dir, files), notes };
}

export type ModelSource = 'wgpt' | 'huggingface';

/**
 * Any model path as a checkpoint: a wgpt checkpoint file, a Hugging Face GPT-2 directory, or a
 * Hugging Face .safetensors file. No GPU needed.
 */
export async function loadAnyCheckpoint(path: string, opts: ImportOptions = {}): Promise<{ checkpoint: Checkpoint; source: ModelSource; notes: string[] }> {
  let isDir = false;
  try {
    isDir = statSync(path).isDirectory();
  } catch {
    throw new CheckpointError(`checkpoint ${path} does not exist`);
  }
  if (!isDir) {
    let src: SafetensorsFileSource;
    try {
      src = openSafetensorsFile(path);
    } catch (e) {
      // a single file that is not even readable safetensors: a broken checkpoint, whatever it was meant to be
      throw new CheckpointError(`${path} is not a readable checkpoint: ${(e as Error).message}`);
    }
    const wgpt = src.metadata.format === FORMAT;
    src.close();
    if (wgpt) return { checkpoint: decodeCheckpoint(readCheckpointFile(path)), source: 'wgpt', notes: [] };
  }
  const r = await importHF(path, opts);
  return { checkpoint: r.checkpoint, source: 'huggingface', notes: r.notes };
}

/**
 * Load any model path (see loadAnyCheckpoint) onto the GPU as a LanguageModel. This is what
 * `wgpt eval`, `wgpt sample` and fine-tuning call for --from.
 */
export async function loadAnyModel(gpu: Gpu, path: string, opts: ImportOptions = {}): Promise<{ model: LanguageModel; checkpoint: Checkpoint; source: ModelSource; notes: string[] }> {
  const { checkpoint, source, notes } = await loadAnyCheckpoint(path, opts);
  const { model } = LanguageModel.fromCheckpoint(gpu, checkpoint);
  return { model, checkpoint, source, notes };
}

/** True when `path` looks like a Hugging Face model directory (has config.json or model.safetensors). */
export function isHFDirectory(path: string): boolean {
  try {
    return statSync(path).isDirectory() && (existsSync(join(path, 'model.safetensors')) || existsSync(join(path, 'config.json')));
  } catch {
    return false;
  }
}
