/** The `wgpt` command line, run as a user would (node bin/wgpt.js ...), from the source tree. */
import { beforeAll, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadSotuCorpus } from '../../src/data/corpus-node.ts';

const dir = mkdtempSync(join(tmpdir(), 'wgpt-cli-'));

function wgpt(...args: string[]) {
  const r = spawnSync(process.execPath, ['bin/wgpt.js', ...args], { encoding: 'utf8', env: { ...process.env, WGPT_FROM_SOURCE: '1' }, timeout: 300_000 });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

describe('wgpt CLI', () => {
  const corpus = join(dir, 'corpus.txt');
  const ckpt = join(dir, 'model.safetensors');
  beforeAll(async () => {
    writeFileSync(corpus, (await loadSotuCorpus()).slice(0, 60_000));
  });

  it('info --json reports the adapter and its limits', () => {
    const r = wgpt('info', '--json');
    expect(r.code, r.err).toBe(0);
    const info = JSON.parse(r.out);
    expect(info.limits.maxStorageBufferBindingSize).toBeGreaterThan(0);
    expect(typeof info.isSoftware).toBe('boolean');
    // a CPU adapter gets Dawn's polling spaced out; lavapipe also gets the compile helper
    expect(info.pollThrottle).toBe(info.isSoftware);
    expect(typeof info.compileHelper).toBe('boolean');
    if (!info.isSoftware) expect(info.compileHelper).toBe(false);
  });

  it('pretrain --json prints one JSON event per line and saves a checkpoint', () => {
    const r = wgpt('pretrain', '--corpus', corpus, '--preset', 'tiny', '--steps', '12', '--batch', '4', '--eval-every', '6', '--out', ckpt, '--json');
    expect(r.code, r.err).toBe(0);
    const events = r.out.trim().split('\n').map((l) => JSON.parse(l));
    const steps = events.filter((e) => e.event === 'step');
    expect(steps.length).toBe(12);
    for (const s of steps) expect(Object.keys(s)).toEqual(expect.arrayContaining(['step', 'loss', 'lr', 'tokens_per_s']));
    expect(events.filter((e) => e.event === 'eval').length).toBe(2);
    expect(events.at(-1)).toMatchObject({ event: 'saved', path: ckpt, step: 12 });
  });

  it('sample continues a prompt from the checkpoint', () => {
    const r = wgpt('sample', '--from', ckpt, '--prompt', 'The ', '--tokens', '20', '--seed', '3');
    expect(r.code, r.err).toBe(0);
    expect(r.out.startsWith('The ')).toBe(true);
    expect([...r.out.trimEnd()].length).toBeGreaterThan(4);
  });

  it('eval --ids gives the loss and the last logits; --text gives the loss', () => {
    const r = wgpt('eval', '--from', ckpt, '--ids', '5,17,3,9', '--json');
    expect(r.code, r.err).toBe(0);
    const o = JSON.parse(r.out);
    expect(o.tokens).toBe(3);
    expect(Number.isFinite(o.loss)).toBe(true);
    expect(o.logits_last.length).toBeGreaterThan(17);
    const t = wgpt('eval', '--from', ckpt, '--text', corpus, '--json');
    expect(t.code, t.err).toBe(0);
    expect(JSON.parse(t.out).tokens).toBeGreaterThan(1000);
  });

  it('errors are one line on stderr with a non-zero exit', () => {
    const bad = join(dir, 'bad.safetensors');
    writeFileSync(bad, readFileSync(ckpt).subarray(0, 100));
    const empty = join(dir, 'empty.txt');
    writeFileSync(empty, '');
    for (const [args, re] of [
      [['sample'], /--from CKPT is required/],
      [['sample', '--from', bad], /CheckpointError/],
      [['pretrain', '--corpus', empty], /CorpusError.*empty/],
      [['pretrain', '--steps', 'many'], /--steps expects an integer/],
      [['eval', '--from', ckpt, '--ids', '5,999999'], /not a token id/],
      [['frobnicate'], /unknown command/],
    ] as [string[], RegExp][]) {
      const r = wgpt(...args);
      expect(r.code, args.join(' ')).not.toBe(0);
      expect(r.err.trim().split('\n').length, r.err).toBe(1); // and no Dawn noise
      expect(r.err).toMatch(re);
    }
  });
});
