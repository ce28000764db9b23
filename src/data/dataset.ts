/**
 * Token datasets: a contiguous train/val split and random (B, T) batches, as in nanoGPT's
 * get_batch. Legend: B batch size, T sequence length (block size).
 */
import { ShapeError } from '../errors.ts';
import { CorpusError } from './errors.ts';
import { Rng } from './rng.ts';

export { Rng, RngStateError } from './rng.ts';
export { CorpusError } from './errors.ts';

export interface Batch {
  /** (B, T) token ids: tokens[s .. s+T) of each window. */
  inputs: Int32Array;
  /** (B, T) next-token targets: tokens[s+1 .. s+T+1). */
  targets: Int32Array;
  B: number;
  T: number;
}

export class TokenDataset {
  /** (N,) token ids. Not copied: do not modify. */
  readonly tokens: Int32Array;
  /** Named in error messages ('train', 'val', a file name). */
  readonly name: string;

  /** Throws CorpusError if tokens is empty. */
  constructor(tokens: Int32Array, name = 'corpus') {
    if (!(tokens instanceof Int32Array)) throw new ShapeError(`${name}: tokens must be an Int32Array`);
    if (tokens.length === 0) throw new CorpusError(`${name}: the corpus is empty (0 tokens)`);
    this.tokens = tokens;
    this.name = name;
  }

  get length(): number {
    return this.tokens.length;
  }

  /**
   * Contiguous split: the first (1 - valFraction) of the tokens train, the rest (floor(N * valFraction)
   * tokens) validate. Throws CorpusError when either part would be empty.
   */
  split(valFraction: number): { train: TokenDataset; val: TokenDataset } {
    if (!(valFraction > 0 && valFraction < 1)) throw new RangeError(`valFraction must be in (0, 1), got ${valFraction}`);
    const n = this.tokens.length;
    const nVal = Math.floor(n * valFraction);
    const nTrain = n - nVal;
    if (nVal === 0 || nTrain === 0) {
      throw new CorpusError(`${this.name}: ${n} tokens are too few to split with valFraction ${valFraction} (train ${nTrain}, val ${nVal} tokens)`);
    }
    return {
      train: new TokenDataset(this.tokens.subarray(0, nTrain), 'train'),
      val: new TokenDataset(this.tokens.subarray(nTrain), 'val'),
    };
  }

  /**
   * B windows of T + 1 consecutive tokens at uniformly random starts in [0, N - T - 1], drawn from
   * rng in order (same rng state, same batch). `out` arrays of length B*T are reused if given.
   * Throws CorpusError if the dataset is shorter than T + 1 tokens.
   */
  sampleBatch(B: number, T: number, rng: Rng, out?: { inputs: Int32Array; targets: Int32Array }): Batch {
    if (!Number.isInteger(B) || B < 1) throw new ShapeError(`sampleBatch: B must be a positive integer, got ${B}`);
    if (!Number.isInteger(T) || T < 1) throw new ShapeError(`sampleBatch: T must be a positive integer, got ${T}`);
    const n = this.tokens.length;
    if (n < T + 1) {
      throw new CorpusError(`${this.name}: ${n} tokens, but a window of T + 1 = ${T + 1} tokens is needed (T = ${T}); use a smaller T or more text`);
    }
    const inputs = out?.inputs ?? new Int32Array(B * T);
    const targets = out?.targets ?? new Int32Array(B * T);
    if (inputs.length !== B * T || targets.length !== B * T) {
      throw new ShapeError(`sampleBatch: out arrays have lengths ${inputs.length} and ${targets.length}, B*T = ${B * T}`);
    }
    for (let b = 0; b < B; b++) {
      const s = rng.nextInt(n - T);
      inputs.set(this.tokens.subarray(s, s + T), b * T);
      targets.set(this.tokens.subarray(s + 1, s + T + 1), b * T);
    }
    return { inputs, targets, B, T };
  }
}
