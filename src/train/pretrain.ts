/**
 * Pre-training from raw text, end to end: text -> tokenizer -> token dataset (train/val split)
 * -> random batches -> Trainer (GPU forward/backward/AdamW) -> checkpoint.
 * The embeddable API and the CLI both call this.
 */
import type { Gpu } from '../gpu/context.ts';
import { presetConfig, PRESETS, type GPTConfig } from '../model/config.ts';
import { LanguageModel } from '../model/language-model.ts';
import { Trainer, type BatchSource, type TrainEvent, type TrainOptions } from './trainer.ts';
import { TokenDataset, Rng } from '../data/dataset.ts';
import { CorpusError } from '../data/errors.ts';
import { BpeTokenizer, CharTokenizer } from '../tokenizer/index.ts';
import type { Tokenizer } from '../tokenizer/types.ts';
import type { Checkpoint } from '../checkpoint/checkpoint.ts';

/** Random windows of a token dataset, with a seeded, saveable RNG. */
export class DatasetSource implements BatchSource {
  readonly data: TokenDataset;
  private rng: Rng;
  constructor(data: TokenDataset, seed: number) {
    this.data = data;
    this.rng = new Rng(seed);
  }
  next(B: number, T: number) {
    return this.data.sampleBatch(B, T, this.rng);
  }
  getState(): unknown {
    return this.rng.state();
  }
  setState(s: unknown): void {
    this.rng.setState(s as number[]);
  }
}

export interface PretrainOptions {
  /** The training text (UTF-8 string). */
  text: string;
  /** 'char' (default), 'bpe' (trained on the text), or a ready tokenizer. */
  tokenizer?: 'char' | 'bpe' | Tokenizer;
  /** Vocabulary size for a BPE tokenizer trained here (default 512). */
  bpeVocabSize?: number;
  /** Preset name (default 'small'); `config` overrides fields of it. */
  preset?: string;
  config?: Partial<GPTConfig>;
  /** Optimizer steps (default 1000). */
  steps?: number;
  /** Sequences per step (default: the preset's). */
  batchSize?: number;
  /** Peak learning rate (default 1e-3). */
  lr?: number;
  seed?: number;
  /** Fraction of the tokens held out for validation (default 0.1). */
  valFraction?: number;
  /** Evaluate every N steps (default 100). */
  evalEvery?: number;
  /** Continue from a checkpoint that has training state (same text and tokenizer). */
  resume?: Checkpoint;
  onEvent?: (e: TrainEvent | { event: 'tokenized'; tokens: number; vocab_size: number; train_tokens: number; val_tokens: number }) => void | Promise<void>;
  signal?: AbortSignal;
  /** Extra trainer options (accumSteps, warmupSteps, logEvery, optimizer, ...). */
  train?: Partial<TrainOptions>;
}

export interface TrainingRun {
  model: LanguageModel;
  trainer: Trainer;
  /** Run (or continue) training until `steps`. */
  run(): Promise<void>;
  /** Checkpoint bytes with the full training state (resumable). */
  checkpoint(extra?: { options?: Record<string, unknown> }): Promise<Uint8Array>;
  destroy(): void;
}

function buildTokenizer(text: string, o: PretrainOptions): Tokenizer {
  const t = o.tokenizer ?? 'char';
  if (typeof t !== 'string') return t;
  // reserve <unk> so fine-tuning on text with unseen characters can map them to it (and say so)
  if (t === 'char') return CharTokenizer.fromText(text, { unk: true });
  if (t === 'bpe') return BpeTokenizer.train(text, o.bpeVocabSize ?? 512);
  throw new CorpusError(`unknown tokenizer '${t}' (use 'char' or 'bpe')`);
}

/**
 * Set up pre-training on `text` (nothing runs until run()). Throws CorpusError for an empty
 * text or one too short for the context, ConfigError / LimitError for a model that cannot be built.
 */
export async function pretrain(gpu: Gpu, o: PretrainOptions): Promise<TrainingRun> {
  if (typeof o.text !== 'string' || o.text.length === 0) throw new CorpusError('the training text is empty');
  const presetName = o.preset ?? 'small';
  const seed = o.seed ?? 1337;
  let model: LanguageModel;
  let tokenizer: Tokenizer;
  if (o.resume) {
    const loaded = LanguageModel.fromCheckpoint(gpu, o.resume);
    model = loaded.model;
    tokenizer = model.tokenizer;
  } else {
    tokenizer = buildTokenizer(o.text, o);
    const config = presetConfig(presetName, tokenizer.vocabSize, o.config ?? {});
    model = LanguageModel.create(gpu, config, tokenizer, seed);
  }
  const ids = tokenizer.encode(o.text);
  const T = o.train?.seqLen ?? model.config.blockSize;
  const data = splitTokens(ids, o.valFraction ?? 0.1, T, seed);
  await o.onEvent?.({ event: 'tokenized', tokens: ids.length, vocab_size: tokenizer.vocabSize, train_tokens: data.train.length, val_tokens: data.val.length });
  const trainer = new Trainer(model.gpt, data.trainSource, data.valSource, {
    steps: o.steps ?? 1000,
    batchSize: o.batchSize ?? PRESETS[presetName]?.batchSize ?? 8,
    lr: o.lr ?? 1e-3,
    evalEvery: o.evalEvery ?? 100,
    onEvent: o.onEvent as TrainOptions['onEvent'],
    signal: o.signal,
    ...o.train,
  });
  if (o.resume?.train) {
    const t = o.resume.train;
    trainer.setState({ step: t.step, optimizer: { m: t.m, v: t.v, step: t.optimizerStep }, data: t.data, bestValLoss: t.bestValLoss });
  }
  return trainingRun(model, trainer);
}

/** A token sequence split for training: contiguous train/validation parts and seeded batch sources. */
export interface TokenSplit {
  train: TokenDataset;
  val: TokenDataset;
  trainSource: DatasetSource;
  valSource: DatasetSource;
}

/**
 * Split `ids` into train (first 1 - valFraction) and validation (the rest), each with a seeded
 * source of random windows (seeds `seed` and `seed + 1`). Throws CorpusError when either part is
 * shorter than one window of T + 1 tokens. Shared by pre-training and fine-tuning.
 */
export function splitTokens(ids: Int32Array, valFraction: number, T: number, seed: number): TokenSplit {
  const all = new TokenDataset(ids, 'corpus');
  const { train, val } = all.split(valFraction);
  for (const [name, d] of [['training', train], ['validation', val]] as const) {
    if (d.length < T + 1) throw new CorpusError(`the ${name} split has ${d.length} tokens, fewer than one context of ${T + 1}; give more text (the whole text has ${ids.length} tokens)`);
  }
  return { train, val, trainSource: new DatasetSource(train, seed), valSource: new DatasetSource(val, seed + 1) };
}

/**
 * Wrap a model and its trainer as a TrainingRun whose checkpoint carries the full training state
 * (resumable with pretrain({ resume })).
 */
export function trainingRun(model: LanguageModel, trainer: Trainer): TrainingRun {
  return {
    model,
    trainer,
    run: () => trainer.run(),
    async checkpoint(extra = {}) {
      const s = await trainer.getState();
      return model.toCheckpoint({
        train: {
          step: s.step,
          optimizerStep: s.optimizer.step,
          optimizer: { ...trainer.opt.config },
          data: s.data,
          bestValLoss: s.bestValLoss,
          options: extra.options,
          m: s.optimizer.m,
          v: s.optimizer.v,
        },
      });
    },
    destroy() {
      trainer.destroy();
      model.destroy();
    },
  };
}
