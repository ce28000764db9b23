/**
 * layernorm: GPT-2's layer normalisation over the last dim (eps 1e-5, biased variance).
 * See shaders/layernorm.wgsl for the math and the kernel design.
 *
 * Accumulation contract: layernormForward overwrites out, mean and rstd; layernormBackward ADDS
 * (+=) into dinp, dweight and dbias. All sums are fp32 and deterministic.
 */
import type { Gpu } from '../gpu/context.ts';
import { shapeStr, type Tensor } from '../gpu/tensor.ts';
import { ShapeError } from '../errors.ts';
import { expectShape, rowsCols } from './check.ts';
import { dims } from './uniforms.ts';

const ROWS_PER_CHUNK = 32; // must match shaders/layernorm.wgsl
const WG = 64; // rows per workgroup in the row kernels (one invocation per row)

/** The template define every entry point needs: channels read 4 at a time when C % 4 == 0. */
const vec4 = (C: number) => ({ VEC4: C % 4 === 0 });

/** Per-row statistics (mean, rstd) may be shaped like inp without its last dim, e.g. (B,T), or flat (N). */
function expectRowStat(op: string, arg: string, t: Tensor, inp: Tensor, N: number): void {
  const lead = inp.shape.slice(0, -1);
  const same = (s: readonly number[]) => t.shape.length === s.length && t.shape.every((d, i) => d === s[i]);
  if (!same(lead) && !same([N])) {
    throw new ShapeError(`${op}: ${arg} has shape ${shapeStr(t.shape)}, expected ${shapeStr(lead)} or (${N}) (one value per row of inp ${shapeStr(inp.shape)})`);
  }
  if (t.dtype !== 'f32') throw new ShapeError(`${op}: ${arg} has dtype ${t.dtype}, expected f32`);
}

function checkInp(op: string, inp: Tensor): [number, number] {
  if (inp.shape.length < 2) throw new ShapeError(`${op}: inp has shape ${shapeStr(inp.shape)}, expected (N, C) or (B, T, C)`);
  if (inp.dtype !== 'f32') throw new ShapeError(`${op}: inp has dtype ${inp.dtype}, expected f32`);
  const [N, C] = rowsCols(inp);
  if (N === 0 || C === 0) throw new ShapeError(`${op}: inp has shape ${shapeStr(inp.shape)}, which is empty`);
  return [N, C];
}

/**
 * out (N,C) = (inp - mean) * rstd * weight + bias, per row of inp (N,C); inp/out may be (B,T,C).
 * Overwrites (=) out, mean (N) and rstd (N) (mean/rstd may also be shaped (B,T)).
 */
export function layernormForward(gpu: Gpu, out: Tensor, mean: Tensor, rstd: Tensor, inp: Tensor, weight: Tensor, bias: Tensor): void {
  const op = 'layernormForward';
  const [N, C] = checkInp(op, inp);
  expectShape(op, 'out', out, inp.shape);
  expectRowStat(op, 'mean', mean, inp, N);
  expectRowStat(op, 'rstd', rstd, inp, N);
  expectShape(op, 'weight', weight, [C]);
  expectShape(op, 'bias', bias, [C]);
  gpu.dispatch('layernorm', 'layernorm_forward', [out, mean, rstd, inp, weight, bias, dims(gpu, [N, C, 0])], gpu.grid(Math.ceil(N / WG)), { defines: vec4(C) });
}

/**
 * Backward of layernormForward given dout (N,C) and the forward's inp, weight, mean, rstd.
 * ADDS (+=) into dinp (N,C) (shaped like inp), dweight (C) and dbias (C).
 * dweight/dbias are column sums over the rows, done in two deterministic passes through a scratch
 * buffer of 2 * ceil(N/32) * C floats kept per device (allocated once per size, reused).
 */
export function layernormBackward(
  gpu: Gpu,
  dinp: Tensor,
  dweight: Tensor,
  dbias: Tensor,
  dout: Tensor,
  inp: Tensor,
  weight: Tensor,
  mean: Tensor,
  rstd: Tensor,
): void {
  const op = 'layernormBackward';
  const [N, C] = checkInp(op, inp);
  expectShape(op, 'dinp', dinp, inp.shape);
  expectShape(op, 'dweight', dweight, [C]);
  expectShape(op, 'dbias', dbias, [C]);
  expectShape(op, 'dout', dout, inp.shape);
  expectShape(op, 'weight', weight, [C]);
  expectRowStat(op, 'mean', mean, inp, N);
  expectRowStat(op, 'rstd', rstd, inp, N);

  const R = Math.ceil(N / ROWS_PER_CHUNK);
  const sizes = dims(gpu, [N, C, R]);
  gpu.dispatch('layernorm', 'layernorm_backward', [dinp, dout, inp, weight, mean, rstd, sizes], gpu.grid(Math.ceil(N / WG)), { defines: vec4(C) });

  const partial = scratch(gpu, 2 * R * C);
  const groups4 = Math.ceil(C / 4 / 64); // 4 columns per invocation
  gpu.dispatch('layernorm', 'layernorm_params_partial', [partial, dout, inp, mean, rstd, sizes], [groups4, R], { defines: vec4(C) });
  gpu.dispatch('layernorm', 'layernorm_params_reduce', [dweight, dbias, partial, sizes], [groups4], { defines: vec4(C) });
}

// Scratch for the partial column sums, one per device and size (a model uses one or two sizes).
// Never destroyed while the device lives: a buffer referenced by recorded, not yet submitted
// dispatches must not be destroyed. gpu.destroy() frees it with everything else.
const scratchBuffers = new WeakMap<Gpu, Map<number, Tensor>>();

function scratch(gpu: Gpu, elements: number): Tensor {
  let bySize = scratchBuffers.get(gpu);
  if (!bySize) scratchBuffers.set(gpu, (bySize = new Map()));
  let t = bySize.get(elements);
  if (!t) {
    t = gpu.tensor([elements], undefined, 'f32', 'layernorm_partial_sums');
    bySize.set(elements, t);
  }
  return t;
}
