/** GPU cases for gradnorm (squared global gradient norm), run in Node and in Chromium. */
import { GRADNORM_PARTIALS, gradNormSquared } from '../../src/kernels/gradnorm.ts';
import type { Tensor } from '../../src/gpu/tensor.ts';
import type { GpuCase } from '../util/cases.ts';
import { assert, assertClose, assertThrows, randn, type Tolerance } from '../util/check.ts';
import { gradNormSquaredRef } from './gradnorm.ref.ts';

// A sum of positive terms: each partial adds n/16384 squares in fp32, then 256 invocations add 64
// partials each and one adds their 256 sums, in a fixed order. Rounding errors of a sequential positive sum grow like sqrt(k) ulp
// typically (k ulp at worst): sqrt(16384) * 6e-8 ~ 1e-5 relative; 1e-4 leaves margin. Losing one
// typical element of 2e5 would hide below that, so every tensor holds a planted 10 (100 in the
// sum, >= 5e-4 relative): a missed tensor or slice fails.
const TOL: Tolerance = { atol: 0, rtol: 1e-4, reason: 'fp32 sums of 16384 partials in a fixed order' };

/** randn data with one planted element of 10 (so losing any tensor or element moves the sum). */
function grads(n: number, seed: number): Float64Array {
  const g = randn(n, seed);
  g[Math.floor(n / 2)] = 10;
  return g;
}

export const cases: GpuCase[] = [];

for (const n of [1, 1000, 3 * 65536 + 7]) {
  cases.push({
    name: `one tensor of ${n} elements vs a float64 sum`,
    async run(gpu) {
      const g = grads(n, n);
      const t = gpu.tensor([n], Float32Array.from(g));
      const out = gpu.tensor([1], [-1]);
      const partials = gpu.tensor([GRADNORM_PARTIALS]);
      gradNormSquared(gpu, out, partials, t);
      assertClose('normSq', await gpu.read(out), [gradNormSquaredRef(g)], TOL);
      gpu.release(t, out, partials);
    },
  });
}

cases.push({
  name: 'a list of tensors (own buffers, views at 256-byte offsets, an empty one) accumulates into one result, deterministically',
  async run(gpu) {
    const sizes = [1000, 1, 3 * 65536 + 7, 48, 67 * 48];
    const data = sizes.map((n, i) => grads(n, 100 + i));
    const own = [0, 1, 2].map((i) => gpu.tensor([sizes[i]], Float32Array.from(data[i])));
    // the last two as views into one flat buffer, the second at the first 256-byte boundary after the first
    const off2 = Math.ceil((sizes[3] * 4) / 256) * 256;
    const flat = gpu.tensor([off2 / 4 + sizes[4]]);
    const v1: Tensor = { ...flat, shape: [sizes[3]], offset: 0, size: sizes[3] };
    const v2: Tensor = { ...flat, shape: [67, 48], offset: off2, size: sizes[4] };
    gpu.write(v1, Float32Array.from(data[3]));
    gpu.write(v2, Float32Array.from(data[4]));
    const empty = gpu.tensor([0]);
    const out = gpu.tensor([1]);
    const partials = gpu.tensor([GRADNORM_PARTIALS]);
    gradNormSquared(gpu, out, partials, own[0], empty, own[1], own[2], v1, v2);
    const first = await gpu.read(out);
    assertClose('normSq', first, [gradNormSquaredRef(...data)], TOL);
    gradNormSquared(gpu, out, partials, own[0], empty, own[1], own[2], v1, v2);
    const second = await gpu.read(out);
    assert(first[0] === second[0], `not deterministic: ${first[0]} then ${second[0]}`);
    gpu.release(...own, flat, empty, out, partials);
  },
});

cases.push({
  name: 'wrong shapes are rejected with the shapes in the message',
  run(gpu) {
    const g = gpu.tensor([10]);
    const out = gpu.tensor([1]);
    const out2 = gpu.tensor([2]);
    const partials = gpu.tensor([GRADNORM_PARTIALS]);
    const partialsBad = gpu.tensor([100]);
    assertThrows(() => gradNormSquared(gpu, out, partialsBad, g), 'ShapeError', new RegExp(`partials has shape \\(100\\), expected \\(${GRADNORM_PARTIALS}\\)`));
    assertThrows(() => gradNormSquared(gpu, out2, partials, g), 'ShapeError', /out has shape \(2\), expected \(1\)/);
    assertThrows(() => gradNormSquared(gpu, out, partials), 'ShapeError', /no gradient tensors/);
    assertThrows(() => gradNormSquared(gpu, out, partials, g, partials), 'ShapeError', /grads\[1\] .* shares a buffer with out or partials/);
    gpu.release(g, out, out2, partials, partialsBad);
  },
});
