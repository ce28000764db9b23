/** Load any serialized tokenizer. */
import { BpeTokenizer } from './bpe.ts';
import { CharTokenizer } from './char.ts';
import { Gpt2Tokenizer } from '../interop/gpt2-tokenizer.ts';
import { short, TokenizerFormatError } from './errors.ts';
import type { Tokenizer } from './types.ts';

/**
 * A tokenizer from its `toJSON()` form (an object, or the JSON text of one). Any input either loads
 * or throws TokenizerFormatError naming the offending field; nothing else is thrown.
 */
export function tokenizerFromJSON(obj: unknown): Tokenizer {
  if (typeof obj === 'string') {
    try {
      obj = JSON.parse(obj) as unknown;
    } catch (e) {
      throw new TokenizerFormatError('$', `not valid JSON (${(e as Error).message})`);
    }
  }
  if (typeof obj !== 'object' || obj === null || Array.isArray(obj)) throw new TokenizerFormatError('$', `expected an object, got ${short(obj)}`);
  const type = (obj as Record<string, unknown>).type;
  if (type === 'char') return CharTokenizer.fromJSON(obj);
  if (type === 'bpe') return BpeTokenizer.fromJSON(obj);
  if (type === 'gpt2') return Gpt2Tokenizer.fromJSON(obj);
  throw new TokenizerFormatError('$.type', `expected "char" or "bpe", got ${short(type)} (or "gpt2": GPT-2's vocab.json + merges.txt)`);
}
