/**
 * The safetensors format (huggingface/safetensors), read and written without Node APIs.
 *
 * Layout: 8 bytes little-endian u64 N | N bytes of JSON header | data section. The header maps each
 * tensor name to {dtype, shape, data_offsets: [begin, end]} (byte offsets into the data section)
 * and may hold "__metadata__": {string: string}. The header starts with '{' and is padded with
 * spaces so that 8 + N is a multiple of 8. Tensors must cover the data section exactly: no overlap,
 * no gap, no trailing bytes. All numbers are little-endian regardless of the host.
 *
 * readSafetensors validates the whole header (every size, offset and dtype, against the file's
 * length) before it copies any tensor data, and throws CheckpointError naming the tensor and values.
 */
import { WgptError } from '../errors.ts';

/** A checkpoint file is malformed, or a tensor handed to the writer is inconsistent; `tensor` names it. */
export class CheckpointError extends WgptError {
  readonly tensor?: string;
  constructor(message: string, tensor?: string) {
    super('CHECKPOINT', tensor === undefined ? message : `tensor '${tensor}': ${message}`);
    this.tensor = tensor;
  }
}

export type SafetensorsDtype = 'F64' | 'F32' | 'F16' | 'BF16' | 'I64' | 'I32' | 'I16' | 'I8' | 'U64' | 'U32' | 'U16' | 'U8' | 'BOOL';

export type TensorData =
  | Float64Array
  | Float32Array
  | BigInt64Array
  | BigUint64Array
  | Int32Array
  | Uint32Array
  | Int16Array
  | Uint16Array
  | Int8Array
  | Uint8Array;

/** Bytes per element. */
export const DTYPE_SIZE: Readonly<Record<SafetensorsDtype, number>> = Object.freeze({
  F64: 8, F32: 4, F16: 2, BF16: 2, I64: 8, I32: 4, I16: 2, I8: 1, U64: 8, U32: 4, U16: 2, U8: 1, BOOL: 1,
});

type Ctor = { new (buffer: ArrayBuffer): TensorData; readonly name: string };
/** The array class that holds each dtype's elements on read (F16/BF16: raw bits as Uint16Array before conversion). */
const STORAGE: Record<SafetensorsDtype, Ctor> = {
  F64: Float64Array, F32: Float32Array, F16: Uint16Array, BF16: Uint16Array, I64: BigInt64Array, I32: Int32Array,
  I16: Int16Array, I8: Int8Array, U64: BigUint64Array, U32: Uint32Array, U16: Uint16Array, U8: Uint8Array, BOOL: Uint8Array,
};

/** Tensor to write. F16/BF16 take a Float32Array (rounded to nearest even) or a Uint16Array of raw bits. */
export interface TensorToWrite {
  name: string;
  dtype: SafetensorsDtype;
  shape: readonly number[];
  data: TensorData;
}

/** Tensor read. `dtype` is the file's; F16 and BF16 data come back converted to Float32Array. */
export interface TensorRead {
  dtype: SafetensorsDtype;
  shape: number[];
  data: TensorData;
}

export interface SafetensorsFile {
  metadata: Record<string, string>;
  /** In file (data offset) order. */
  tensors: Map<string, TensorRead>;
}

export interface HeaderEntry {
  name: string;
  dtype: SafetensorsDtype;
  shape: number[];
  /** Byte offsets into the data section. */
  begin: number;
  end: number;
}

export interface ReadOptions {
  /** Largest header accepted, in bytes; default 100 MB (the reference implementation's limit). */
  maxHeaderBytes?: number;
}

const LITTLE_ENDIAN_HOST = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;
const DEFAULT_MAX_HEADER = 100_000_000;

/** Reverse the bytes of each size-byte element in place (little-endian file <-> big-endian host). */
function swapBytes(b: Uint8Array, size: number): void {
  if (size === 1) return;
  for (let i = 0; i + size <= b.length; i += size) b.subarray(i, i + size).reverse();
}

// ---- half-precision conversions ----------------------------------------------------------------

let f16Table: Float32Array | null = null;
/** All 65536 float16 values as float32 (exact: every f16 is representable in f32). */
function f16ToF32Table(): Float32Array {
  if (f16Table) return f16Table;
  const t = new Float32Array(65536);
  for (let h = 0; h < 65536; h++) {
    const s = h & 0x8000 ? -1 : 1;
    const e = (h >> 10) & 0x1f;
    const f = h & 0x3ff;
    if (e === 0) t[h] = s * f * 2 ** -24;
    else if (e === 31) t[h] = f ? NaN : s * Infinity;
    else t[h] = s * (1 + f / 1024) * 2 ** (e - 15);
  }
  return (f16Table = t);
}

const scratchF = new Float32Array(1);
const scratchU = new Uint32Array(scratchF.buffer);

/** float32 -> float16 bits, round to nearest even; overflow -> infinity; NaN stays NaN. */
export function f32ToF16Bits(x: number): number {
  scratchF[0] = x;
  const b = scratchU[0];
  const sign = (b >>> 16) & 0x8000;
  const exp = (b >>> 23) & 0xff;
  let mant = b & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 : 0);
  const e = exp - 127 + 15;
  if (e >= 31) return sign | 0x7c00;
  if (e <= 0) {
    if (e < -10) return sign;
    mant |= 0x800000;
    const shift = 14 - e;
    let half = mant >>> shift;
    const rem = mant & ((1 << shift) - 1);
    const halfway = 1 << (shift - 1);
    if (rem > halfway || (rem === halfway && half & 1)) half++;
    return sign | half;
  }
  let half = (e << 10) | (mant >>> 13);
  const rem = mant & 0x1fff;
  if (rem > 0x1000 || (rem === 0x1000 && half & 1)) half++; // a carry into the exponent is right (up to infinity)
  return sign | half;
}

/** float16 bits -> number. */
export function f16BitsToF32(h: number): number {
  return f16ToF32Table()[h & 0xffff];
}

/** float32 -> bfloat16 bits, round to nearest even; NaN stays NaN. */
export function f32ToBf16Bits(x: number): number {
  scratchF[0] = x;
  const b = scratchU[0];
  if ((b & 0x7f800000) === 0x7f800000 && b & 0x7fffff) return ((b >>> 16) | 0x40) & 0xffff;
  return ((b + 0x7fff + ((b >>> 16) & 1)) >>> 16) & 0xffff;
}

/** bfloat16 bits -> number. */
export function bf16BitsToF32(h: number): number {
  scratchU[0] = (h & 0xffff) << 16;
  return scratchF[0];
}

// ---- writing ------------------------------------------------------------------------------------

/** The element bytes of t in file order (little-endian), converting F16/BF16 from Float32Array. */
function tensorBytes(t: TensorToWrite): Uint8Array {
  let src: TensorData = t.data;
  if ((t.dtype === 'F16' || t.dtype === 'BF16') && src instanceof Float32Array) {
    const conv = t.dtype === 'F16' ? f32ToF16Bits : f32ToBf16Bits;
    const bits = new Uint16Array(src.length);
    for (let i = 0; i < src.length; i++) bits[i] = conv(src[i]);
    src = bits;
  }
  const view = new Uint8Array(src.buffer, src.byteOffset, src.byteLength);
  if (LITTLE_ENDIAN_HOST) return view;
  const copy = view.slice();
  swapBytes(copy, DTYPE_SIZE[t.dtype]);
  return copy;
}

function checkTensorToWrite(t: TensorToWrite, names: Set<string>): number {
  if (typeof t.name !== 'string') throw new CheckpointError(`tensor name must be a string, got ${typeof t.name}`);
  const name = t.name;
  if (name === '__metadata__') throw new CheckpointError('the name __metadata__ is reserved for the metadata', name);
  if (names.has(name)) throw new CheckpointError('duplicate tensor name', name);
  names.add(name);
  if (!Object.prototype.hasOwnProperty.call(DTYPE_SIZE, t.dtype)) {
    throw new CheckpointError(`unsupported dtype ${JSON.stringify(t.dtype)} (supported: ${Object.keys(DTYPE_SIZE).join(', ')})`, name);
  }
  let numel = 1;
  for (const d of t.shape) {
    if (!Number.isSafeInteger(d) || d < 0) throw new CheckpointError(`shape [${t.shape.join(', ')}] has a dimension that is not a non-negative integer: ${d}`, name);
    numel *= d;
  }
  const want = STORAGE[t.dtype];
  const ok = t.data instanceof want || ((t.dtype === 'F16' || t.dtype === 'BF16') && t.data instanceof Float32Array);
  if (!ok) {
    const alt = t.dtype === 'F16' || t.dtype === 'BF16' ? ' or Float32Array' : '';
    throw new CheckpointError(`dtype ${t.dtype} needs a ${want.name}${alt}, got ${t.data?.constructor?.name ?? typeof t.data}`, name);
  }
  if (t.data.length !== numel) {
    throw new CheckpointError(`shape [${t.shape.join(', ')}] has ${numel} elements but data has ${t.data.length}`, name);
  }
  return numel * DTYPE_SIZE[t.dtype];
}

/**
 * Serialize tensors (in the given order) and string metadata to safetensors bytes. Throws
 * CheckpointError for a duplicate or reserved name, an unknown dtype, a data array of the wrong
 * class or length for dtype and shape, or non-string metadata.
 */
export function writeSafetensors(tensors: readonly TensorToWrite[], metadata: Record<string, string> = {}): Uint8Array {
  const names = new Set<string>();
  const sizes = tensors.map((t) => checkTensorToWrite(t, names));
  const parts: string[] = [];
  const metaKeys = Object.keys(metadata);
  if (metaKeys.length > 0) {
    for (const k of metaKeys) {
      if (typeof metadata[k] !== 'string') throw new CheckpointError(`metadata value of ${JSON.stringify(k)} must be a string, got ${typeof metadata[k]}`);
    }
    parts.push(`"__metadata__":${JSON.stringify(metadata)}`);
  }
  let offset = 0;
  tensors.forEach((t, i) => {
    const info = { dtype: t.dtype, shape: Array.from(t.shape), data_offsets: [offset, offset + sizes[i]] };
    parts.push(`${JSON.stringify(t.name)}:${JSON.stringify(info)}`);
    offset += sizes[i];
  });
  const json = new TextEncoder().encode(`{${parts.join(',')}}`);
  const headerLen = Math.ceil(json.length / 8) * 8; // 8 + headerLen stays a multiple of 8
  const out = new Uint8Array(8 + headerLen + offset);
  const dv = new DataView(out.buffer);
  dv.setUint32(0, headerLen % 4294967296, true);
  dv.setUint32(4, Math.floor(headerLen / 4294967296), true);
  out.set(json, 8);
  out.fill(0x20, 8 + json.length, 8 + headerLen);
  let pos = 8 + headerLen;
  tensors.forEach((t, i) => {
    out.set(tensorBytes(t), pos);
    pos += sizes[i];
  });
  return out;
}

// ---- reading ------------------------------------------------------------------------------------

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

const fmt = (v: unknown): string => {
  let s: string;
  try {
    s = JSON.stringify(v) ?? String(v);
  } catch {
    s = String(v);
  }
  return s.length > 80 ? s.slice(0, 77) + '...' : s;
};

/**
 * Parse and validate the header against the file length (bytes.length); nothing large is
 * allocated. Returns the metadata, the entries sorted by offset, and where the data section starts.
 */
export function readSafetensorsHeader(
  bytes: Uint8Array,
  opts: ReadOptions = {},
): { metadata: Record<string, string>; entries: HeaderEntry[]; dataStart: number } {
  if (!(bytes instanceof Uint8Array)) throw new CheckpointError('expected the file contents as a Uint8Array');
  if (bytes.length < 8) throw new CheckpointError(`file is ${bytes.length} bytes, shorter than the 8-byte header length field`);
  const maxHeader = opts.maxHeaderBytes ?? DEFAULT_MAX_HEADER;
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const n = dv.getUint32(0, true) + dv.getUint32(4, true) * 4294967296;
  if (n > maxHeader) throw new CheckpointError(`header length ${n} exceeds the limit of ${maxHeader} bytes; not a safetensors file?`);
  if (8 + n > bytes.length) throw new CheckpointError(`header length ${n} runs past the end of the file (${bytes.length} bytes, header would end at ${8 + n})`);
  if (n === 0 || bytes[8] !== 0x7b) throw new CheckpointError(`header must start with '{' (0x7b), found ${n === 0 ? 'an empty header' : `byte 0x${bytes[8].toString(16)}`}`);
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(8, 8 + n));
  } catch {
    throw new CheckpointError(`header (${n} bytes at offset 8) is not valid UTF-8`);
  }
  let header: unknown;
  try {
    header = JSON.parse(text);
  } catch (e) {
    throw new CheckpointError(`header is not valid JSON: ${(e as Error).message}`);
  }
  if (!isPlainObject(header)) throw new CheckpointError(`header must be a JSON object, got ${Array.isArray(header) ? 'an array' : fmt(header)}`);

  const dataStart = 8 + n;
  const dataLen = bytes.length - dataStart;
  const metadata: Record<string, string> = {};
  const entries: HeaderEntry[] = [];
  for (const [name, info] of Object.entries(header)) {
    if (name === '__metadata__') {
      if (!isPlainObject(info)) throw new CheckpointError(`__metadata__ must be an object of strings, got ${fmt(info)}`);
      for (const [k, v] of Object.entries(info)) {
        if (typeof v !== 'string') throw new CheckpointError(`__metadata__[${JSON.stringify(k)}] must be a string, got ${fmt(v)}`);
        metadata[k] = v;
      }
      continue;
    }
    if (!isPlainObject(info)) throw new CheckpointError(`expected {dtype, shape, data_offsets}, got ${fmt(info)}`, name);
    const { dtype, shape, data_offsets: off } = info;
    if (typeof dtype !== 'string' || !Object.prototype.hasOwnProperty.call(DTYPE_SIZE, dtype)) {
      throw new CheckpointError(`unsupported dtype ${fmt(dtype)} (supported: ${Object.keys(DTYPE_SIZE).join(', ')})`, name);
    }
    const dt = dtype as SafetensorsDtype;
    if (!Array.isArray(shape)) throw new CheckpointError(`shape must be an array of non-negative integers, got ${fmt(shape)}`, name);
    for (const d of shape as unknown[]) {
      if (typeof d !== 'number' || !Number.isSafeInteger(d) || d < 0) {
        throw new CheckpointError(`shape ${fmt(shape)} has a dimension that is not a non-negative integer: ${fmt(d)}`, name);
      }
    }
    let numel = (shape as number[]).includes(0) ? 0 : 1;
    for (const d of shape as number[]) {
      if (numel === 0) break;
      numel *= d; // all dims >= 1 here, so the product only grows: stop as soon as it cannot fit
      if (numel * DTYPE_SIZE[dt] > dataLen) {
        throw new CheckpointError(`shape ${fmt(shape)} of ${dt} needs more bytes than the whole data section holds (${dataLen})`, name);
      }
    }
    const nbytes = numel * DTYPE_SIZE[dt];
    if (!Array.isArray(off) || off.length !== 2 || !off.every((x) => typeof x === 'number' && Number.isSafeInteger(x) && x >= 0)) {
      throw new CheckpointError(`data_offsets must be [begin, end] with non-negative integers, got ${fmt(off)}`, name);
    }
    const [begin, end] = off as [number, number];
    if (end < begin) throw new CheckpointError(`data_offsets [${begin}, ${end}] end before they begin`, name);
    if (end > dataLen) {
      throw new CheckpointError(`data_offsets [${begin}, ${end}] run past the end of the data section (${dataLen} bytes; file ${bytes.length} bytes)`, name);
    }
    if (end - begin !== nbytes) {
      throw new CheckpointError(`data_offsets [${begin}, ${end}] span ${end - begin} bytes, but shape [${shape.join(', ')}] of ${dt} needs ${numel} x ${DTYPE_SIZE[dt]} = ${nbytes}`, name);
    }
    entries.push({ name, dtype: dt, shape: (shape as number[]).slice(), begin, end });
  }
  entries.sort((a, b) => a.begin - b.begin || a.end - b.end);
  let pos = 0;
  let prev: HeaderEntry | null = null;
  for (const e of entries) {
    if (e.begin < pos) {
      throw new CheckpointError(`data_offsets [${e.begin}, ${e.end}] overlap tensor '${prev!.name}' at [${prev!.begin}, ${prev!.end}]`, e.name);
    }
    if (e.begin > pos) {
      throw new CheckpointError(`data_offsets [${e.begin}, ${e.end}] leave bytes [${pos}, ${e.begin}) of the data section unused (the format allows no gaps)`, e.name);
    }
    pos = e.end;
    prev = e;
  }
  if (pos !== dataLen) {
    throw new CheckpointError(`the tensors cover ${pos} bytes of the data section but it has ${dataLen} (${dataLen - pos} trailing bytes)`);
  }
  return { metadata, entries, dataStart };
}

/** Copy one tensor's elements out of the file (any alignment), converting F16/BF16 to Float32Array. */
function readTensorData(bytes: Uint8Array, e: HeaderEntry, dataStart: number): TensorData {
  // own, aligned buffer: Uint8Array's slice even for a Node Buffer (whose slice() is a view)
  const raw = Uint8Array.prototype.slice.call(bytes, dataStart + e.begin, dataStart + e.end);
  if (!LITTLE_ENDIAN_HOST) swapBytes(raw, DTYPE_SIZE[e.dtype]);
  const arr = new STORAGE[e.dtype](raw.buffer);
  if (e.dtype === 'F16') {
    const t = f16ToF32Table();
    const bits = arr as Uint16Array;
    const out = new Float32Array(bits.length);
    for (let i = 0; i < bits.length; i++) out[i] = t[bits[i]];
    return out;
  }
  if (e.dtype === 'BF16') {
    const bits = arr as Uint16Array;
    const out = new Float32Array(bits.length);
    const u = new Uint32Array(out.buffer);
    for (let i = 0; i < bits.length; i++) u[i] = bits[i] << 16;
    return out;
  }
  return arr;
}

/**
 * Parse safetensors bytes. The header is fully validated first (see readSafetensorsHeader); each
 * tensor's data is then copied into its own typed array: F32 -> Float32Array, F16/BF16 ->
 * Float32Array, I32 -> Int32Array, I64 -> BigInt64Array, and so on.
 */
export function readSafetensors(bytes: Uint8Array, opts: ReadOptions = {}): SafetensorsFile {
  const { metadata, entries, dataStart } = readSafetensorsHeader(bytes, opts);
  const tensors = new Map<string, TensorRead>();
  for (const e of entries) tensors.set(e.name, { dtype: e.dtype, shape: e.shape, data: readTensorData(bytes, e, dataStart) });
  return { metadata, tensors };
}

/**
 * The float data of tensor `name` (F32, or F16/BF16 already converted), checked against
 * `shape` when given. Throws CheckpointError naming the tensor when it is missing, not a float
 * tensor, or shaped differently ("shape [768, 2304] in the file, the model needs [768, 768]").
 */
export function getFloat32Tensor(file: SafetensorsFile, name: string, shape?: readonly number[]): Float32Array {
  const t = file.tensors.get(name);
  if (!t) {
    const names = [...file.tensors.keys()];
    const shown = names.slice(0, 8).join(', ') + (names.length > 8 ? `, ... (${names.length} in all)` : '');
    throw new CheckpointError(`missing from the checkpoint (it has: ${shown || 'no tensors'})`, name);
  }
  if (!(t.data instanceof Float32Array)) throw new CheckpointError(`dtype ${t.dtype} is not a float32/float16/bfloat16 tensor`, name);
  if (shape && (shape.length !== t.shape.length || shape.some((d, i) => d !== t.shape[i]))) {
    throw new CheckpointError(`shape [${t.shape.join(', ')}] in the file, expected [${shape.join(', ')}]`, name);
  }
  return t.data;
}
