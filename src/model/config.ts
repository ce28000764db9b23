/**
 * GPT configuration (GPT-2 architecture) and presets.
 *
 * Legend: L layers, C channels (width), NH heads, HS = C / NH head size, T context (blockSize),
 * V vocabulary size, B batch.
 */
import { WgptError } from '../errors.ts';

export interface GPTConfig {
  /** V: number of token ids (the tokenizer's vocabulary size). */
  vocabSize: number;
  /** T_max: the longest context the model has position embeddings for. */
  blockSize: number;
  /** L: transformer blocks. */
  nLayer: number;
  /** NH: attention heads per block; must divide nEmbd. */
  nHead: number;
  /** C: channels. */
  nEmbd: number;
}

/** A preset: model shape plus the batch size it is meant to train with. */
export interface Preset {
  name: string;
  /** vocabSize is filled from the tokenizer unless the preset fixes it (gpt2). */
  config: Omit<GPTConfig, 'vocabSize'> & { vocabSize?: number };
  batchSize: number;
  description: string;
}

export const PRESETS: Record<string, Preset> = {
  tiny: { name: 'tiny', config: { nLayer: 2, nEmbd: 64, nHead: 4, blockSize: 64 }, batchSize: 8, description: 'L=2 C=64 NH=4 T=64: for tests and quick demos' },
  small: { name: 'small', config: { nLayer: 4, nEmbd: 128, nHead: 4, blockSize: 64 }, batchSize: 12, description: "L=4 C=128 NH=4 T=64, batch 12: nanoGPT's CPU-sized config" },
  gpt2: { name: 'gpt2', config: { nLayer: 12, nEmbd: 768, nHead: 12, blockSize: 1024, vocabSize: 50257 }, batchSize: 4, description: 'GPT-2 124M: L=12 C=768 NH=12 T=1024 V=50257' },
};

/** A config value is invalid (zero/negative size, heads not dividing the width, ...). */
export class ConfigError extends WgptError {
  constructor(message: string) { super('CONFIG', message); }
}

/** Throw ConfigError with the offending values if `c` is not a valid GPT config. */
export function validateConfig(c: GPTConfig): void {
  for (const k of ['vocabSize', 'blockSize', 'nLayer', 'nHead', 'nEmbd'] as const) {
    const v = (c as any)[k];
    if (!Number.isInteger(v) || v <= 0) throw new ConfigError(`config.${k} must be a positive integer, got ${v}`);
  }
  if (c.nEmbd % c.nHead !== 0) throw new ConfigError(`config.nHead (${c.nHead}) must divide config.nEmbd (${c.nEmbd}); ${c.nEmbd} / ${c.nHead} = ${(c.nEmbd / c.nHead).toFixed(2)}`);
}

/** Build a config from a preset name and a vocabulary size (ignored if the preset fixes one). */
export function presetConfig(name: string, vocabSize: number, overrides: Partial<GPTConfig> = {}): GPTConfig {
  const p = PRESETS[name];
  if (!p) throw new ConfigError(`unknown preset '${name}' (have: ${Object.keys(PRESETS).join(', ')})`);
  const c: GPTConfig = { vocabSize: p.config.vocabSize ?? vocabSize, ...p.config, ...overrides } as GPTConfig;
  validateConfig(c);
  return c;
}

/** Number of parameters (the LM head is tied to the token embedding, so it is not counted twice). */
export function countParams(c: GPTConfig): number {
  const { vocabSize: V, blockSize: T, nLayer: L, nEmbd: C } = c;
  const perLayer = 2 * C + (3 * C * C + 3 * C) + (C * C + C) + 2 * C + (4 * C * C + 4 * C) + (4 * C * C + C);
  return V * C + T * C + L * perLayer + 2 * C;
}
