/**
 * Messages between the demo page (main.ts) and its Web Worker (worker.ts).
 *
 * The worker owns the GPU device, the model and the training loop; the page only draws. Every
 * message is a plain object with a `type`; large byte arrays travel as transferables.
 */
import type { AdapterReport, GPTConfig } from '../src/index.ts';

/** What the page asks for a pre-training run. */
export interface TrainRequest {
  /** The training text (the bundled corpus, a pasted text or an uploaded file). */
  text: string;
  /** Where the text came from, shown in the model info ("State of the Union 2010-2021"). */
  textName: string;
  tokenizer: 'char' | 'bpe';
  preset: string;
  /** Context length; shorter than the preset's blockSize makes a smaller, faster model. */
  blockSize: number;
  steps: number;
  batchSize: number;
  lr: number;
  /** Validation loss every N steps (0: never). */
  evalEvery: number;
  /** A sample from the model every N steps (0: never). */
  sampleEvery: number;
  /** Characters (tokens) per training sample. */
  sampleLength: number;
}

export interface GenerateRequest {
  prompt: string;
  temperature: number;
  topK: number;
  maxTokens: number;
  seed: number;
}

/** Fine-tuning the current model (the panel is shown only when the library exports `finetune`). */
export interface FinetuneRequest {
  text: string;
  textName: string;
  steps: number;
  batchSize: number;
  lr: number;
  /** Keep the token and position embeddings (and so the tied LM head) fixed. */
  freezeEmbeddings: boolean;
}

export type ToWorker =
  | { type: 'init' }
  | { type: 'train'; req: TrainRequest }
  | { type: 'pause' }
  | { type: 'resume' }
  | { type: 'stop' }
  | { type: 'generate'; req: GenerateRequest }
  | { type: 'stop-generate' }
  | { type: 'download' }
  /** A wgpt checkpoint (one .safetensors), or the files of a Hugging Face GPT-2 model directory. */
  | { type: 'load'; files: { name: string; bytes: Uint8Array }[] }
  | { type: 'forget' }
  | { type: 'finetune'; req: FinetuneRequest };

/** The model the worker holds now. */
export interface ModelInfo {
  config: GPTConfig;
  params: number;
  /** Optimizer steps it was trained for (from the checkpoint or the run). */
  step: number;
  /** 'trained' (in this page), 'file' (uploaded), 'restored' (browser storage after a reload). */
  source: 'trained' | 'file' | 'restored';
  /** Human name: corpus name or file name. */
  name: string;
  /** When the checkpoint was last written to browser storage (ms since epoch), if it was. */
  savedAt?: number;
  /** Where it is kept across reloads ('IndexedDB'), if it is. */
  storage?: string;
  /** Characters the tokenizer knows, for the prompt box hint. */
  vocabSize: number;
  /** Checkpoint carries optimizer state (resumable with the CLI). */
  resumable: boolean;
}

export type RunState = 'idle' | 'starting' | 'running' | 'paused' | 'stopping';

export interface WorkerError {
  name: string;
  message: string;
  code?: string;
}

export type FromWorker =
  | { type: 'ready'; report: AdapterReport; description: string; features: { finetune: boolean } }
  | { type: 'fatal'; error: WorkerError }
  | { type: 'error'; error: WorkerError; during: string }
  | { type: 'state'; state: RunState; detail?: string }
  | { type: 'tokenized'; tokens: number; vocabSize: number; trainTokens: number; valTokens: number; steps: number; params: number; config: GPTConfig }
  | { type: 'step'; step: number; steps: number; loss: number; lr: number; tokensPerS: number; etaMs: number; elapsedMs: number }
  | { type: 'eval'; step: number; valLoss: number }
  | { type: 'sample'; step: number; prompt: string; text: string }
  | { type: 'train-done'; step: number; reason: 'done' | 'stopped' | 'early-stop' | 'error' }
  | { type: 'model'; info: ModelInfo | null }
  | { type: 'gen-piece'; piece: string }
  | { type: 'gen-done'; tokens: number; ms: number }
  | { type: 'checkpoint'; bytes: Uint8Array; name: string };
