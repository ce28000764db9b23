/** Node side of the GPU test harness: one Dawn device per test file, cases become vitest tests. */
import { afterAll, beforeAll, describe, it } from 'vitest';
import { Gpu } from '../../src/gpu/context.ts';
import type { GpuCase } from './cases.ts';

let shared: Promise<Gpu> | null = null;

/** The test file's device. Fails (never skips) when there is no adapter. */
export function testGpu(): Promise<Gpu> {
  if (!shared) shared = Gpu.create();
  return shared;
}

export function runCases(suite: string, cases: GpuCase[]): void {
  describe(suite, () => {
    let gpu: Gpu;
    beforeAll(async () => {
      gpu = await testGpu();
    });
    afterAll(async () => {
      // keep the device for other suites in the same file; it is destroyed at process exit
    });
    for (const c of cases) it(c.name, async () => c.run(gpu), 120_000);
  });
}
