/**
 * GPT-2's tokenizer: byte-level BPE loaded from a vocab.json + merges.txt pair (OpenAI's
 * encoder.json / vocab.bpe, Hugging Face's GPT2Tokenizer files), or from a Hugging Face
 * tokenizer.json, or from tiktoken-style ranks (the `gpt-tokenizer` package's r50k_base, which is
 * GPT-2's encoding: see gpt2Reference below).
 *
 * The files spell every token as a string over a 256-character alphabet, one character per byte
 * (openai/gpt-2 encoder.py's bytes_to_unicode: printable bytes stand for themselves, the others
 * are shifted to U+0100..). merges.txt lists pairs of such strings, highest priority first.
 *
 * Encoding, exactly as GPT-2 does it: cut the text with GPT-2's pre-tokenizer pattern (no length
 * cap), turn each chunk into UTF-8 bytes, then repeatedly merge the adjacent pair with the lowest
 * merge rank (leftmost first) until no pair has a rank. Here symbols are token ids: pair (a, b) of
 * ids has the rank of the merge line "tokens[a] tokens[b]", and merging gives the id of the
 * concatenated string. Strings become bytes by WTF-8, which is UTF-8 for every well-formed string
 * (a lone surrogate, which Python's GPT-2 cannot encode at all, gets its 3-byte WTF-8 form so that
 * every JavaScript string round-trips).
 *
 * Tokens that merges never produce (GPT-2's `<|endoftext|>`, added tokens) are ordinary ids: they
 * decode to their text, and `encode` never emits them (text that spells `<|endoftext|>` is encoded
 * as plain text, like tiktoken with special tokens disallowed); use `tokenId` to get such an id.
 * Ids with no token at all (a model's vocabulary padded past the tokenizer's, e.g. 50257 -> 50304)
 * decode to the empty string.
 */
import { GPT2_SPLIT_PATTERN } from '../tokenizer/bpe.ts';
import { short, TokenIdError, TokenizerFormatError } from '../tokenizer/errors.ts';
import type { Gpt2TokenizerJSON, Tokenizer } from '../tokenizer/types.ts';
import { wtf8Encode } from '../tokenizer/utf.ts';
import { decodeTokenBytes, encodeChunked } from '../tokenizer/byte-tokens.ts';
import { mergeRanked } from '../tokenizer/bpe-merge.ts';

/** Largest vocabulary accepted (ids and pair keys stay exact in float64). */
export const MAX_GPT2_VOCAB = 1 << 22;
/** Entries in the per-instance encode cache before it is cleared. */

// ---- the byte <-> character alphabet ------------------------------------------------------------

let alphabet: { byteToChar: string[]; charToByte: Map<string, number> } | null = null;

/** GPT-2's bytes_to_unicode: byteToChar[b] is the character that spells byte b in the files. */
export function byteAlphabet(): { byteToChar: readonly string[]; charToByte: ReadonlyMap<string, number> } {
  if (alphabet) return alphabet;
  const byteToChar: string[] = new Array(256);
  const printable = (b: number) => (b >= 0x21 && b <= 0x7e) || (b >= 0xa1 && b <= 0xac) || (b >= 0xae && b <= 0xff);
  let shifted = 0;
  for (let b = 0; b < 256; b++) byteToChar[b] = String.fromCodePoint(printable(b) ? b : 256 + shifted++);
  const charToByte = new Map(byteToChar.map((c, b) => [c, b] as [string, number]));
  alphabet = { byteToChar, charToByte };
  return alphabet;
}

/** The file spelling of a token's bytes. */
export function bytesToTokenString(bytes: ArrayLike<number>): string {
  const { byteToChar } = byteAlphabet();
  let s = '';
  for (let i = 0; i < bytes.length; i++) s += byteToChar[bytes[i]];
  return s;
}

/**
 * The bytes a token string stands for. A string made only of alphabet characters is decoded
 * character by character; any other string (an added token written as plain text, e.g. with a
 * real space) stands for its own UTF-8 bytes.
 */
export function tokenStringToBytes(s: string): Uint8Array {
  const { charToByte } = byteAlphabet();
  const chars = Array.from(s);
  const out = new Uint8Array(chars.length);
  for (let i = 0; i < chars.length; i++) {
    const b = charToByte.get(chars[i]);
    if (b === undefined) return wtf8Encode(s);
    out[i] = b;
  }
  return out;
}

// ---- pre-tokenizer ------------------------------------------------------------------------------

/** Calls fn on each chunk of GPT-2's pre-tokenizer (no length cap); the chunks concatenate to text. */
export function gpt2Split(text: string, fn: (chunk: string) => void): void {
  const re = new RegExp(GPT2_SPLIT_PATTERN, 'gu');
  let last = 0;
  let m: RegExpExecArray | null;
  while ((m = re.exec(text)) !== null) {
    if (m[0].length === 0) {
      re.lastIndex = m.index + 1; // the pattern never matches empty; guards against a hang
      continue;
    }
    if (m.index > last) fn(text.slice(last, m.index)); // the pattern covers every character; never drop any
    fn(m[0]);
    last = m.index + m[0].length;
  }
  if (last < text.length) fn(text.slice(last));
}

// ---- the tokenizer ------------------------------------------------------------------------------

export interface Gpt2FilesOptions {
  /** Number of ids, when the model's vocabulary is larger than the files' (padding ids decode to ''). */
  vocabSize?: number;
  /** Name of the source, used in error messages ('vocab.json' / 'merges.txt' by default). */
  vocabName?: string;
  mergesName?: string;
}

export class Gpt2Tokenizer implements Tokenizer {
  readonly type = 'gpt2' as const;
  readonly vocabSize: number;
  /** tokens[id]: the token's file spelling, or null for an id without a token (padding). */
  readonly tokens: readonly (string | null)[];
  /** Merge rules, highest priority first, as pairs of token strings. */
  readonly merges: readonly (readonly [string, string])[];
  private readonly ids: Map<string, number>;
  /** byteId[b]: the id of the single-byte token b. */
  private readonly byteId: Int32Array;
  /** pair key (a * vocabSize + b) -> merge rank */
  private readonly ranks = new Map<number, number>();
  /** mergeId[rank]: the id of the merged token */
  private readonly mergeId: Int32Array;
  private readonly tokenData: Uint8Array;
  private readonly tokenStart: Int32Array;
  private readonly cache = new Map<string, Int32Array>();

  /**
   * tokens[id] = file spelling (null = no token), merges as string pairs. Throws
   * TokenizerFormatError (paths name the file, the line and the token) when a byte has no token,
   * a merge names an unknown token or yields a string that is not a token, a token appears twice,
   * or a merge is repeated.
   */
  constructor(tokens: readonly (string | null)[], merges: readonly (readonly [string, string])[], names: { vocab?: string; merges?: string } = {}) {
    const vn = names.vocab ?? '$.vocab';
    const mn = names.merges ?? '$.merges';
    const V = tokens.length;
    if (V === 0) throw new TokenizerFormatError(vn, 'the vocabulary is empty');
    if (V > MAX_GPT2_VOCAB) throw new TokenizerFormatError(vn, `${V} ids, the limit is ${MAX_GPT2_VOCAB}`);
    this.vocabSize = V;
    this.tokens = Object.freeze(tokens.slice());
    this.ids = new Map();
    for (let id = 0; id < V; id++) {
      const t = tokens[id];
      if (t === null) continue;
      if (typeof t !== 'string' || t.length === 0) throw new TokenizerFormatError(`${vn}[${id}]`, `expected a non-empty token string or null, got ${short(t)}`);
      const prev = this.ids.get(t);
      if (prev !== undefined) throw new TokenizerFormatError(`${vn}[${id}]`, `token ${short(t)} is also id ${prev}`);
      this.ids.set(t, id);
    }
    const { byteToChar } = byteAlphabet();
    this.byteId = new Int32Array(256);
    for (let b = 0; b < 256; b++) {
      const id = this.ids.get(byteToChar[b]);
      if (id === undefined) throw new TokenizerFormatError(vn, `no token for byte ${b} (spelled ${short(byteToChar[b])}): a byte-level BPE vocabulary has all 256`);
      this.byteId[b] = id;
    }
    this.mergeId = new Int32Array(merges.length);
    merges.forEach(([a, b], r) => {
      const ia = this.ids.get(a);
      const ib = this.ids.get(b);
      const im = this.ids.get(a + b);
      const where = `${mn}[${r}]`;
      if (ia === undefined) throw new TokenizerFormatError(where, `merge ${short(`${a} ${b}`)}: ${short(a)} is not a token of the vocabulary`);
      if (ib === undefined) throw new TokenizerFormatError(where, `merge ${short(`${a} ${b}`)}: ${short(b)} is not a token of the vocabulary`);
      if (im === undefined) throw new TokenizerFormatError(where, `merge ${short(`${a} ${b}`)}: the merged token ${short(a + b)} is not in the vocabulary`);
      const key = ia * V + ib;
      if (this.ranks.has(key)) throw new TokenizerFormatError(where, `merge ${short(`${a} ${b}`)} repeats line ${this.ranks.get(key)}`);
      this.ranks.set(key, r);
      this.mergeId[r] = im;
    });
    this.merges = Object.freeze(merges.map(([a, b]) => Object.freeze([a, b] as [string, string])));
    // token bytes for decode
    const parts = tokens.map((t) => (t === null ? new Uint8Array(0) : tokenStringToBytes(t)));
    this.tokenStart = new Int32Array(V + 1);
    for (let id = 0; id < V; id++) this.tokenStart[id + 1] = this.tokenStart[id] + parts[id].length;
    this.tokenData = new Uint8Array(this.tokenStart[V]);
    parts.forEach((p, id) => this.tokenData.set(p, this.tokenStart[id]));
  }

  // ---- loading ----

  /**
   * From vocab.json (text or parsed object: token string -> id) and merges.txt (text: an optional
   * "#version" line, then one "a b" pair per line). Ids may leave gaps (they decode to '').
   */
  static fromFiles(vocabJson: string | Record<string, unknown>, mergesTxt: string, opts: Gpt2FilesOptions = {}): Gpt2Tokenizer {
    const vn = opts.vocabName ?? 'vocab.json';
    const mn = opts.mergesName ?? 'merges.txt';
    let vocab: unknown = vocabJson;
    if (typeof vocab === 'string') {
      try {
        vocab = JSON.parse(vocab);
      } catch (e) {
        throw new TokenizerFormatError(vn, `not valid JSON (${(e as Error).message})`);
      }
    }
    if (typeof vocab !== 'object' || vocab === null || Array.isArray(vocab)) throw new TokenizerFormatError(vn, `expected an object of token -> id, got ${short(vocab)}`);
    const tokens = tokensFromVocab(vocab as Record<string, unknown>, vn, opts.vocabSize);
    if (typeof mergesTxt !== 'string') throw new TokenizerFormatError(mn, `expected text, got ${short(mergesTxt)}`);
    const merges: [string, string][] = [];
    const lines = mergesTxt.split('\n');
    for (let i = 0; i < lines.length; i++) {
      let line = lines[i];
      if (line.endsWith('\r')) line = line.slice(0, -1);
      if (line === '' || (i === 0 && line.startsWith('#version'))) continue;
      const parts = line.split(' ');
      if (parts.length !== 2 || parts[0] === '' || parts[1] === '') throw new TokenizerFormatError(`${mn} line ${i + 1}`, `expected two tokens separated by one space, got ${short(line)}`);
      merges.push([parts[0], parts[1]]);
    }
    return new Gpt2Tokenizer(tokens, merges, { vocab: vn, merges: mn });
  }

  /**
   * From a Hugging Face tokenizer.json whose model is a byte-level BPE (model.type "BPE",
   * model.vocab, model.merges as "a b" strings or [a, b] pairs); added_tokens join the vocabulary.
   */
  static fromHFTokenizerJSON(json: string | Record<string, unknown>, opts: { vocabSize?: number } = {}): Gpt2Tokenizer {
    const name = 'tokenizer.json';
    let o: any = json;
    if (typeof o === 'string') {
      try {
        o = JSON.parse(o);
      } catch (e) {
        throw new TokenizerFormatError(name, `not valid JSON (${(e as Error).message})`);
      }
    }
    const model = o?.model;
    if (!model || model.type !== 'BPE') throw new TokenizerFormatError(`${name}: model.type`, `expected "BPE", got ${short(model?.type)}`);
    const pre = JSON.stringify(o.pre_tokenizer ?? null);
    if (!pre.includes('ByteLevel')) throw new TokenizerFormatError(`${name}: pre_tokenizer`, `expected a ByteLevel pre-tokenizer (GPT-2 style), got ${short(o.pre_tokenizer)}`);
    if (typeof model.vocab !== 'object' || model.vocab === null) throw new TokenizerFormatError(`${name}: model.vocab`, `expected an object, got ${short(model.vocab)}`);
    const vocab: Record<string, unknown> = { ...model.vocab };
    for (const t of Array.isArray(o.added_tokens) ? o.added_tokens : []) {
      if (t && typeof t.content === 'string' && Number.isInteger(t.id) && !(t.content in vocab)) vocab[t.content] = t.id;
    }
    const tokens = tokensFromVocab(vocab, `${name}: model.vocab`, opts.vocabSize);
    if (!Array.isArray(model.merges)) throw new TokenizerFormatError(`${name}: model.merges`, `expected an array, got ${short(model.merges)}`);
    const merges = (model.merges as unknown[]).map((m, i): [string, string] => {
      const parts = typeof m === 'string' ? m.split(' ') : m;
      if (!Array.isArray(parts) || parts.length !== 2 || typeof parts[0] !== 'string' || typeof parts[1] !== 'string') {
        throw new TokenizerFormatError(`${name}: model.merges[${i}]`, `expected "a b" or [a, b], got ${short(m)}`);
      }
      return [parts[0], parts[1]];
    });
    return new Gpt2Tokenizer(tokens, merges, { vocab: `${name}: model.vocab`, merges: `${name}: model.merges` });
  }

  /**
   * From tiktoken-style ranks: ranks[r] is the token with id r, as its bytes (a number[] or
   * Uint8Array) or as a string standing for its UTF-8 bytes (gpt-tokenizer's bpeRanks format).
   * The merge of each multi-byte token is recovered the way tiktoken -> Hugging Face converters do:
   * BPE on its own bytes with the tokens of lower rank leaves exactly two parts. `special` adds
   * tokens by id (e.g. {'<|endoftext|>': 50256}).
   */
  static fromRanks(ranks: readonly (string | ArrayLike<number>)[], special: Record<string, number> = {}): Gpt2Tokenizer {
    const bytes = ranks.map((r) => (typeof r === 'string' ? new TextEncoder().encode(r) : Uint8Array.from(r)));
    const key = (b: ArrayLike<number>) => String.fromCharCode(...Array.from(b));
    const rankOf = new Map<string, number>();
    bytes.forEach((b, r) => rankOf.set(key(b), r));
    const V = Math.max(bytes.length, ...Object.values(special).map((id) => id + 1));
    const tokens: (string | null)[] = new Array(V).fill(null);
    bytes.forEach((b, r) => (tokens[r] = bytesToTokenString(b)));
    for (const [s, id] of Object.entries(special)) tokens[id] = s;
    const merges: { rank: number; pair: [string, string] }[] = [];
    for (let r = 0; r < bytes.length; r++) {
      const b = bytes[r];
      if (b.length < 2) continue;
      // tiktoken's merge: repeatedly join the adjacent pair whose concatenation has the lowest rank (< r)
      let parts: number[][] = Array.from(b, (x) => [x]);
      for (;;) {
        let best = -1;
        let bestRank = r;
        for (let i = 0; i + 1 < parts.length; i++) {
          const k = rankOf.get(key([...parts[i], ...parts[i + 1]]));
          if (k !== undefined && k < bestRank) {
            bestRank = k;
            best = i;
          }
        }
        if (best < 0) break;
        parts = [...parts.slice(0, best), [...parts[best], ...parts[best + 1]], ...parts.slice(best + 2)];
      }
      if (parts.length !== 2) throw new TokenizerFormatError(`ranks[${r}]`, `token ${short(tokens[r])} cannot be built from two tokens of lower rank (${parts.length} parts remain)`);
      merges.push({ rank: r, pair: [bytesToTokenString(parts[0]), bytesToTokenString(parts[1])] });
    }
    merges.sort((x, y) => x.rank - y.rank);
    return new Gpt2Tokenizer(tokens, merges.map((m) => m.pair), { vocab: 'ranks', merges: 'derived merges' });
  }

  /** Load from `toJSON()` output; throws TokenizerFormatError on anything malformed. */
  static fromJSON(obj: unknown): Gpt2Tokenizer {
    if (typeof obj !== 'object' || obj === null || Array.isArray(obj)) throw new TokenizerFormatError('$', 'expected an object');
    const o = obj as Record<string, unknown>;
    if (o.type !== 'gpt2') throw new TokenizerFormatError('$.type', `expected "gpt2", got ${short(o.type)}`);
    if (o.version !== 1) throw new TokenizerFormatError('$.version', `expected 1, got ${short(o.version)}`);
    if (!Array.isArray(o.vocab)) throw new TokenizerFormatError('$.vocab', `expected an array of token strings (null for unused ids), got ${short(o.vocab)}`);
    if (o.vocabSize !== o.vocab.length) throw new TokenizerFormatError('$.vocabSize', `expected vocab.length = ${o.vocab.length}, got ${short(o.vocabSize)}`);
    if (!Array.isArray(o.merges)) throw new TokenizerFormatError('$.merges', `expected an array of "a b" strings, got ${short(o.merges)}`);
    const merges = (o.merges as unknown[]).map((m, i): [string, string] => {
      const parts = typeof m === 'string' ? m.split(' ') : null;
      if (!parts || parts.length !== 2 || !parts[0] || !parts[1]) throw new TokenizerFormatError(`$.merges[${i}]`, `expected "a b", got ${short(m)}`);
      return [parts[0], parts[1]];
    });
    return new Gpt2Tokenizer(o.vocab as (string | null)[], merges);
  }

  // ---- saving ----

  toJSON(): Gpt2TokenizerJSON {
    return { type: 'gpt2', version: 1, vocabSize: this.vocabSize, vocab: this.tokens.slice(), merges: this.merges.map(([a, b]) => `${a} ${b}`) };
  }

  /** The vocab.json and merges.txt texts (Hugging Face's GPT2Tokenizer files). */
  toFiles(): { vocabJson: string; mergesTxt: string } {
    const vocab: Record<string, number> = {};
    this.tokens.forEach((t, id) => {
      if (t !== null) vocab[t] = id;
    });
    return { vocabJson: JSON.stringify(vocab), mergesTxt: '#version: 0.2\n' + this.merges.map(([a, b]) => `${a} ${b}\n`).join('') };
  }

  /** The same tokenizer with `vocabSize` ids (>= this one's): the extra ids are padding, decoding to ''. */
  padTo(vocabSize: number): Gpt2Tokenizer {
    if (vocabSize === this.vocabSize) return this;
    if (!Number.isInteger(vocabSize) || vocabSize < this.vocabSize) throw new TokenizerFormatError('$.vocabSize', `cannot pad ${this.vocabSize} ids to ${vocabSize}`);
    return new Gpt2Tokenizer([...this.tokens, ...new Array<null>(vocabSize - this.vocabSize).fill(null)], this.merges);
  }

  // ---- use ----

  /** The id of a token given by its text (e.g. '<|endoftext|>'), or undefined. */
  tokenId(text: string): number | undefined {
    return this.ids.get(text) ?? this.ids.get(bytesToTokenString(wtf8Encode(text)));
  }

  /** The bytes of one token (a copy). */
  tokenBytes(id: number): Uint8Array {
    if (!Number.isInteger(id) || id < 0 || id >= this.vocabSize) throw new TokenIdError(id, 0, this.vocabSize);
    return this.tokenData.slice(this.tokenStart[id], this.tokenStart[id + 1]);
  }

  /** Token ids of text (never fails: every string is representable). */
  encode(text: string): Int32Array {
    return encodeChunked(text, gpt2Split, (chunk) => this.encodeChunk(wtf8Encode(chunk)), this.cache);
  }

  /** Text of ids; byte sequences that are not valid text become U+FFFD. Throws TokenIdError on a bad id. */
  decode(ids: ArrayLike<number>): string {
    return decodeTokenBytes(ids, this.vocabSize, this.tokenStart, this.tokenData);
  }

  /**
   * BPE on one chunk's bytes: a linked list of symbols and a min-heap of (rank, position), each
   * entry checked against the current pair when popped. Lowest rank first, leftmost first among
   * equal ranks: the same result as GPT-2's loop (merge every occurrence of the best pair, rescan)
   * for any merge list where a merge only uses tokens made by earlier merges, as BPE training makes.
   */
  private encodeChunk(bytes: Uint8Array): Int32Array {
    const n = bytes.length;
    const sym = new Int32Array(n);
    for (let i = 0; i < n; i++) sym[i] = this.byteId[bytes[i]];
    const V = this.vocabSize;
    return mergeRanked(sym, (x, y) => this.ranks.get(x * V + y) ?? -1, (r) => this.mergeId[r]);
  }
}

/** vocab.json's object -> tokens by id (null where an id has no token). */
function tokensFromVocab(vocab: Record<string, unknown>, name: string, vocabSize?: number): (string | null)[] {
  let maxId = -1;
  const entries = Object.entries(vocab);
  for (const [t, id] of entries) {
    if (typeof id !== 'number' || !Number.isInteger(id) || id < 0 || id >= MAX_GPT2_VOCAB) {
      throw new TokenizerFormatError(`${name}[${short(t)}]`, `expected an id (integer in [0, ${MAX_GPT2_VOCAB})), got ${short(id)}`);
    }
    maxId = Math.max(maxId, id);
  }
  const V = vocabSize ?? maxId + 1;
  if (!Number.isInteger(V) || V < maxId + 1) throw new TokenizerFormatError(name, `the largest id is ${maxId}, outside a vocabulary of ${V} ids (the model's)`);
  const tokens: (string | null)[] = new Array(V).fill(null);
  for (const [t, id] of entries) {
    if (tokens[id as number] !== null) throw new TokenizerFormatError(`${name}[${short(t)}]`, `id ${id} is also token ${short(tokens[id as number])}`);
    tokens[id as number] = t;
  }
  return tokens;
}

let reference: Promise<Gpt2Tokenizer> | null = null;

/**
 * GPT-2's own tokenizer (50257 ids, `<|endoftext|>` = 50256), built from the `gpt-tokenizer`
 * package's r50k_base ranks (MIT; r50k_base is GPT-2's encoding). Loaded on first use (~1 MB of
 * data); the same instance afterwards.
 */
export function gpt2Reference(): Promise<Gpt2Tokenizer> {
  if (!reference) {
    reference = import('gpt-tokenizer/bpeRanks/r50k_base').then((m) => {
      const ranks = (m as { default: (string | number[])[] }).default;
      return Gpt2Tokenizer.fromRanks(ranks, { '<|endoftext|>': ranks.length });
    });
    reference.catch(() => (reference = null));
  }
  return reference;
}
