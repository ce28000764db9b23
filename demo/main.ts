/**
 * The demo page: checks for WebGPU, then hands all GPU work to a Web Worker (worker.ts) and draws
 * what it reports. Only wgpt's public API is used (here: presets and size arithmetic, to show a
 * model's parameter count and memory before it is built).
 */
import { CharTokenizer, PRESETS, activationBytes, countParams, paramLayout, presetConfig, type AdapterReport } from '../src/index.ts';
import { createLossChart } from './chart.ts';
import type { FromWorker, ModelInfo, RunState, ToWorker, TrainRequest } from './protocol.ts';
import './style.css';

// ------------------------------------------------------------------ small helpers

const $ = <T extends HTMLElement = HTMLElement>(testid: string): T => {
  const e = document.querySelector<T>(`[data-testid="${testid}"]`);
  if (!e) throw new Error(`demo/index.html has no data-testid="${testid}"`);
  return e;
};
const num = (testid: string): number => Number($<HTMLInputElement>(testid).value);

function fmtBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  const units = ['KB', 'MB', 'GB', 'TB'];
  let v = n / 1024;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) [v, i] = [v / 1024, i + 1];
  return `${v < 10 ? v.toFixed(1) : Math.round(v)} ${units[i]}`;
}

function fmtCount(n: number): string {
  if (n >= 1e9) return `${(n / 1e9).toFixed(2)} B`;
  if (n >= 1e6) return `${(n / 1e6).toFixed(2)} M`;
  if (n >= 1e3) return `${(n / 1e3).toFixed(1)} k`;
  return String(n);
}

function fmtDuration(ms: number): string {
  if (!Number.isFinite(ms) || ms < 0) return '–';
  const s = Math.round(ms / 1000);
  if (s < 60) return `${s} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min ${String(s % 60).padStart(2, '0')} s`;
  return `${Math.floor(m / 60)} h ${String(m % 60).padStart(2, '0')} min`;
}

function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

// ------------------------------------------------------------------ errors

const errorEl = $('error-message');

/** What to do when there is no WebGPU; shown under the error. */
function webgpuHelp(): string {
  const insecure = !window.isSecureContext
    ? `<li><strong>This page is not a secure context</strong> (${escapeHtml(location.origin)}): WebGPU needs <code>https://</code> or <code>http://localhost</code>.</li>`
    : '';
  return `<ul>
    ${insecure}
    <li>Use a browser with WebGPU: <strong>Chrome or Edge 113+</strong> (Windows, macOS, ChromeOS, Android), <strong>Safari 26+</strong>, or <strong>Firefox 141+</strong> on Windows.</li>
    <li>Chrome or Chromium on <strong>Linux</strong>: open <code>chrome://flags</code>, enable <em>Unsafe WebGPU Support</em> (<code>#enable-unsafe-webgpu</code>) and <em>Vulkan</em> (<code>#enable-vulkan</code>), and restart; or start it with <code>--enable-unsafe-webgpu --enable-features=Vulkan</code>.</li>
    <li>Other Firefox versions: set <code>dom.webgpu.enabled</code> to true in <code>about:config</code>.</li>
    <li>Make sure hardware acceleration is on; <code>chrome://gpu</code> says why WebGPU is off.</li>
  </ul>`;
}

function showError(title: string, message: string, helpHtml = ''): void {
  errorEl.hidden = false;
  errorEl.querySelector('.error-title')!.textContent = title;
  errorEl.querySelector('.error-text')!.textContent = message;
  errorEl.querySelector('.error-help')!.innerHTML = helpHtml;
}

$('error-close').addEventListener('click', () => {
  if (!fatal) errorEl.hidden = true;
});

/** Set when the page cannot train at all (no WebGPU, device lost): everything stays disabled. */
let fatal = false;

function showFatal(title: string, message: string, helpHtml: string): void {
  fatal = true;
  errorEl.classList.add('fatal');
  showError(title, message, helpHtml);
  const gpuEl = $('gpu-info');
  gpuEl.dataset.state = 'error';
  gpuEl.querySelector('.gpu-name')!.textContent = 'No WebGPU';
  setStatus('WebGPU is not available: see the message above.');
  refresh();
}

// ------------------------------------------------------------------ page state

let ready = false;
let report: AdapterReport | null = null;
let runState: RunState = 'idle';
let model: ModelInfo | null = null;
let generating = false;
let totalSteps = 0;
let textName = 'State of the Union 2010–2021';

const chart = createLossChart($('loss-chart'));

function setStatus(text: string): void {
  $('train-status').textContent = text;
}

/** Enable and show controls for the current state. */
function refresh(): void {
  const training = runState === 'running' || runState === 'starting' || runState === 'stopping';
  const paused = runState === 'paused';
  const idle = runState === 'idle';
  const can = ready && !fatal;
  const text = $<HTMLTextAreaElement>('corpus-input').value;
  ($('train-start') as HTMLButtonElement).disabled = !(can && idle && !generating && text.length > 0);
  ($('train-pause') as HTMLButtonElement).disabled = !(can && runState === 'running');
  $('train-pause').hidden = paused;
  $('train-resume').hidden = !paused;
  ($('train-resume') as HTMLButtonElement).disabled = !(can && paused);
  ($('train-stop') as HTMLButtonElement).disabled = !(can && (training || paused) && runState !== 'stopping');
  ($('generate-button') as HTMLButtonElement).disabled = !(can && model && (idle || paused) && !generating);
  ($('generate-stop') as HTMLButtonElement).disabled = !generating;
  ($('checkpoint-download') as HTMLButtonElement).disabled = !(can && model && (idle || paused) && !generating);
  ($('checkpoint-upload') as HTMLInputElement).disabled = !(can && idle && !generating);
  $('checkpoint-upload').parentElement!.classList.toggle('disabled', !(can && idle && !generating));
  ($('checkpoint-forget') as HTMLButtonElement).disabled = !(can && idle);
  ($('finetune-start') as HTMLButtonElement).disabled = !(can && model && idle && !generating);
  for (const id of ['preset-select', 'tokenizer-select', 'context-input', 'batch-input', 'steps-input', 'lr-input', 'eval-input', 'sample-every-input', 'finetune-steps', 'finetune-lr', 'finetune-batch', 'finetune-freeze']) {
    ($(id) as HTMLInputElement).disabled = !idle;
  }
  document.body.dataset.runState = runState;
}

// ------------------------------------------------------------------ GPU info

const SHOWN_LIMITS: [string, string, (v: number) => string][] = [
  ['maxBufferSize', 'largest buffer', fmtBytes],
  ['maxStorageBufferBindingSize', 'largest binding', fmtBytes],
  ['maxComputeWorkgroupStorageSize', 'workgroup memory', fmtBytes],
  ['maxComputeInvocationsPerWorkgroup', 'threads / workgroup', String],
];

function showGpu(r: AdapterReport, description: string): void {
  const el = $('gpu-info');
  el.dataset.state = 'ready';
  el.querySelector('.gpu-name')!.innerHTML =
    `<span class="dot"></span><span title="${escapeHtml(description)}">${escapeHtml(description.replace(/ \([^)]*\)$/, ''))}</span>` +
    (r.isSoftware ? ' <span class="badge warn" title="A CPU implementation of WebGPU: correct, but far slower than a GPU">CPU emulation</span>' : '');
  el.querySelector('.gpu-limits')!.innerHTML = SHOWN_LIMITS.map(
    ([k, label, f]) => `<div><dt>${label}</dt><dd title="${k}">${r.limits[k] !== undefined ? f(r.limits[k]) : '?'}</dd></div>`,
  ).join('');
}

// ------------------------------------------------------------------ corpus and model size

const BUNDLED_URL = `${import.meta.env.BASE_URL}sotu-2010-2021.txt`;
let bundledText: string | null = null;
let vocabCache = { text: '', vocab: 0 };

function updateCorpusStats(): void {
  const text = $<HTMLTextAreaElement>('corpus-input').value;
  const stats = $('corpus-stats');
  if (!text) {
    stats.textContent = 'No text: paste some, upload a .txt file, or pick the bundled corpus.';
  } else {
    const v = charVocab(text);
    stats.textContent = `${textName}: ${text.length.toLocaleString()} characters, ${v - 1} distinct`;
  }
  updateEstimate();
  refresh();
}

/** Vocabulary size of the character tokenizer pre-training would build (with its <unk>). */
function charVocab(text: string): number {
  if (vocabCache.text !== text) vocabCache = { text, vocab: CharTokenizer.fromText(text, { unk: true }).vocabSize };
  return vocabCache.vocab;
}

async function loadBundled(): Promise<void> {
  const stats = $('corpus-stats');
  try {
    if (bundledText === null) {
      stats.textContent = 'loading the bundled corpus…';
      const res = await fetch(BUNDLED_URL);
      if (!res.ok) throw new Error(`GET ${BUNDLED_URL}: HTTP ${res.status}`);
      bundledText = await res.text();
    }
    textName = 'State of the Union 2010–2021';
    $<HTMLTextAreaElement>('corpus-input').value = bundledText;
    updateCorpusStats();
  } catch (e) {
    stats.textContent = 'The bundled corpus could not be loaded; paste or upload a text instead.';
    showError('Could not load the bundled corpus', e instanceof Error ? e.message : String(e));
  }
}

function fillPresets(): void {
  const sel = $<HTMLSelectElement>('preset-select');
  for (const p of Object.values(PRESETS)) {
    const opt = document.createElement('option');
    opt.value = p.name;
    const c = p.config;
    opt.textContent = `${p.name}: ${c.nLayer} layers, width ${c.nEmbd}, ${c.nHead} heads, context ${c.blockSize}`;
    opt.title = p.description;
    sel.append(opt);
  }
  sel.value = 'tiny';
  applyPresetDefaults();
}

function applyPresetDefaults(): void {
  const p = PRESETS[$<HTMLSelectElement>('preset-select').value];
  if (!p) return;
  const ctx = $<HTMLInputElement>('context-input');
  ctx.max = String(p.config.blockSize);
  ctx.value = String(Math.min(p.config.blockSize, 256));
  $<HTMLInputElement>('batch-input').value = String(p.batchSize);
  updateEstimate();
}

/**
 * Parameters and GPU memory of the chosen model and batch, against the adapter's limits.
 * WebGPU does not say how much memory a GPU has, so only the per-buffer limits can be checked.
 */
function updateEstimate(): void {
  const out = $('memory-estimate');
  const presetName = $<HTMLSelectElement>('preset-select').value;
  const p = PRESETS[presetName];
  const text = $<HTMLTextAreaElement>('corpus-input').value;
  if (!p) return;
  const tokenizer = $<HTMLSelectElement>('tokenizer-select').value;
  const vocab = tokenizer === 'bpe' ? 512 : text ? charVocab(text) : 100;
  const T = Math.max(1, Math.floor(num('context-input')) || p.config.blockSize);
  const B = Math.max(1, Math.floor(num('batch-input')) || p.batchSize);
  let html: string;
  try {
    const cfg = presetConfig(presetName, vocab, { blockSize: T });
    const P = countParams(cfg);
    const layout = paramLayout(cfg);
    const weights = layout.total * 4;
    const act = activationBytes(cfg, B, T);
    const total = weights * 4 + act; // weights, gradients, AdamW m and v, activations
    const big = [
      { what: 'the logits (B×T×V)', bytes: B * T * cfg.vocabSize * 4 },
      { what: 'an MLP activation (B×T×4C)', bytes: B * T * 4 * cfg.nEmbd * 4 },
      ...layout.specs.map((s) => ({ what: s.name, bytes: s.size * 4 })),
    ].sort((a, b) => b.bytes - a.bytes)[0];
    const problems: string[] = [];
    if (report) {
      const maxBind = report.limits.maxStorageBufferBindingSize;
      const maxBuf = report.limits.maxBufferSize;
      if (big.bytes > maxBind) problems.push(`${big.what} needs ${fmtBytes(big.bytes)} in one binding; this adapter allows ${fmtBytes(maxBind)} (maxStorageBufferBindingSize)`);
      if (weights > maxBuf) problems.push(`the weights need one ${fmtBytes(weights)} buffer; this adapter allows ${fmtBytes(maxBuf)} (maxBufferSize)`);
      if (report.isSoftware && P > 5e6) problems.push(`${fmtCount(P)} parameters on a software adapter will take a very long time per step`);
    }
    const limitLine = report
      ? `largest buffer ${fmtBytes(big.bytes)}, ${big.what}; the adapter allows ${fmtBytes(report.limits.maxStorageBufferBindingSize)} per binding`
      : fatal ? 'no GPU to check the limits against' : 'limits: waiting for the GPU';
    html =
      `<div class="big"><strong>${fmtCount(P)}</strong> parameters · <strong>≈ ${fmtBytes(total)}</strong> GPU memory</div>` +
      `<div class="hint">${fmtBytes(weights * 4)} weights + gradients + AdamW state, ${fmtBytes(act)} activations at batch ${B} × context ${T}, vocabulary ${cfg.vocabSize}</div>` +
      `<div class="hint ${report && !problems.length ? 'ok' : ''}">${report && !problems.length ? '✓ ' : ''}${limitLine}</div>` +
      problems.map((m) => `<div class="warn">⚠ ${escapeHtml(m)}</div>`).join('');
    out.dataset.fits = String(problems.length === 0);
  } catch (e) {
    html = `<div class="warn">⚠ ${escapeHtml(e instanceof Error ? e.message : String(e))}</div>`;
    out.dataset.fits = 'false';
  }
  out.innerHTML = html;
}

// ------------------------------------------------------------------ model info, checkpoints

function showModel(info: ModelInfo | null): void {
  model = info;
  const el = $('model-info');
  el.dataset.source = info?.source ?? 'none';
  if (!info) {
    el.textContent = 'No model yet: train one or load a checkpoint.';
  } else {
    const c = info.config;
    const from = { trained: 'trained here', file: 'loaded from a file', restored: 'restored from browser storage' }[info.source];
    const saved = info.savedAt ? `saved in ${info.storage} at ${new Date(info.savedAt).toLocaleTimeString()}` : 'not saved in this browser';
    el.innerHTML =
      `<div><strong>${escapeHtml(info.name)}</strong> <span class="badge">${from}</span></div>` +
      `<div class="hint">${fmtCount(info.params)} parameters · L${c.nLayer} C${c.nEmbd} H${c.nHead} · context ${c.blockSize} · vocabulary ${c.vocabSize} · ` +
      `step ${info.step}${info.resumable ? ' (with optimizer state)' : ''}</div>` +
      `<div class="hint">${saved}</div>`;
  }
  refresh();
}

function download(bytes: Uint8Array, name: string): void {
  const url = URL.createObjectURL(new Blob([bytes as BlobPart], { type: 'application/octet-stream' }));
  const a = document.createElement('a');
  a.href = url;
  a.download = name;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 60_000);
}

// ------------------------------------------------------------------ training view

function resetTrainingView(): void {
  chart.reset();
  $('sample-output').innerHTML = '<p class="hint empty">Samples from the model appear here as it trains.</p>';
  for (const id of ['train-loss', 'val-loss', 'tokens-per-s', 'eta']) $(id).textContent = '–';
  setStep(0, totalSteps);
}

function setStep(step: number, steps: number): void {
  const el = $('step-count');
  el.textContent = `${step} / ${steps}`;
  el.dataset.step = String(step);
  ($('train-progress').firstElementChild as HTMLElement).style.width = `${steps ? (100 * step) / steps : 0}%`;
}

function addSample(step: number, prompt: string, text: string): void {
  const box = $('sample-output');
  box.querySelector('.empty')?.remove();
  const item = document.createElement('div');
  item.className = 'sample';
  item.innerHTML = `<div class="sample-step">step ${step}</div><pre></pre>`;
  item.querySelector('pre')!.textContent = (prompt === '\n' ? '' : prompt) + text;
  box.prepend(item);
  while (box.children.length > 6) box.lastElementChild!.remove();
}

// ------------------------------------------------------------------ the worker

let worker: Worker | null = null;
const send = (m: ToWorker, transfer: Transferable[] = []) => worker?.postMessage(m, transfer);

function onMessage(m: FromWorker): void {
  switch (m.type) {
    case 'ready':
      ready = true;
      report = m.report;
      showGpu(m.report, m.description);
      $('finetune-panel').hidden = !m.features.finetune;
      setStatus(m.report.isSoftware
        ? 'Ready. This is a software (CPU) WebGPU adapter: expect a few steps per second with the tiny preset.'
        : 'Ready. Pick a text and a preset, then start training.');
      updateEstimate();
      break;
    case 'fatal':
      showFatal(
        m.error.code === 'DEVICE_LOST' ? 'The GPU device was lost' : 'WebGPU is not available',
        `${m.error.name}: ${m.error.message}`,
        m.error.code === 'DEVICE_LOST' ? '<button type="button" onclick="location.reload()">Reload the page</button>' : webgpuHelp(),
      );
      break;
    case 'error':
      showError(`Error while ${m.during}`, `${m.error.name}: ${m.error.message}`);
      break;
    case 'state':
      runState = m.state;
      $('train-status').dataset.state = m.state;
      if (m.detail) setStatus(m.detail);
      else if (m.state === 'running') setStatus('Training…');
      break;
    case 'tokenized':
      totalSteps = m.steps;
      setStep(0, m.steps);
      setStatus(`${fmtCount(m.params)} parameters, vocabulary ${m.vocabSize}, ${fmtCount(m.trainTokens)} training and ${fmtCount(m.valTokens)} validation tokens. First step: compiling the WGSL kernels…`);
      break;
    case 'step':
      totalSteps = m.steps;
      setStep(m.step, m.steps);
      $('train-loss').textContent = m.loss.toFixed(3);
      $('tokens-per-s').textContent = Math.round(m.tokensPerS).toLocaleString();
      $('eta').textContent = fmtDuration(m.etaMs);
      chart.addStep(m.step, m.loss);
      if (runState === 'running') setStatus(`Training: ${fmtDuration(m.elapsedMs)} elapsed, learning rate ${m.lr.toExponential(2)}`);
      break;
    case 'eval':
      $('val-loss').textContent = m.valLoss.toFixed(3);
      chart.addEval(m.step, m.valLoss);
      break;
    case 'sample':
      addSample(m.step, m.prompt, m.text);
      break;
    case 'train-done':
      $('eta').textContent = '–';
      setStatus({
        done: `Finished: ${m.step} steps. Generate text below, or download the checkpoint.`,
        stopped: `Stopped at step ${m.step}. The model is kept; generate from it or download it.`,
        'early-stop': `Stopped early at step ${m.step}: the validation loss stopped improving.`,
        error: `Training failed at step ${m.step}: see the error above.`,
      }[m.reason]);
      break;
    case 'model':
      showModel(m.info);
      break;
    case 'gen-piece':
      $('generate-output').textContent += m.piece;
      break;
    case 'gen-done':
      generating = false;
      $('generate-stats').textContent = m.tokens ? `${m.tokens} tokens in ${fmtDuration(m.ms)} (${(m.tokens / (m.ms / 1000)).toFixed(1)} tokens/s)` : '';
      break;
    case 'checkpoint':
      download(m.bytes, m.name);
      break;
  }
  refresh();
}

function startWorker(): void {
  if (!('gpu' in navigator) || !navigator.gpu) {
    showFatal(
      'WebGPU is not available in this browser',
      'navigator.gpu is undefined, so this page cannot use the GPU. wgpt trains with WebGPU compute shaders.',
      webgpuHelp(),
    );
    return;
  }
  try {
    worker = new Worker(new URL('./worker.ts', import.meta.url), { type: 'module', name: 'wgpt-trainer' });
  } catch (e) {
    showFatal('Could not start the training worker', e instanceof Error ? e.message : String(e), '<p>This page needs module Web Workers (any browser with WebGPU has them).</p>');
    return;
  }
  worker.onmessage = (ev: MessageEvent<FromWorker>) => onMessage(ev.data);
  worker.onerror = (ev) => {
    ev.preventDefault();
    showFatal('The training worker failed to load', ev.message || 'the worker script could not be loaded or threw at start-up', '');
  };
  send({ type: 'init' });
}

// ------------------------------------------------------------------ controls

/** A user's text file: UTF-8, no NUL bytes (binary files are refused with the reason). */
async function readTextFile(file: File): Promise<string> {
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(await file.arrayBuffer());
  } catch {
    throw new Error('it is not valid UTF-8 text');
  }
  if (text.includes('\0')) throw new Error('it contains NUL bytes: is it a text file?');
  return text;
}

function trainRequest(): TrainRequest {
  return {
    text: $<HTMLTextAreaElement>('corpus-input').value,
    textName,
    tokenizer: $<HTMLSelectElement>('tokenizer-select').value as 'char' | 'bpe',
    preset: $<HTMLSelectElement>('preset-select').value,
    blockSize: Math.max(1, Math.floor(num('context-input'))),
    steps: Math.max(1, Math.floor(num('steps-input'))),
    batchSize: Math.max(1, Math.floor(num('batch-input'))),
    lr: num('lr-input'),
    evalEvery: Math.max(0, Math.floor(num('eval-input'))),
    sampleEvery: Math.max(0, Math.floor(num('sample-every-input'))),
    sampleLength: 160,
  };
}

function wire(): void {
  $('corpus-bundled').addEventListener('click', () => void loadBundled());
  $('corpus-clear').addEventListener('click', () => {
    $<HTMLTextAreaElement>('corpus-input').value = '';
    textName = 'your text';
    updateCorpusStats();
  });
  $('corpus-input').addEventListener('input', () => {
    textName = 'your text';
    updateCorpusStats();
  });
  $<HTMLInputElement>('corpus-file').addEventListener('change', async (ev) => {
    const input = ev.target as HTMLInputElement;
    const file = input.files?.[0];
    if (!file) return;
    try {
      const text = await readTextFile(file);
      textName = file.name;
      $<HTMLTextAreaElement>('corpus-input').value = text;
      updateCorpusStats();
    } catch (e) {
      showError(`Could not read ${file.name}`, e instanceof Error ? e.message : String(e));
    }
    input.value = '';
  });
  $('preset-select').addEventListener('change', applyPresetDefaults);
  for (const id of ['tokenizer-select', 'context-input', 'batch-input']) $(id).addEventListener('input', updateEstimate);

  $('train-start').addEventListener('click', () => {
    errorEl.hidden = true;
    const req = trainRequest();
    totalSteps = req.steps;
    resetTrainingView();
    runState = 'starting';
    setStatus('Starting…');
    refresh();
    send({ type: 'train', req });
  });
  $('train-pause').addEventListener('click', () => send({ type: 'pause' }));
  $('train-resume').addEventListener('click', () => send({ type: 'resume' }));
  $('train-stop').addEventListener('click', () => send({ type: 'stop' }));

  const generate = () => {
    if (($('generate-button') as HTMLButtonElement).disabled) return;
    $('generate-output').textContent = '';
    $('generate-stats').textContent = '';
    generating = true;
    refresh();
    send({
      type: 'generate',
      req: {
        prompt: $<HTMLTextAreaElement>('generate-prompt').value,
        temperature: Math.max(0, num('temperature-input')),
        topK: Math.max(0, Math.floor(num('topk-input'))),
        maxTokens: Math.max(1, Math.floor(num('length-input'))),
        seed: (Math.random() * 2 ** 31) >>> 0,
      },
    });
  };
  $('generate-button').addEventListener('click', generate);
  $('generate-prompt').addEventListener('keydown', (ev) => {
    if (ev.key === 'Enter' && (ev.ctrlKey || ev.metaKey)) {
      ev.preventDefault();
      generate();
    }
  });
  $('generate-stop').addEventListener('click', () => send({ type: 'stop-generate' }));

  $('checkpoint-download').addEventListener('click', () => send({ type: 'download' }));
  $<HTMLInputElement>('checkpoint-upload').addEventListener('change', async (ev) => {
    const input = ev.target as HTMLInputElement;
    const picked = [...(input.files ?? [])];
    if (!picked.length) return;
    errorEl.hidden = true;
    // one wgpt checkpoint, or a Hugging Face GPT-2 model's files (model.safetensors, config.json,
    // vocab.json + merges.txt or tokenizer.json) selected together
    const files = await Promise.all(picked.map(async (f) => ({ name: f.name, bytes: new Uint8Array(await f.arrayBuffer()) })));
    input.value = '';
    send({ type: 'load', files }, files.map((f) => f.bytes.buffer));
  });
  $('checkpoint-forget').addEventListener('click', () => send({ type: 'forget' }));

  let finetuneName = 'your text';
  $('finetune-input').addEventListener('input', () => (finetuneName = 'your text'));
  $<HTMLInputElement>('finetune-file').addEventListener('change', async (ev) => {
    const input = ev.target as HTMLInputElement;
    const file = input.files?.[0];
    if (!file) return;
    try {
      $<HTMLTextAreaElement>('finetune-input').value = await readTextFile(file);
      finetuneName = file.name;
    } catch (e) {
      showError(`Could not read ${file.name}`, e instanceof Error ? e.message : String(e));
    }
    input.value = '';
  });
  $('finetune-start').addEventListener('click', () => {
    const text = $<HTMLTextAreaElement>('finetune-input').value;
    if (!text) return showError('Nothing to fine-tune on', 'Paste a text into the fine-tuning box, or upload one.');
    errorEl.hidden = true;
    totalSteps = Math.max(1, Math.floor(num('finetune-steps')));
    resetTrainingView();
    runState = 'starting';
    refresh();
    send({
      type: 'finetune',
      req: {
        text, textName: finetuneName, steps: totalSteps, batchSize: Math.max(1, Math.floor(num('finetune-batch'))),
        lr: num('finetune-lr'), freezeEmbeddings: $<HTMLInputElement>('finetune-freeze').checked,
      },
    });
  });
}

// ------------------------------------------------------------------ start

fillPresets();
wire();
refresh();
startWorker();
void loadBundled();
