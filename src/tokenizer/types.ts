/** The interface every tokenizer implements, and their serialized (JSON) forms. */

/** Serialized CharTokenizer: the vocabulary as sorted, distinct Unicode code points. */
export interface CharTokenizerJSON {
  type: 'char';
  version: 1;
  /** Code points in increasing order; token id i is vocab[i]. */
  vocab: number[];
  /** Whether an `<unk>` token is reserved; if so its id is vocab.length (the last id). */
  unk: boolean;
}

/** Serialized BpeTokenizer: the merge list; token 256 + i is merges[i][0] followed by merges[i][1]. */
export interface BpeTokenizerJSON {
  type: 'bpe';
  version: 1;
  /** 256 + merges.length; redundant, checked on load. */
  vocabSize: number;
  /** Each merge [a, b] may only name ids < 256 + its own index. */
  merges: [number, number][];
}

/**
 * Serialized Gpt2Tokenizer (src/interop/gpt2-tokenizer.ts): GPT-2 / Hugging Face byte-level BPE,
 * the contents of vocab.json (as tokens by id) and merges.txt.
 */
export interface Gpt2TokenizerJSON {
  type: 'gpt2';
  version: 1;
  /** vocab.length; redundant, checked on load. */
  vocabSize: number;
  /** vocab[id]: the token spelled in GPT-2's byte alphabet, or null for an id without a token. */
  vocab: (string | null)[];
  /** Merge rules "a b", highest priority first (merges.txt without its #version line). */
  merges: string[];
}

export type TokenizerJSON = CharTokenizerJSON | BpeTokenizerJSON | Gpt2TokenizerJSON;

/** A text <-> token-id mapping. `decode(encode(s)) === s` for every string the tokenizer accepts. */
export interface Tokenizer {
  readonly type: 'char' | 'bpe' | 'gpt2';
  /** Number of token ids; every id is in [0, vocabSize). */
  readonly vocabSize: number;
  encode(text: string): Int32Array;
  decode(ids: ArrayLike<number>): string;
  toJSON(): TokenizerJSON;
}
