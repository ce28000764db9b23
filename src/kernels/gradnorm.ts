/**
 * gradnorm: the squared global gradient norm on the GPU (for clipping without a readback).
 * See shaders/gradnorm.wgsl.
 *
 * gradNormSquared overwrites `out` (and uses `partials` as scratch).
 */
import type { Gpu } from '../gpu/context.ts';
import type { Tensor } from '../gpu/tensor.ts';
import { ShapeError } from '../errors.ts';
import { expectShape } from './check.ts';
import { dims } from './uniforms.ts';

/**
 * Number of partial sums (= stage-1 invocations) and so the element count of the `partials`
 * scratch tensor. 16384 keeps a large GPU busy in stage 1 (64 workgroups); stage 2 is one
 * workgroup of 256 (64 partials each, then 256 sums); each partial holds n/16384 terms.
 */
export const GRADNORM_PARTIALS = 16384;

const WG = 256;

/**
 * out (1) = sum of squares of every element of `grads` (any shapes, summed together).
 * partials (GRADNORM_PARTIALS) is scratch. Overwrites `out` and `partials`.
 * Deterministic: a fixed strided split into partials, then a sum in a fixed order.
 * Each tensor is bound whole: split a flat buffer larger than maxStorageBufferBindingSize into
 * views (at 256-byte-aligned offsets) and pass them all. No tensor may share a buffer with
 * `out` or `partials`.
 */
export function gradNormSquared(gpu: Gpu, out: Tensor, partials: Tensor, ...grads: Tensor[]): void {
  const op = 'gradNormSquared';
  expectShape(op, 'out', out, [1]);
  expectShape(op, 'partials', partials, [GRADNORM_PARTIALS]);
  if (out.buffer === partials.buffer) throw new ShapeError(`${op}: out and partials share a buffer (stage 2 binds partials read-only, out writable)`);
  if (grads.length === 0) throw new ShapeError(`${op}: no gradient tensors given`);
  grads.forEach((g, i) => {
    expectShape(op, `grads[${i}]`, g, g.shape); // dtype f32
    if (g.buffer === partials.buffer || g.buffer === out.buffer) {
      throw new ShapeError(`${op}: grads[${i}] (${g.name ?? 'tensor'}) shares a buffer with out or partials`);
    }
  });
  const P = GRADNORM_PARTIALS;
  let first = true;
  for (const g of grads) {
    if (g.size === 0) continue; // a 0-element binding would still be 4 bytes long
    gpu.dispatch('gradnorm', 'gradnorm_partials', [partials, g, dims(gpu, [P, first ? 0 : 1])], [P / WG], { defines: { VEC4: g.size % 4 === 0 } });
    first = false;
  }
  if (first) gpu.zero(partials); // only empty tensors
  gpu.dispatch('gradnorm', 'gradnorm_sum', [out, partials, dims(gpu, [P, 0])], [1], { defines: { VEC4: false } });
}
