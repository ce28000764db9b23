/** `wgpt import`, `wgpt export`, `--from` a Hugging Face directory, `wgpt info --plan`: run as a user would. */
import { beforeAll, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { initParams } from '../../src/model/gpt.ts';
import { paramLayout } from '../../src/model/params.ts';
import type { GPTConfig } from '../../src/model/config.ts';
import { BpeTokenizer } from '../../src/tokenizer/index.ts';
import { exportHFDirectory } from '../../src/interop/hf.ts';
import { writeHFFiles } from '../../src/interop/hf-node.ts';
import { VARIED_CORPUS } from '../tokenizer/texts.ts';

const dir = mkdtempSync(join(tmpdir(), 'wgpt-interop-cli-'));

function wgpt(...args: string[]) {
  const r = spawnSync(process.execPath, ['bin/wgpt.js', ...args], { encoding: 'utf8', env: { ...process.env, WGPT_FROM_SOURCE: '1' }, timeout: 300_000 });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

describe('wgpt import / export / --from DIR / info --plan', () => {
  const hfDir = join(dir, 'hf');
  const ckpt = join(dir, 'imported.safetensors');
  const text = join(dir, 'text.txt');
  beforeAll(() => {
    // a small model with a byte-level BPE, as a Hugging Face directory (vocab.json + merges.txt)
    const bpe = BpeTokenizer.train('the cat sat on the mat, the end. '.repeat(20) + VARIED_CORPUS, 300);
    const cfg: GPTConfig = { vocabSize: 300, blockSize: 32, nLayer: 2, nHead: 2, nEmbd: 32 };
    const { files } = exportHFDirectory({ config: cfg, params: initParams(paramLayout(cfg), 9), tokenizer: bpe.toJSON() });
    delete files['wgpt-tokenizer.json']; // as a directory made by Hugging Face would be
    writeHFFiles(hfDir, files);
    writeFileSync(text, 'the cat sat on the mat. '.repeat(10));
  });

  it('import turns the directory into a checkpoint; eval gives the same loss from either', () => {
    const r = wgpt('import', hfDir, '--out', ckpt, '--json');
    expect(r.code, r.err).toBe(0);
    const o = JSON.parse(r.out);
    expect(o).toMatchObject({ event: 'imported', path: ckpt, tokenizer: 'gpt2', config: { vocabSize: 300, nLayer: 2 } });
    const a = wgpt('eval', '--from', ckpt, '--text', text, '--json');
    const b = wgpt('eval', '--from', hfDir, '--text', text, '--json');
    expect(a.code, a.err).toBe(0);
    expect(b.code, b.err).toBe(0);
    expect(JSON.parse(b.out)).toEqual(JSON.parse(a.out));
    expect(JSON.parse(a.out).tokens).toBeGreaterThan(20);
  });

  it('sample continues a prompt from the Hugging Face directory', () => {
    const r = wgpt('sample', '--from', hfDir, '--prompt', 'the ', '--tokens', '8', '--seed', '2');
    expect(r.code, r.err).toBe(0);
    expect(r.out.startsWith('the ')).toBe(true);
  });

  it('export writes the Hugging Face files; exporting a HF directory or without --out is a usage error', () => {
    const out = join(dir, 'exported');
    const r = wgpt('export', ckpt, '--out', out);
    expect(r.code, r.err).toBe(0);
    expect(readdirSync(out).sort()).toEqual(['README.md', 'config.json', 'merges.txt', 'model.safetensors', 'tokenizer_config.json', 'vocab.json']);
    const e = wgpt('export', hfDir, '--out', join(dir, 'x'));
    expect(e.code).toBe(2);
    expect(e.err).toMatch(/already a Hugging Face model/);
    expect(wgpt('export', ckpt).err).toMatch(/--out DIR is required/);
    const missing = wgpt('import', join(dir, 'nope'), '--out', join(dir, 'n.safetensors'));
    expect(missing.code).toBe(2);
    expect(missing.err).toMatch(/HfFormatError: .*nope does not exist/);
    expect(existsSync(join(dir, 'n.safetensors'))).toBe(false);
  });

  it('finetune --from a Hugging Face directory trains and saves a wgpt checkpoint', () => {
    const out = join(dir, 'tuned.safetensors');
    const r = wgpt('finetune', '--from', hfDir, '--data', text, '--task', 'lm', '--steps', '4', '--batch', '2', '--eval-every', '0', '--val-fraction', '0.3', '--out', out, '--json');
    expect(r.code, r.err).toBe(0);
    const events = r.out.trim().split('\n').map((l) => JSON.parse(l));
    expect(events.filter((e) => e.event === 'step').length).toBe(4);
    expect(events.at(-1)).toMatchObject({ event: 'saved', path: out, step: 4 });
    const e = wgpt('eval', '--from', out, '--text', text, '--json');
    expect(e.code, e.err).toBe(0);
  });

  it('info --plan gpt2 prints the plan against this adapter (text and JSON)', () => {
    const j = wgpt('info', '--plan', 'gpt2', '--batch', '4', '--seq', '256', '--json');
    expect(j.code, j.err).toBe(0);
    const p = JSON.parse(j.out);
    expect(p).toMatchObject({ B: 4, T: 256, paramCount: 124_439_808 });
    expect(typeof p.fits).toBe('boolean');
    const t = wgpt('info', '--plan', hfDir, '--batch', '2');
    expect(t.code, t.err).toBe(0);
    expect(t.out).toMatch(/model: L=2 C=32 NH=2 V=300 T_max=32, .* training at B=2, T=32/);
    expect(t.out).toMatch(/verdict: fits/);
    expect(wgpt('info', '--plan', 'gpt5').err).toMatch(/--plan expects a preset/);
  });
});
