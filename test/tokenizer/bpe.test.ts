import { beforeAll, describe, expect, it } from 'vitest';
import { loadSotuCorpus } from '../../src/data/corpus-node.ts';
import {
  BpeTokenizer,
  MAX_CHUNK_UNITS,
  splitText,
  TokenIdError,
  TokenizerError,
  wtf8Decode,
  wtf8Encode,
} from '../../src/tokenizer/index.ts';
import { randint } from '../util/check.ts';
import { randomStrings, VARIED_CORPUS, VARIED_TEXTS } from './texts.ts';

/**
 * Reference trainer, written for clarity: recount every pair of every word each step, take the
 * most frequent (ties: smallest (a, b)), merge it everywhere.
 */
function trainRef(text: string, vocabSize: number): [number, number][] {
  const freq = new Map<string, number>();
  splitText(text, (c) => freq.set(c, (freq.get(c) ?? 0) + 1));
  let words = [...freq].map(([c, f]) => ({ ids: Array.from(wtf8Encode(c)), f }));
  const merges: [number, number][] = [];
  while (256 + merges.length < vocabSize) {
    const counts = new Map<string, number>();
    for (const w of words) for (let i = 0; i + 1 < w.ids.length; i++) {
      const k = `${w.ids[i]},${w.ids[i + 1]}`;
      counts.set(k, (counts.get(k) ?? 0) + w.f);
    }
    let best: [number, number] | null = null;
    let bestC = 0;
    for (const [k, c] of counts) {
      const [a, b] = k.split(',').map(Number);
      if (c > bestC || (c === bestC && best && (a < best[0] || (a === best[0] && b < best[1])))) {
        best = [a, b];
        bestC = c;
      }
    }
    if (!best) break;
    const id = 256 + merges.length;
    merges.push(best);
    words = words.map(({ ids, f }) => {
      const out: number[] = [];
      for (let i = 0; i < ids.length; ) {
        if (i + 1 < ids.length && ids[i] === best![0] && ids[i + 1] === best![1]) { out.push(id); i += 2; } else out.push(ids[i++]);
      }
      return { ids: out, f };
    });
  }
  return merges;
}

describe('pre-tokenizer (splitText)', () => {
  it('cuts GPT-2 style and the chunks concatenate back to the text', () => {
    const chunks: string[] = [];
    splitText("Hello world, it's 2016!  \n\tOK", (c) => chunks.push(c));
    expect(chunks).toEqual(['Hello', ' world', ',', ' it', "'s", ' 2016', '!', '  \n', '\t', 'OK']);
    for (const t of [...Object.values(VARIED_TEXTS), ...randomStrings(200, 3)]) {
      const parts: string[] = [];
      splitText(t, (c) => parts.push(c));
      expect(parts.join('')).toBe(t);
      for (const p of parts) expect(p.length).toBeLessThanOrEqual(MAX_CHUNK_UNITS);
    }
  });

  it('never cuts a surrogate pair when capping long chunks', () => {
    const parts: string[] = [];
    splitText(VARIED_TEXTS.pairAtCut, (c) => parts.push(c));
    expect(parts[0]).toBe('x'.repeat(255));
    expect(parts[1].startsWith('😀')).toBe(true);
  });
});

describe('WTF-8', () => {
  it('equals UTF-8 (TextEncoder) on well-formed strings and round-trips every string', () => {
    const te = new TextEncoder();
    for (const t of [...Object.values(VARIED_TEXTS), ...randomStrings(300, 11)]) {
      expect(wtf8Decode(wtf8Encode(t))).toBe(t);
      if (new TextDecoder().decode(te.encode(t)) === t) expect(Array.from(wtf8Encode(t))).toEqual(Array.from(te.encode(t)));
    }
  });

  it('decodes invalid bytes like TextDecoder (one U+FFFD per maximal subpart), apart from surrogates', () => {
    const td = new TextDecoder();
    const special = [0x80, 0xbf, 0xc0, 0xc1, 0xc2, 0xdf, 0xe0, 0xa0, 0xef, 0xf0, 0x90, 0xf4, 0x8f, 0xf5, 0xff, 0x41];
    for (let trial = 0; trial < 2000; trial++) {
      const picks = randint(1 + (trial % 12), special.length, trial);
      const bytes = Uint8Array.from(picks, (i) => special[i]);
      expect(wtf8Decode(bytes), Array.from(bytes).join(' ')).toBe(td.decode(bytes));
    }
    expect(wtf8Decode(Uint8Array.from([0xed, 0xa0, 0x80]))).toBe('\ud800'); // a lone surrogate, not 3 x U+FFFD
  });
});

describe('BpeTokenizer', () => {
  let sotu: string;
  beforeAll(async () => {
    sotu = await loadSotuCorpus();
  });

  it('learns the same merges as the reference trainer', () => {
    const text = sotu.slice(0, 30_000) + VARIED_CORPUS;
    const tok = BpeTokenizer.train(text, 420);
    expect(tok.vocabSize).toBe(420);
    expect(tok.merges.map((m) => [m[0], m[1]])).toEqual(trainRef(text, 420));
  });

  it('handles overlapping pairs (aaa, abab) like the reference, down to one token per word', () => {
    const text = 'aaaa aaa abab ababab aa b a bbbb aaaaaaaa abba '.repeat(3) + 'x'.repeat(300);
    const tok = BpeTokenizer.train(text, 400);
    expect(tok.merges.map((m) => [m[0], m[1]])).toEqual(trainRef(text, 400));
    expect(tok.vocabSize).toBeLessThan(400); // ran out of pairs
    expect(tok.decode(tok.encode(text))).toBe(text);
  });

  it('trains vocab 512 on 1 MB of SOTU in seconds and needs far fewer tokens than bytes', () => {
    const text = sotu.slice(0, 1_000_000);
    const t0 = performance.now();
    const tok = BpeTokenizer.train(text, 512);
    const ms = performance.now() - t0;
    console.log(`BPE train: vocab 512 on ${text.length} chars in ${ms.toFixed(0)} ms`);
    expect(ms).toBeLessThan(20_000); // ~0.2 s on the dev machine; generous for slow CI
    const ids = tok.encode(text);
    const nBytes = new TextEncoder().encode(text).length;
    console.log(`BPE encode: ${nBytes} bytes -> ${ids.length} tokens (${(nBytes / ids.length).toFixed(2)} bytes/token)`);
    expect(ids.length).toBeLessThan(0.5 * nBytes);
    expect(tok.decode(ids)).toBe(text);
    // held-out text (the later addresses) round-trips too
    const later = sotu.slice(-200_000);
    expect(tok.decode(tok.encode(later))).toBe(later);
  });

  it('round-trips the varied texts and random strings exactly', () => {
    const tok = BpeTokenizer.train(sotu.slice(0, 200_000) + VARIED_CORPUS, 600);
    for (const [name, t] of Object.entries(VARIED_TEXTS)) expect(tok.decode(tok.encode(t)), name).toBe(t);
    for (const t of randomStrings(500, 5, 120)) expect(tok.decode(tok.encode(t))).toBe(t);
    const all = Object.values(VARIED_TEXTS).join('');
    expect(tok.decode(tok.encode(all))).toBe(all);
  });

  it('merges long chunks (heap) exactly like short ones (scans)', () => {
    const tok = BpeTokenizer.train(sotu.slice(0, 200_000), 800);
    const pieces = [sotu.slice(1000, 1300), 'a'.repeat(500), 'the'.repeat(100), VARIED_TEXTS.scripts, VARIED_TEXTS.longEmoji];
    for (const p of pieces) {
      const b = wtf8Encode(p);
      expect(Array.from(tok.mergeByHeap(b))).toEqual(Array.from(tok.mergeByScans(b)));
    }
    for (let trial = 0; trial < 200; trial++) {
      const start = randint(1, sotu.length - 200, trial)[0];
      const b = wtf8Encode(sotu.slice(start, start + 10 + (trial % 150)).replace(/\s/g, ''));
      expect(Array.from(tok.mergeByHeap(b))).toEqual(Array.from(tok.mergeByScans(b)));
    }
  });

  it('is deterministic and reports progress up to the target', () => {
    const text = sotu.slice(0, 100_000);
    const calls: [number, number][] = [];
    const a = BpeTokenizer.train(text, 356, { onProgress: (d, t) => calls.push([d, t]) });
    const b = BpeTokenizer.train(text, 356);
    expect(JSON.stringify(a)).toBe(JSON.stringify(b));
    expect(calls.length).toBe(100);
    expect(calls[calls.length - 1]).toEqual([100, 100]);
    for (let i = 1; i < calls.length; i++) expect(calls[i][0]).toBeGreaterThan(calls[i - 1][0]);
  });

  it('stops early when the corpus runs out of pairs', () => {
    const tok = BpeTokenizer.train('ab ab', 1000);
    expect(tok.vocabSize).toBe(258); // 'ab', ' ab'... then ' ' + 'ab'
    expect(tok.decode(tok.encode('ab ab ba'))).toBe('ab ab ba');
  });

  it('decodes any id sequence without throwing (invalid UTF-8 -> U+FFFD), rejects ids outside the vocabulary', () => {
    const tok = BpeTokenizer.train(VARIED_CORPUS, 300);
    expect(tok.decode([0xe2, 0x82])).toBe('\ufffd'); // truncated 3-byte sequence
    expect(tok.decode([0xff, 0x41])).toBe('\ufffdA');
    const ids = randint(5000, tok.vocabSize, 9);
    expect(typeof tok.decode(ids)).toBe('string');
    expect(() => tok.decode([1, 300])).toThrow(TokenIdError);
    expect(() => tok.decode([1, 300])).toThrow(/token id 300 at position 1 is outside the vocabulary \[0, 300\)/);
    expect(() => tok.decode([-1])).toThrow(TokenIdError);
  });

  it('token bytes are the concatenation of the merged pair', () => {
    const tok = BpeTokenizer.train(sotu.slice(0, 50_000), 300);
    for (let i = 0; i < tok.merges.length; i++) {
      const [a, b] = tok.merges[i];
      expect(Array.from(tok.tokenBytes(256 + i))).toEqual([...tok.tokenBytes(a), ...tok.tokenBytes(b)]);
    }
    expect(new TextDecoder().decode(tok.tokenBytes(256))).toBe(' t'); // words carry their leading space: ' t' (' the', ' to') is the most frequent pair
  });

  it('rejects a bad vocab size and empty text', () => {
    expect(() => BpeTokenizer.train('abc', 255)).toThrow(TokenizerError);
    expect(() => BpeTokenizer.train('abc', 300.5)).toThrow(/integer in \[256/);
    expect(() => BpeTokenizer.train('', 300)).toThrow(TokenizerError);
  });

  it('toJSON / fromJSON reproduce the same encoding', () => {
    const tok = BpeTokenizer.train(sotu.slice(0, 100_000), 400);
    const back = BpeTokenizer.fromJSON(JSON.parse(JSON.stringify(tok)));
    expect(back.vocabSize).toBe(400);
    const t = sotu.slice(100_000, 150_000) + VARIED_CORPUS;
    expect(Array.from(back.encode(t))).toEqual(Array.from(tok.encode(t)));
  });
});
