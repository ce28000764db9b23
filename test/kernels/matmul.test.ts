import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { runCases } from '../util/node.ts';
import { dot, numericGrad, randn } from '../util/check.ts';
import { cases } from './matmul.cases.ts';
import { Gpu } from '../../src/gpu/context.ts';
import { hasSubgroupWindows, matmul } from '../../src/kernels/matmul.ts';
import { recordDispatches } from '../util/dispatches.ts';
import { matmulBackwardRef, matmulForwardRef } from './matmul.ref.ts';

describe('matmul CPU reference vs finite differences', () => {
  it('backward matches d/dx of L = sum(out * G)', () => {
    const [N, C, OC] = [3, 5, 4];
    const x = randn(N * C, 1), w = randn(OC * C, 2), b = randn(OC, 3), G = randn(N * OC, 4);
    const ref = matmulBackwardRef(G, x, w, N, C, OC);
    const gx = numericGrad((v) => dot(matmulForwardRef(v, w, b, N, C, OC), G), x.slice());
    const gw = numericGrad((v) => dot(matmulForwardRef(x, v, b, N, C, OC), G), w.slice());
    const gb = numericGrad((v) => dot(matmulForwardRef(x, w, v, N, C, OC), G), b.slice());
    for (const [a, n] of [[ref.dinp, gx], [ref.dweight, gw], [ref.dbias, gb]] as const) {
      for (let i = 0; i < a.length; i++) expect(Math.abs(a[i] - n[i])).toBeLessThan(1e-6);
    }
  });
});

runCases('matmul on the GPU (Dawn)', cases);

// The subgroup cases above fall back to checking an error where the adapter has no subgroups of
// 8 lanes. CI runs lavapipe on an AVX2 machine, which has them (its subgroups are as wide as the
// CPU's vectors: 8 lanes with AVX2, unless LP_NATIVE_VECTOR_WIDTH says otherwise): there, make
// sure the device asked for the feature, so those cases really ran the subgroup kernel. On any
// adapter: the windows path's default follows hasSubgroupWindows, and operands with the packed
// layout (row or k-major) are read in place.
function cpuHasAvx2(): boolean {
  try {
    return /\bavx2\b/.test(readFileSync('/proc/cpuinfo', 'utf8'));
  } catch {
    return false;
  }
}

describe('matmul windows path', () => {
  it('uses matmul_windows_sg where the device has 8-lane subgroups (lavapipe with AVX2), and reads packed-layout operands in place', async () => {
    const gpu = await Gpu.create();
    try {
      if (/llvmpipe/.test(gpu.report.description) && cpuHasAvx2() && !process.env.LP_NATIVE_VECTOR_WIDTH) {
        expect(gpu.report.features).toContain('subgroups');
        expect(gpu.report.subgroupMinSize).toBeGreaterThanOrEqual(8);
        expect(hasSubgroupWindows(gpu)).toBe(true);
      }
      const sg = hasSubgroupWindows(gpu);
      const { entries } = recordDispatches(gpu); // "matmul.<entry>"
      const [M, N, K] = [256, 256, 128];
      const a = gpu.tensor([M * K]), b = gpu.tensor([K * N]), c = gpu.tensor([M, N]);
      matmul(gpu, c, a, b, M, N, K, { kernel: 'windows' });
      expect(entries).toContain(sg ? 'matmul.matmul_windows_sg' : 'matmul.matmul_windows');
      expect(entries).not.toContain(sg ? 'matmul.matmul_windows' : 'matmul.matmul_windows_sg');
      // A (M, K = 128) already has the packed layout and is read in place; B stored (K, N) is packed
      expect(entries.filter((e) => e === 'matmul.matmul_pack')).toHaveLength(1);
      entries.length = 0;
      matmul(gpu, c, a, b, M, N, K, { kernel: 'windows', transB: true }); // B stored (N, K): in place too
      expect(entries.filter((e) => e === 'matmul.matmul_pack')).toHaveLength(0);
      // weight gradients (A stored (K, M), B stored (K, N)) take the k-major layout with subgroups:
      // operands of exactly 128 rows are read in place, others packed (without a transpose)
      const packs = () => entries.splice(0).filter((e) => e === 'matmul.matmul_pack').length;
      const g = gpu.tensor([768 * 384]), x = gpu.tensor([768 * 128]), dw = gpu.tensor([384 * 128]);
      entries.length = 0;
      matmul(gpu, dw, g, x, 128, 128, 768, { kernel: 'windows', transA: true });
      expect(packs()).toBe(sg ? 0 : 2);
      matmul(gpu, dw, g, x, 384, 128, 768, { kernel: 'windows', transA: true });
      expect(packs()).toBe(sg ? 1 : 2);
      matmul(gpu, { ...g, size: 128 * 128, shape: [128, 128] }, { ...g, offset: 128 * 128 * 4, size: 768 * 128 }, x, 128, 128, 768, { kernel: 'windows', transA: true });
      expect(packs()).toBe(sg ? 1 : 2); // A in the buffer of C: packed
      matmul(gpu, c, a, b, M, N, K, { kernel: 'windows', subgroups: false });
      expect(entries).toContain('matmul.matmul_windows');
      expect(entries).not.toContain('matmul.matmul_windows_sg');
      await gpu.sync();
    } finally {
      gpu.destroy();
    }
  });
});
