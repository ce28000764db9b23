/**
 * Every GPU case in test/kernels/*.cases.ts, run in headless Chromium on WebGPU (SwiftShader).
 *
 * How it works:
 *  1. At collection time we import the same *.cases.ts modules in Node (they are pure: importing
 *     one touches no GPU) to learn the case names, so vitest shows one test per case.
 *  2. beforeAll starts a Vite dev server on 127.0.0.1 (a free port) serving test/browser/index.html,
 *     launches Debian's /usr/bin/chromium with puppeteer and the WebGPU-on-SwiftShader flags, and
 *     waits for the page (test/browser/main.ts) to run every case; it logs progress as cases finish.
 *  3. Each vitest test reads its case's result from `window.__wgpt` (see protocol.ts). A case the
 *     page did not report fails; no adapter / no navigator.gpu fails every case (never skips).
 *     Cases with `nodeOnlyBecause` (too slow for SwiftShader, each with its reason) are not
 *     registered here; they run in the Node project.
 *  4. On any failure: screenshots of the pages and the browser console go to test-results/browser/.
 *
 * A second suite checks that Gpu.create() in a browser without WebGPU rejects with a typed error
 * whose message says what to do.
 *
 * Environment: WGPT_CHROMIUM (default /usr/bin/chromium), WGPT_BROWSER_TIMEOUT_MS (default 20 min,
 * the whole browser run), WGPT_BROWSER_FILTER (run only cases whose "file: name" contains it).
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import puppeteer, { type Browser, type Page } from 'puppeteer';
import { createServer, type ViteDevServer } from 'vite';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { describeAdapter } from '../../src/gpu/device.ts';
import type { GpuCase } from '../util/cases.ts';
import { caseFileKey, type CaseResult, type PageState } from './protocol.ts';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const ARTIFACTS = join(ROOT, 'test-results/browser');
const CHROMIUM = process.env.WGPT_CHROMIUM || '/usr/bin/chromium';
const RUN_TIMEOUT_MS = Number(process.env.WGPT_BROWSER_TIMEOUT_MS) || 20 * 60_000;
const FILTER = process.env.WGPT_BROWSER_FILTER ?? '';

/** Always on: no sandbox (we run as root in CI), nothing phoning home, a fresh profile. */
const BASE_FLAGS = [
  '--headless=new',
  '--no-sandbox',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
];
/** WebGPU on SwiftShader, the CPU Vulkan driver bundled with Debian's chromium (it reports isFallbackAdapter). */
const WEBGPU_FLAGS = [
  '--enable-unsafe-webgpu',
  '--enable-features=Vulkan',
  '--use-vulkan=swiftshader',
  '--use-webgpu-adapter=swiftshader',
];

// ------------------------------------------------------------ the cases, as Node sees them

interface FilePlan {
  file: string;
  cases: GpuCase[];
  importError?: string;
}

const caseModules = import.meta.glob<{ cases: GpuCase[] }>('../kernels/*.cases.ts');
const plan: FilePlan[] = [];
for (const path of Object.keys(caseModules).sort()) {
  const file = caseFileKey(path);
  try {
    const mod = await caseModules[path]();
    if (!Array.isArray(mod.cases)) throw new Error(`${path} does not export 'cases: GpuCase[]'`);
    plan.push({ file, cases: mod.cases });
  } catch (e) {
    plan.push({ file, cases: [], importError: e instanceof Error ? `${e.name}: ${e.message}` : String(e) });
  }
}

// ------------------------------------------------------------ browser session

/** Everything the browser said, for the failure report. */
const consoleLog: string[] = [];
/** Open pages by label, screenshotted on failure. */
const pages = new Map<string, Page>();
const browsers: Browser[] = [];
const profiles: string[] = [];
let server: ViteDevServer | null = null;
let baseUrl = '';
/** Set when the session (server, browser) could not start: every test fails with it. */
let setupError: Error | null = null;
/** What the kernel page reported (window.__wgpt) once it finished. */
let kernelRun: PageState | null = null;
/** Set when the kernel page did not finish: every case fails with it. */
let runError: Error | null = null;
let failures = 0;

function log(line: string): void {
  // Straight to the terminal: progress should appear while the run is going, not after it.
  process.stdout.write(`[browser] ${line}\n`);
}

async function startServer(): Promise<void> {
  server = await createServer({
    configFile: false, // the app's own vite config (if any) is not for this page
    root: ROOT,
    logLevel: 'warn',
    clearScreen: false,
    cacheDir: join(ROOT, 'node_modules/.vite-browser-test'),
    // No watcher and no HMR: another engineer saving a file must not reload the page mid-run.
    server: { host: '127.0.0.1', port: 0, strictPort: true, hmr: false, watch: null },
    // Serve node_modules as they are (all ESM); dependency pre-bundling would reload the page.
    optimizeDeps: { noDiscovery: true, include: [] },
  });
  await server.listen();
  const addr = server.httpServer!.address() as AddressInfo;
  baseUrl = `http://127.0.0.1:${addr.port}`;
}

async function launch(webgpu: boolean): Promise<Browser> {
  const profile = mkdtempSync(join(tmpdir(), 'wgpt-chromium-'));
  profiles.push(profile);
  try {
    const browser = await puppeteer.launch({
      executablePath: CHROMIUM,
      headless: true,
      userDataDir: profile,
      args: [...BASE_FLAGS, ...(webgpu ? WEBGPU_FLAGS : [])],
      protocolTimeout: 60_000, // each DevTools call (we poll the page; no call waits for the whole run)
    });
    browsers.push(browser);
    return browser;
  } catch (e) {
    throw new Error(
      `could not start Chromium at ${CHROMIUM} (${e instanceof Error ? e.message.split('\n')[0] : e}). ` +
        'Install it with `sudo bash scripts/install-system.sh` (Debian: apt-get install chromium), or set WGPT_CHROMIUM.',
      { cause: e },
    );
  }
}

/** Open test/browser/index.html with `query`; browser messages go to consoleLog (and progress to the terminal). */
async function openPage(browser: Browser, label: string, query: string): Promise<Page> {
  const page = await browser.newPage();
  pages.set(label, page);
  page.on('console', (msg) => {
    const text = msg.text();
    consoleLog.push(`[${label}] ${msg.type()}: ${text}`);
    if (label === 'cases' && text.startsWith('[wgpt] ')) log(text.slice(7));
  });
  page.on('pageerror', (err) => consoleLog.push(`[${label}] pageerror: ${err instanceof Error ? err.stack ?? err.message : String(err)}`));
  page.on('requestfailed', (req) => consoleLog.push(`[${label}] requestfailed: ${req.url()} ${req.failure()?.errorText ?? ''}`));
  page.on('response', (res) => {
    if (res.status() >= 400) consoleLog.push(`[${label}] http ${res.status()}: ${res.url()}`);
  });
  await page.goto(`${baseUrl}/test/browser/index.html${query}`, { waitUntil: 'load' });
  return page;
}

/** Wait until the page sets done; log a heartbeat when a case runs long. */
async function waitForDone(page: Page, label: string, timeoutMs: number): Promise<PageState> {
  const t0 = Date.now();
  let lastCount = -1;
  let lastChange = Date.now();
  let lastBeat = Date.now();
  for (;;) {
    const s = await page.evaluate(() => {
      const w = (window as any).__wgpt as PageState | undefined;
      return w ? { done: w.done, count: w.results.length, current: w.current } : null;
    });
    if (s?.done) return page.evaluate(() => (window as any).__wgpt as PageState);
    const now = Date.now();
    if (s && s.count !== lastCount) [lastCount, lastChange] = [s.count, now];
    if (now - lastBeat >= 30_000) {
      lastBeat = now;
      log(`${label}: ${s ? `${s.count} cases done, running "${s.current || '(setup)'}" for ${Math.round((now - lastChange) / 1000)} s` : 'page not started'}`);
    }
    if (now - t0 > timeoutMs) {
      throw new Error(
        `${label}: the page did not finish within ${timeoutMs / 1000} s (${s ? `${s.count} cases done, stuck in "${s.current}"` : 'main.ts never started'}); ` +
          'raise WGPT_BROWSER_TIMEOUT_MS, or mark slow cases nodeOnlyBecause',
      );
    }
    await new Promise((r) => setTimeout(r, 1000));
  }
}

function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const t = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: no answer after ${ms} ms`)), ms);
  });
  return Promise.race([p, t]).finally(() => clearTimeout(timer));
}

async function saveArtifacts(): Promise<void> {
  mkdirSync(ARTIFACTS, { recursive: true });
  for (const [label, page] of pages) {
    try {
      // A background tab never paints, and its screenshot would wait forever: bring it to front.
      await withTimeout(page.bringToFront(), 10_000, 'bringToFront');
      await withTimeout(page.screenshot({ path: join(ARTIFACTS, `${label}.png`) as `${string}.png`, fullPage: true }), 20_000, 'screenshot');
    } catch (e) {
      consoleLog.push(`[${label}] screenshot failed: ${e}`);
    }
  }
  writeFileSync(join(ARTIFACTS, 'console.log'), consoleLog.join('\n') + '\n');
  if (kernelRun) writeFileSync(join(ARTIFACTS, 'results.json'), JSON.stringify(kernelRun, null, 2));
  log(`failure artifacts in ${ARTIFACTS}`);
}

/** Run `body`, counting failures for the artifact dump; a failed session fails everything. */
async function check(body: () => void | Promise<void>): Promise<void> {
  try {
    if (setupError) throw setupError;
    await body();
  } catch (e) {
    failures++;
    throw e;
  }
}

let webgpuBrowser: Browser | null = null;

beforeAll(async () => {
  rmSync(ARTIFACTS, { recursive: true, force: true });
  try {
    await startServer();
    webgpuBrowser = await launch(true);
    log(`Chromium ${await webgpuBrowser.version()} at ${CHROMIUM}; page server ${baseUrl}`);
  } catch (e) {
    setupError = e instanceof Error ? e : new Error(String(e));
  }
}, 120_000);

afterAll(async () => {
  if (failures > 0 || setupError || runError) await saveArtifacts();
  for (const b of browsers) await b.close().catch(() => {});
  await server?.close();
  for (const p of profiles) rmSync(p, { recursive: true, force: true });
}, 120_000);

// ------------------------------------------------------------ one test per case

describe('kernel cases in headless Chromium (WebGPU on SwiftShader)', () => {
  beforeAll(async () => {
    if (setupError) return;
    try {
      const t0 = Date.now();
      const query = FILTER ? `?filter=${encodeURIComponent(FILTER)}` : '';
      const page = await openPage(webgpuBrowser!, 'cases', query);
      kernelRun = await waitForDone(page, 'cases', RUN_TIMEOUT_MS);
      const n = kernelRun.results.length;
      const failed = kernelRun.results.filter((r) => !r.ok).length;
      log(
        `${n} cases, ${failed} failed, page ${kernelRun.totalMs} ms, total ${Date.now() - t0} ms` +
          (kernelRun.adapter ? ` on ${describeAdapter(kernelRun.adapter)}` : ''),
      );
      if (kernelRun.fatal) log(`page failed: ${kernelRun.fatal.name}: ${kernelRun.fatal.message}`);
    } catch (e) {
      runError = e instanceof Error ? e : new Error(String(e));
    }
  }, RUN_TIMEOUT_MS + 60_000);

  /** The page's result for case `index` of `file`. */
  function resultFor(file: string, index: number, name: string): CaseResult {
    if (runError) throw runError;
    const run = kernelRun!;
    if (run.fatal) throw new Error(`the browser page failed before running cases: ${run.fatal.name}: ${run.fatal.message}`);
    if (run.importErrors[file]) throw new Error(`the browser could not import test/kernels/${file}.cases.ts: ${run.importErrors[file]}`);
    const r = run.results.find((x) => x.file === file && x.index === index);
    if (!r) throw new Error(`case missing from the browser results (the page reported ${run.results.length} cases; see test-results/browser/console.log)`);
    if (r.name !== name) throw new Error(`case ${index} of ${file} is named "${r.name}" in the browser but "${name}" in Node`);
    return r;
  }

  for (const { file, cases, importError } of plan) {
    const selected = cases.map((c, index) => ({ c, index })).filter(({ c }) => !FILTER || `${file}: ${c.name}`.includes(FILTER));
    if (FILTER && selected.length === 0 && !importError) continue;
    describe(file, () => {
      if (importError) {
        it('cases file imports', () => check(() => { throw new Error(`test/kernels/${file}.cases.ts: ${importError}`); }));
        return;
      }
      for (const { c, index } of selected) {
        // node-only cases (too slow on SwiftShader; each says why) run in the Node project only
        if (c.nodeOnlyBecause) continue;
        it(c.name, () =>
          check(() => {
            const r = resultFor(file, index, c.name);
            if (!r.ok) throw new Error(`${r.error}\n--- browser stack ---\n${r.stack ?? '(none)'}`);
          }),
        );
      }
    });
  }
});

// ------------------------------------------------------------ no WebGPU: helpful errors

describe('Gpu.create() in a browser without WebGPU', () => {
  /** Open the page in `mode` and return its fatal error (the page's Gpu.create() must have failed). */
  async function createError(browser: Browser, label: string, query: string) {
    const page = await openPage(browser, label, query);
    const s = await waitForDone(page, label, 120_000);
    if (!s.fatal) throw new Error(`Gpu.create() succeeded: ${s.adapter ? describeAdapter(s.adapter) : '(no report)'}`);
    return s.fatal;
  }

  it('rejects with WebGPUUnavailableError when navigator.gpu is missing, saying which browser/flags to use', () =>
    check(async () => {
      const err = await createError(webgpuBrowser!, 'no-webgpu', '?mode=no-webgpu');
      expect(err.name, err.message).toBe('WebGPUUnavailableError');
      expect(err.code).toBe('WEBGPU_UNAVAILABLE');
      expect(err.message).toMatch(/navigator\.gpu is undefined/);
      expect(err.message).toMatch(/--enable-unsafe-webgpu/);
      expect(err.message).toMatch(/Chrome/);
    }));

  it('rejects with NoAdapterError (or WebGPUUnavailableError) in Chromium started without the WebGPU flags', () =>
    check(async () => {
      const plain = await launch(false);
      const err = await createError(plain, 'no-flags', '?mode=create');
      expect(['NoAdapterError', 'WebGPUUnavailableError'], `${err.name}: ${err.message}`).toContain(err.name);
      // It must say what to do, not only that it failed.
      expect(err.message).toMatch(/enable-unsafe-webgpu/);
    }));
});
