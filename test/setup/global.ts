// Vitest global setup: embed the current shaders/*.wgsl before any test imports them, and start
// an empty crash-trace folder (see test/setup/trace.ts and scripts/test-trace.mjs).
import { execFileSync } from 'node:child_process';
import { mkdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export default function setup(): void {
  execFileSync(process.execPath, ['scripts/gen-shaders.mjs'], { stdio: 'inherit' });
  const dir = process.env.WGPT_TEST_TRACE ?? join(tmpdir(), 'wgpt-test-trace');
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  process.env.WGPT_TEST_TRACE = dir; // inherited by the workers
}
