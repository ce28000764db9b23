/**
 * What test/browser/main.ts (the page) publishes on `window.__wgpt` for
 * test/browser/kernels.test.ts (the Node side) to read. Types only: imported by both sides.
 */
import type { AdapterReport } from '../../src/gpu/device.ts';

/** One GPU case run in the page. */
export interface CaseResult {
  /** Cases file without directory and suffix: test/kernels/matmul.cases.ts -> 'matmul'. */
  file: string;
  /** Position in the file's `cases` array (names may repeat; the index does not). */
  index: number;
  name: string;
  ok: boolean;
  /** `${error.name}: ${error.message}` when the case threw. */
  error?: string;
  /** The error's stack, for the failure report. */
  stack?: string;
  ms: number;
}

/** An error as plain data (errors do not survive structured cloning with their class). */
export interface PlainError {
  name: string;
  code?: string;
  message: string;
}

export interface PageState {
  /**
   * 'cases' runs every case; 'create' only calls Gpu.create(); 'no-webgpu' deletes navigator.gpu,
   * then calls Gpu.create() (which must fail).
   */
  mode: 'cases' | 'create' | 'no-webgpu';
  done: boolean;
  /** The adapter the cases ran on (null until acquired, or when there is none). */
  adapter: AdapterReport | null;
  /** Gpu.create() (or the page itself) failed: no case could run. */
  fatal: PlainError | null;
  results: CaseResult[];
  /** Cases files the page could not import: file -> error message. */
  importErrors: Record<string, string>;
  /** The case running now (for progress logs), '' between cases. */
  current: string;
  /** Number of cases the page intends to run (known after the imports). */
  planned: number;
  totalMs: number;
}

/** 'test/kernels/matmul.cases.ts' or '../kernels/matmul.cases.ts' -> 'matmul'. */
export function caseFileKey(path: string): string {
  return path.replace(/^.*\//, '').replace(/\.cases\.ts$/, '');
}
