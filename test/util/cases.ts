/**
 * A GPU test case: a name and an async body that throws on failure. Cases live in
 * test/kernels/*.cases.ts and run twice: in Node on Dawn (test/kernels/*.test.ts via runCases)
 * and in headless Chromium (test/browser/kernels.test.ts).
 */
import type { Gpu } from '../../src/gpu/context.ts';

export interface GpuCase {
  name: string;
  run(gpu: Gpu): Promise<void> | void;
  /** Skip in the browser run (only for cases too slow on SwiftShader; say why). */
  nodeOnlyBecause?: string;
}
