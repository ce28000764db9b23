/**
 * gelu: GPT-2's tanh-approximated GELU, forward and backward. See shaders/gelu.wgsl.
 *
 * geluForward overwrites `out`; geluBackward ADDS into `dinp` (+=).
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
  gpu.dispatch('gelu', entry, [...bindings, dims(gpu, [n])], gpu.grid(Math.ceil(n / WG)), { defines: { VEC4: vec4 } });
}

/** out (any shape) = gelu(inp) (same shape). Overwrites `out`. */
export function geluForward(gpu: Gpu, out: Tensor, inp: Tensor): void {
  const op = 'geluForward';
  expectShape(op, 'inp', inp, inp.shape); // any shape, dtype f32
  expectShape(op, 'out', out, inp.shape);
  expectDistinct(op, out, inp, 'out and inp');
  const N = inp.size;
  launch(gpu, 'gelu_forward', [out, inp], N);
}

/** dinp (any shape) += gelu'(inp) * dout, all three the same shape. */
export function geluBackward(gpu: Gpu, dinp: Tensor, inp: Tensor, dout: Tensor): void {
  const op = 'geluBackward';
  expectShape(op, 'inp', inp, inp.shape); // any shape, dtype f32
  expectShape(op, 'dinp', dinp, inp.shape);
  expectShape(op, 'dout', dout, inp.shape);
  expectDistinct(op, dinp, inp, 'dinp and inp');
  expectDistinct(op, dinp, dout, 'dinp and dout');
  const N = inp.size;
  launch(gpu, 'gelu_backward', [dinp, inp, dout], N);
}
