#!/usr/bin/env node
// Screenshot of the demo page mid-training, for the README: docs/demo.png.
//
//   node scripts/demo-screenshot.mjs [out.png]
//
// Serves demo/ with Vite on 127.0.0.1, opens it in headless Chromium (WebGPU on SwiftShader, or
// the GPU when Chromium has one), pre-trains the tiny preset on the bundled corpus, pauses once to
// generate a continuation, resumes, and takes the picture while training runs. About two minutes
// on a 2-core machine with SwiftShader.
//
// Environment: WGPT_CHROMIUM (default /usr/bin/chromium), SHOT_STEPS (default 400), SHOT_AT
// (step of the picture, default 240), SHOT_BATCH (4), SHOT_CONTEXT (32).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import puppeteer from 'puppeteer';
import { createServer } from 'vite';

const root = fileURLToPath(new URL('..', import.meta.url));
const out = process.argv[2] ?? join(root, 'docs/demo.png');
const steps = Number(process.env.SHOT_STEPS ?? 400);
const at = Number(process.env.SHOT_AT ?? 240);
const batch = Number(process.env.SHOT_BATCH ?? 4);
const context = Number(process.env.SHOT_CONTEXT ?? 32);

const sel = (id) => `[data-testid="${id}"]`;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function setValue(page, id, value) {
  await page.$eval(sel(id), (e, v) => {
    e.value = String(v);
    e.dispatchEvent(new Event('input', { bubbles: true }));
    e.dispatchEvent(new Event('change', { bubbles: true }));
  }, value);
}

async function waitFor(page, what, probe, ms) {
  const t0 = Date.now();
  while (!(await probe())) {
    if (Date.now() - t0 > ms) throw new Error(`${what}: not after ${ms / 1000} s (status: ${await page.$eval(sel('train-status'), (e) => e.textContent)})`);
    await sleep(250);
  }
}
const step = (page) => page.$eval(sel('step-count'), (e) => Number(e.dataset.step));
const enabled = (page, id) => page.$eval(sel(id), (e) => !e.disabled);

const server = await createServer({
  configFile: join(root, 'vite.config.ts'),
  logLevel: 'warn',
  cacheDir: join(root, 'node_modules/.vite-demo-shot'),
  server: { host: '127.0.0.1', port: 0, strictPort: true, hmr: false, watch: null },
  optimizeDeps: { noDiscovery: true, include: [] },
});
await server.listen();
const url = `http://127.0.0.1:${server.httpServer.address().port}/`;
const profile = mkdtempSync(join(tmpdir(), 'wgpt-shot-'));
const browser = await puppeteer.launch({
  executablePath: process.env.WGPT_CHROMIUM || '/usr/bin/chromium',
  headless: true,
  userDataDir: profile,
  args: ['--headless=new', '--no-sandbox', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run',
    '--enable-unsafe-webgpu', '--enable-features=Vulkan', '--use-vulkan=swiftshader', '--use-webgpu-adapter=swiftshader', '--hide-scrollbars'],
  defaultViewport: { width: 1360, height: 900, deviceScaleFactor: 1 },
});
try {
  const page = await browser.newPage();
  page.on('pageerror', (e) => console.error('pageerror:', e));
  await page.goto(url, { waitUntil: 'load' });
  await waitFor(page, 'corpus and GPU', async () => (await enabled(page, 'train-start')), 60_000);
  await setValue(page, 'preset-select', 'tiny');
  await setValue(page, 'context-input', context);
  await setValue(page, 'batch-input', batch);
  await setValue(page, 'steps-input', steps);
  await setValue(page, 'lr-input', 0.004);
  await setValue(page, 'eval-input', 20);
  await setValue(page, 'sample-every-input', 60);
  await page.click(sel('train-start'));
  const t0 = Date.now();
  const pauseAt = Math.max(1, at - 20);
  await waitFor(page, `step ${pauseAt}`, async () => (await step(page)) >= pauseAt, 30 * 60_000);
  console.log(`step ${pauseAt} after ${((Date.now() - t0) / 1000).toFixed(0)} s; pausing to generate`);
  await page.click(sel('train-pause'));
  await waitFor(page, 'paused', () => page.$eval('body', (b) => b.dataset.runState === 'paused'), 60_000);
  await setValue(page, 'generate-prompt', 'The American people ');
  await setValue(page, 'length-input', 240);
  await waitFor(page, 'generate enabled', () => enabled(page, 'generate-button'), 10_000);
  await page.click(sel('generate-button'));
  await sleep(500);
  await waitFor(page, 'generation done', () => enabled(page, 'generate-button'), 120_000);
  await page.click(sel('train-resume'));
  await waitFor(page, `step ${at}`, async () => (await step(page)) >= at, 30 * 60_000);
  await page.screenshot({ path: out, fullPage: true });
  console.log(`wrote ${out} at step ${await step(page)} after ${((Date.now() - t0) / 1000).toFixed(0)} s`);
} finally {
  await browser.close();
  await server.close();
  rmSync(profile, { recursive: true, force: true });
}
