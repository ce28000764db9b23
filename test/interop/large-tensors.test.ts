/**
 * Tensors larger than one WebGPU binding (GPT-2's wte, 154 MB, and its logits at B=4, T=256,
 * 206 MB, against lavapipe's 128 MiB): the model splits wte into vocabulary chunks and the logits
 * into row chunks. Small models with `splitBytes` set low run the split paths; they must give the
 * unsplit model's logits, loss, gradients and AdamW step.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { GPT, initParams } from '../../src/model/gpt.ts';
import { paramLayout } from '../../src/model/params.ts';
import type { GPTConfig } from '../../src/model/config.ts';
import { Optimizer } from '../../src/optim/optimizer.ts';
import type { Gpu } from '../../src/gpu/context.ts';
import { testGpu } from '../util/node.ts';
import { assertClose, randint } from '../util/check.ts';

// wte (500 x 128 fp32) = 256 KB, logits (B*T = 160 rows x 500) = 320 KB
const cfg: GPTConfig = { vocabSize: 500, blockSize: 64, nLayer: 1, nHead: 4, nEmbd: 128 };
const B = 4, T = 40;
const inputs = randint(B * T, cfg.vocabSize, 11);
const targets = inputs.map((id, i) => (i % 13 === 0 ? -1 : (3 * id + 7) % cfg.vocabSize));
const TOL = { atol: 1e-6, rtol: 1e-5, reason: 'same fp32 math, products cut differently (accumulation order of dwte over row chunks)' };

interface Run { logits: Float32Array; loss: number; grads: Float32Array; lossAfterStep: number; model: GPT }

describe('wte and logits larger than one binding', () => {
  let gpu: Gpu;
  let params: Float32Array;
  let ref: Run;

  async function run(splitBytes?: number): Promise<Run> {
    const model = GPT.empty(gpu, cfg, { splitBytes });
    model.setParams(params);
    model.forward(inputs, B, T);
    const logits = await model.logits();
    model.zeroGrad();
    model.forward(inputs, B, T, targets);
    model.backward();
    const loss = await model.meanLoss();
    const grads = await model.getGrads();
    const opt = new Optimizer(model);
    opt.update(1e-2);
    model.forward(inputs, B, T, targets);
    const lossAfterStep = await model.meanLoss();
    opt.destroy();
    return { logits, loss, grads, lossAfterStep, model };
  }

  function compare(r: Run): void {
    assertClose('logits', r.logits, ref.logits, TOL);
    expect(Math.abs(r.loss - ref.loss) / ref.loss).toBeLessThan(1e-6);
    const layout = paramLayout(cfg);
    for (const s of layout.specs) {
      const want = ref.grads.subarray(s.offset, s.offset + s.size);
      const maxRef = want.reduce((m, x) => Math.max(m, Math.abs(x)), 0);
      assertClose(`d ${s.name}`, r.grads.subarray(s.offset, s.offset + s.size), want, { ...TOL, atol: 1e-5 * maxRef + 1e-9 });
    }
    expect(Math.abs(r.lossAfterStep - ref.lossAfterStep) / ref.lossAfterStep).toBeLessThan(1e-5);
  }

  beforeAll(async () => {
    gpu = await testGpu();
    params = initParams(paramLayout(cfg), 21);
    ref = await run();
    expect(ref.model.wteChunks.length).toBe(1);
    expect(ref.lossAfterStep).toBeLessThan(ref.loss);
  });

  it('wte in 2 vocabulary chunks and logits in 3 row chunks (128 KiB pieces) give the same logits, loss, gradients and step', async () => {
    const r = await run(128 * 1024);
    expect(r.model.wteChunks).toEqual([{ v0: 0, rows: 256 }, { v0: 256, rows: 244 }]);
    compare(r);
    // logits of single positions come from the right row chunk
    r.model.setParams(params); // undo the step
    r.model.forward(inputs, B, T);
    for (const [b, t] of [[0, 0], [1, 23], [3, 39]]) {
      const row = await r.model.logitsAt(b, t);
      assertClose(`logits at (${b}, ${t})`, row, ref.logits.subarray((b * T + t) * cfg.vocabSize, (b * T + t + 1) * cfg.vocabSize), TOL);
    }
    r.model.destroy();
  });

  it('logits in 2 row chunks while wte fits one binding', async () => {
    const r = await run(256_000);
    expect(r.model.wteChunks.length).toBe(1);
    compare(r);
    r.model.destroy();
  });

  it('lmHead on one row (what sampling needs) writes each vocabulary chunk in place', async () => {
    const split = GPT.empty(gpu, cfg, { splitBytes: 128 * 1024 });
    split.setParams(params);
    const x = gpu.tensor([1, cfg.nEmbd], Float32Array.from({ length: cfg.nEmbd }, (_, i) => Math.sin(i)), 'f32', 'x');
    const out = gpu.tensor([1, cfg.vocabSize], undefined, 'f32', 'out');
    split.lmHead(out, x);
    const got = await gpu.read(out);
    const whole = GPT.empty(gpu, cfg);
    whole.setParams(params);
    whole.lmHead(out, x);
    assertClose('lm head (1,V)', got, await gpu.read(out), TOL);
    gpu.release(x, out);
    split.destroy();
    whole.destroy();
  });

  it('a piece too small for 64 rows is a LimitError naming the tensor', () => {
    expect(() => GPT.empty(gpu, cfg, { splitBytes: 1000 })).toThrow(/a chunk of 64 rows of transformer\.wte\.weight/);
  });
});
