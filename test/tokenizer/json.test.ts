import { describe, expect, it } from 'vitest';
import {
  BpeTokenizer,
  CharTokenizer,
  tokenizerFromJSON,
  TokenizerFormatError,
  UnknownCharacterError,
  type Tokenizer,
} from '../../src/tokenizer/index.ts';
import { rng } from '../util/check.ts';
import { VARIED_CORPUS } from './texts.ts';

const CHAR = CharTokenizer.fromText('hello world 😀\u0000', { unk: true }).toJSON();
const BPE = BpeTokenizer.train('the cat sat on the mat, the end. '.repeat(20) + VARIED_CORPUS, 300).toJSON();

/** Require fn to throw TokenizerFormatError whose message matches re. */
function expectFormatError(obj: unknown, re: RegExp): void {
  let err: unknown;
  try {
    tokenizerFromJSON(obj);
  } catch (e) {
    err = e;
  }
  expect(err, JSON.stringify(obj)?.slice(0, 100)).toBeInstanceOf(TokenizerFormatError);
  expect((err as Error).message).toMatch(re);
  expect((err as TokenizerFormatError).code).toBe('TOKENIZER_FORMAT');
}

describe('tokenizerFromJSON', () => {
  it('loads both kinds, from objects and from JSON text', () => {
    for (const j of [CHAR, BPE]) {
      const a = tokenizerFromJSON(j);
      const b = tokenizerFromJSON(JSON.stringify(j));
      expect(a.type).toBe(j.type);
      expect(b.toJSON()).toEqual(j);
      const text = 'hello world 😀';
      expect(a.decode(a.encode(text))).toBe(text);
    }
  });

  it('names the offending field of malformed input', () => {
    const cases: [unknown, RegExp][] = [
      ['{not json', /at \$: not valid JSON/],
      [null, /at \$: expected an object/],
      [[1, 2], /at \$: expected an object/],
      [42, /at \$: expected an object/],
      [{}, /at \$\.type: expected "char" or "bpe", got undefined/],
      [{ type: 'wordpiece' }, /\$\.type/],
      [{ ...CHAR, version: 2 }, /\$\.version: expected 1, got 2/],
      [{ ...CHAR, unk: 'yes' }, /\$\.unk/],
      [{ ...CHAR, vocab: 'abc' }, /\$\.vocab: expected an array/],
      [{ ...CHAR, vocab: [] }, /\$\.vocab: empty vocabulary/],
      [{ ...CHAR, vocab: [97, 97] }, /\$\.vocab\[1\]: code points must be strictly increasing/],
      [{ ...CHAR, vocab: [98, 97] }, /\$\.vocab\[1\]/],
      [{ ...CHAR, vocab: [97, 0x110000] }, /\$\.vocab\[1\]: expected a code point/],
      [{ ...CHAR, vocab: [-1] }, /\$\.vocab\[0\]/],
      [{ ...CHAR, vocab: [1.5] }, /\$\.vocab\[0\]/],
      [{ ...CHAR, vocab: ['a'] }, /\$\.vocab\[0\]/],
      [{ ...BPE, merges: {} }, /\$\.merges: expected an array/],
      [{ ...BPE, vocabSize: 5 }, /\$\.vocabSize: expected 256 \+ merges\.length = 300, got 5/],
      [{ ...BPE, vocabSize: undefined }, /\$\.vocabSize/],
      [{ type: 'bpe', version: 1, vocabSize: 257, merges: [[0, 256]] }, /\$\.merges\[0\]\[1\]: expected an existing token id \(integer in \[0, 256\)\)/],
      [{ type: 'bpe', version: 1, vocabSize: 257, merges: [[0]] }, /\$\.merges\[0\]: expected a pair/],
      [{ type: 'bpe', version: 1, vocabSize: 257, merges: [[0, 1, 2]] }, /\$\.merges\[0\]/],
      [{ type: 'bpe', version: 1, vocabSize: 257, merges: [[0, '1']] }, /\$\.merges\[0\]\[1\]/],
      [{ type: 'bpe', version: 1, vocabSize: 257, merges: [[0, -1]] }, /\$\.merges\[0\]\[1\]/],
      [{ type: 'bpe', version: 1, vocabSize: 257, merges: [null] }, /\$\.merges\[0\]/],
      [{ type: 'bpe', version: 1, vocabSize: 258, merges: [[1, 2], [1, 2]] }, /\$\.merges\[1\]: duplicate merge \[1, 2\]/],
    ];
    for (const [obj, re] of cases) expectFormatError(obj, re);
  });

  it('rejects merges whose tokens double in length each step (would not fit in memory)', () => {
    const merges: [number, number][] = [[65, 65]];
    for (let i = 1; i < 40; i++) merges.push([255 + i, 255 + i]);
    expectFormatError({ type: 'bpe', version: 1, vocabSize: 256 + merges.length, merges }, /would be 8192 bytes long, the limit is 4096/);
  });

  it('rejects more merges than the vocabulary limit without looking at each', () => {
    const merges = { length: 5_000_000 }; // not an array: cheap, and shows the type check comes first
    expectFormatError({ type: 'bpe', version: 1, vocabSize: 0, merges }, /\$\.merges: expected an array/);
    const big = new Array(2_000_000);
    expectFormatError({ type: 'bpe', version: 1, vocabSize: 256 + big.length, merges: big }, /2000000 merges, the limit is/);
  });

  it('fuzz: mutated JSON either loads and works, or throws TokenizerFormatError', () => {
    const r = rng(1234);
    const pick = <T,>(xs: readonly T[]): T => xs[Math.floor(r() * xs.length)];
    const randomValue = (): unknown =>
      pick([
        () => null, () => true, () => 0, () => -1, () => 1.5, () => 255, () => 256, () => 257, () => 2 ** 31, () => 1e300,
        () => NaN, () => 'a', () => '', () => [], () => {}, () => [0, 1], () => [[0, 1]], () => [300, 1], () => ({ a: 1 }),
        () => Math.floor(r() * 600) - 50, () => 'bpe', () => 'char',
      ])();
    const mutate = (v: unknown, depth: number): unknown => {
      if (depth > 0 && r() < 0.15) return randomValue();
      if (Array.isArray(v)) {
        const a = v.slice();
        if (a.length && r() < 0.5) {
          const i = Math.floor(r() * a.length);
          a[i] = mutate(a[i], depth + 1);
        }
        if (r() < 0.1) a.push(randomValue());
        if (r() < 0.1) a.splice(Math.floor(r() * (a.length + 1)), 1);
        return a;
      }
      if (v && typeof v === 'object') {
        const o: Record<string, unknown> = { ...(v as Record<string, unknown>) };
        const keys = Object.keys(o);
        const k = pick(keys);
        if (r() < 0.1) delete o[k];
        else o[k] = mutate(o[k], depth + 1);
        if (r() < 0.05) o[pick(['type', 'version', 'vocab', 'merges', 'unk', 'vocabSize', 'extra'])] = randomValue();
        return o;
      }
      return randomValue();
    };
    let loaded = 0;
    let rejected = 0;
    for (let trial = 0; trial < 3000; trial++) {
      const base = trial % 2 ? CHAR : BPE;
      let input: unknown = mutate(JSON.parse(JSON.stringify(base)), 0);
      if (trial % 7 === 0) {
        const s = JSON.stringify(input);
        input = s.slice(0, Math.floor(r() * s.length)); // truncated text
      }
      let tok: Tokenizer | null = null;
      try {
        tok = tokenizerFromJSON(input);
      } catch (e) {
        if (!(e instanceof TokenizerFormatError)) throw new Error(`trial ${trial}: ${String(e)} for ${JSON.stringify(input)?.slice(0, 200)}`);
        rejected++;
        continue;
      }
      loaded++;
      const ids = new Int32Array(50).map((_, i) => i % tok!.vocabSize);
      expect(typeof tok.decode(ids)).toBe('string');
      try {
        const text = 'hello world';
        expect(tok.decode(tok.encode(text))).toBe(text);
      } catch (e) {
        if (!(e instanceof UnknownCharacterError)) throw e;
      }
    }
    expect(loaded).toBeGreaterThan(100);
    expect(rejected).toBeGreaterThan(100);
  });
});
