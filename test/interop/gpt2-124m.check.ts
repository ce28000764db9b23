/**
 * GPT-2 124M at full size, by hand (not part of npm test: ~4 GB of memory, minutes on lavapipe):
 *   npx tsx test/interop/gpt2-124m.check.ts [B] [T]        (default B=4, T=256)
 * PyTorch writes a random GPT-2 124M in Hugging Face's layout (test/interop/gpt2_124m_torch.py);
 * wgpt imports it, runs forward + backward (wte, 154 MB, and at B*T >= 668 the logits are over
 * lavapipe's 128 MiB binding, so both run split) and one AdamW step; loss, logits and gradients
 * are compared with PyTorch's float32 ones. Prints the plan, timings and the worst errors.
 */
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Gpu } from '../../src/gpu/context.ts';
import { GPT } from '../../src/model/gpt.ts';
import { formatPlan, planMemory } from '../../src/model/plan.ts';
import { Optimizer } from '../../src/optim/optimizer.ts';
import { importHF } from '../../src/interop/hf-node.ts';
import { runTorch } from '../util/torch.ts';

const B = Number(process.argv[2] ?? 4), T = Number(process.argv[3] ?? 256);
const dir = mkdtempSync(join(tmpdir(), 'wgpt-gpt2-124m-'));
let t0 = Date.now();
const lap = (what: string) => {
  console.log(`${what}: ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  t0 = Date.now();
};
runTorch('test/interop/gpt2_124m_torch.py', ['make', dir, String(B), String(T)]);
lap('torch (write model, forward, backward)');
const ref = JSON.parse(readFileSync(join(dir, 'ref.json'), 'utf8'));
const batch = JSON.parse(readFileSync(join(dir, 'batch.json'), 'utf8'));
const r = await importHF(join(dir, 'hf'));
lap('import');
console.log(r.notes.join('\n'));
const gpu = await Gpu.create();
const l = gpu.limits;
console.log(formatPlan(planMemory(r.checkpoint.config, B, T, { maxStorageBufferBindingSize: l.maxStorageBufferBindingSize, maxBufferSize: l.maxBufferSize })));
const model = GPT.empty(gpu, r.checkpoint.config);
model.setParams(r.checkpoint.params);
console.log(`wte chunks: ${JSON.stringify(model.wteChunks)}`);
const inputs = Int32Array.from(batch.inputs), targets = Int32Array.from(batch.targets);

const maxRel = (got: ArrayLike<number>, want: number[]) => {
  let m = 0, s = 0;
  for (const x of want) s = Math.max(s, Math.abs(x));
  for (let i = 0; i < want.length; i++) m = Math.max(m, Math.abs(got[i] - want[i]));
  return m / s; // worst error relative to the largest value
};
model.forward(inputs, B, T);
const first = await model.logitsAt(0, 0), last = await model.logitsAt(B - 1, T - 1);
lap('forward (logits)');
console.log(`logits (0,0) worst |err| / max: ${maxRel(first, ref.logits_first).toExponential(2)}; (B-1,T-1): ${maxRel(last, ref.logits_last).toExponential(2)}`);
model.zeroGrad();
model.forward(inputs, B, T, targets);
model.backward();
const loss = await model.meanLoss();
lap('forward + backward');
console.log(`loss wgpt ${loss.toFixed(6)} torch ${ref.loss.toFixed(6)} rel ${(Math.abs(loss - ref.loss) / ref.loss).toExponential(2)}`);
const grads = await model.getGrads();
const spec = (n: string) => model.layout.byName.get(n)!;
const wte = spec('transformer.wte.weight');
ref.wte_grad_rows.forEach((row: number, k: number) => {
  const g = grads.subarray(wte.offset + row * 768, wte.offset + (row + 1) * 768);
  console.log(`dwte row ${row} worst |err| / max: ${maxRel(g, ref.wte_grad[k]).toExponential(2)}`);
});
const wpe = spec('transformer.wpe.weight'), lnf = spec('transformer.ln_f.weight');
console.log(`dwpe row 0: ${maxRel(grads.subarray(wpe.offset, wpe.offset + 768), ref.wpe_grad0).toExponential(2)}; dln_f.weight: ${maxRel(grads.subarray(lnf.offset, lnf.offset + 768), ref.ln_f_grad).toExponential(2)}`);
const opt = new Optimizer(model);
opt.update(3e-4);
model.forward(inputs, B, T, targets);
const after = await model.meanLoss();
lap('AdamW step + forward');
console.log(`loss after one step on the same batch: ${after.toFixed(6)} (before ${loss.toFixed(6)})`);
opt.destroy();
model.destroy();
gpu.destroy();
