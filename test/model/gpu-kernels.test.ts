/**
 * The GPU kernel choices, run here on a CPU adapter that pretends to be a GPU.
 *
 * On a hardware adapter the defaults differ from CPU adapters (src/kernels/matmul.ts,
 * attention.ts): the workgroup-memory matmul for every product, split-K for weight gradients,
 * bias_backward in row slices, one attention row per invocation (CPU adapters with subgroups:
 * a row per lane). CI has no GPU, so this file
 * clears `report.isSoftware` of its own device and checks, on a one-block GPT big enough for every
 * GPU choice to engage:
 *   - that those entry points are the ones dispatched;
 *   - that the loss and every parameter gradient equal the CPU-adapter kernels' on the same device
 *     (both fp32; only the summation order differs).
 * Each kernel is also checked against its float64 reference in test/kernels (variants forced), and
 * the whole model against PyTorch in gpt.parity.test.ts (CPU-adapter choices).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Gpu } from '../../src/gpu/context.ts';
import { GPT } from '../../src/model/gpt.ts';
import type { GPTConfig } from '../../src/model/config.ts';
import { assertClose, randint } from '../util/check.ts';
import { recordDispatches } from '../util/dispatches.ts';
import { subgroupLanes } from '../../src/kernels/check.ts';

// B*T = 512 rows: weight gradients (K = 512, a few 64 x 64 tiles of the workgroup-memory kernel)
// split K.
const cfg: GPTConfig = { vocabSize: 67, blockSize: 64, nLayer: 1, nHead: 4, nEmbd: 128 };
const B = 8, T = 64;

interface Run { loss: number; grads: Float32Array; entries: Set<string> }

describe('GPU kernel choices (on a CPU adapter that says it is a GPU)', () => {
  let gpu: Gpu;
  let cpu: Run, gpuRun: Run;

  async function run(pretendGpu: boolean): Promise<Run> {
    (gpu.report as { isSoftware: boolean }).isSoftware = !pretendGpu;
    const rec = recordDispatches(gpu);
    try {
      const model = GPT.create(gpu, cfg, { seed: 7 });
      const inputs = randint(B * T, cfg.vocabSize, 3);
      const targets = inputs.map((id) => (5 * id + 1) % cfg.vocabSize);
      model.zeroGrad();
      model.forward(inputs, B, T, targets);
      model.backward();
      const loss = await model.meanLoss();
      const grads = await model.getGrads();
      model.destroy();
      return { loss, grads, entries: new Set(rec.entries) };
    } finally {
      rec.restore();
    }
  }

  beforeAll(async () => {
    gpu = await Gpu.create();
    const wasSoftware = gpu.report.isSoftware;
    cpu = await run(false);
    gpuRun = await run(true);
    (gpu.report as { isSoftware: boolean }).isSoftware = wasSoftware;
  }, 240_000);

  afterAll(() => gpu?.destroy());

  it('dispatches the GPU entry points (and the CPU run does not)', () => {
    for (const e of ['matmul.matmul_shared', 'matmul.matmul_splitk_reduce', 'matmul.bias_backward_slices']) {
      expect(gpuRun.entries.has(e), `${e} in the GPU run`).toBe(true);
      expect(cpu.entries.has(e), `${e} in the CPU run`).toBe(false);
    }
    expect(cpu.entries.has('matmul.bias_backward')).toBe(true);
    // on GPUs every product runs on the workgroup-memory kernel, none on the general one
    expect(gpuRun.entries.has('matmul.matmul'), 'matmul.matmul in the GPU run').toBe(false);
    // attention: one row per invocation on GPUs; a row per lane on CPU adapters with subgroups
    const perLane = subgroupLanes(gpu) >= 8;
    for (const e of ['attention.attention_forward', 'attention.attention_backward_dq', 'attention.attention_backward_dkv']) {
      expect(gpuRun.entries.has(e), `${e} in the GPU run`).toBe(true);
      expect(gpuRun.entries.has(`${e}_sg`), `${e}_sg in the GPU run`).toBe(false);
      expect(cpu.entries.has(`${e}_sg`), `${e}_sg in the CPU run`).toBe(perLane);
      expect(cpu.entries.has(e), `${e} in the CPU run`).toBe(!perLane);
    }
  });

  it('gives the same loss and gradients as the CPU-adapter kernels', () => {
    expect(Math.abs(gpuRun.loss - cpu.loss)).toBeLessThan(1e-5 * cpu.loss);
    let max = 0;
    for (const g of cpu.grads) max = Math.max(max, Math.abs(g));
    assertClose('grads', gpuRun.grads, cpu.grads, { atol: 1e-5 * max, rtol: 1e-4, reason: 'fp32, the same math in another summation order' });
  });
});
