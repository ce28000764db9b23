/**
 * The demo's Web Worker: it owns the GPU device, the model and the training loop, so the page
 * stays responsive while kernels run. It uses only wgpt's public API (src/index.ts).
 *
 * One thing happens at a time on the GPU: a training run (whose samples are taken between steps),
 * or a generation, or a checkpoint read. Pausing parks the training loop inside its event
 * callback (the Trainer awaits onEvent between steps), so a paused run can be sampled from,
 * downloaded, and resumed exactly where it stopped.
 */
import * as wgpt from '../src/index.ts';
import { Gpu, LanguageModel, countParams, describeAdapter, decodeCheckpoint, encodeCheckpoint, gpt2Reference, importHFDirectory, pretrain, readSafetensors, CHECKPOINT_FORMAT, HfFormatError } from '../src/index.ts';
import type { TrainEvent, TrainingRun } from '../src/index.ts';
import type { FinetuneRequest, FromWorker, GenerateRequest, ModelInfo, RunState, ToWorker, TrainRequest, WorkerError } from './protocol.ts';
import { forgetLatest, loadLatest, saveLatest } from './storage.ts';

const post = (m: FromWorker, transfer: Transferable[] = []) => (self as unknown as Worker).postMessage(m, transfer);

function errorOf(e: unknown): WorkerError {
  if (e instanceof Error) return { name: e.name, message: e.message, code: (e as { code?: string }).code };
  return { name: 'Error', message: String(e) };
}

/** What the worker needs of a run: pretrain()'s TrainingRun, or finetune()'s run. */
type Run = Pick<TrainingRun, 'model' | 'trainer' | 'run' | 'destroy'> & {
  checkpoint(extra?: { options?: Record<string, unknown> }): Promise<Uint8Array>;
};

/**
 * Fine-tuning (src/train/finetune.ts) is looked up by name, so this demo builds with or without
 * it: the page shows its panel only when src/index.ts exports `finetune`. The options are the
 * ones of FinetuneOptions that the panel sets.
 */
type FinetuneFn = (gpu: Gpu, o: {
  from: Uint8Array; parentName?: string; text: string; steps?: number; lr?: number; batchSize?: number;
  freezeEmbeddings?: boolean; evalEvery?: number; onEvent?: (e: any) => void | Promise<void>; signal?: AbortSignal;
}) => Promise<Run>;
const finetuneFn = Reflect.get(wgpt, 'finetune') as FinetuneFn | undefined; // absent until it is exported

let gpu: Gpu | null = null;
/** The model generation and checkpoints use: the current run's, or a loaded one. */
let model: LanguageModel | null = null;
let info: ModelInfo | null = null;
/** The current (or last finished) training run: checkpoints from it carry optimizer state. */
let run: Run | null = null;
let state: RunState = 'idle';
let abort: AbortController | null = null;
/** While paused, the training loop awaits this; resume/stop resolve it. */
let gate: { promise: Promise<void>; open: () => void } | null = null;
let genAbort: AbortController | null = null;
/** What pretrain() reported after tokenizing, relayed once the model exists. */
let tokenized = { tokens: 0, trainTokens: 0, valTokens: 0 };
let generating: Promise<void> | null = null;

function setState(s: RunState, detail?: string): void {
  state = s;
  post({ type: 'state', state: s, detail });
}

function setModel(m: LanguageModel | null, i: ModelInfo | null): void {
  if (model && model !== m && model !== run?.model) model.destroy();
  model = m;
  info = i;
  post({ type: 'model', info });
}

function dropRun(): void {
  if (!run) return;
  const r = run;
  run = null;
  if (model === r.model) {
    model = null;
    info = null;
  }
  r.destroy();
}

// ------------------------------------------------------------------ checkpoints and storage

async function currentCheckpoint(): Promise<Uint8Array> {
  if (run && model === run.model) return run.checkpoint({ options: { source: 'wgpt demo', name: info?.name } });
  if (!model) throw new Error('there is no model yet: train one or load a checkpoint');
  return model.toCheckpoint();
}

/** Keep the current model in IndexedDB (best effort: a full or blocked storage is reported, not fatal). */
async function persist(bytes?: Uint8Array): Promise<void> {
  if (!model || !info) return;
  try {
    const b = bytes ?? (await currentCheckpoint());
    const savedAt = Date.now();
    await saveLatest({ bytes: b, name: info.name, savedAt });
    const step = run && model === run.model ? run.trainer.step : info.step;
    info = { ...info, step, savedAt, storage: 'IndexedDB' };
    post({ type: 'model', info });
  } catch (e) {
    post({ type: 'error', error: errorOf(e), during: 'saving the model in browser storage' });
  }
}

/**
 * Checkpoint bytes from uploaded files: one wgpt checkpoint as it is, or a Hugging Face GPT-2
 * model's files (model.safetensors + config.json + vocab.json/merges.txt or tokenizer.json;
 * without tokenizer files, GPT-2's own for a 50257-token vocabulary) imported.
 */
async function checkpointFromFiles(files: { name: string; bytes: Uint8Array }[]): Promise<{ bytes: Uint8Array; name: string }> {
  const weights = files.filter((f) => f.name.endsWith('.safetensors'));
  if (weights.length !== 1) throw new HfFormatError(`select one .safetensors file (a wgpt checkpoint, or a Hugging Face model.safetensors with its config.json and tokenizer files); got ${weights.length}`);
  const w = weights[0];
  if (files.length === 1 && readSafetensors(w.bytes).metadata?.format === CHECKPOINT_FORMAT) return { bytes: w.bytes, name: w.name };
  const text = (n: string) => {
    const f = files.find((x) => x.name === n);
    return f ? new TextDecoder().decode(f.bytes) : undefined;
  };
  const dir = {
    weights: w.bytes, config: text('config.json'), vocabJson: text('vocab.json'), mergesTxt: text('merges.txt'),
    tokenizerJson: text('tokenizer.json'), wgptTokenizer: text('wgpt-tokenizer.json'),
  };
  const hasTokenizer = dir.vocabJson || dir.tokenizerJson || dir.wgptTokenizer;
  const r = importHFDirectory(dir, hasTokenizer ? {} : { tokenizer: await gpt2Reference() });
  return { bytes: encodeCheckpoint(r.checkpoint), name: `${w.name} (Hugging Face GPT-2)` };
}

function loadModel(bytes: Uint8Array, name: string, source: 'file' | 'restored', savedAt?: number): void {
  const ck = decodeCheckpoint(bytes);
  const { model: m } = LanguageModel.fromCheckpoint(gpu!, ck);
  dropRun();
  setModel(m, {
    config: m.config,
    params: countParams(m.config),
    step: ck.train?.step ?? 0,
    source,
    name,
    vocabSize: m.tokenizer.vocabSize,
    resumable: !!ck.train,
    ...(savedAt ? { savedAt, storage: 'IndexedDB' } : {}),
  });
}

// ------------------------------------------------------------------ training

/** Model info of a run's model, at its current step. */
function trainedInfo(r: Run, name: string, resumable = true): ModelInfo {
  return {
    config: r.model.config,
    params: countParams(r.model.config),
    step: r.trainer.step,
    source: 'trained',
    name,
    vocabSize: r.model.tokenizer.vocabSize,
    resumable,
  };
}

async function sampleNow(step: number, req: { text: string; sampleLength: number }): Promise<void> {
  const m = run!.model;
  const prompt = req.text.includes('\n') ? '\n' : req.text[0];
  const text = await m.generateText(prompt, { maxTokens: req.sampleLength, temperature: 0.8, topK: 40, seed: step });
  post({ type: 'sample', step, prompt, text });
}

type TokenizedEvent = { event: 'tokenized'; tokens: number; vocab_size: number; train_tokens: number; val_tokens: number };
type UnknownCharactersEvent = { event: 'unknown_characters'; count: number; characters: string[] };

/** The Trainer's event callback: relay, sample, and park here while paused. */
function onEvent(steps: number, sampler: { sampleEvery: number; text: string; sampleLength: number }) {
  return async (e: TrainEvent | TokenizedEvent | UnknownCharactersEvent) => {
    switch (e.event) {
      case 'unknown_characters':
        post({ type: 'error', error: { name: 'UnknownCharacters', message: `${e.count} characters of the text are not in the model's vocabulary and became <unk>: ${e.characters.map((c) => JSON.stringify(c)).join(' ')}` }, during: 'tokenizing the fine-tuning text' });
        return;
      case 'tokenized':
        tokenized = { tokens: e.tokens, trainTokens: e.train_tokens, valTokens: e.val_tokens };
        setState('starting', `tokenized ${e.tokens.toLocaleString()} tokens (vocabulary ${e.vocab_size}); building the model`);
        return;
      case 'step':
        if (state === 'starting') setState('running');
        post({ type: 'step', step: e.step, steps, loss: e.loss, lr: e.lr, tokensPerS: e.tokens_per_s, etaMs: e.eta_ms, elapsedMs: e.elapsed_ms });
        if (sampler.sampleEvery > 0 && (e.step % sampler.sampleEvery === 0 || e.step === steps)) await sampleNow(e.step, sampler);
        break;
      case 'eval':
        post({ type: 'eval', step: e.step, valLoss: e.val_loss });
        break;
      case 'skip':
        post({ type: 'error', error: { name: 'SkippedStep', message: `step ${e.step} skipped: ${e.reason}` }, during: 'training' });
        break;
      default:
        return;
    }
    if (gate) {
      setState('paused', `paused after step ${e.step}`);
      await persist(); // a reload while paused keeps the progress
      await gate.promise;
    }
  };
}

/** Run `r` to the end (or stop), then keep its model as the current one and save it. */
async function drive(r: Run, name: string, resumable: boolean, sampler: { sampleEvery: number; text: string; sampleLength: number }): Promise<void> {
  let reason: 'done' | 'stopped' | 'early-stop' | 'error' = 'done';
  try {
    await r.run();
    if (abort?.signal.aborted) reason = 'stopped';
    else if (r.trainer.step < r.trainer.options.steps) reason = 'early-stop';
  } catch (e) {
    reason = 'error';
    post({ type: 'error', error: errorOf(e), during: 'training' });
  }
  abort = null;
  gate = null;
  if (model !== r.model) setModel(r.model, null);
  info = trainedInfo(r, name, resumable);
  post({ type: 'model', info });
  // a run that ended early gets a last sample (one that finished had it at its last step)
  if ((reason === 'stopped' || reason === 'early-stop') && r.trainer.step > 0 && sampler.sampleEvery > 0 && r.trainer.step % sampler.sampleEvery !== 0) {
    await sampleNow(r.trainer.step, sampler).catch(() => {});
  }
  if (r.trainer.step > 0) await persist(); // before going idle: a new run would free this model
  post({ type: 'train-done', step: r.trainer.step, reason });
  setState('idle');
}

async function startTraining(req: TrainRequest): Promise<void> {
  if (state !== 'idle') throw new Error(`training is already ${state}`);
  setState('starting', 'tokenizing the text');
  abort = new AbortController();
  try {
    dropRun();
    setModel(null, null);
    const preset = wgpt.PRESETS[req.preset];
    const config = preset && req.blockSize !== preset.config.blockSize ? { blockSize: req.blockSize } : undefined;
    run = await pretrain(gpu!, {
      text: req.text,
      tokenizer: req.tokenizer,
      preset: req.preset,
      config,
      steps: req.steps,
      batchSize: req.batchSize,
      lr: req.lr,
      evalEvery: req.evalEvery,
      signal: abort.signal,
      onEvent: onEvent(req.steps, req),
    });
  } catch (e) {
    abort = null;
    setState('idle');
    post({ type: 'train-done', step: 0, reason: 'error' });
    throw e;
  }
  const m = run.model;
  post({
    type: 'tokenized', ...tokenized, vocabSize: m.tokenizer.vocabSize,
    steps: req.steps, params: countParams(m.config), config: m.config,
  });
  setModel(m, trainedInfo(run, req.textName));
  if (!abort.signal.aborted) setState('starting', 'first step: compiling the WGSL kernels');
  void drive(run, req.textName, true, req);
}

async function runFinetune(req: FinetuneRequest): Promise<void> {
  if (!finetuneFn) throw new Error('this build of wgpt has no finetune()');
  if (state !== 'idle') throw new Error(`training is already ${state}`);
  if (!model || !info) throw new Error('fine-tuning starts from a model: train one or load a checkpoint first');
  setState('starting', 'preparing fine-tuning');
  abort = new AbortController();
  const sampler = { sampleEvery: 0, text: req.text, sampleLength: 0 };
  const name = `${info.name}, fine-tuned on ${req.textName}`;
  let r: Run;
  try {
    r = await finetuneFn(gpu!, {
      from: await currentCheckpoint(), parentName: info.name, text: req.text,
      steps: req.steps, batchSize: req.batchSize, lr: req.lr, freezeEmbeddings: req.freezeEmbeddings,
      evalEvery: Math.max(1, Math.floor(req.steps / 4)),
      signal: abort.signal, onEvent: onEvent(req.steps, sampler),
    });
  } catch (e) {
    abort = null;
    setState('idle');
    post({ type: 'train-done', step: 0, reason: 'error' });
    throw e;
  }
  // the run has its own copy of the weights: the parent and its optimizer state can go
  const old = run;
  run = r;
  setModel(r.model, trainedInfo(r, name, false));
  old?.destroy();
  post({
    type: 'tokenized', ...tokenized, vocabSize: r.model.tokenizer.vocabSize,
    steps: req.steps, params: countParams(r.model.config), config: r.model.config,
  });
  if (!abort.signal.aborted) setState('starting', 'first step');
  void drive(r, name, false, sampler);
}

// ------------------------------------------------------------------ generation

async function generate(req: GenerateRequest): Promise<void> {
  if (!model) throw new Error('there is no model yet: train one or load a checkpoint');
  if (state === 'running' || state === 'starting' || state === 'stopping') throw new Error('the GPU is training: pause or stop training to generate');
  if (generating) throw new Error('already generating');
  genAbort = new AbortController();
  const m = model;
  const t0 = performance.now();
  let tokens = 0;
  generating = (async () => {
    try {
      for await (const piece of m.generate(req.prompt, {
        maxTokens: req.maxTokens, temperature: req.temperature, topK: req.topK, seed: req.seed, signal: genAbort!.signal,
      })) {
        tokens++;
        post({ type: 'gen-piece', piece });
      }
    } catch (e) {
      post({ type: 'error', error: errorOf(e), during: 'generation' });
    } finally {
      post({ type: 'gen-done', tokens, ms: performance.now() - t0 });
      generating = null;
      genAbort = null;
    }
  })();
}

// ------------------------------------------------------------------ messages

async function init(): Promise<void> {
  try {
    gpu = await Gpu.create();
  } catch (e) {
    post({ type: 'fatal', error: errorOf(e) });
    return;
  }
  post({ type: 'ready', report: gpu.report, description: describeAdapter(gpu.report), features: { finetune: typeof finetuneFn === 'function' } });
  void gpu.lost.then((l) => {
    if (l.reason === 'destroyed') return;
    post({ type: 'fatal', error: { name: 'DeviceLostError', code: 'DEVICE_LOST', message: `the GPU device was lost (${l.reason}): ${l.message || 'no details'}. Reload the page; the last saved model will be restored.` } });
  });
  try {
    const saved = await loadLatest();
    if (saved) loadModel(saved.bytes, saved.name, 'restored', saved.savedAt);
  } catch (e) {
    post({ type: 'error', error: errorOf(e), during: 'restoring the saved model from browser storage' });
  }
  setState('idle');
}

async function handle(msg: ToWorker): Promise<void> {
  switch (msg.type) {
    case 'init':
      return init();
    case 'train':
      return startTraining(msg.req);
    case 'finetune':
      return runFinetune(msg.req);
    case 'pause':
      if (state === 'running' && !gate) {
        let open = () => {};
        const promise = new Promise<void>((r) => (open = r));
        gate = { promise, open };
        post({ type: 'state', state: 'running', detail: 'pausing after this step' });
      }
      return;
    case 'resume':
      if (gate) {
        if (generating) {
          genAbort?.abort();
          await generating;
        }
        const g = gate;
        gate = null;
        setState('running');
        g.open();
      }
      return;
    case 'stop':
      if (abort) {
        abort.abort();
        setState('stopping', 'stopping after this step');
        if (gate) {
          if (generating) {
            genAbort?.abort();
            await generating;
          }
          const g = gate;
          gate = null;
          g.open();
        }
      }
      return;
    case 'generate':
      return generate(msg.req);
    case 'stop-generate':
      genAbort?.abort();
      return;
    case 'download': {
      if (state === 'running' || state === 'starting' || state === 'stopping') throw new Error('pause or stop training to download a checkpoint');
      const bytes = await currentCheckpoint();
      const base = (info?.name ?? 'model').replace(/[^A-Za-z0-9._-]+/g, '-').replace(/^-|-$/g, '').slice(0, 40) || 'model';
      post({ type: 'checkpoint', bytes, name: `wgpt-${base}-step${info?.step ?? 0}.safetensors` }, [bytes.buffer]);
      return;
    }
    case 'load': {
      if (state !== 'idle') throw new Error('stop training before loading a checkpoint');
      if (generating) throw new Error('wait for generation to finish before loading a checkpoint');
      const { bytes, name } = await checkpointFromFiles(msg.files);
      loadModel(bytes, name, 'file');
      await persist(bytes);
      return;
    }
    case 'forget':
      await forgetLatest();
      if (info) {
        info = { ...info, savedAt: undefined, storage: undefined };
        post({ type: 'model', info });
      }
      return;
  }
}

/** For error messages: "Error while <doing>". */
const DOING: Record<ToWorker['type'], string> = {
  init: 'starting up', train: 'starting training', pause: 'pausing', resume: 'resuming', stop: 'stopping',
  generate: 'generating', 'stop-generate': 'stopping generation', download: 'preparing the download',
  load: 'loading the checkpoint', forget: 'forgetting the saved model', finetune: 'starting fine-tuning',
};

self.onmessage = (ev: MessageEvent<ToWorker>) => {
  handle(ev.data).catch((e) => post({ type: 'error', error: errorOf(e), during: DOING[ev.data.type] ?? ev.data.type }));
};
