import { beforeAll, describe, expect, it } from 'vitest';
import { loadSotuCorpus } from '../../src/data/corpus-node.ts';
import { CharTokenizer, TokenIdError, TokenizerError, UnknownCharacterError } from '../../src/tokenizer/index.ts';
import { randomStrings, VARIED_CORPUS, VARIED_TEXTS } from './texts.ts';

describe('CharTokenizer', () => {
  let sotu: string;
  beforeAll(async () => {
    sotu = await loadSotuCorpus();
  });

  it('vocabulary of the SOTU text: its distinct characters, sorted by code point', () => {
    const tok = CharTokenizer.fromText(sotu);
    expect(tok.vocabSize).toBe(98); // per shared/notes/data.md
    const seen = new Set<number>();
    let codePoints = 0;
    for (const c of sotu) {
      seen.add(c.codePointAt(0)!);
      codePoints++;
    }
    expect([...tok.vocab]).toEqual([...seen].sort((a, b) => a - b));
    const ids = tok.encode(sotu);
    expect(ids.length).toBe(codePoints);
    expect(tok.decode(ids)).toBe(sotu);
  });

  it('round-trips every varied text, one token per code point', () => {
    const tok = CharTokenizer.fromText(VARIED_CORPUS);
    for (const [name, text] of Object.entries(VARIED_TEXTS)) {
      const ids = tok.encode(text);
      expect(ids.length, name).toBe(Array.from(text).length);
      expect(tok.decode(ids), name).toBe(text);
    }
  });

  it('round-trips random code-unit strings (lone surrogates included)', () => {
    for (const s of randomStrings(300, 7)) {
      if (s.length === 0) continue;
      const tok = CharTokenizer.fromText(s);
      expect(tok.decode(tok.encode(s))).toBe(s);
    }
  });

  it('counts an emoji as one code point and orders astral after BMP characters', () => {
    const tok = CharTokenizer.fromText('b😀a\uffff');
    expect([...tok.vocab]).toEqual([0x61, 0x62, 0xffff, 0x1f600]);
    expect(Array.from(tok.encode('😀ab'))).toEqual([3, 0, 1]);
  });

  it('throws UnknownCharacterError listing the unknown characters with code points', () => {
    const tok = CharTokenizer.fromText('abc ');
    let err: unknown;
    try {
      tok.encode('a b z 😀 z\u0000');
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(UnknownCharacterError);
    const u = err as UnknownCharacterError;
    expect(u.code).toBe('UNKNOWN_CHARACTER');
    expect(u.codePoints).toEqual([0x7a, 0x1f600, 0]);
    expect(u.count).toBe(4);
    expect(u.message).toMatch(/'z' U\+007A/);
    expect(u.message).toMatch(/U\+1F600/);
    expect(u.message).toMatch(/U\+0000/);
    expect(u.message).toMatch(/first at UTF-16 index 4/);
  });

  it('lists at most 10 unknown characters and says how many more', () => {
    const tok = CharTokenizer.fromText('a');
    expect(() => tok.encode('bcdefghijklmnop')).toThrow(/and 5 more/);
  });

  it("maps unknown characters to <unk> with { unknown: 'replace' } when reserved", () => {
    const tok = CharTokenizer.fromText('ab', { unk: true });
    expect(tok.vocabSize).toBe(3);
    expect(tok.unkId).toBe(2);
    const ids = tok.encode('axb😀', { unknown: 'replace' });
    expect(Array.from(ids)).toEqual([0, 2, 1, 2]);
    expect(tok.decode(ids)).toBe('a\ufffdb\ufffd');
    expect(() => tok.encode('axb')).toThrow(UnknownCharacterError); // default is still 'error'
  });

  it("refuses 'replace' without a reserved <unk> id instead of dropping characters", () => {
    const tok = CharTokenizer.fromText('ab');
    expect(() => tok.encode('ax', { unknown: 'replace' })).toThrow(/reserves no <unk> id/);
  });

  it('rejects bad ids in decode and empty training text', () => {
    const tok = CharTokenizer.fromText('ab');
    expect(() => tok.decode([0, 2])).toThrow(TokenIdError);
    expect(() => tok.decode([0, -1])).toThrow(/token id -1 at position 1 is outside the vocabulary \[0, 2\)/);
    expect(() => tok.decode([0.5])).toThrow(TokenIdError);
    expect(() => tok.decode([NaN])).toThrow(TokenIdError);
    expect(() => CharTokenizer.fromText('')).toThrow(TokenizerError);
  });

  it('toJSON / fromJSON reproduce the same encoding', () => {
    const tok = CharTokenizer.fromText(VARIED_CORPUS, { unk: true });
    const back = CharTokenizer.fromJSON(JSON.parse(JSON.stringify(tok)));
    expect(back.vocabSize).toBe(tok.vocabSize);
    expect(back.unkId).toBe(tok.unkId);
    expect(Array.from(back.encode(VARIED_CORPUS))).toEqual(Array.from(tok.encode(VARIED_CORPUS)));
  });
});
