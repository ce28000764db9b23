/**
 * What both byte-level BPE tokenizers (ours, src/tokenizer/bpe.ts, and GPT-2's,
 * src/interop/gpt2-tokenizer.ts) do the same way: encode text chunk by chunk through a cache,
 * and decode ids through a table of token byte strings.
 */
import { TokenIdError } from './errors.ts';
import { wtf8Decode } from './utf.ts';

/** Chunks cached per tokenizer before the cache is cleared (bounded memory on huge corpora). */
export const CACHE_LIMIT = 100_000;

/**
 * Ids of `text`: `split` cuts it into pre-tokenizer chunks, `encodeChunk` turns one chunk into ids;
 * chunk results are memoised in `cache`.
 */
export function encodeChunked(
  text: string,
  split: (text: string, onChunk: (chunk: string) => void) => void,
  encodeChunk: (chunk: string) => Int32Array,
  cache: Map<string, Int32Array>,
): Int32Array {
  let out = new Int32Array(text.length + 16);
  let n = 0;
  split(text, (chunk) => {
    let ids = cache.get(chunk);
    if (!ids) {
      ids = encodeChunk(chunk);
      if (cache.size >= CACHE_LIMIT) cache.clear();
      cache.set(chunk, ids);
    }
    if (n + ids.length > out.length) {
      const bigger = new Int32Array(Math.max(out.length * 2, n + ids.length));
      bigger.set(out.subarray(0, n));
      out = bigger;
    }
    out.set(ids, n);
    n += ids.length;
  });
  return out.slice(0, n);
}

/**
 * Text of `ids`, where token id's bytes are tokenData[tokenStart[id] .. tokenStart[id + 1]).
 * Byte sequences that are not valid (WTF-8) text become U+FFFD. Throws TokenIdError on a bad id.
 */
export function decodeTokenBytes(ids: ArrayLike<number>, vocabSize: number, tokenStart: Uint32Array | Int32Array, tokenData: Uint8Array): string {
  let total = 0;
  for (let i = 0; i < ids.length; i++) {
    const id = ids[i];
    if (!(id >= 0 && id < vocabSize) || !Number.isInteger(id)) throw new TokenIdError(id, i, vocabSize);
    total += tokenStart[id + 1] - tokenStart[id];
  }
  const bytes = new Uint8Array(total);
  let n = 0;
  for (let i = 0; i < ids.length; i++) {
    const s = tokenStart[ids[i]];
    const e = tokenStart[ids[i] + 1];
    bytes.set(tokenData.subarray(s, e), n);
    n += e - s;
  }
  return wtf8Decode(bytes);
}
