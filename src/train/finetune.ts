/**
 * Fine-tuning a pre-trained language model on the user's text: the same Trainer, data pipeline and
 * checkpoint format as pre-training, with different defaults (nanoGPT: fine-tuning is a config
 * override of pre-training, not a second code path):
 *
 *   lr 3e-4 (pre-training: 1e-3)     a pre-trained model needs smaller steps to keep what it knows
 *   warmup 10 steps                  the weights are already in a good region; a short warmup suffices
 *   steps 200                        the user's text is small; evaluation + early stopping guard overfitting
 *   tokenizer: the checkpoint's      the embeddings are indexed by its ids, so it cannot change
 *
 * All weights train unless frozen (freezeEmbeddings: token + position embeddings, and so the tied
 * LM head; freezeLayers k: the first k transformer blocks). Frozen tensors stay bit-identical.
 *
 * Characters the checkpoint's tokenizer never saw are never dropped silently: with an `<unk>` id
 * (pre-training reserves one) they map to it and an `unknown_characters` event reports them;
 * without one, UnknownCharacterError lists them.
 */
import type { Gpu } from '../gpu/context.ts';
import { LanguageModel } from '../model/language-model.ts';
import type { ParamSpec } from '../model/params.ts';
import type { GPTConfig } from '../model/config.ts';
import { decodeCheckpoint, encodeCheckpoint, type Checkpoint } from '../checkpoint/checkpoint.ts';
import { CharTokenizer } from '../tokenizer/char.ts';
import { UnknownCharacterError } from '../tokenizer/errors.ts';
import type { Tokenizer } from '../tokenizer/types.ts';
import { CorpusError } from '../data/errors.ts';
import { WgptError } from '../errors.ts';
import { Trainer, type TrainEvent, type TrainOptions } from './trainer.ts';
import { splitTokens, type TokenSplit } from './pretrain.ts';

/** Default fine-tuning hyperparameters (each one a reason in the module comment). */
export const FINETUNE_DEFAULTS = { steps: 200, lr: 3e-4, warmupSteps: 10, batchSize: 8, evalEvery: 50, valFraction: 0.1, seed: 1337 } as const;

/** Characters of the fine-tuning data that the tokenizer does not know, mapped to `<unk>`. */
export interface UnknownCharactersEvent {
  event: 'unknown_characters';
  /** How many characters of the data were unknown. */
  count: number;
  /** How many distinct characters. */
  distinct: number;
  /** The first few distinct characters (at most 10). */
  characters: string[];
  /** What they became. */
  replaced_with: '<unk>';
}

export type FinetuneEvent =
  | TrainEvent
  | UnknownCharactersEvent
  | { event: 'tokenized'; tokens: number; vocab_size: number; train_tokens: number; val_tokens: number };

/** Which parameters stay fixed during fine-tuning. */
export interface FreezeOptions {
  /** Freeze the token and position embeddings (the token embedding is also the LM head: it freezes too). */
  freezeEmbeddings?: boolean;
  /** Freeze the first k transformer blocks (0 .. nLayer). */
  freezeLayers?: number;
}

/** Where a fine-tuning run starts: checkpoint bytes (hashed for the provenance) or a decoded checkpoint. */
export type ParentCheckpoint = Uint8Array | Checkpoint;

export interface FinetuneOptions extends FreezeOptions {
  /** The pre-trained checkpoint (its weights and tokenizer). */
  from: ParentCheckpoint;
  /** A name for the parent in the provenance (e.g. its file name). */
  parentName?: string;
  /** The text to adapt to. */
  text: string;
  /** Optimizer steps (default 200). */
  steps?: number;
  /** Peak learning rate (default 3e-4). */
  lr?: number;
  /** Linear warmup steps (default 10, at most steps / 2). */
  warmupSteps?: number;
  /** Sequences per step (default 8). */
  batchSize?: number;
  /** Stop when the validation loss has not improved for this many evaluations (default 0: never). */
  earlyStopPatience?: number;
  /** Evaluate every N steps (default 50; 0: never). */
  evalEvery?: number;
  /** Fraction of the text held out for validation (default 0.1, the end of the text). */
  valFraction?: number;
  seed?: number;
  onEvent?: (e: FinetuneEvent) => void | Promise<void>;
  signal?: AbortSignal;
  /** Extra trainer options (evalBatches, logEvery, optimizer, seqLen, ...). */
  train?: Partial<TrainOptions>;
}

/** Provenance of a fine-tuned model, stored in the checkpoint's `origin` metadata. */
export interface Origin {
  parent: { sha256: string; name?: string; step: number | null; origin?: unknown };
  task: 'lm' | 'classify';
  steps: number;
  date: string;
  [k: string]: unknown;
}

export interface FinetuneRun {
  model: LanguageModel;
  trainer: Trainer;
  /** The target text's train/validation split (token ids). */
  data: TokenSplit;
  /** Characters mapped to `<unk>` (null when there were none). */
  unknown: UnknownCharactersEvent | null;
  /** Run (or continue) fine-tuning until `steps`, early stop or cancellation. */
  run(): Promise<void>;
  /** Checkpoint bytes: the fine-tuned weights, the tokenizer and the provenance (no optimizer state). */
  checkpoint(): Promise<Uint8Array>;
  destroy(): void;
}

/** A fine-tuning option is out of range (freezeLayers beyond the model, ...). */
export class FinetuneError extends WgptError {
  constructor(message: string) { super('FINETUNE', message); }
}

/** The trainable-parameter predicate for `freeze` (throws FinetuneError for a bad freezeLayers). */
export function trainableFor(config: GPTConfig, freeze: FreezeOptions): (s: ParamSpec) => boolean {
  const k = freeze.freezeLayers ?? 0;
  if (!Number.isInteger(k) || k < 0 || k > config.nLayer) {
    throw new FinetuneError(`freezeLayers must be an integer in [0, ${config.nLayer}] (the model has ${config.nLayer} blocks), got ${k}`);
  }
  const embeddings = new Set(['transformer.wte.weight', 'transformer.wpe.weight']);
  return (s) => !(freeze.freezeEmbeddings && embeddings.has(s.name)) && !(s.layer >= 0 && s.layer < k);
}

/** Lowercase hex SHA-256 of `bytes` (WebCrypto: browsers and Node >= 20). */
export async function sha256Hex(bytes: Uint8Array): Promise<string> {
  const digest = await globalThis.crypto.subtle.digest('SHA-256', bytes as Uint8Array<ArrayBuffer>);
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, '0')).join('');
}

/**
 * Decode the parent and describe it for the provenance: the SHA-256 of its bytes (a decoded
 * checkpoint is hashed as encodeCheckpoint writes it), its training step, and its own origin.
 */
export async function resolveParent(from: ParentCheckpoint, name?: string): Promise<{ checkpoint: Checkpoint; parent: Origin['parent'] }> {
  const bytes = from instanceof Uint8Array ? from : encodeCheckpoint(from);
  const checkpoint = from instanceof Uint8Array ? decodeCheckpoint(from) : from;
  const ownSteps = typeof checkpoint.origin?.steps === 'number' ? (checkpoint.origin.steps as number) : null;
  const parent: Origin['parent'] = { sha256: await sha256Hex(bytes), step: checkpoint.train?.step ?? ownSteps };
  if (name !== undefined) parent.name = name;
  if (checkpoint.origin) parent.origin = checkpoint.origin;
  return { checkpoint, parent };
}

/**
 * Encode `texts` with the checkpoint's tokenizer under the fine-tuning policy for unknown
 * characters: map them to `<unk>` when the tokenizer has one (and report them), otherwise throw
 * UnknownCharacterError listing them (with the index of the first text that has one when there
 * are several). Byte-level BPE knows every string.
 */
export function encodeWithUnknownPolicy(tokenizer: Tokenizer, texts: readonly string[]): { ids: Int32Array[]; unknown: UnknownCharactersEvent | null } {
  if (!(tokenizer instanceof CharTokenizer)) return { ids: texts.map((t) => tokenizer.encode(t)), unknown: null };
  const ids: Int32Array[] = [];
  const distinct = new Set<number>();
  let count = 0;
  let first: { text: number; index: number } | null = null;
  for (let i = 0; i < texts.length; i++) {
    try {
      ids.push(tokenizer.encode(texts[i]));
    } catch (e) {
      if (!(e instanceof UnknownCharacterError)) throw e;
      for (const cp of e.codePoints) distinct.add(cp);
      count += e.count;
      if (!first) {
        let index = 0;
        const unknown = new Set(e.codePoints);
        for (let j = 0; j < texts[i].length; j++) {
          const cp = texts[i].codePointAt(j)!;
          if (unknown.has(cp)) { index = j; break; }
          if (cp > 0xffff) j++;
        }
        first = { text: i, index };
      }
      if (tokenizer.unkId >= 0) ids.push(tokenizer.encode(texts[i], { unknown: 'replace' }));
    }
  }
  if (count === 0) return { ids, unknown: null };
  if (tokenizer.unkId < 0) {
    const where = texts.length > 1 ? ` (first in example ${first!.text})` : '';
    throw new UnknownCharacterError([...distinct], count, first!.index,
      `The checkpoint's character tokenizer has no <unk> id, so fine-tuning data may only use the characters it was built from${where}`);
  }
  const characters = [...distinct].slice(0, 10).map((cp) => String.fromCodePoint(cp));
  return { ids, unknown: { event: 'unknown_characters', count, distinct: distinct.size, characters, replaced_with: '<unk>' } };
}

/**
 * Set up language-model fine-tuning of the checkpoint `from` on `text` (nothing runs until run()).
 * Throws CorpusError for empty / too-short text, FinetuneError for bad freeze options,
 * UnknownCharacterError for characters the tokenizer cannot represent, CheckpointError for a bad parent.
 */
export async function finetune(gpu: Gpu, o: FinetuneOptions): Promise<FinetuneRun> {
  if (typeof o.text !== 'string' || o.text.length === 0) throw new CorpusError('the fine-tuning text is empty');
  const d = FINETUNE_DEFAULTS;
  const { checkpoint, parent } = await resolveParent(o.from, o.parentName);
  const trainable = trainableFor(checkpoint.config, o);
  const steps = o.steps ?? d.steps;
  const seed = o.seed ?? d.seed;
  const model = LanguageModel.fromCheckpoint(gpu, checkpoint).model;
  let trainer: Trainer;
  let data: TokenSplit;
  let unknown: UnknownCharactersEvent | null;
  const lr = o.lr ?? d.lr;
  try {
    const enc = encodeWithUnknownPolicy(model.tokenizer, [o.text]);
    unknown = enc.unknown;
    const ids = enc.ids[0];
    data = splitTokens(ids, o.valFraction ?? d.valFraction, o.train?.seqLen ?? model.config.blockSize, seed);
    model.origin = {
      parent, task: 'lm', steps: 0, date: new Date().toISOString(), lr,
      frozen: { embeddings: !!o.freezeEmbeddings, layers: o.freezeLayers ?? 0 },
    } satisfies Origin;
    if (unknown) await o.onEvent?.(unknown);
    await o.onEvent?.({ event: 'tokenized', tokens: ids.length, vocab_size: model.tokenizer.vocabSize, train_tokens: data.train.length, val_tokens: data.val.length });
    trainer = new Trainer(model.gpt, data.trainSource, data.valSource, {
      steps,
      batchSize: o.batchSize ?? d.batchSize,
      lr,
      warmupSteps: o.warmupSteps ?? Math.min(d.warmupSteps, Math.floor(steps / 2)),
      evalEvery: o.evalEvery ?? d.evalEvery,
      earlyStopPatience: o.earlyStopPatience ?? 0,
      trainable,
      onEvent: o.onEvent as TrainOptions['onEvent'],
      signal: o.signal,
      ...o.train,
    });
    // submit the optimizer's recorded zeroing now, so destroy() without run() leaves nothing pending
    await gpu.submit();
  } catch (e) {
    model.destroy();
    throw e;
  }
  return {
    model,
    trainer,
    data,
    unknown,
    run: () => trainer.run(),
    async checkpoint() {
      model.origin = { ...model.origin, steps: trainer.step, date: new Date().toISOString() };
      return model.toCheckpoint();
    },
    destroy() {
      trainer.destroy();
      model.destroy();
    },
  };
}
