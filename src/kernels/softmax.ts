/**
 * softmax: numerically stable softmax over the last dim, row by row. See shaders/softmax.wgsl.
 *
 * Accumulation contract: softmaxForward overwrites out; softmaxBackward ADDS (+=) into dinp.
 */
import type { Gpu } from '../gpu/context.ts';
import { shapeStr, type Tensor } from '../gpu/tensor.ts';
import { ShapeError } from '../errors.ts';
import { expectDistinct, expectShape, rowsCols } from './check.ts';

function checkRows(op: string, arg: string, t: Tensor): [number, number] {
  if (t.shape.length < 1 || t.size === 0) throw new ShapeError(`${op}: ${arg} has shape ${shapeStr(t.shape)}, expected (N, V) with N, V > 0`);
  if (t.dtype !== 'f32') throw new ShapeError(`${op}: ${arg} has dtype ${t.dtype}, expected f32`);
  return rowsCols(t);
}

/**
 * out (N,V) = softmax(inp (N,V)) over the last dim (the row max is subtracted first).
 * Any leading dims, e.g. (B,NH,T,T). Overwrites (=) out. out and inp must be distinct tensors.
 */
export function softmaxForward(gpu: Gpu, out: Tensor, inp: Tensor): void {
  const op = 'softmaxForward';
  const [N, V] = checkRows(op, 'inp', inp);
  expectShape(op, 'out', out, inp.shape);
  expectDistinct(op, out, inp, 'out and inp');
  gpu.dispatch('softmax', 'softmax_forward', [out, inp], gpu.grid(N), { constants: { N, V } });
}

/**
 * dinp (N,V) += out * (dout - sum_j(dout * out)) per row, given dout (N,V) and the forward's out (N,V).
 * ADDS (+=) into dinp.
 */
export function softmaxBackward(gpu: Gpu, dinp: Tensor, dout: Tensor, out: Tensor): void {
  const op = 'softmaxBackward';
  const [N, V] = checkRows(op, 'out', out);
  expectShape(op, 'dinp', dinp, out.shape);
  expectShape(op, 'dout', dout, out.shape);
  gpu.dispatch('softmax', 'softmax_backward', [dinp, dout, out], gpu.grid(N), { constants: { N, V } });
}
