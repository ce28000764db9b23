/**
 * crossentropy: fused softmax + cross-entropy loss and its gradient (llm.c's fused classifier).
 * See shaders/crossentropy.wgsl for the math and the kernel design.
 *
 * Accumulation contract: this is where backward starts, so BOTH outputs are overwritten (=):
 * losses and dlogits. Probabilities are never stored.
 */
import type { Gpu } from '../gpu/context.ts';
import { shapeStr, type Tensor } from '../gpu/tensor.ts';
import { ShapeError } from '../errors.ts';
import { expectShape, rowsCols } from './check.ts';
import { dims } from './uniforms.ts';

/**
 * Vocabularies up to this size take the one-invocation-per-row kernels (a char-level or small BPE
 * vocabulary); larger ones a workgroup of 64 per row (GPT-2's 50257).
 */
const ROWS_MAX_V = 1024;

/**
 * Per row n of logits (N,V) (or (B,T,V)) with target t = targets[n] (i32, shaped like logits
 * without the last dim):
 *  - 0 <= t < V: losses[n] = logsumexp(logits[n]) - logits[n,t],
 *                dlogits[n,:] = (softmax(logits[n]) - onehot(t)) * scale[0]
 *  - t < 0 (ignore index -1, or any negative): losses[n] = 0, dlogits[n,:] = 0
 *  - t >= V: treated like t < 0 (the shader never reads out of bounds). Targets live on the GPU, so
 *    this cannot be checked here: validate targets where they are uploaded (see checkTargets).
 * Overwrites (=) losses (N) and dlogits (N,V). `scale` is a 1-element f32 tensor on the GPU (e.g.
 * 1 / number of counted positions), so it can change every step without recompiling.
 * dlogits may be the same tensor as logits (same buffer and offset): the logits are then
 * overwritten by their gradient, saving N*V floats. Otherwise they must be in different buffers.
 */
export function crossEntropy(gpu: Gpu, losses: Tensor, dlogits: Tensor, logits: Tensor, targets: Tensor, scale: Tensor): void {
  const op = 'crossEntropy';
  if (logits.shape.length < 2 || logits.size === 0) throw new ShapeError(`${op}: logits has shape ${shapeStr(logits.shape)}, expected (N, V) or (B, T, V) with N, V > 0`);
  if (logits.dtype !== 'f32') throw new ShapeError(`${op}: logits has dtype ${logits.dtype}, expected f32`);
  const [N, V] = rowsCols(logits);
  const lead = logits.shape.slice(0, -1);
  expectShape(op, 'losses', losses, lead);
  expectShape(op, 'dlogits', dlogits, logits.shape);
  expectShape(op, 'targets', targets, lead, 'i32');
  expectShape(op, 'scale', scale, [1]);

  const sizes = dims(gpu, [N, V]);
  // small vocabularies: one invocation per row (see shaders/crossentropy.wgsl); else a workgroup per row
  const rows = V <= ROWS_MAX_V;
  const grid = rows ? gpu.grid(Math.ceil(N / 64)) : gpu.grid(N);
  if (dlogits.buffer === logits.buffer) {
    if (dlogits.offset !== logits.offset) {
      throw new ShapeError(
        `${op}: dlogits (byte offset ${dlogits.offset}) and logits (byte offset ${logits.offset}) share a buffer: ` +
          'pass the same tensor to compute in place, or use separate buffers (WebGPU cannot bind one buffer read_write and read-only in one dispatch)',
      );
    }
    gpu.dispatch('crossentropy', rows ? 'crossentropy_rows' : 'crossentropy', [losses, dlogits, targets, scale, sizes], grid, { defines: { IN_PLACE: true } });
  } else {
    gpu.dispatch('crossentropy', rows ? 'crossentropy_rows' : 'crossentropy', [losses, dlogits, logits, targets, scale, sizes], grid, { defines: { IN_PLACE: false } });
  }
}

/**
 * Host-side check for targets before they are uploaded: every value must be in [0, V) or negative
 * (ignored). Throws ShapeError naming the first bad position; returns the number of counted targets.
 */
export function checkTargets(targets: ArrayLike<number>, V: number): number {
  let counted = 0;
  for (let i = 0; i < targets.length; i++) {
    const t = targets[i];
    if (!Number.isInteger(t) || t >= V) throw new ShapeError(`crossEntropy: target ${t} at position ${i} is out of range for vocabulary size ${V} (use a negative value to ignore a position)`);
    if (t >= 0) counted++;
  }
  return counted;
}
