/**
 * Language-model fine-tuning: it lowers the loss on the target text, frozen tensors stay
 * bit-identical, unknown characters are mapped to <unk> and reported (or rejected without one),
 * and the checkpoint records where the model came from.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import type { Gpu } from '../../src/gpu/context.ts';
import { pretrain } from '../../src/train/pretrain.ts';
import { finetune, FinetuneError, sha256Hex, trainableFor, type FinetuneEvent } from '../../src/train/finetune.ts';
import { decodeCheckpoint } from '../../src/checkpoint/checkpoint.ts';
import { LanguageModel } from '../../src/model/language-model.ts';
import { loadSotuCorpus } from '../../src/data/corpus-node.ts';
import { CorpusError } from '../../src/data/errors.ts';
import { CharTokenizer } from '../../src/tokenizer/char.ts';
import { UnknownCharacterError } from '../../src/tokenizer/errors.ts';
import { testGpu } from '../util/node.ts';
import { rng } from '../util/check.ts';

let gpu: Gpu;
let parent: Uint8Array;
let sotu: string;

/** A seeded "target domain": sentences from a small grammar (a style the parent never saw). */
function targetText(chars: number, seed: number): string {
  const r = rng(seed);
  const pick = (xs: string[]) => xs[Math.floor(r() * xs.length)];
  const subj = ['the farmer', 'a river', 'our navy', 'the mill', 'every town'];
  const verb = ['needs', 'builds', 'carries', 'feeds', 'guards'];
  const obj = ['the grain', 'new roads', 'the harbor', 'ten ships', 'the people'];
  let s = '';
  while (s.length < chars) s += `${pick(subj)} ${pick(verb)} ${pick(obj)}. `;
  return s.slice(0, chars);
}

const base = { batchSize: 4, evalEvery: 0, seed: 5 } as const;

beforeAll(async () => {
  gpu = await testGpu();
  sotu = (await loadSotuCorpus()).slice(0, 100_000);
  const run = await pretrain(gpu, { text: sotu, preset: 'tiny', config: { blockSize: 32 }, batchSize: 4, steps: 30, lr: 3e-3, evalEvery: 0, seed: 5 });
  await run.run();
  parent = await run.checkpoint();
  run.destroy();
}, 120_000);

describe('finetune (language model)', () => {
  it('lowers the held-out loss on the target text and records the origin', async () => {
    const events: FinetuneEvent[] = [];
    const run = await finetune(gpu, { from: parent, parentName: 'parent.safetensors', text: targetText(20_000, 1), ...base, steps: 40, lr: 3e-3, evalEvery: 20, onEvent: (e) => void events.push(e) });
    const val = run.data.val.tokens;
    const before = (await run.model.evaluate(val)).loss;
    await run.run();
    const after = (await run.model.evaluate(val)).loss;
    expect(after).toBeLessThan(before - 0.25); // 40 steps of 128 tokens: 2.97 -> 2.62 measured
    expect(events.filter((e) => e.event === 'step').length).toBe(40);
    expect(events.filter((e) => e.event === 'eval').length).toBe(2);
    expect(events.some((e) => e.event === 'unknown_characters')).toBe(false);
    // default lr and warmup are the fine-tuning ones
    expect(run.trainer.schedule).toMatchObject({ lr: 3e-3, warmupSteps: 10, decaySteps: 40 });

    const ck = decodeCheckpoint(await run.checkpoint());
    run.destroy();
    expect(ck.train).toBeUndefined();
    expect(ck.origin).toMatchObject({ task: 'lm', steps: 40, parent: { sha256: await sha256Hex(parent), name: 'parent.safetensors', step: 30 } });
    expect(new Date(ck.origin!.date as string).getTime()).toBeGreaterThan(Date.now() - 600_000);
    const { model } = LanguageModel.fromCheckpoint(gpu, ck);
    expect(model.origin).toEqual(ck.origin);
    expect((await model.evaluate(val)).loss).toBeCloseTo(after, 5);
    model.destroy();
  });

  it('leaves frozen tensors bit-identical (embeddings + first block) and trains the rest', async () => {
    const run = await finetune(gpu, { from: parent, text: targetText(5_000, 2), ...base, steps: 3, lr: 1e-2, freezeEmbeddings: true, freezeLayers: 1 });
    await run.run();
    const after = await run.model.gpt.getParams();
    const before = decodeCheckpoint(parent).params;
    const frozen = trainableFor(run.model.config, { freezeEmbeddings: true, freezeLayers: 1 });
    let nFrozen = 0, nTrained = 0;
    for (const s of run.model.gpt.layout.specs) {
      const a = after.subarray(s.offset, s.offset + s.size), b = before.subarray(s.offset, s.offset + s.size);
      const same = a.every((x, i) => Object.is(x, b[i]));
      const isFrozen = !frozen(s);
      expect(same, `${s.name} ${isFrozen ? 'frozen but changed' : 'trainable but unchanged'}`).toBe(isFrozen);
      if (isFrozen) nFrozen++;
      else nTrained++;
    }
    expect(nFrozen).toBe(2 + 12); // wte, wpe and the 12 tensors of block 0
    expect(nTrained).toBe(12 + 2); // block 1 and ln_f
    run.destroy();
    await expect(finetune(gpu, { from: parent, text: targetText(5_000, 2), freezeLayers: 3 })).rejects.toThrow(FinetuneError);
  });

  it('maps unknown characters to <unk> and reports them, or throws without an <unk> id', async () => {
    const events: FinetuneEvent[] = [];
    const text = targetText(5_000, 3).replace(/harbor/g, 'harbor €').replace(/grain/g, 'grain ☃');
    const run = await finetune(gpu, { from: parent, text, ...base, steps: 1, onEvent: (e) => void events.push(e) });
    const unk = events.find((e) => e.event === 'unknown_characters');
    const nEuro = text.split('€').length - 1, nSnow = text.split('☃').length - 1;
    expect(unk).toMatchObject({ count: nEuro + nSnow, distinct: 2, replaced_with: '<unk>' });
    expect(unk && 'characters' in unk && [...unk.characters].sort()).toEqual(['☃', '€'].sort());
    expect(run.unknown).toEqual(unk);
    const unkId = (run.model.tokenizer as CharTokenizer).unkId;
    const ids = [...run.data.train.tokens, ...run.data.val.tokens];
    expect(ids.filter((i) => i === unkId).length).toBe(nEuro + nSnow); // replaced, not dropped
    expect(ids.length).toBe([...text].length);
    run.destroy();

    // a parent whose tokenizer has no <unk>
    const tok = CharTokenizer.fromText(sotu);
    const lm = LanguageModel.create(gpu, { vocabSize: tok.vocabSize, blockSize: 32, nLayer: 1, nHead: 2, nEmbd: 32 }, tok);
    const noUnk = await lm.toCheckpoint();
    lm.destroy();
    const err = await finetune(gpu, { from: noUnk, text, ...base, steps: 1 }).catch((e) => e);
    expect(err).toBeInstanceOf(UnknownCharacterError);
    expect(err.message).toMatch(/'€' U\+20AC/);
    expect(err.message).toMatch(/no <unk> id/);
    expect(err.count).toBe(nEuro + nSnow);
  });

  it('rejects empty and too-short text', async () => {
    await expect(finetune(gpu, { from: parent, text: '' })).rejects.toThrow(CorpusError);
    await expect(finetune(gpu, { from: parent, text: 'the farmer needs grain.' })).rejects.toThrow(/fewer than one context of 33/);
  });
});
