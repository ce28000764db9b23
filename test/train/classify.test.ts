/**
 * Sequence classification: the head's forward and gradients against a float64 CPU computation from
 * the same hidden states, the whole model's gradient against PyTorch, a toy task learned to >= 95%,
 * the checkpoint round trip, the metrics and the data errors.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Gpu } from '../../src/gpu/context.ts';
import { LanguageModel } from '../../src/model/language-model.ts';
import { ClassifierError, LabelMismatchError, SequenceClassifier, packSequences, type Pooling } from '../../src/model/classifier.ts';
import { classificationReport, evaluateClassifier, finetuneClassifier, predict, type ClassifyEvent } from '../../src/train/classify.ts';
import { sha256Hex } from '../../src/train/finetune.ts';
import { LabeledDataError, parseJsonl, splitExamples, type LabeledExample } from '../../src/data/labeled.ts';
import { loadLabeledData } from '../../src/data/labeled-node.ts';
import { CheckpointError, decodeCheckpoint, encodeCheckpoint } from '../../src/checkpoint/checkpoint.ts';
import { CharTokenizer } from '../../src/tokenizer/char.ts';
import type { GPTConfig } from '../../src/model/config.ts';
import { testGpu } from '../util/node.ts';
import { assertClose, randint, rng } from '../util/check.ts';
import { runTorch } from '../util/torch.ts';

let gpu: Gpu;
beforeAll(async () => {
  gpu = await testGpu();
});

/** Seeded toy task: 'low' texts use only a-d, 'high' texts only w-z (5 to 20 characters). */
function toyExamples(n: number, seed: number): LabeledExample[] {
  const r = rng(seed);
  const out: LabeledExample[] = [];
  for (let i = 0; i < n; i++) {
    const label = i % 2 ? 'high' : 'low';
    const alphabet = label === 'low' ? 'abcd' : 'wxyz';
    const len = 5 + Math.floor(r() * 16);
    let text = '';
    for (let j = 0; j < len; j++) text += alphabet[Math.floor(r() * 4)];
    out.push({ text, label, source: `toy:${i}` });
  }
  return out;
}

const toyTokenizer = () => CharTokenizer.fromText('abcdwxyz .', { unk: true });
const toyConfig = (V: number): GPTConfig => ({ vocabSize: V, blockSize: 16, nLayer: 1, nHead: 2, nEmbd: 32 });

async function toyParent(seed = 3): Promise<Uint8Array> {
  const tok = toyTokenizer();
  const lm = LanguageModel.create(gpu, toyConfig(tok.vocabSize), tok, seed);
  const bytes = await lm.toCheckpoint();
  lm.destroy();
  return bytes;
}

describe('classifier head', () => {
  // B = 3 sequences: length 1, length 7, and one longer than T (truncated); K = 3 classes
  const T = 12, K = 3;
  const cfg: GPTConfig = { vocabSize: 37, blockSize: 16, nLayer: 2, nHead: 4, nEmbd: 48 };
  const seqs = [randint(1, 37, 1), randint(7, 37, 2), randint(20, 37, 3)];
  const labels = Int32Array.from([2, 0, 1]);

  function makeClassifier(pooling: Pooling = 'last-token'): SequenceClassifier {
    const tok = CharTokenizer.fromText(String.fromCharCode(...Array.from({ length: 36 }, (_, i) => 48 + i)), { unk: true });
    expect(tok.vocabSize).toBe(37);
    const lm = LanguageModel.create(gpu, cfg, tok, 11);
    const c = SequenceClassifier.create(lm, ['a', 'b', 'c'], 12, pooling);
    // a bias that is not zero, so db and the logits check it
    c.setHead(Float32Array.from(randint(K * cfg.nEmbd, 1000, 4), (x) => (x - 500) / 5000), Float32Array.from([0.3, -0.2, 0.1]));
    return c;
  }

  it('packs sequences left-aligned, truncated, with the last real position', () => {
    const p = packSequences(seqs, T);
    expect(Array.from(p.last)).toEqual([0, 6, T - 1]);
    expect(Array.from(p.inputs.subarray(T, T + 7))).toEqual(Array.from(seqs[1]));
    expect(Array.from(p.inputs.subarray(2 * T, 3 * T))).toEqual(Array.from(seqs[2].subarray(0, T)));
    expect(() => packSequences([new Int32Array(0)], T)).toThrow(/sequence 0 is empty/);
  });

  it.each(['last-token', 'mean'] as const)("%s pooling: dW, db, logits and the scattered dh match a float64 CPU computation from the same hidden states", async (pooling) => {
    const c = makeClassifier(pooling);
    expect(c.pooling).toBe(pooling);
    const C = cfg.nEmbd;
    const batch = packSequences(seqs, T);
    c.forward(batch, labels);
    c.zeroGrad();
    c.backward();
    const hidden = await gpu.read(c.gpt.hiddenStates); // (B,T,C)
    const pooled = await c.pooled();
    const logits = await c.logits();
    const loss = await c.meanLoss();
    const dW = await gpu.read(c.dweight);
    const db = await gpu.read(c.dbias);
    const dhidden = await gpu.read(c.gpt.hiddenGrad);
    const { weight, bias } = await c.getHead();
    const B = seqs.length;
    // pooling weight of position t of sequence b: last token 1 at t = last[b]; mean 1/n_b for t < n_b = last[b] + 1
    const w = (b: number, t: number) => pooling === 'mean' ? (t <= batch.last[b] ? 1 / (batch.last[b] + 1) : 0) : (t === batch.last[b] ? 1 : 0);
    const h = new Float64Array(B * C);
    for (let b = 0; b < B; b++) for (let t = 0; t < T; t++) for (let j = 0; j < C; j++) h[b * C + j] += w(b, t) * hidden[(b * T + t) * C + j];
    const tol = { atol: 1e-6, rtol: 1e-5, reason: 'fp32 dot products of length C=48 / sums over B=3 / means over <= T=12 rows vs float64' };
    // last token: a gather, exactly the rows of the last real tokens
    if (pooling === 'last-token') expect(Array.from(pooled)).toEqual(Array.from(h, Math.fround));
    else assertClose('pooled', pooled, h, tol);
    // CPU float64: logits, softmax, loss, dlogits = (p - onehot) / B, dW = dlogits^T h, db = sum dlogits, dh = dlogits W
    const refLogits = new Float64Array(B * K), dl = new Float64Array(B * K);
    let refLoss = 0;
    for (let b = 0; b < B; b++) {
      for (let k = 0; k < K; k++) {
        let s = bias[k];
        for (let j = 0; j < C; j++) s += h[b * C + j] * weight[k * C + j];
        refLogits[b * K + k] = s;
      }
      const row = refLogits.subarray(b * K, (b + 1) * K);
      const m = Math.max(...row);
      const z = row.reduce((a, x) => a + Math.exp(x - m), 0);
      refLoss += (m + Math.log(z) - row[labels[b]]) / B;
      for (let k = 0; k < K; k++) dl[b * K + k] = (Math.exp(row[k] - m) / z - (k === labels[b] ? 1 : 0)) / B;
    }
    const refDW = new Float64Array(K * C), refDb = new Float64Array(K), refDh = new Float64Array(B * T * C);
    for (let b = 0; b < B; b++) {
      for (let k = 0; k < K; k++) {
        refDb[k] += dl[b * K + k];
        for (let j = 0; j < C; j++) {
          refDW[k * C + j] += dl[b * K + k] * h[b * C + j];
          for (let t = 0; t < T; t++) refDh[(b * T + t) * C + j] += w(b, t) * dl[b * K + k] * weight[k * C + j];
        }
      }
    }
    assertClose('logits', logits, refLogits, tol);
    expect(Math.abs(loss - refLoss)).toBeLessThan(1e-5);
    assertClose('head.weight grad', dW, refDW, tol);
    assertClose('head.bias grad', db, refDb, tol);
    // dh lands at the pooled real positions only (zero elsewhere, including the padding)
    assertClose('hiddenGrad', dhidden, refDh, tol);
    let padded = 0;
    for (let b = 0; b < B; b++) for (let t = batch.last[b] + 1; t < T; t++) for (let j = 0; j < C; j++) if (dhidden[(b * T + t) * C + j] !== 0) padded++;
    expect(padded).toBe(0);
    c.destroy();
  });

  it('every gradient of GPT + head matches PyTorch (float64)', async () => {
    const c = makeClassifier();
    const batch = packSequences(seqs, T);
    c.forward(batch, labels);
    c.zeroGrad();
    c.backward();
    const grads = await c.gpt.getGrads();
    const params = await c.gpt.getParams();
    const head = await c.getHead();
    const dW = await gpu.read(c.dweight);
    const db = await gpu.read(c.dbias);
    const loss = await c.meanLoss();
    const specs = c.gpt.layout.specs;
    const dir = mkdtempSync(join(tmpdir(), 'wgpt-classify-parity-'));
    const parts = [...specs.map((s) => params.subarray(s.offset, s.offset + s.size)), head.weight, head.bias];
    const flat = new Float32Array(parts.reduce((n, p) => n + p.length, 0));
    let o = 0;
    for (const p of parts) { flat.set(p, o); o += p.length; }
    writeFileSync(join(dir, 'params.bin'), Buffer.from(flat.buffer));
    writeFileSync(join(dir, 'manifest.json'), JSON.stringify({
      config: cfg, B: seqs.length, T, inputs: Array.from(batch.inputs), last: Array.from(batch.last), labels: Array.from(labels),
      params: [...specs.map((s) => ({ name: s.name, shape: s.shape })), { name: 'head.weight', shape: [K, cfg.nEmbd] }, { name: 'head.bias', shape: [K] }],
    }));
    runTorch('test/parity/classify_torch.py', [dir]);
    const result = JSON.parse(readFileSync(join(dir, 'result.json'), 'utf8'));
    const g = readFileSync(join(dir, 'grads.bin'));
    const ref = new Float64Array(g.buffer.slice(g.byteOffset, g.byteOffset + g.byteLength));
    expect(Math.abs(loss - result.loss) / result.loss).toBeLessThan(1e-4);
    const mine = [...specs.map((s) => ({ name: s.name, data: grads.subarray(s.offset, s.offset + s.size) })), { name: 'head.weight', data: dW }, { name: 'head.bias', data: db }];
    let off = 0;
    for (const t of mine) {
      const r = ref.subarray(off, off + t.data.length);
      off += t.data.length;
      let maxRef = 0;
      for (const x of r) maxRef = Math.max(maxRef, Math.abs(x));
      // the same bounds as the GPT's own parity test (llm.c's): 1e-3 relative to the tensor's largest gradient
      assertClose(t.name, t.data, r, { atol: 1e-3 * maxRef + 1e-7, rtol: 1e-3, reason: 'fp32 backward vs float64 torch (llm.c bounds)' });
    }
    expect(off).toBe(ref.length);
    c.destroy();
  }, 120_000);
});

describe('finetuneClassifier', () => {
  let parent: Uint8Array;
  let bytes: Uint8Array;
  let texts: string[];
  let before: number[][];
  const examples = toyExamples(120, 7);

  beforeAll(async () => {
    parent = await toyParent();
  });

  it('learns a trivially separable toy task to >= 95% held-out accuracy', async () => {
    const events: ClassifyEvent[] = [];
    const run = await finetuneClassifier(gpu, {
      from: parent, parentName: 'toy.safetensors', examples, steps: 40, lr: 3e-3, batchSize: 8, evalEvery: 20, seed: 5,
      onEvent: (e) => void events.push(e),
    });
    expect(run.labels).toEqual(['high', 'low']);
    expect(run.val.length).toBe(24); // 20% of 60 per label
    await run.run();
    const evals = events.filter((e) => e.event === 'eval');
    expect(evals.length).toBe(2);
    const r = await run.evaluate();
    expect(r.accuracy).toBeGreaterThanOrEqual(0.95);
    expect(r.confusion.flat().reduce((a, b) => a + b)).toBe(24);
    expect(r.perClass.map((c) => c.support)).toEqual([12, 12]);
    const steps = events.filter((e) => e.event === 'step') as Extract<ClassifyEvent, { event: 'step' }>[];
    expect(steps.length).toBe(40);
    expect(steps.at(-1)!.loss).toBeLessThan(steps[0].loss);
    bytes = await run.checkpoint();
    texts = ['abcab', 'zzyxw', 'dddd', 'xw'];
    before = (await predict(run.classifier, texts)).predictions.map((p) => p.probs);
    run.destroy();
  });

  it('saves, loads and predicts the same from the checkpoint (head, labels, provenance)', async () => {
    const ck = decodeCheckpoint(bytes);
    expect(ck.head?.meta).toMatchObject({ type: 'sequence-classification', labels: ['high', 'low'], pooling: 'last-token' });
    expect(ck.origin).toMatchObject({ task: 'classify', steps: 40, parent: { name: 'toy.safetensors', sha256: await sha256Hex(parent) } });
    const { classifier } = SequenceClassifier.fromCheckpoint(gpu, bytes);
    const { predictions } = await predict(classifier, texts);
    expect(predictions.map((p) => p.probs)).toEqual(before);
    expect(predictions.map((p) => p.label)).toEqual(['low', 'high', 'low', 'high']);
    // evaluation on labels the head does not have
    await expect(evaluateClassifier(classifier, [{ text: 'ab', label: 'medium' }])).rejects.toThrow(LabelMismatchError);
    await expect(predict(classifier, [''])).rejects.toThrow(ClassifierError);
    classifier.destroy();
  });

  it('continues from a classifier only with the same labels', async () => {
    const other = examples.map((e) => ({ ...e, label: e.label === 'low' ? 'small' : e.label }));
    await expect(finetuneClassifier(gpu, { from: bytes, examples: other, steps: 1 })).rejects.toThrow(/head's labels are \["high", "low"\].*not in the head: "small"/);
    const again = await finetuneClassifier(gpu, { from: bytes, examples, steps: 0 });
    expect((await again.evaluate()).accuracy).toBeGreaterThanOrEqual(0.95); // the head came along
    again.destroy();
  });

  it('mean pooling: learns the toy task, round-trips through the checkpoint, and stays when continuing', async () => {
    const run = await finetuneClassifier(gpu, { from: parent, examples, steps: 40, lr: 3e-3, batchSize: 8, evalEvery: 0, seed: 5, pooling: 'mean' });
    expect(run.classifier.pooling).toBe('mean');
    await run.run();
    expect((await run.evaluate()).accuracy).toBeGreaterThanOrEqual(0.95);
    const meanBytes = await run.checkpoint();
    const probe = ['abcab', 'zzyxw', 'dddd', 'xw'];
    const probs = (await predict(run.classifier, probe)).predictions.map((p) => p.probs);
    run.destroy();
    const ck = decodeCheckpoint(meanBytes);
    expect(ck.head?.meta).toMatchObject({ type: 'sequence-classification', labels: ['high', 'low'], pooling: 'mean' });
    const { classifier } = SequenceClassifier.fromCheckpoint(gpu, meanBytes);
    expect(classifier.pooling).toBe('mean');
    expect((await predict(classifier, probe)).predictions.map((p) => p.probs)).toEqual(probs);
    classifier.destroy();
    // continuing keeps the head's pooling; another one is an error, as is an unknown one
    await expect(finetuneClassifier(gpu, { from: meanBytes, examples, steps: 1, pooling: 'last-token' })).rejects.toThrow(/head reads 'mean' pooling/);
    const again = await finetuneClassifier(gpu, { from: meanBytes, examples, steps: 0 });
    expect(again.classifier.pooling).toBe('mean');
    again.destroy();
    await expect(finetuneClassifier(gpu, { from: parent, examples, pooling: 'max' as Pooling })).rejects.toThrow(ClassifierError);
    // a head without pooling metadata (written before mean pooling existed) reads the last token; an unknown one is refused
    const meta = ck.head!.meta as Record<string, unknown>;
    delete meta.pooling;
    const old = SequenceClassifier.fromCheckpoint(gpu, encodeCheckpoint(ck)).classifier;
    expect(old.pooling).toBe('last-token');
    old.destroy();
    meta.pooling = 'max';
    expect(() => SequenceClassifier.fromCheckpoint(gpu, encodeCheckpoint(ck))).toThrow(CheckpointError);
  });

  it('rejects language-model checkpoints for prediction, and bad data', async () => {
    expect(() => SequenceClassifier.fromCheckpoint(gpu, parent)).toThrow(/no classification head/);
    await expect(finetuneClassifier(gpu, { from: parent, examples: [] })).rejects.toThrow(LabeledDataError);
    await expect(finetuneClassifier(gpu, { from: parent, examples: examples.map((e) => ({ ...e, label: 'x' })) })).rejects.toThrow(/at least 2 labels/);
  });
});

describe('labelled data', () => {
  it('loads a folder of label folders and JSONL; errors carry the path', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'wgpt-labeled-'));
    for (const [label, files] of [['ham', ['hello there', 'see you']], ['spam', ['win $$$']]] as const) {
      mkdirSync(join(dir, 'data', label), { recursive: true });
      files.forEach((t, i) => writeFileSync(join(dir, 'data', label, `${i}.txt`), t));
    }
    const ex = await loadLabeledData(join(dir, 'data'));
    expect(ex.map((e) => [e.label, e.text])).toEqual([['ham', 'hello there'], ['ham', 'see you'], ['spam', 'win $$$']]);
    mkdirSync(join(dir, 'data', 'eggs'));
    await expect(loadLabeledData(join(dir, 'data'))).rejects.toThrow(new RegExp(`${join(dir, 'data', 'eggs')}: the label folder 'eggs' has no files`));
    mkdirSync(join(dir, 'none'));
    await expect(loadLabeledData(join(dir, 'none'))).rejects.toThrow(/dataset is empty/);
    const jl = join(dir, 'd.jsonl');
    writeFileSync(jl, '{"text": "a b", "label": "x"}\n\n{"text": "c", "label": 1}\n');
    expect((await loadLabeledData(jl)).map((e) => e.label)).toEqual(['x', '1']);
    writeFileSync(jl, '{"text": "a b", "label": "x"}\n{"text": "c"}\n');
    await expect(loadLabeledData(jl)).rejects.toThrow(/d\.jsonl:2: "label" must be/);
    expect(() => parseJsonl('{"text": "a", "label": "x"}\nnot json\n', 'f.jsonl')).toThrow(/f\.jsonl:2: not valid JSON/);
    expect(() => parseJsonl('\n\n', 'f.jsonl')).toThrow(LabeledDataError);
    await expect(loadLabeledData(join(dir, 'missing'))).rejects.toThrow(LabeledDataError);
  });

  it('splits per label, seeded and fixed', () => {
    const ex = toyExamples(50, 1);
    const a = splitExamples(ex, 0.2, 9), b = splitExamples(ex, 0.2, 9), c = splitExamples(ex, 0.2, 10);
    expect(a.val.map((e) => e.source)).toEqual(b.val.map((e) => e.source));
    expect(a.val.map((e) => e.source)).not.toEqual(c.val.map((e) => e.source));
    expect(a.val.filter((e) => e.label === 'low').length).toBe(5);
    expect(a.train.length + a.val.length).toBe(50);
  });

  it('reports accuracy, per-class precision / recall and the confusion matrix', () => {
    // true:  a a a b b c ; predicted: a b a b b a
    const r = classificationReport(['a', 'b', 'c'], [0, 0, 0, 1, 1, 2], [0, 1, 0, 1, 1, 0]);
    expect(r.accuracy).toBeCloseTo(4 / 6);
    expect(r.confusion).toEqual([[2, 1, 0], [0, 2, 0], [1, 0, 0]]);
    expect(r.perClass[0]).toMatchObject({ precision: 2 / 3, recall: 2 / 3, support: 3, predicted: 3 });
    expect(r.perClass[1]).toMatchObject({ precision: 2 / 3, recall: 1, support: 2 });
    expect(r.perClass[2]).toMatchObject({ precision: 0, recall: 0, support: 1, predicted: 0 });
  });
});
