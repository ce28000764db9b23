/**
 * Hugging Face GPT-2 interop against PyTorch (test/interop/hf_gpt2_torch.py mirrors transformers'
 * GPT2LMHeadModel, Conv1D layers and all): a random GPT-2 written in HF's layout imports with the
 * same logits and loss; import -> one AdamW step -> export loads strictly in PyTorch with the same
 * loss; files re-import bit for bit; load errors name the tensor.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, writeFileSync, mkdirSync, copyFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GPT, initParams } from '../../src/model/gpt.ts';
import { paramLayout } from '../../src/model/params.ts';
import type { GPTConfig } from '../../src/model/config.ts';
import { Optimizer } from '../../src/optim/optimizer.ts';
import type { Gpu } from '../../src/gpu/context.ts';
import { CharTokenizer, BpeTokenizer, tokenizerFromJSON } from '../../src/tokenizer/index.ts';
import { readSafetensors, writeSafetensors, type TensorToWrite } from '../../src/checkpoint/safetensors.ts';
import { configFromHF, exportHFDirectory, HfFormatError, importHFDirectory, importWeights } from '../../src/interop/hf.ts';
import { exportHF, importHF, loadAnyCheckpoint, writeHFFiles } from '../../src/interop/hf-node.ts';
import { gpt2Reference, Gpt2Tokenizer } from '../../src/interop/gpt2-tokenizer.ts';
import { testGpu } from '../util/node.ts';
import { assertClose, randint } from '../util/check.ts';
import { runTorch } from '../util/torch.ts';
import { VARIED_CORPUS } from '../tokenizer/texts.ts';

const SCRIPT = 'test/interop/hf_gpt2_torch.py';
const spec = { n_embd: 48, n_layer: 2, n_head: 4, n_positions: 32, vocab_size: 97 };
const cfg: GPTConfig = { vocabSize: 97, blockSize: 32, nLayer: 2, nHead: 4, nEmbd: 48 };
const B = 3, T = 17;
const inputs = randint(B * T, 97, 5);
const targets = inputs.map((id, i) => (i % 11 === 4 ? -1 : (5 * id + 1) % 97));
// 96 printable characters + <unk> = 97 ids, the model's vocabulary
const charTok = CharTokenizer.fromText(String.fromCharCode(...Array.from({ length: 96 }, (_, i) => 32 + i)), { unk: true });
const LOGITS_TOL = { atol: 2e-6, rtol: 1e-4, reason: 'fp32 forward of a 2-layer GPT vs float64 torch' };

function relErr(a: number, b: number): number {
  return Math.abs(a - b) / Math.abs(b);
}

/** Bitwise equality of two float arrays (vitest's deep equality is slow on large typed arrays). */
function expectSameFloats(a: Float32Array, b: Float32Array): void {
  expect(a.length).toBe(b.length);
  expect(Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength))).toBe(true);
}

function expectHfError(fn: () => unknown, re: RegExp): HfFormatError {
  let err: unknown;
  try {
    fn();
  } catch (e) {
    err = e;
  }
  expect(err, `expected HfFormatError matching ${re}`).toBeInstanceOf(HfFormatError);
  expect((err as Error).message).toMatch(re);
  return err as HfFormatError;
}

describe('Hugging Face GPT-2 <-> wgpt, checked by PyTorch', () => {
  let gpu: Gpu;
  let dir: string;
  let ref: Record<'hf' | 'hf16', { loss: number; logits: number[] }>;

  beforeAll(async () => {
    gpu = await testGpu();
    dir = mkdtempSync(join(tmpdir(), 'wgpt-hf-'));
    writeFileSync(join(dir, 'spec.json'), JSON.stringify(spec));
    writeFileSync(join(dir, 'batch.json'), JSON.stringify({ B, T, inputs: Array.from(inputs), targets: Array.from(targets) }));
    runTorch(SCRIPT, ['make', dir]);
    ref = JSON.parse(readFileSync(join(dir, 'make.json'), 'utf8'));
  }, 120_000);

  async function forward(params: Float32Array, config: GPTConfig): Promise<{ logits: Float32Array; loss: number; model: GPT }> {
    const model = GPT.empty(gpu, config);
    model.setParams(params);
    model.forward(inputs, B, T);
    const logits = await model.logits();
    model.forward(inputs, B, T, targets);
    return { logits, loss: await model.meanLoss(), model };
  }

  it('imports the HF layout (Conv1D, mask buffers, tied lm_head): logits and loss match PyTorch (1e-4)', async () => {
    const r = await importHF(join(dir, 'hf'), { tokenizer: charTok });
    expect(r.checkpoint.config).toEqual(cfg);
    expect(r.notes.join('\n')).toMatch(/ignored 4 attention mask buffer/);
    expect(r.notes.join('\n')).toMatch(/lm_head\.weight equals wte\.weight/);
    const { logits, loss, model } = await forward(r.checkpoint.params, r.checkpoint.config);
    assertClose('logits', logits, ref.hf.logits, LOGITS_TOL);
    expect(relErr(loss, ref.hf.loss)).toBeLessThan(1e-4);
    model.destroy();
  });

  it('imports F16 weights named under "transformer." (what save_pretrained writes)', async () => {
    const r = await importHF(join(dir, 'hf16'), { tokenizer: charTok });
    expect(r.notes.join('\n')).toMatch(/stored as F16, converted to F32/);
    const { logits, loss, model } = await forward(r.checkpoint.params, r.checkpoint.config);
    assertClose('logits', logits, ref.hf16.logits, LOGITS_TOL);
    expect(relErr(loss, ref.hf16.loss)).toBeLessThan(1e-4);
    model.destroy();
  });

  it('import -> one AdamW step -> export: PyTorch loads the files strictly and computes the same loss', async () => {
    const r = await importHF(join(dir, 'hf'), { tokenizer: charTok });
    const model = GPT.empty(gpu, r.checkpoint.config);
    model.setParams(r.checkpoint.params);
    const opt = new Optimizer(model);
    model.zeroGrad();
    model.forward(inputs, B, T, targets);
    model.backward();
    opt.update(1e-2);
    const before = await model.meanLoss();
    model.forward(inputs, B, T);
    const logits = await model.logits();
    model.forward(inputs, B, T, targets);
    const after = await model.meanLoss();
    expect(after).toBeLessThan(before); // the step learned something
    const params = await model.getParams();
    opt.destroy();
    model.destroy();

    const out = join(dir, 'exported');
    const { written, notes } = exportHF({ config: r.checkpoint.config, params, tokenizer: charTok.toJSON() }, out);
    expect(written.map((p) => p.slice(out.length + 1)).sort()).toEqual(['README.md', 'config.json', 'model.safetensors', 'wgpt-tokenizer.json']);
    expect(notes.join('\n')).toMatch(/cannot be written as Hugging Face tokenizer files/);
    expect(readFileSync(join(out, 'README.md'), 'utf8')).toMatch(/cannot express a character-level vocabulary/);
    const st = readSafetensors(new Uint8Array(readFileSync(join(out, 'model.safetensors'))));
    expect(st.metadata).toEqual({ format: 'pt' });
    expect(st.tensors.get('h.0.attn.c_attn.weight')!.shape).toEqual([48, 144]); // Conv1D (in, out)
    expect(st.tensors.get('h.1.mlp.c_proj.weight')!.shape).toEqual([192, 48]);
    expect(st.tensors.has('lm_head.weight')).toBe(false);

    runTorch(SCRIPT, ['check', dir, 'exported']);
    const torch = JSON.parse(readFileSync(join(dir, 'exported.json'), 'utf8'));
    assertClose('logits after the step', logits, torch.logits, LOGITS_TOL);
    expect(relErr(after, torch.loss)).toBeLessThan(1e-4);

    // and back: the export re-imports bit for bit, tokenizer included
    const again = await loadAnyCheckpoint(out);
    expect(again.source).toBe('huggingface');
    expectSameFloats(again.checkpoint.params, params);
    expect(tokenizerFromJSON(again.checkpoint.tokenizer).toJSON()).toEqual(charTok.toJSON());
  });

  it('a single .safetensors file: the shapes give the config, given the heads', async () => {
    const file = join(dir, 'hf', 'model.safetensors');
    await expect(importHF(file, { tokenizer: charTok })).rejects.toThrow(/cannot infer the number of heads for n_embd 48/);
    const r = await importHF(file, { tokenizer: charTok, nHead: 4 });
    expect(r.checkpoint.config).toEqual(cfg);
    expect(r.notes[0]).toMatch(/no config\.json: shapes give/);
    const full = await importHF(join(dir, 'hf'), { tokenizer: charTok });
    expectSameFloats(r.checkpoint.params, full.checkpoint.params);
  });

  it('errors name the tensor or the config field', () => {
    const st = readSafetensors(new Uint8Array(readFileSync(join(dir, 'hf', 'model.safetensors'))));
    const config = JSON.parse(readFileSync(join(dir, 'hf', 'config.json'), 'utf8'));
    const rewrite = (edit: (t: Map<string, { shape: number[]; data: Float32Array }>) => void) => {
      const m = new Map([...st.tensors].map(([k, v]) => [k, { shape: v.shape, data: v.data as Float32Array }]));
      edit(m);
      return writeSafetensors([...m].map(([name, t]): TensorToWrite => ({ name, dtype: 'F32', shape: t.shape, data: t.data })));
    };
    const load = (bytes: Uint8Array, c: unknown = config) => importWeights(bytes, { config: c });
    expect(load(rewrite(() => {})).config).toEqual(cfg);
    let e = expectHfError(() => load(rewrite((m) => m.delete('h.1.mlp.c_fc.bias'))), /tensor 'h\.1\.mlp\.c_fc\.bias': missing/);
    expect(e.tensor).toBe('h.1.mlp.c_fc.bias');
    e = expectHfError(
      () => load(rewrite((m) => m.set('h.0.attn.c_attn.weight', { shape: [144, 48], data: m.get('h.0.attn.c_attn.weight')!.data }))),
      /tensor 'h\.0\.attn\.c_attn\.weight': shape \(144, 48\) in the file, .* needs \(48, 144\) \(Conv1D layout/,
    );
    expectHfError(() => load(rewrite((m) => m.set('lm_head.weight', { shape: [97, 48], data: m.get('wte.weight')!.data.map((x) => x + 1e-3) }))), /lm_head\.weight': differs from wte\.weight .*untied LM head is not supported/);
    expectHfError(() => load(rewrite((m) => m.set('score.weight', { shape: [2, 48], data: new Float32Array(96) }))), /'score\.weight': not part of a GPT-2 language model/);
    expectHfError(() => load(rewrite(() => {}), { ...config, n_layer: 3 }), /'h\.2\.attn\.c_attn\.weight': missing from the weights \(a 3-layer GPT-2 needs it/);
    expectHfError(() => load(rewrite(() => {}), { ...config, activation_function: 'relu' }), /config\.json: activation_function is "relu"/);
    expectHfError(() => load(rewrite(() => {}), { ...config, layer_norm_epsilon: 1e-6 }), /layer_norm_epsilon is 0\.000001; wgpt's layernorm uses 0\.00001/);
    expectHfError(() => load(rewrite(() => {}), { ...config, n_head: 5 }), /config\.nHead \(5\) must divide config\.nEmbd \(48\)/);
    expectHfError(() => configFromHF({ ...config, model_type: 'llama' }), /only "gpt2"/);
    expectHfError(() => configFromHF('{oops'), /config\.json: not valid JSON/);
    expectHfError(
      () => importHFDirectory({ weights: rewrite(() => {}), config, tokenizer: undefined } as any),
      /no tokenizer files/,
    );
    expectHfError(() => importHFDirectory({ weights: rewrite(() => {}), config }, { tokenizer: CharTokenizer.fromText('abc') }), /tokenizer given has 3 ids but the model's vocabulary is 97/);
  });
});

describe('tokenizer files in exported and imported directories (no GPU)', () => {
  it("wgpt's byte-level BPE exports as vocab.json + merges.txt that encode the same ids", () => {
    const bpe = BpeTokenizer.train('the cat sat on the mat, the end. '.repeat(20) + VARIED_CORPUS, 300);
    const c: GPTConfig = { vocabSize: 300, blockSize: 16, nLayer: 1, nHead: 2, nEmbd: 16 };
    const params = initParams(paramLayout(c), 3);
    const { files } = exportHFDirectory({ config: c, params, tokenizer: bpe.toJSON() });
    expect(Object.keys(files).sort()).toEqual(['README.md', 'config.json', 'merges.txt', 'model.safetensors', 'tokenizer_config.json', 'vocab.json', 'wgpt-tokenizer.json']);
    expect(files['README.md']).toMatch(/no two tokens spell the same bytes/);
    // vocab.json + merges.txt alone: read as a GPT-2 tokenizer
    const r = importHFDirectory({ config: files['config.json'], weights: files['model.safetensors'] as Uint8Array, vocabJson: files['vocab.json'] as string, mergesTxt: files['merges.txt'] as string });
    expect(r.tokenizer.type).toBe('gpt2');
    expectSameFloats(r.checkpoint.params, params);
    for (const s of ['the cat sat on the mat', 'naïve café 😀 the end.', "it's code(x) { return 1; }\n\n"]) {
      expect(Array.from(r.tokenizer.encode(s))).toEqual(Array.from(bpe.encode(s)));
    }
    // with wgpt-tokenizer.json present, the exact tokenizer comes back
    const exact = importHFDirectory({ config: files['config.json'], weights: files['model.safetensors'] as Uint8Array, vocabJson: files['vocab.json'] as string, mergesTxt: files['merges.txt'] as string, wgptTokenizer: files['wgpt-tokenizer.json'] as string });
    expect(exact.tokenizer.toJSON()).toEqual(bpe.toJSON());
  });

  it("a GPT-2-vocabulary model exports GPT-2's tokenizer files; a directory without them gets GPT-2's tokenizer", async () => {
    const gpt2 = await gpt2Reference();
    const c: GPTConfig = { vocabSize: 50257, blockSize: 8, nLayer: 1, nHead: 1, nEmbd: 8 };
    const params = initParams(paramLayout(c), 4);
    const { files } = exportHFDirectory({ config: c, params, tokenizer: gpt2.toJSON() });
    const hfConfig = JSON.parse(files['config.json'] as string);
    expect(hfConfig).toMatchObject({ model_type: 'gpt2', vocab_size: 50257, n_positions: 8, eos_token_id: 50256, bos_token_id: 50256, tie_word_embeddings: true });
    expect(JSON.parse(files['tokenizer_config.json'] as string)).toMatchObject({ tokenizer_class: 'GPT2Tokenizer', eos_token: '<|endoftext|>' });
    expect((files['merges.txt'] as string).startsWith('#version: 0.2\nĠ t\n')).toBe(true);
    const d = mkdtempSync(join(tmpdir(), 'wgpt-hf-gpt2-'));
    writeHFFiles(join(d, 'full'), files);
    const back = await importHF(join(d, 'full'));
    expect(back.tokenizer).toBeInstanceOf(Gpt2Tokenizer);
    expect(Array.from(back.tokenizer.encode('Hello world'))).toEqual([15496, 995]);
    // only config.json + model.safetensors: GPT-2's own tokenizer, with a note
    mkdirSync(join(d, 'bare'));
    copyFileSync(join(d, 'full', 'config.json'), join(d, 'bare', 'config.json'));
    copyFileSync(join(d, 'full', 'model.safetensors'), join(d, 'bare', 'model.safetensors'));
    const bare = await importHF(join(d, 'bare'));
    expect(bare.notes[0]).toMatch(/no tokenizer files: using GPT-2's tokenizer/);
    expectSameFloats(bare.checkpoint.params, params);
    await expect(importHF(join(d, 'nothing-here'))).rejects.toThrow(/does not exist/);
  });
});
