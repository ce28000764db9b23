/** GPU cases for gelu (forward, backward), run in Node and in Chromium. */
import { geluBackward, geluForward } from '../../src/kernels/gelu.ts';
import type { GpuCase } from '../util/cases.ts';
import { assertClose, assertThrows, randn, type Tolerance } from '../util/check.ts';
import { geluBackwardRef, geluForwardRef } from './gelu.ref.ts';

// Elementwise fp32 with a few roundings; WGSL only promises tanh/cosh to the accuracy of formulas
// built from exp (~1e-7 absolute near 0, a few ulp elsewhere). Measured on lavapipe over
// x in [-20, 20]: forward <= 6e-7 (1 ulp of gelu ~ 5), gelu' <= 2e-7; dout ~ N(0,1) scales the
// latter. 5e-6 leaves room for other drivers' tanh; a formula or indexing error is >= 1e-3.
const TOL: Tolerance = { atol: 5e-6, rtol: 2e-6, reason: 'elementwise fp32, the driver\'s tanh (forward) and exp (backward) within a few ulp' };

const SHAPES: number[][] = [
  [3, 17, 4 * 48], // batch 3, T 17, the MLP width 4C of C = 48
  [1, 1, 48], // T = 1
  [67], // odd length, not a multiple of the workgroup
  [2, 5, 256],
];

export const cases: GpuCase[] = [];

for (const shape of SHAPES) {
  const n = shape.reduce((a, b) => a * b, 1);
  cases.push({
    name: `forward and backward (accumulating) shape (${shape.join(', ')})`,
    async run(gpu) {
      const x = randn(n, 1, 2), d = randn(n, 2), pre = randn(n, 3);
      const inp = gpu.tensor(shape, Float32Array.from(x));
      const out = gpu.tensor(shape);
      const dout = gpu.tensor(shape, Float32Array.from(d));
      const dinp = gpu.tensor(shape, Float32Array.from(pre));
      geluForward(gpu, out, inp);
      geluBackward(gpu, dinp, inp, dout);
      assertClose('out', await gpu.read(out), geluForwardRef(x), TOL);
      const g = geluBackwardRef(x, d);
      assertClose('dinp', await gpu.read(dinp), g.map((v, i) => v + pre[i]), TOL);
      gpu.release(inp, out, dout, dinp);
    },
  });
}

cases.push({
  name: 'x over [-20, 20] (tanh saturates: no NaN) and huge |x| up to 1e30',
  async run(gpu) {
    const xs: number[] = [];
    for (let i = 0; i <= 4000; i++) xs.push(Math.fround(-20 + i / 100));
    xs.push(-1e4, 1e4, -1e10, 1e10, -1e30, 1e30, -3e38, 3e38);
    const x = Float64Array.from(xs);
    const n = x.length;
    const inp = gpu.tensor([n], Float32Array.from(x));
    const out = gpu.tensor([n]);
    const dout = gpu.tensor([n], new Float32Array(n).fill(1));
    const dinp = gpu.tensor([n]);
    geluForward(gpu, out, inp);
    geluBackward(gpu, dinp, inp, dout);
    // out: relative for the huge values (gelu(x) = x there)
    assertClose('gelu(x)', await gpu.read(out), geluForwardRef(x), TOL);
    assertClose("gelu'(x)", await gpu.read(dinp), geluBackwardRef(x, new Float64Array(n).fill(1)), TOL);
    gpu.release(inp, out, dout, dinp);
  },
});

cases.push({
  name: 'more than 65535 workgroups (folded grid): 256*65536 + 37 elements',
  nodeOnlyBecause: '67 MB tensors; slow on SwiftShader, and the grid logic is the same in every browser',
  async run(gpu) {
    const n = 256 * 65536 + 37;
    const inp = gpu.tensor([n]); // zeros, except the windows written below
    const out = gpu.tensor([n]);
    // windows: the start, both sides of the second grid row's first workgroup, the very end
    const [gx] = gpu.grid(Math.ceil(n / 256));
    const W = 1000;
    const windows = [0, gx * 256 - 300, n - W];
    const data = windows.map((start, k) => randn(W, 20 + k, 4));
    windows.forEach((start, k) => gpu.write({ ...inp, shape: [W], offset: start * 4, size: W }, Float32Array.from(data[k])));
    geluForward(gpu, out, inp);
    for (let k = 0; k < windows.length; k++) {
      const got = await gpu.read(out, windows[k], W);
      assertClose(`out[${windows[k]}..${windows[k] + W})`, got, geluForwardRef(data[k]), TOL);
    }
    gpu.release(inp, out);
  },
});

cases.push({
  name: 'wrong shapes are rejected with the shapes in the message',
  run(gpu) {
    const inp = gpu.tensor([2, 3, 8]);
    const out = gpu.tensor([2, 3, 7]);
    const dout = gpu.tensor([2, 3, 8]);
    const dinpBad = gpu.tensor([6, 8]);
    assertThrows(() => geluForward(gpu, out, inp), 'ShapeError', /out has shape \(2, 3, 7\), expected \(2, 3, 8\)/);
    assertThrows(() => geluBackward(gpu, dinpBad, inp, dout), 'ShapeError', /dinp has shape \(6, 8\), expected \(2, 3, 8\)/);
    assertThrows(() => geluBackward(gpu, dout, inp, dout), 'ShapeError', /dinp and dout must be different tensors/);
    gpu.release(inp, out, dout, dinpBad);
  },
});
