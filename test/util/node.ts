/** Node side of the GPU test harness: one Dawn device per test file, cases become vitest tests. */
import { beforeAll, describe, it } from 'vitest';
import { Gpu } from '../../src/gpu/context.ts';
import type { GpuCase } from './cases.ts';

let shared: Promise<Gpu> | null = null;

/** The test file's device. Fails (never skips) when there is no adapter. */
export function testGpu(): Promise<Gpu> {
  if (!shared) shared = Gpu.create();
  return shared;
}

/** Destroy the test file's device, if it made one (test/setup/trace.ts calls this after the file's last test). */
export async function releaseTestGpu(): Promise<void> {
  const p = shared;
  shared = null;
  if (!p) return;
  try {
    (await p).destroy();
  } catch {
    // no device was made (its creation failed, and that test already failed): nothing to release
  }
}

export function runCases(suite: string, cases: GpuCase[]): void {
  describe(suite, () => {
    let gpu: Gpu;
    beforeAll(async () => {
      gpu = await testGpu();
    });
    for (const c of cases) it(c.name, async () => c.run(gpu), 120_000);
  });
}
