/**
 * Parity of the whole GPT with PyTorch (float64 reference, test/parity/gpt_torch.py):
 * same weights -> same logits and loss, same gradient for every parameter, and 20 AdamW steps on
 * the same batches -> the same loss trajectory.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GPT } from '../../src/model/gpt.ts';
import { Optimizer, DEFAULT_OPTIMIZER } from '../../src/optim/optimizer.ts';
import { lrAt } from '../../src/optim/schedule.ts';
import type { GPTConfig } from '../../src/model/config.ts';
import type { Gpu } from '../../src/gpu/context.ts';
import { testGpu } from '../util/node.ts';
import { assertClose, randint } from '../util/check.ts';
import { runTorch } from '../util/torch.ts';

const cfg: GPTConfig = { vocabSize: 67, blockSize: 32, nLayer: 2, nHead: 4, nEmbd: 48 };
const B = 3, T = 17, STEPS = 20;
const schedule = { lr: 3e-3, warmupSteps: 5, decaySteps: STEPS, minLr: 3e-4 };
const lrs = Array.from({ length: STEPS }, (_, i) => lrAt(i, schedule));

function makeBatches(): { inputs: Int32Array; targets: Int32Array }[] {
  const out = [];
  for (let s = 0; s < STEPS; s++) {
    const inputs = randint(B * T, cfg.vocabSize, 100 + s);
    // a learnable rule (next id = 7 * id + 3 mod V), so 20 steps visibly lower the loss
    const targets = inputs.map((id) => (7 * id + 3) % cfg.vocabSize);
    if (s === 0) for (const i of [0, 5, 20, 50]) targets[i] = -1; // ignore index: positions without loss
    out.push({ inputs, targets });
  }
  return out;
}

describe('GPT parity with PyTorch', () => {
  let gpu: Gpu;
  let dir: string;
  let result: { loss: number; logits: number[]; losses: number[]; grad_norms: number[] };
  let refGrads: Float64Array;
  let model: GPT;
  let init: Float32Array;
  const batches = makeBatches();

  beforeAll(async () => {
    gpu = await testGpu();
    model = GPT.create(gpu, cfg, { seed: 42 });
    init = await model.getParams();
    dir = mkdtempSync(join(tmpdir(), 'wgpt-parity-'));
    const packed: number[] = [];
    const specs = model.layout.specs;
    const parts = specs.map((s) => init.subarray(s.offset, s.offset + s.size));
    const flat = new Float32Array(parts.reduce((n, p) => n + p.length, 0));
    let o = 0;
    for (const p of parts) { flat.set(p, o); o += p.length; }
    void packed;
    writeFileSync(join(dir, 'params.bin'), Buffer.from(flat.buffer));
    const bb = new Int32Array(STEPS * 2 * B * T);
    batches.forEach((b, s) => { bb.set(b.inputs, s * 2 * B * T); bb.set(b.targets, (s * 2 + 1) * B * T); });
    writeFileSync(join(dir, 'batches.bin'), Buffer.from(bb.buffer));
    writeFileSync(join(dir, 'manifest.json'), JSON.stringify({
      config: cfg, B, T, steps: STEPS, lrs, optimizer: DEFAULT_OPTIMIZER,
      params: specs.map((s) => ({ name: s.name, shape: s.shape })),
    }));
    runTorch('test/parity/gpt_torch.py', [dir]);
    result = JSON.parse(readFileSync(join(dir, 'result.json'), 'utf8'));
    const g = readFileSync(join(dir, 'grads.bin'));
    refGrads = new Float64Array(g.buffer, g.byteOffset, g.byteLength / 8);
  }, 300_000);

  it('logits and loss match (1e-4 relative)', async () => {
    const b = batches[0];
    model.forward(b.inputs, B, T);
    const logits = await model.logits();
    // fp32 forward through 2 blocks vs float64: relative 1e-4 of each logit plus 2e-6 absolute for near-zero logits
    assertClose('logits', logits, result.logits, { atol: 2e-6, rtol: 1e-4, reason: 'fp32 forward of a 2-layer GPT vs float64 torch' });
    model.forward(b.inputs, B, T, b.targets);
    const loss = await model.meanLoss();
    expect(Math.abs(loss - result.loss) / result.loss).toBeLessThan(1e-4);
  });

  it('every parameter gradient matches', async () => {
    model.setParams(init);
    model.zeroGrad();
    const b = batches[0];
    model.forward(b.inputs, B, T, b.targets);
    model.backward();
    const grads = await model.getGrads();
    let off = 0;
    for (const s of model.layout.specs) {
      const ref = refGrads.subarray(off, off + s.size);
      off += s.size;
      let maxRef = 0;
      for (const v of ref) maxRef = Math.max(maxRef, Math.abs(v));
      // llm.c accepts up to ~1.7e-3 absolute vs PyTorch; we ask for 1e-3 relative to the tensor's largest gradient
      assertClose(s.name, grads.subarray(s.offset, s.offset + s.size), ref, { atol: 1e-3 * maxRef + 1e-7, rtol: 1e-3, reason: "fp32 backward vs float64 torch (llm.c's bounds)" });
    }
  });

  it(`${STEPS} AdamW steps follow the same loss trajectory (1e-3)`, async () => {
    model.setParams(init);
    const opt = new Optimizer(model);
    const losses: number[] = [];
    for (let s = 0; s < STEPS; s++) {
      const b = batches[s];
      model.zeroGrad();
      model.forward(b.inputs, B, T, b.targets);
      model.backward();
      opt.update(lrs[s]);
      losses.push(await model.meanLoss());
    }
    opt.destroy();
    assertClose('loss trajectory', losses, result.losses, { atol: 1e-3, rtol: 0, reason: 'issue #3: 20 AdamW steps within 1e-3' });
    expect(losses[STEPS - 1]).toBeLessThan(losses[0] - 0.1); // it learned the rule
  });
});
