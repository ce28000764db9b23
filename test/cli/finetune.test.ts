/** `wgpt finetune` and `wgpt classify`, run as a user would (node bin/wgpt.js ...). */
import { beforeAll, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, mkdirSync, writeFileSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pretrain } from '../../src/train/pretrain.ts';
import { decodeCheckpoint } from '../../src/checkpoint/checkpoint.ts';
import { loadSotuCorpus } from '../../src/data/corpus-node.ts';
import { testGpu } from '../util/node.ts';
import { rng } from '../util/check.ts';

const dir = mkdtempSync(join(tmpdir(), 'wgpt-cli-ft-'));

function wgpt(...args: string[]) {
  const r = spawnSync(process.execPath, ['bin/wgpt.js', ...args], { encoding: 'utf8', env: { ...process.env, WGPT_FROM_SOURCE: '1' }, timeout: 300_000 });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

const lines = (out: string) => out.trim().split('\n').map((l) => JSON.parse(l));

describe('wgpt finetune / classify', () => {
  const parent = join(dir, 'parent.safetensors');
  const target = join(dir, 'target.txt');
  const data = join(dir, 'mail');
  const classifier = join(dir, 'mail.safetensors');

  beforeAll(async () => {
    const sotu = await loadSotuCorpus();
    // the parent: a tiny model pre-trained for a few steps through the API (faster than the CLI)
    const gpu = await testGpu();
    const run = await pretrain(gpu, { text: sotu.slice(0, 50_000), preset: 'tiny', config: { blockSize: 32 }, batchSize: 4, steps: 5, evalEvery: 0 });
    await run.run();
    writeFileSync(parent, await run.checkpoint());
    run.destroy();
    writeFileSync(target, sotu.slice(-20_000));
    // a separable toy data set: one folder per label, one file per example
    const r = rng(4);
    for (const [label, words] of [['ham', ['meeting', 'report', 'lunch', 'notes']], ['spam', ['WIN', 'FREE', 'CASH', 'NOW!!']]] as const) {
      mkdirSync(join(data, label), { recursive: true });
      for (let i = 0; i < 20; i++) {
        const text = Array.from({ length: 4 }, () => words[Math.floor(r() * 4)]).join(' ');
        writeFileSync(join(data, label, `${String(i).padStart(3, '0')}.txt`), text);
      }
    }
  }, 120_000);

  it('finetune (lm) --json prints JSON events and saves a checkpoint with its origin', () => {
    const out = join(dir, 'lm.safetensors');
    const r = wgpt('finetune', '--from', parent, '--data', target, '--steps', '6', '--batch', '4', '--eval-every', '3', '--freeze-layers', '1', '--out', out, '--json');
    expect(r.code, r.err).toBe(0);
    const events = lines(r.out);
    expect(events.filter((e) => e.event === 'step').length).toBe(6);
    expect(events.filter((e) => e.event === 'eval').every((e) => Number.isFinite(e.val_loss))).toBe(true);
    expect(events.at(-1)).toMatchObject({ event: 'saved', path: out, step: 6 });
    const ck = decodeCheckpoint(new Uint8Array(readFileSync(out)));
    expect(ck.origin).toMatchObject({ task: 'lm', steps: 6, parent: { name: 'parent.safetensors', step: 5 }, frozen: { embeddings: false, layers: 1 } });
  });

  it('finetune on a folder trains a classifier (eval events with accuracy, a report); classify predicts', () => {
    const r = wgpt('finetune', '--from', parent, '--data', data, '--steps', '30', '--lr', '3e-3', '--batch', '8', '--eval-every', '15', '--out', classifier, '--json');
    expect(r.code, r.err).toBe(0);
    const events = lines(r.out);
    const evals = events.filter((e) => e.event === 'eval');
    expect(evals.length).toBe(2);
    for (const e of evals) expect(e.accuracy).toBeGreaterThanOrEqual(0);
    const report = events.find((e) => e.event === 'report');
    expect(report.labels).toEqual(['ham', 'spam']);
    expect(report.n).toBe(8);
    expect(report.accuracy).toBeGreaterThanOrEqual(0.875);
    expect(report.confusion.length).toBe(2);
    expect(events.at(-1)).toMatchObject({ event: 'saved', path: classifier, step: 30 });

    const c = wgpt('classify', '--from', classifier, '--text', 'FREE CASH WIN NOW!!', '--json');
    expect(c.code, c.err).toBe(0);
    const o = JSON.parse(c.out);
    expect(o.label).toBe('spam');
    expect(o.probs.ham + o.probs.spam).toBeCloseTo(1, 5);
    const file = join(dir, 'memo.txt');
    writeFileSync(file, 'lunch meeting notes report');
    const h = wgpt('classify', '--from', classifier, '--file', file);
    expect(h.code, h.err).toBe(0);
    expect(h.out).toMatch(/^ham {2}\(p=0\.\d+\)/);
  });

  it('errors are one line on stderr with a non-zero exit', () => {
    const empty = join(dir, 'bad');
    mkdirSync(join(empty, 'ham'), { recursive: true });
    mkdirSync(join(empty, 'spam'), { recursive: true });
    writeFileSync(join(empty, 'ham', 'a.txt'), 'hello');
    for (const [args, re] of [
      [['finetune', '--data', target], /--from CKPT is required/],
      [['finetune', '--from', parent, '--data', empty], new RegExp(`LabeledDataError: ${join(empty, 'spam')}: the label folder 'spam' has no files`)],
      [['finetune', '--from', parent, '--data', target, '--freeze-layers', '5'], /FinetuneError: freezeLayers must be an integer in \[0, 2\]/],
      [['finetune', '--from', parent, '--data', target, '--task', 'summarize'], /--task must be lm or classify/],
      [['classify', '--from', parent, '--text', 'hello'], /ClassifierError: the checkpoint has no classification head/],
      [['classify', '--from', classifier], /exactly one of --text TEXT or --file FILE/],
    ] as [string[], RegExp][]) {
      const r = wgpt(...args);
      expect(r.code, args.join(' ')).not.toBe(0);
      expect(r.err.trim().split('\n').length, r.err).toBe(1);
      expect(r.err).toMatch(re);
    }
  });
});
