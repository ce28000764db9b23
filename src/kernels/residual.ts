/**
 * residual: the residual connection out = a + b, forward and backward. See shaders/residual.wgsl.
 *
 * residualForward overwrites `out`; residualBackward ADDS dout into both `da` and `db` (+=).
 */
import type { Gpu } from '../gpu/context.ts';
import type { Tensor } from '../gpu/tensor.ts';
import { expectDistinct, expectShape } from './check.ts';
import { dims } from './uniforms.ts';

const WG = 256; // invocations per workgroup, 4 elements each when N % 4 == 0, else one

/** Dispatch `entry` over N elements: vec4 units when N % 4 == 0. */
function launch(gpu: Gpu, entry: string, bindings: Tensor[], N: number): void {
  const vec4 = N % 4 === 0;
  const n = vec4 ? N / 4 : N;
  gpu.dispatch('residual', entry, [...bindings, dims(gpu, [n])], gpu.grid(Math.ceil(n / WG)), { defines: { VEC4: vec4 } });
}

/** out = a + b, all the same shape (any). Overwrites `out` (which may not alias a or b). */
export function residualForward(gpu: Gpu, out: Tensor, a: Tensor, b: Tensor): void {
  const op = 'residualForward';
  expectShape(op, 'a', a, a.shape); // any shape, dtype f32
  expectShape(op, 'b', b, a.shape);
  expectShape(op, 'out', out, a.shape);
  expectDistinct(op, out, a, 'out and a');
  expectDistinct(op, out, b, 'out and b');
  const N = a.size;
  launch(gpu, 'residual_forward', [out, a, b], N);
}

/**
 * da += dout and db += dout, all the same shape (any). `da` and `db` must be different tensors
 * (each element is read-modified-written once per gradient), and neither may alias `dout`.
 */
export function residualBackward(gpu: Gpu, da: Tensor, db: Tensor, dout: Tensor): void {
  const op = 'residualBackward';
  expectShape(op, 'dout', dout, dout.shape); // any shape, dtype f32
  expectShape(op, 'da', da, dout.shape);
  expectShape(op, 'db', db, dout.shape);
  expectDistinct(op, da, db, 'da and db');
  expectDistinct(op, da, dout, 'da and dout');
  expectDistinct(op, db, dout, 'db and dout');
  const N = dout.size;
  launch(gpu, 'residual_backward', [da, db, dout], N);
}
