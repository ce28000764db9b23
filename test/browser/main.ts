/**
 * The page that runs the GPU test cases (test/kernels/*.cases.ts) in a browser, on navigator.gpu.
 * test/browser/kernels.test.ts opens it in headless Chromium and reads `window.__wgpt`
 * (see protocol.ts). It also works by hand: serve the repository with Vite and open
 * /test/browser/index.html in any WebGPU browser.
 *
 * Query string:
 *   ?mode=create      only call Gpu.create() (adapter report, or fatal = the error)
 *   ?mode=no-webgpu   delete navigator.gpu, then call Gpu.create(), which must fail (fatal = the error)
 *   ?filter=TEXT      run only cases whose "file: name" contains TEXT
 */
import { Gpu } from '../../src/gpu/context.ts';
import { describeAdapter } from '../../src/gpu/device.ts';
import type { GpuCase } from '../util/cases.ts';
import { caseFileKey, type CaseResult, type PageState, type PlainError } from './protocol.ts';

declare global {
  interface Window { __wgpt: PageState }
}

/** Per-case limit, as in the Node runner (test/util/node.ts). */
const CASE_TIMEOUT_MS = 120_000;

// Lazy: one broken cases file fails its own cases, not the whole page.
const modules = import.meta.glob<{ cases: GpuCase[] }>('../kernels/*.cases.ts');

const params = new URLSearchParams(location.search);
const state: PageState = {
  mode: (['create', 'no-webgpu'] as const).find((m) => m === params.get('mode')) ?? 'cases',
  done: false,
  adapter: null,
  fatal: null,
  results: [],
  importErrors: {},
  current: '',
  planned: 0,
  totalMs: 0,
};
window.__wgpt = state;

const logEl = document.getElementById('log')!;
function show(text: string, cls = ''): void {
  const line = document.createElement('pre');
  line.textContent = text;
  if (cls) line.className = cls;
  logEl.appendChild(line);
}

function plain(e: unknown): PlainError {
  if (e instanceof Error) return { name: e.name, code: (e as any).code, message: e.message };
  return { name: 'Error', message: String(e) };
}

function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout>;
  const t = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: no result after ${ms} ms`)), ms);
  });
  return Promise.race([p, t]).finally(() => clearTimeout(timer));
}

async function runCases(): Promise<void> {
  const filter = params.get('filter') ?? '';
  // Import every cases file first, so the planned count is known for progress logs.
  const files: { file: string; cases: GpuCase[] }[] = [];
  for (const path of Object.keys(modules).sort()) {
    const file = caseFileKey(path);
    try {
      const mod = await modules[path]();
      if (!Array.isArray(mod.cases)) throw new Error(`${path} does not export 'cases: GpuCase[]'`);
      files.push({ file, cases: mod.cases });
    } catch (e) {
      const err = plain(e);
      state.importErrors[file] = `${err.name}: ${err.message}`;
      console.error(`[wgpt] import of ${path} failed: ${err.name}: ${err.message}`);
      show(`import ${path} FAILED: ${err.message}`, 'fail');
    }
  }
  const selected = (file: string, c: GpuCase) => !c.nodeOnlyBecause && `${file}: ${c.name}`.includes(filter);
  state.planned = files.reduce((n, f) => n + f.cases.filter((c) => selected(f.file, c)).length, 0);

  let gpu = await Gpu.create();
  state.adapter = gpu.report;
  document.getElementById('adapter')!.textContent = `adapter: ${describeAdapter(gpu.report)}`;
  console.log(`[wgpt] adapter: ${describeAdapter(gpu.report)}; ${state.planned} cases`);

  let done = 0;
  for (const { file, cases } of files) {
    for (const [index, c] of cases.entries()) {
      if (!selected(file, c)) continue;
      if (gpu.lostInfo) {
        // A lost device fails the case that lost it; the next cases get a fresh one.
        gpu = await Gpu.create();
      }
      state.current = `${file}: ${c.name}`;
      const t0 = performance.now();
      const r: CaseResult = { file, index, name: c.name, ok: true, ms: 0 };
      try {
        await withTimeout(Promise.resolve().then(() => c.run(gpu)), CASE_TIMEOUT_MS, c.name);
      } catch (e) {
        const err = plain(e);
        r.ok = false;
        r.error = `${err.name}: ${err.message}`;
        r.stack = e instanceof Error ? e.stack : undefined;
      }
      r.ms = Math.round(performance.now() - t0);
      state.results.push(r);
      done++;
      const line = `${done}/${state.planned} ${r.ok ? 'ok  ' : 'FAIL'} ${file}: ${c.name} (${r.ms} ms)`;
      console.log(`[wgpt] ${line}${r.ok ? '' : `\n  ${r.error}`}`);
      show(r.ok ? line : `${line}\n  ${r.error}`, r.ok ? 'ok' : 'fail');
    }
  }
  state.current = '';
  gpu.destroy();
}

/** Only acquire a device and report it. With `withoutWebGPU`, first remove navigator.gpu. */
async function createOnly(withoutWebGPU: boolean): Promise<void> {
  if (withoutWebGPU) {
    delete (Navigator.prototype as any).gpu;
    delete (navigator as any).gpu;
    if ((navigator as any).gpu) throw new Error('could not remove navigator.gpu from the page');
  }
  const gpu = await Gpu.create();
  state.adapter = gpu.report;
  document.getElementById('adapter')!.textContent = `adapter: ${describeAdapter(gpu.report)}`;
  gpu.destroy();
}

async function main(): Promise<void> {
  const t0 = performance.now();
  document.getElementById('title')!.textContent = `wgpt kernel cases (${state.mode}): running`;
  try {
    if (state.mode === 'cases') await runCases();
    else await createOnly(state.mode === 'no-webgpu');
  } catch (e) {
    state.fatal = plain(e);
    console.error(`[wgpt] ${state.fatal.name}: ${state.fatal.message}`);
    show(`${state.fatal.name}: ${state.fatal.message}`, 'fail');
  }
  state.totalMs = Math.round(performance.now() - t0);
  const failed = state.results.filter((r) => !r.ok).length;
  document.getElementById('title')!.textContent =
    `wgpt kernel cases (${state.mode}): ${state.results.length - failed} passed, ${failed} failed` +
    `${state.fatal ? `, fatal ${state.fatal.name}` : ''} in ${state.totalMs} ms`;
  state.done = true;
}

void main();
