/** Tokenizers: character-level, byte-level BPE and GPT-2's (vocab.json + merges.txt), one interface, one loader. */
export type { Tokenizer, TokenizerJSON, CharTokenizerJSON, BpeTokenizerJSON, Gpt2TokenizerJSON } from './types.ts';
export { CharTokenizer, UNK_TEXT } from './char.ts';
export type { CharTokenizerOptions, CharEncodeOptions } from './char.ts';
export { BpeTokenizer, splitText, GPT2_SPLIT_PATTERN, MAX_CHUNK_UNITS, MAX_BPE_VOCAB, MAX_TOKEN_BYTES } from './bpe.ts';
export type { BpeTrainOptions } from './bpe.ts';
export { tokenizerFromJSON } from './json.ts';
export { Gpt2Tokenizer, gpt2Reference } from '../interop/gpt2-tokenizer.ts';
export { TokenizerError, UnknownCharacterError, TokenIdError, TokenizerFormatError } from './errors.ts';
export { wtf8Encode, wtf8Decode } from './utf.ts';
