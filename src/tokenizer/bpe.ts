/**
 * Byte-level BPE (GPT-2 style), trained on the corpus.
 *
 * Ids 0..255 are single bytes; id 256 + i is merges[i] = [a, b], the bytes of a followed by the
 * bytes of b. Text is first cut into chunks by GPT-2's pre-tokenizer pattern (contractions,
 * space-prefixed letter runs, digit runs, punctuation runs, whitespace runs); merges never cross
 * a chunk. Chunks longer than MAX_CHUNK_UNITS code units are cut at code point boundaries, which
 * bounds every token at 768 bytes and keeps training and encoding linear on pathological input.
 * Strings become bytes by WTF-8 (see utf.ts), so every JavaScript string round-trips exactly.
 *
 * Training (train): count chunk frequencies, then repeatedly merge the most frequent adjacent pair
 * (ties: the smallest (a, b)), updating pair counts incrementally for the words that contain it;
 * the best pair comes from a max-heap with lazy invalidation.
 * Encoding (encode): per chunk, apply merges lowest rank first (a per-instance cache holds the ids
 * of recent chunks).
 */
import { short, TokenIdError, TokenizerError, TokenizerFormatError } from './errors.ts';
import type { BpeTokenizerJSON, Tokenizer } from './types.ts';
import { wtf8Encode } from './utf.ts';
import { decodeTokenBytes, encodeChunked } from './byte-tokens.ts';
import { mergeRanked } from './bpe-merge.ts';

/** GPT-2's pre-tokenizer pattern (openai/gpt-2 encoder.py), with Unicode property escapes. */
export const GPT2_SPLIT_PATTERN = String.raw`'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+`;
/** Longest chunk, in UTF-16 code units, before the pre-tokenizer cuts it. */
export const MAX_CHUNK_UNITS = 256;
/** Largest vocabulary accepted by train and fromJSON. */
export const MAX_BPE_VOCAB = 1 << 20;
/** Longest token, in bytes, accepted by fromJSON (trained tokens are at most 3 * MAX_CHUNK_UNITS). */
export const MAX_TOKEN_BYTES = 4096;
/** Limit on the summed byte length of all tokens accepted by fromJSON. */
const MAX_TOTAL_TOKEN_BYTES = 1 << 26;
/** Pair key = a * KEY + b; KEY exceeds every id. */
const KEY = 1 << 21;
/** Chunks up to this many bytes are merged by repeated scans, longer ones with a heap. */
const SHORT_CHUNK_BYTES = 32;
/** Entries in the encode cache before it is cleared. */

/** Calls fn on each pre-tokenizer chunk of text, in order; the chunks concatenate to text. */
export function splitText(text: string, fn: (chunk: string) => void): void {
  const emit = (s: string): void => {
    if (s.length <= MAX_CHUNK_UNITS) {
      fn(s);
      return;
    }
    for (let i = 0; i < s.length; ) {
      let j = Math.min(s.length, i + MAX_CHUNK_UNITS);
      if (j < s.length) {
        const c = s.charCodeAt(j - 1);
        const d = s.charCodeAt(j);
        if (c >= 0xd800 && c <= 0xdbff && d >= 0xdc00 && d <= 0xdfff) j--; // keep surrogate pairs whole
      }
      fn(s.slice(i, j));
      i = j;
    }
  };
  const re = new RegExp(GPT2_SPLIT_PATTERN, 'gu');
  let last = 0;
  let m: RegExpExecArray | null;
  while ((m = re.exec(text)) !== null) {
    if (m[0].length === 0) {
      re.lastIndex = m.index + 1; // unreachable with this pattern; guards against a hang
      continue;
    }
    if (m.index > last) emit(text.slice(last, m.index)); // the pattern covers every character; never drop any
    emit(m[0]);
    last = m.index + m[0].length;
  }
  if (last < text.length) emit(text.slice(last));
}

export interface BpeTrainOptions {
  /** Called with (merges done, merges wanted) about every 1% of the merges and at the end. */
  onProgress?: (done: number, total: number) => void;
}

/** Max-heap of (count, key) pairs; ties go to the smaller key. */
class PairHeap {
  private c: number[] = [];
  private k: number[] = [];
  get size(): number { return this.c.length; }
  private above(i: number, j: number): boolean {
    return this.c[i] > this.c[j] || (this.c[i] === this.c[j] && this.k[i] < this.k[j]);
  }
  private swap(i: number, j: number): void {
    const c = this.c[i]; this.c[i] = this.c[j]; this.c[j] = c;
    const k = this.k[i]; this.k[i] = this.k[j]; this.k[j] = k;
  }
  push(count: number, key: number): void {
    this.c.push(count);
    this.k.push(key);
    let i = this.c.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!this.above(i, p)) break;
      this.swap(i, p);
      i = p;
    }
  }
  /** Removes the top; returns [count, key]. */
  pop(): [number, number] {
    const top: [number, number] = [this.c[0], this.k[0]];
    const lc = this.c.pop()!;
    const lk = this.k.pop()!;
    const n = this.c.length;
    if (n > 0) {
      this.c[0] = lc;
      this.k[0] = lk;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < n && this.above(l, m)) m = l;
        if (r < n && this.above(r, m)) m = r;
        if (m === i) break;
        this.swap(i, m);
        i = m;
      }
    }
    return top;
  }
}

export class BpeTokenizer implements Tokenizer {
  readonly type = 'bpe' as const;
  /** 256 + merges.length (can be below the size asked of train when the corpus runs out of pairs). */
  readonly vocabSize: number;
  readonly merges: readonly (readonly [number, number])[];
  /** pair key -> merge index */
  private readonly ranks = new Map<number, number>();
  /** The bytes of all tokens, concatenated; token id's bytes are [tokenStart[id], tokenStart[id + 1]). */
  private readonly tokenData: Uint8Array;
  private readonly tokenStart: Int32Array;
  private readonly cache = new Map<string, Int32Array>();

  /** merges must be valid (see fromJSON). */
  private constructor(merges: [number, number][]) {
    this.merges = Object.freeze(merges.map(([a, b]) => Object.freeze([a, b] as [number, number])));
    this.vocabSize = 256 + merges.length;
    const len = new Int32Array(this.vocabSize);
    let total = 256;
    len.fill(1, 0, 256);
    merges.forEach(([a, b], i) => {
      this.ranks.set(a * KEY + b, i);
      len[256 + i] = len[a] + len[b];
      total += len[256 + i];
    });
    this.tokenData = new Uint8Array(total);
    this.tokenStart = new Int32Array(this.vocabSize + 1);
    for (let id = 0; id < 256; id++) {
      this.tokenData[id] = id;
      this.tokenStart[id + 1] = id + 1;
    }
    merges.forEach(([a, b], i) => {
      const id = 256 + i;
      const s = this.tokenStart[id];
      this.tokenData.copyWithin(s, this.tokenStart[a], this.tokenStart[a + 1]);
      this.tokenData.copyWithin(s + len[a], this.tokenStart[b], this.tokenStart[b + 1]);
      this.tokenStart[id + 1] = s + len[id];
    });
  }

  /**
   * Learn vocabSize - 256 merges from text. Throws TokenizerError for empty text or a vocabSize
   * outside [256, MAX_BPE_VOCAB]. Stops early (smaller vocabSize) if no adjacent pair is left.
   */
  static train(text: string, vocabSize: number, opts: BpeTrainOptions = {}): BpeTokenizer {
    if (!Number.isInteger(vocabSize) || vocabSize < 256 || vocabSize > MAX_BPE_VOCAB) {
      throw new TokenizerError(`BPE vocabSize must be an integer in [256, ${MAX_BPE_VOCAB}], got ${vocabSize}`);
    }
    if (text.length === 0) throw new TokenizerError('cannot train BPE on empty text');
    const freq = new Map<string, number>();
    splitText(text, (c) => freq.set(c, (freq.get(c) ?? 0) + 1));

    // words (chunks of two or more bytes) as symbol arrays, with their frequencies
    const words: Int32Array[] = [];
    const wfreq: number[] = [];
    for (const [chunk, f] of freq) {
      const bytes = wtf8Encode(chunk);
      if (bytes.length < 2) continue;
      words.push(Int32Array.from(bytes));
      wfreq.push(f);
    }
    const counts = new Map<number, number>(); // pair key -> summed frequency
    const where = new Map<number, number[]>(); // pair key -> word indices that (may) contain it
    const addWhere = (k: number, wi: number): void => {
      const list = where.get(k);
      if (!list) where.set(k, [wi]);
      else if (list[list.length - 1] !== wi) list.push(wi);
    };
    for (let wi = 0; wi < words.length; wi++) {
      const w = words[wi];
      for (let i = 0; i + 1 < w.length; i++) {
        const k = w[i] * KEY + w[i + 1];
        counts.set(k, (counts.get(k) ?? 0) + wfreq[wi]);
        addWhere(k, wi);
      }
    }
    const heap = new PairHeap();
    for (const [k, c] of counts) heap.push(c, k);

    const target = vocabSize - 256;
    const every = Math.max(1, Math.floor(target / 100));
    const merges: [number, number][] = [];
    while (merges.length < target) {
      let best = -1;
      while (heap.size > 0) {
        const [c, k] = heap.pop();
        const cur = counts.get(k) ?? 0;
        if (cur === c) {
          best = k;
          break;
        }
        if (cur > 0) heap.push(cur, k); // stale (count went down): requeue at its current count
      }
      if (best < 0) break; // no pairs left
      const a = Math.floor(best / KEY);
      const b = best - a * KEY;
      const id = 256 + merges.length;
      merges.push([a, b]);
      const list = where.get(best) ?? [];
      where.delete(best);
      const touched = new Set<number>();
      const add = (k: number, d: number): void => {
        const c = (counts.get(k) ?? 0) + d;
        if (c === 0) counts.delete(k);
        else counts.set(k, c);
      };
      const gain = (k: number, f: number, wi: number): void => {
        add(k, f);
        touched.add(k);
        addWhere(k, wi);
      };
      for (const wi of list) {
        // Merge left to right, updating only the pairs around each occurrence:
        // (x, a) -> (x, id) and (b, y) -> (id, y), where x is the symbol already written before it
        // (possibly an id from the previous occurrence) and y the old symbol after it.
        const w = words[wi];
        const f = wfreq[wi];
        let nw: Int32Array | null = null;
        let n = 0;
        for (let i = 0; i < w.length; ) {
          if (i + 1 < w.length && w[i] === a && w[i + 1] === b) {
            if (!nw) {
              nw = new Int32Array(w.length);
              nw.set(w.subarray(0, i));
              n = i;
            }
            add(best, -f);
            if (n > 0) {
              const x = nw[n - 1];
              add(x * KEY + a, -f);
              gain(x * KEY + id, f, wi);
            }
            if (i + 2 < w.length) {
              const y = w[i + 2];
              add(b * KEY + y, -f);
              gain(id * KEY + y, f, wi);
            }
            nw[n++] = id;
            i += 2;
          } else {
            if (nw) nw[n] = w[i];
            n++;
            i++;
          }
        }
        if (nw) words[wi] = nw.slice(0, n);
      }
      counts.delete(best); // already 0; kept explicit
      // only pairs with the new token gained counts; every other pair's heap entry is still >= its count
      for (const k of touched) {
        const c = counts.get(k);
        if (c) heap.push(c, k);
      }
      if (opts.onProgress && (merges.length % every === 0 || merges.length === target)) opts.onProgress(merges.length, target);
    }
    if (opts.onProgress && merges.length < target && merges.length % every !== 0) opts.onProgress(merges.length, target);
    return new BpeTokenizer(merges);
  }

  /** Load from `toJSON()` output; throws TokenizerFormatError on anything malformed. */
  static fromJSON(obj: unknown): BpeTokenizer {
    if (typeof obj !== 'object' || obj === null || Array.isArray(obj)) throw new TokenizerFormatError('$', 'expected an object');
    const o = obj as Record<string, unknown>;
    if (o.type !== 'bpe') throw new TokenizerFormatError('$.type', `expected "bpe", got ${short(o.type)}`);
    if (o.version !== 1) throw new TokenizerFormatError('$.version', `expected 1, got ${short(o.version)}`);
    const m = o.merges;
    if (!Array.isArray(m)) throw new TokenizerFormatError('$.merges', `expected an array of [a, b] pairs, got ${short(m)}`);
    if (m.length > MAX_BPE_VOCAB - 256) throw new TokenizerFormatError('$.merges', `${m.length} merges, the limit is ${MAX_BPE_VOCAB - 256}`);
    if (o.vocabSize !== 256 + m.length) {
      throw new TokenizerFormatError('$.vocabSize', `expected 256 + merges.length = ${256 + m.length}, got ${short(o.vocabSize)}`);
    }
    const len = new Float64Array(256 + m.length).fill(1, 0, 256);
    let total = 256;
    const seen = new Set<number>();
    const merges: [number, number][] = [];
    for (let i = 0; i < m.length; i++) {
      const item: unknown = m[i];
      if (!Array.isArray(item) || item.length !== 2) throw new TokenizerFormatError(`$.merges[${i}]`, `expected a pair [a, b], got ${short(item)}`);
      const [a, b] = item as unknown[];
      for (const [j, x] of [a, b].entries()) {
        if (typeof x !== 'number' || !Number.isInteger(x) || x < 0 || x >= 256 + i) {
          throw new TokenizerFormatError(`$.merges[${i}][${j}]`, `expected an existing token id (integer in [0, ${256 + i})), got ${short(x)}`);
        }
      }
      const ia = a as number;
      const ib = b as number;
      const k = ia * KEY + ib;
      if (seen.has(k)) throw new TokenizerFormatError(`$.merges[${i}]`, `duplicate merge [${ia}, ${ib}]`);
      seen.add(k);
      len[256 + i] = len[ia] + len[ib];
      if (len[256 + i] > MAX_TOKEN_BYTES) {
        throw new TokenizerFormatError(`$.merges[${i}]`, `token ${256 + i} would be ${len[256 + i]} bytes long, the limit is ${MAX_TOKEN_BYTES}`);
      }
      total += len[256 + i];
      if (total > MAX_TOTAL_TOKEN_BYTES) {
        throw new TokenizerFormatError(`$.merges[${i}]`, `tokens add up to more than ${MAX_TOTAL_TOKEN_BYTES} bytes`);
      }
      merges.push([ia, ib]);
    }
    return new BpeTokenizer(merges);
  }

  /** The bytes of one token (a copy). */
  tokenBytes(id: number): Uint8Array {
    if (!Number.isInteger(id) || id < 0 || id >= this.vocabSize) throw new TokenIdError(id, 0, this.vocabSize);
    return this.tokenData.slice(this.tokenStart[id], this.tokenStart[id + 1]);
  }

  /** Token ids of text; never fails, every string is representable. */
  encode(text: string): Int32Array {
    return encodeChunked(text, splitText, (chunk) => this.encodeChunk(chunk), this.cache);
  }

  /** Text of ids; byte sequences that are not valid (WTF-8) text become U+FFFD. Throws TokenIdError on a bad id. */
  decode(ids: ArrayLike<number>): string {
    return decodeTokenBytes(ids, this.vocabSize, this.tokenStart, this.tokenData);
  }

  toJSON(): BpeTokenizerJSON {
    return { type: 'bpe', version: 1, vocabSize: this.vocabSize, merges: this.merges.map(([a, b]) => [a, b]) };
  }

  private encodeChunk(chunk: string): Int32Array {
    const bytes = wtf8Encode(chunk);
    if (bytes.length < 2) return Int32Array.from(bytes);
    return bytes.length <= SHORT_CHUNK_BYTES ? this.mergeByScans(bytes) : this.mergeByHeap(bytes);
  }

  /** Repeatedly merge every occurrence of the lowest-ranked pair present. O(n^2); for short chunks. */
  mergeByScans(bytes: Uint8Array): Int32Array {
    const ids = Int32Array.from(bytes);
    let len = ids.length;
    while (len >= 2) {
      let best = Infinity;
      for (let i = 0; i + 1 < len; i++) {
        const r = this.ranks.get(ids[i] * KEY + ids[i + 1]);
        if (r !== undefined && r < best) best = r;
      }
      if (best === Infinity) break;
      const [a, b] = this.merges[best];
      let w = 0;
      for (let i = 0; i < len; ) {
        if (i + 1 < len && ids[i] === a && ids[i + 1] === b) {
          ids[w++] = 256 + best;
          i += 2;
        } else {
          ids[w++] = ids[i++];
        }
      }
      len = w;
    }
    return ids.slice(0, len);
  }

  /**
   * Same result as mergeByScans in O(n log n): a linked list of symbols and a min-heap of
   * (rank, position) entries, each checked against the current pair when popped.
   */
  mergeByHeap(bytes: Uint8Array): Int32Array {
    return mergeRanked(Int32Array.from(bytes), (x, y) => this.ranks.get(x * KEY + y) ?? -1, (r) => 256 + r);
  }
}
