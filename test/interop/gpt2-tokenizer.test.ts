/**
 * GPT-2's tokenizer from vocab.json + merges.txt: the same ids as the reference encoder
 * (gpt-tokenizer's r50k_base, which is GPT-2's encoding) on a varied text set, exact round trips,
 * the file formats, and load errors that name the file and the line.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { encode as refEncode, decode as refDecode } from 'gpt-tokenizer/encoding/r50k_base';
import { Gpt2Tokenizer, gpt2Reference, byteAlphabet } from '../../src/interop/gpt2-tokenizer.ts';
import { tokenizerFromJSON, TokenizerFormatError, TokenIdError, BpeTokenizer } from '../../src/tokenizer/index.ts';
import { loadSotuCorpus } from '../../src/data/corpus-node.ts';
import { bpeToGpt2Files } from '../../src/interop/hf.ts';
import { VARIED_TEXTS, VARIED_CORPUS, randomStrings } from '../tokenizer/texts.ts';
import { rng } from '../util/check.ts';

const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

/** Seeded random text of valid code points from pools GPT-2 handles differently. */
function randomUnicode(n: number, seed: number, maxLen = 60): string[] {
  const r = rng(seed);
  const pools: [number, number][] = [
    [0x20, 0x7e], [0x09, 0x0d], [0xa0, 0x24f], [0x370, 0x3ff], [0x400, 0x4ff], [0x590, 0x6ff],
    [0x900, 0x97f], [0x3040, 0x30ff], [0x4e00, 0x4fff], [0xac00, 0xacff], [0x2000, 0x206f],
    [0x1f300, 0x1f64f], [0x1f900, 0x1f9ff], [0x300, 0x36f], [0xfe00, 0xfe0f], [0x30, 0x39],
  ];
  const out: string[] = [];
  for (let i = 0; i < n; i++) {
    const len = Math.floor(r() * maxLen);
    let s = '';
    for (let j = 0; j < len; j++) {
      const [lo, hi] = pools[Math.floor(r() * pools.length)];
      s += String.fromCodePoint(lo + Math.floor(r() * (hi - lo + 1)));
      if (r() < 0.15) s += ' '.repeat(1 + Math.floor(r() * 3));
    }
    out.push(s);
  }
  return out;
}

describe('Gpt2Tokenizer (vocab.json + merges.txt) vs gpt-tokenizer r50k_base', () => {
  let tok: Gpt2Tokenizer;
  let files: { vocabJson: string; mergesTxt: string };
  beforeAll(async () => {
    // GPT-2's files, derived from the reference package's ranks, then loaded back as files
    files = (await gpt2Reference()).toFiles();
    tok = Gpt2Tokenizer.fromFiles(files.vocabJson, files.mergesTxt);
  });

  it('has GPT-2 vocabulary: 50257 ids, 50000 merges, known ids', () => {
    expect(tok.vocabSize).toBe(50257);
    expect(tok.merges.length).toBe(50000);
    expect(files.mergesTxt.split('\n')[1]).toBe('Ġ t'); // GPT-2's first merge
    expect(tok.tokenId('<|endoftext|>')).toBe(50256);
    expect(Array.from(tok.encode('Hello world'))).toEqual([15496, 995]);
    expect(Array.from(tok.encode(' the'))).toEqual([262]);
    expect(tok.decode([50256])).toBe('<|endoftext|>');
  });

  it('encodes a varied text set exactly like the reference (unicode, whitespace runs, emoji, code)', async () => {
    const texts = [
      ...Object.entries(VARIED_TEXTS).filter(([, s]) => !LONE_SURROGATE.test(s)).map(([, s]) => s),
      ...randomUnicode(300, 7),
      'x' + ' '.repeat(5000) + 'y\n\n\n\t \t' + '\u3000'.repeat(40), // long whitespace runs: no chunk cap in GPT-2
      '🤖'.repeat(700) + 'a'.repeat(3000), // long chunks
      "<|endoftext|> is plain text here, it's not special",
      'def f(x):\n    return {"k": [1, 2, 3]}  # comment\n\n\nclass A(B):\n\tpass\r\n',
      (await loadSotuCorpus()).slice(0, 60_000),
    ];
    let total = 0;
    for (const s of texts) {
      const ours = Array.from(tok.encode(s));
      const ref = refEncode(s, { disallowedSpecial: new Set() });
      if (ours.length !== ref.length || ours.some((id, i) => id !== ref[i])) {
        const i = ours.findIndex((id, k) => id !== ref[k]);
        throw new Error(`encoding differs for ${JSON.stringify(s.slice(0, 60))} at token ${i}: ours ${ours.slice(i, i + 5)} ref ${ref.slice(i, i + 5)}`);
      }
      expect(tok.decode(ours)).toBe(s);
      expect(refDecode(ours)).toBe(s);
      total += ours.length;
    }
    expect(total).toBeGreaterThan(15_000);
  });

  it('round-trips every byte and every JavaScript string (lone surrogates by WTF-8)', () => {
    const all = new Uint8Array(256).map((_, i) => i);
    const { byteToChar } = byteAlphabet();
    for (let b = 0; b < 256; b++) expect(Array.from(tok.tokenBytes(tok.tokenId(byteToChar[b])!))).toEqual([b]);
    expect(Array.from(tok.tokenBytes(tok.encode(String.fromCharCode(...all.subarray(0, 128)))[0]))).toEqual([0]);
    for (const s of [...Object.values(VARIED_TEXTS), ...randomStrings(200, 3)]) expect(tok.decode(tok.encode(s))).toBe(s);
  });

  it('serializes through tokenizerFromJSON and the HF tokenizer.json form', () => {
    const j = tok.toJSON();
    expect(j.type).toBe('gpt2');
    const back = tokenizerFromJSON(JSON.parse(JSON.stringify(j)));
    expect(back.type).toBe('gpt2');
    const text = 'Round trip: naïve café 😀  \n\tcode();';
    expect(Array.from(back.encode(text))).toEqual(Array.from(tok.encode(text)));
    const hf = {
      model: { type: 'BPE', vocab: JSON.parse(files.vocabJson), merges: files.mergesTxt.split('\n').slice(1, -1).map((m) => m.split(' ')) },
      pre_tokenizer: { type: 'ByteLevel', add_prefix_space: false },
      added_tokens: [{ id: 50256, content: '<|endoftext|>', special: true }],
    };
    const fromHF = Gpt2Tokenizer.fromHFTokenizerJSON(JSON.stringify(hf));
    expect(Array.from(fromHF.encode(text))).toEqual(Array.from(tok.encode(text)));
  });
});

describe('Gpt2Tokenizer files: small vocabularies and errors', () => {
  // a byte-level BPE trained here, written as vocab.json + merges.txt by hand
  const bpe = BpeTokenizer.train('the cat sat on the mat, the end. '.repeat(20) + VARIED_CORPUS, 320);
  const { byteToChar } = byteAlphabet();
  const spell = (id: number) => Array.from(bpe.tokenBytes(id), (b) => byteToChar[b]).join('');
  const vocab: Record<string, number> = {};
  for (let id = 0; id < bpe.vocabSize; id++) vocab[spell(id)] ??= id;
  const mergesTxt = '#version: 0.2\n' + bpe.merges.map(([a, b]) => `${spell(a)} ${spell(b)}`).join('\n') + '\n';

  it('loads trained merges and encodes like the trainer on text without long chunks', () => {
    const files = bpeToGpt2Files(bpe);
    expect(files.shadowed).toEqual([]); // no two merges spell one token (vocab.json could not hold it)
    expect(JSON.parse(files.vocabJson)).toEqual(vocab);
    expect(files.mergesTxt).toBe(mergesTxt);
    const t = Gpt2Tokenizer.fromFiles(files.vocabJson, files.mergesTxt);
    for (const s of ['the cat sat on the mat', 'naïve café 😀 the end.', 'code(x) { return 1; }']) {
      expect(Array.from(t.encode(s))).toEqual(Array.from(bpe.encode(s)));
    }
  });

  it('pads to a larger vocabSize; padding ids decode to nothing', () => {
    const t = Gpt2Tokenizer.fromFiles(vocab, mergesTxt, { vocabSize: 400 });
    expect(t.vocabSize).toBe(400);
    expect(t.decode([399, ...t.encode('the cat')])).toBe('the cat');
    expect(() => t.decode([400])).toThrow(TokenIdError);
    expect(tokenizerFromJSON(t.toJSON()).vocabSize).toBe(400);
  });

  const expectError = (fn: () => unknown, re: RegExp) => {
    let err: unknown;
    try {
      fn();
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(TokenizerFormatError);
    expect((err as Error).message).toMatch(re);
  };

  it('names the file, line and token of malformed input', () => {
    expectError(() => Gpt2Tokenizer.fromFiles('{not json', mergesTxt), /vocab\.json: not valid JSON/);
    const noByte = { ...vocab };
    delete noByte[byteToChar[7]];
    expectError(() => Gpt2Tokenizer.fromFiles(noByte, mergesTxt), /vocab\.json: no token for byte 7/);
    expectError(() => Gpt2Tokenizer.fromFiles(vocab, '#version: 0.2\nt h\nth e x\n'), /merges\.txt line 3: expected two tokens/);
    expectError(() => Gpt2Tokenizer.fromFiles(vocab, '#version: 0.2\nq Ġzzz\n'), /merges\.txt\[0\]: merge "q Ġzzz": "Ġzzz" is not a token/);
    expectError(() => Gpt2Tokenizer.fromFiles({ ...vocab, a: 3 }, mergesTxt), /id 3 is also token/);
    expectError(() => Gpt2Tokenizer.fromFiles({ ...vocab, zz: -1 }, mergesTxt), /vocab\.json\["zz"\]: expected an id/);
    expectError(() => tokenizerFromJSON({ type: 'gpt2', version: 1, vocabSize: 3, vocab: ['a'], merges: [] }), /\$\.vocabSize/);
    expectError(() => tokenizerFromJSON({ type: 'gpt2', version: 2 }), /\$\.version/);
  });
});
