/**
 * A GPU test case: a name and an async body that throws on failure. Cases live in
 * test/kernels/*.cases.ts and run twice: in Node on Dawn (test/kernels/*.test.ts via runCases)
 * and in headless Chromium (test/browser/kernels.test.ts).
 */
import type { Gpu } from '../../src/gpu/context.ts';
import { subgroupLanes } from '../../src/kernels/check.ts';
import { assertThrows } from './check.ts';

export interface GpuCase {
  name: string;
  run(gpu: Gpu): Promise<void> | void;
  /** Skip in the browser run (only for cases too slow on SwiftShader; say why). */
  nodeOnlyBecause?: string;
}

/**
 * For cases that force a subgroup kernel (`forced`): true, after checking the error, when the
 * adapter lacks subgroups of 8 lanes (SwiftShader), where `call` (the forced kernel) must throw a
 * LimitError; false (run the case) otherwise.
 */
export function subgroupsMissing(gpu: Gpu, forced: boolean | undefined, call: () => void): boolean {
  if (!forced || subgroupLanes(gpu) >= 8) return false;
  assertThrows(call, 'LimitError', /subgroups: true needs subgroup lanes .* >= 8, but the device has \d+/);
  return true;
}
