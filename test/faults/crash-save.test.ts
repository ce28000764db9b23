/** Killing the process at any moment while it saves never leaves a broken checkpoint behind. */
import { describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decodeCheckpoint } from '../../src/checkpoint/checkpoint.ts';
import { readCheckpointFile } from '../../src/checkpoint/node.ts';
import { rng } from '../util/check.ts';

function runAndKill(path: string, afterMs: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'test/faults/save-loop.ts', path], { stdio: ['ignore', 'pipe', 'inherit'] });
    child.stdout.once('data', () => setTimeout(() => child.kill('SIGKILL'), afterMs));
    child.on('exit', (_code, signal) => (signal === 'SIGKILL' ? resolve() : reject(new Error(`save loop exited on its own (${signal})`))));
  });
}

describe('crash during save', () => {
  it('SIGKILL at 12 random moments mid-save: the file always loads as one of the saved versions', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'wgpt-crash-'));
    const path = join(dir, 'model.safetensors');
    const r = rng(77);
    for (let round = 0; round < 12; round++) {
      await runAndKill(path, Math.floor(r() * 150));
      const ck = decodeCheckpoint(readCheckpointFile(path)); // throws if half-written
      const v = ck.params[0];
      expect([1, 2]).toContain(v);
      expect(ck.params.every((x, i) => x === v || (i >= 0 && x === 0))).toBe(true); // padding is 0
    }
    // leftover temporary files are allowed (the next save ignores them), the target never breaks
    expect(readdirSync(dir)).toContain('model.safetensors');
  }, 120_000);
});
