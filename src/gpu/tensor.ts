/**
 * A Tensor is a typed view into a GPUBuffer: shape + byte offset + element count.
 * Several tensors can live in one buffer (the model keeps all parameters in one allocation,
 * each tensor starting on a 256-byte boundary so it can be bound on its own).
 */
import { ShapeError } from '../errors.ts';

export type DType = 'f32' | 'i32' | 'u32';

export interface Tensor {
  readonly buffer: GPUBuffer;
  readonly shape: readonly number[];
  readonly dtype: DType;
  /** Byte offset of element 0 in `buffer`. Multiple of 256 when the tensor is bound alone. */
  readonly offset: number;
  /** Number of elements (product of shape). */
  readonly size: number;
  /** Optional name used in error messages ("h.0.attn.c_attn.weight"). */
  readonly name?: string;
}

export function numel(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

export function shapeStr(shape: readonly number[]): string {
  return `(${shape.join(', ')})`;
}

export function tensorStr(t: Tensor): string {
  return `${t.name ?? 'tensor'} ${shapeStr(t.shape)} ${t.dtype}`;
}

/**
 * Check a tensor against an expected shape; -1 in `want` matches any size.
 * Throws ShapeError naming the argument, the op, the actual and the expected shape.
 */
export function expectShape(op: string, arg: string, t: Tensor, want: readonly number[], dtype: DType = 'f32'): void {
  const ok = t.shape.length === want.length && t.shape.every((d, i) => want[i] === -1 || d === want[i]);
  if (!ok) {
    throw new ShapeError(`${op}: ${arg} has shape ${shapeStr(t.shape)}, expected ${shapeStr(want.map((d) => (d === -1 ? '*' : d) as any))}`);
  }
  if (t.dtype !== dtype) throw new ShapeError(`${op}: ${arg} has dtype ${t.dtype}, expected ${dtype}`);
}

/** Check that a dimension is a positive integer. */
export function expectDim(op: string, name: string, v: number): void {
  if (!Number.isInteger(v) || v <= 0) throw new ShapeError(`${op}: ${name} must be a positive integer, got ${v}`);
}
