/**
 * Fuzzing the file formats: thousands of seeded mutations of a valid checkpoint and of tokenizer
 * JSON. Every outcome must be a successful load or a typed WgptError — never a crash, a hang, a
 * RangeError from a huge allocation, or a silently wrong model.
 */
import { describe, expect, it } from 'vitest';
import { decodeCheckpoint, encodeCheckpoint } from '../../src/checkpoint/checkpoint.ts';
import { paramLayout } from '../../src/model/params.ts';
import { CharTokenizer, BpeTokenizer, tokenizerFromJSON } from '../../src/tokenizer/index.ts';
import { WgptError } from '../../src/errors.ts';
import { rng } from '../util/check.ts';

const config = { vocabSize: 11, blockSize: 8, nLayer: 1, nHead: 2, nEmbd: 8 };
const tok = CharTokenizer.fromText('hello world', { unk: true });

function validCheckpoint(withTrain: boolean): Uint8Array {
  const layout = paramLayout(config);
  const r = rng(1);
  const params = Float32Array.from({ length: layout.total }, () => r() - 0.5);
  return encodeCheckpoint({
    config, tokenizer: tok.toJSON(), params,
    train: withTrain ? { step: 3, optimizerStep: 3, optimizer: { beta1: 0.9 }, data: [1, 2, 3, 4], bestValLoss: null, m: params.map((x) => x / 10), v: params.map((x) => x * x) } : undefined,
  });
}

type Outcome = 'ok' | 'typed';
function classify(f: () => unknown): Outcome {
  try {
    f();
    return 'ok';
  } catch (e) {
    if (e instanceof WgptError) return 'typed';
    throw new Error(`untyped ${(e as Error)?.name}: ${(e as Error)?.message}`);
  }
}

/** The file with its JSON header replaced by `text` (length field updated). */
function withHeader(b: Uint8Array, headerLen: number, text: string): Uint8Array {
  const enc = new TextEncoder().encode(text);
  const res = new Uint8Array(8 + enc.length + (b.length - 8 - headerLen));
  new DataView(res.buffer).setBigUint64(0, BigInt(enc.length), true);
  res.set(enc, 8);
  res.set(b.subarray(8 + headerLen), 8 + enc.length);
  return res;
}

/** One random mutation: flip bytes, truncate, extend, splice the header, or rewrite a header field. */
function mutate(src: Uint8Array, r: () => number): Uint8Array {
  const kind = Math.floor(r() * 7);
  const b = src.slice();
  const headerLen = Number(new DataView(src.buffer, src.byteOffset).getBigUint64(0, true));
  const pick = (n: number) => Math.floor(r() * n);
  switch (kind) {
    case 0: // flip random bytes anywhere
      for (let i = 0, n = 1 + pick(8); i < n; i++) b[pick(b.length)] ^= 1 << pick(8);
      return b;
    case 1: // flip bytes inside the JSON header
      for (let i = 0, n = 1 + pick(4); i < n; i++) b[8 + pick(headerLen)] = 32 + pick(95);
      return b;
    case 2: // truncate
      return b.subarray(0, pick(b.length));
    case 3: { // a huge or wrong header length
      const dv = new DataView(b.buffer);
      dv.setBigUint64(0, BigInt([0, 7, headerLen + 1, 2 ** 40, Number.MAX_SAFE_INTEGER][pick(5)]), true);
      return b;
    }
    case 4: { // rewrite numbers in the header (shapes, offsets) to hostile values
      const text = new TextDecoder().decode(b.subarray(8, 8 + headerLen));
      const hostile = ['-1', '0', '4294967296', '1e300', '99999999999', '1.5', 'null', '"8"'];
      let i = 0;
      const target = pick(40);
      return withHeader(b, headerLen, text.replace(/\d+/g, (m) => (i++ === target ? hostile[pick(hostile.length)] : m)));
    }
    case 5: // extend with junk
      return Uint8Array.from([...b, ...Array.from({ length: 1 + pick(64) }, () => pick(256))]);
    default: { // edit the metadata JSON strings (config / tokenizer)
      const text = new TextDecoder().decode(b.subarray(8, 8 + headerLen));
      const swaps: [RegExp, string][] = [[/nLayer\\":1/, 'nLayer\\":0'], [/nHead\\":2/, 'nHead\\":3'], [/vocabSize\\":11/, 'vocabSize\\":12'], [/"type\\":\\"char/, '"type\\":\\"bpe'], [/vocab\\":\[/, 'vocab\\":[-5,'], [/"step\\":3/, '"step\\":-3']];
      const [re, rep] = swaps[pick(swaps.length)];
      return withHeader(b, headerLen, text.replace(re, rep));
    }
  }
}

describe('fuzz: checkpoints', () => {
  for (const withTrain of [false, true]) {
    it(`3000 mutations of a ${withTrain ? 'training' : 'weights-only'} checkpoint load or fail typed`, () => {
      const valid = validCheckpoint(withTrain);
      expect(classify(() => decodeCheckpoint(valid))).toBe('ok');
      const r = rng(withTrain ? 2 : 3);
      const counts = { ok: 0, typed: 0 };
      for (let i = 0; i < 3000; i++) {
        const m = mutate(valid, r);
        const out = classify(() => {
          const ck = decodeCheckpoint(m);
          // a load that succeeds must still be a coherent model: tokenizer and config agree
          const t = tokenizerFromJSON(ck.tokenizer);
          if (ck.params.length !== paramLayout(ck.config).total) throw new Error('params do not match the config');
          void t;
        });
        counts[out]++;
      }
      // most mutations must be caught; some (e.g. flipped weight bytes) load fine
      expect(counts.typed).toBeGreaterThan(1000);
      expect(counts.ok + counts.typed).toBe(3000);
    });
  }
});

describe('fuzz: tokenizer files', () => {
  const sources = [CharTokenizer.fromText('The quick brown fox, 1790-2016 — ünïcödé 🎉', { unk: true }).toJSON(), BpeTokenizer.train('the cat sat on the mat; the cat ate the rat. '.repeat(20), 300).toJSON()];
  for (const [i, src] of sources.entries()) {
    it(`2000 mutations of a ${src.type} tokenizer JSON load or fail typed`, () => {
      const text = JSON.stringify(src);
      const r = rng(10 + i);
      const counts = { ok: 0, typed: 0 };
      for (let k = 0; k < 2000; k++) {
        const chars = [...text];
        const n = 1 + Math.floor(r() * 4);
        for (let j = 0; j < n; j++) {
          const at = Math.floor(r() * chars.length);
          const op = Math.floor(r() * 3);
          if (op === 0) chars[at] = String.fromCharCode(32 + Math.floor(r() * 95));
          else if (op === 1) chars.splice(at, 1);
          else chars.splice(at, 0, ['-1', '1e9', '[', ']', '{', '"', ',', '99999', 'null'][Math.floor(r() * 9)]);
        }
        const out = classify(() => {
          const t = tokenizerFromJSON(chars.join(''));
          // a tokenizer that loads must round-trip what it can encode
          const s = t.decode(t.encode(t.decode([0, 1, 2].filter((x) => x < t.vocabSize))));
          void s;
        });
        counts[out]++;
      }
      expect(counts.typed).toBeGreaterThan(500);
    });
  }
});
