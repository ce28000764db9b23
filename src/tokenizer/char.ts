/**
 * Character-level tokenizer: one token per Unicode code point of the corpus (nanoGPT's
 * shakespeare_char, but over code points rather than UTF-16 units, so an emoji is one token).
 * Token ids follow the code points' numeric order. A lone surrogate in the text counts as its own
 * code point, so every JavaScript string round-trips.
 */
import { short, TokenIdError, TokenizerError, TokenizerFormatError, UnknownCharacterError } from './errors.ts';
import type { CharTokenizerJSON, Tokenizer } from './types.ts';
import { codeUnitsToString } from './utf.ts';

export interface CharTokenizerOptions {
  /** Reserve an `<unk>` token (the last id) that `encode(text, { unknown: 'replace' })` maps unknown characters to. */
  unk?: boolean;
}

export interface CharEncodeOptions {
  /** 'error' (default): throw UnknownCharacterError; 'replace': map to the `<unk>` id (needs `unk: true` at construction). */
  unknown?: 'error' | 'replace';
}

/** What `decode` writes for the `<unk>` id. */
export const UNK_TEXT = '\uFFFD';

const MAX_CODE_POINT = 0x10ffff;

/** Calls fn(codePoint, utf16Index) for each code point of s; lone surrogates are their own code point. */
function forEachCodePoint(s: string, fn: (cp: number, index: number) => void): void {
  for (let i = 0; i < s.length; i++) {
    const start = i;
    let c = s.charCodeAt(i);
    if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length) {
      const d = s.charCodeAt(i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) {
        c = ((c - 0xd800) << 10) + (d - 0xdc00) + 0x10000;
        i++;
      }
    }
    fn(c, start);
  }
}

export class CharTokenizer implements Tokenizer {
  readonly type = 'char' as const;
  /** Code points, increasing; token id i is vocab[i]. */
  readonly vocab: readonly number[];
  /** Id of `<unk>` (vocab.length), or -1 when none is reserved. */
  readonly unkId: number;
  readonly vocabSize: number;
  /** BMP code point -> id (-1: unknown). */
  private readonly bmp: Int32Array;
  /** Supplementary-plane code point -> id. */
  private readonly astral = new Map<number, number>();

  private constructor(vocab: number[], unk: boolean) {
    this.vocab = Object.freeze(vocab.slice());
    this.unkId = unk ? vocab.length : -1;
    this.vocabSize = vocab.length + (unk ? 1 : 0);
    this.bmp = new Int32Array(0x10000).fill(-1);
    vocab.forEach((cp, id) => {
      if (cp < 0x10000) this.bmp[cp] = id;
      else this.astral.set(cp, id);
    });
  }

  /** Vocabulary = the distinct code points of `text`, sorted. Throws TokenizerError on empty text. */
  static fromText(text: string, opts: CharTokenizerOptions = {}): CharTokenizer {
    if (text.length === 0) throw new TokenizerError('cannot build a character vocabulary from empty text');
    const seen = new Uint8Array(0x10000);
    const astral = new Set<number>();
    forEachCodePoint(text, (cp) => {
      if (cp < 0x10000) seen[cp] = 1;
      else astral.add(cp);
    });
    const vocab: number[] = [];
    for (let cp = 0; cp < 0x10000; cp++) if (seen[cp]) vocab.push(cp);
    vocab.push(...[...astral].sort((a, b) => a - b));
    return new CharTokenizer(vocab, opts.unk ?? false);
  }

  /** Load from `toJSON()` output; throws TokenizerFormatError on anything malformed. */
  static fromJSON(obj: unknown): CharTokenizer {
    if (typeof obj !== 'object' || obj === null || Array.isArray(obj)) throw new TokenizerFormatError('$', 'expected an object');
    const o = obj as Record<string, unknown>;
    if (o.type !== 'char') throw new TokenizerFormatError('$.type', `expected "char", got ${short(o.type)}`);
    if (o.version !== 1) throw new TokenizerFormatError('$.version', `expected 1, got ${short(o.version)}`);
    if (typeof o.unk !== 'boolean') throw new TokenizerFormatError('$.unk', `expected a boolean, got ${short(o.unk)}`);
    const v = o.vocab;
    if (!Array.isArray(v)) throw new TokenizerFormatError('$.vocab', `expected an array of code points, got ${short(v)}`);
    if (v.length === 0) throw new TokenizerFormatError('$.vocab', 'empty vocabulary');
    if (v.length > MAX_CODE_POINT + 1) throw new TokenizerFormatError('$.vocab', `${v.length} entries, more than there are code points`);
    let prev = -1;
    for (let i = 0; i < v.length; i++) {
      const cp: unknown = v[i];
      if (typeof cp !== 'number' || !Number.isInteger(cp) || cp < 0 || cp > MAX_CODE_POINT) {
        throw new TokenizerFormatError(`$.vocab[${i}]`, `expected a code point (integer in [0, 0x10FFFF]), got ${short(cp)}`);
      }
      if (cp <= prev) throw new TokenizerFormatError(`$.vocab[${i}]`, `code points must be strictly increasing, got ${cp} after ${prev}`);
      prev = cp;
    }
    return new CharTokenizer(v as number[], o.unk);
  }

  /**
   * Token ids of `text`, one per code point. Unknown characters throw UnknownCharacterError
   * (listing them with their code points) unless `unknown: 'replace'` and an `<unk>` id exists.
   */
  encode(text: string, opts: CharEncodeOptions = {}): Int32Array {
    const replace = opts.unknown === 'replace';
    if (opts.unknown !== undefined && opts.unknown !== 'error' && !replace) {
      throw new TokenizerError(`unknown option { unknown: ${short(opts.unknown)} } (use 'error' or 'replace')`);
    }
    const out = new Int32Array(text.length);
    let n = 0;
    let unknown: Set<number> | null = null;
    let unknownCount = 0;
    let firstUnknown = -1;
    forEachCodePoint(text, (cp, index) => {
      let id = cp < 0x10000 ? this.bmp[cp] : (this.astral.get(cp) ?? -1);
      if (id < 0) {
        if (replace && this.unkId >= 0) {
          id = this.unkId;
        } else {
          if (!unknown) unknown = new Set();
          unknown.add(cp);
          unknownCount++;
          if (firstUnknown < 0) firstUnknown = index;
          return;
        }
      }
      out[n++] = id;
    });
    if (unknown) {
      const hint = replace
        ? 'replace was requested but this tokenizer reserves no <unk> id (build it with CharTokenizer.fromText(text, { unk: true }))'
        : '';
      throw new UnknownCharacterError([...(unknown as Set<number>)], unknownCount, firstUnknown, hint);
    }
    return out.slice(0, n);
  }

  /** Text of `ids`; the `<unk>` id decodes to U+FFFD. Throws TokenIdError on an id outside [0, vocabSize). */
  decode(ids: ArrayLike<number>): string {
    const units = new Uint16Array(ids.length * 2);
    let n = 0;
    for (let i = 0; i < ids.length; i++) {
      const id = ids[i];
      if (!(id >= 0 && id < this.vocabSize) || !Number.isInteger(id)) throw new TokenIdError(id, i, this.vocabSize);
      let cp = id === this.unkId ? 0xfffd : this.vocab[id];
      if (cp >= 0x10000) {
        cp -= 0x10000;
        units[n++] = 0xd800 + (cp >> 10);
        units[n++] = 0xdc00 + (cp & 0x3ff);
      } else {
        units[n++] = cp;
      }
    }
    return codeUnitsToString(units, n);
  }

  toJSON(): CharTokenizerJSON {
    return { type: 'char', version: 1, vocab: this.vocab.slice(), unk: this.unkId >= 0 };
  }
}
