// Vitest setup file (runs in every test file's worker): a crash trace, and device cleanup.
//
// Trace: each worker appends "start <test>" / "end <test>" lines, synchronously, to its own file
// under WGPT_TEST_TRACE (set by test/setup/global.ts). When a worker dies in native code (a Dawn
// or driver crash kills the process with no JS stack), vitest only says "Worker exited
// unexpectedly"; scripts/test-trace.mjs then names the file and the test that was running.
//
// Cleanup: the test file's shared device (test/util/node.ts) is destroyed after its last test, so
// a worker exits with no GPU work or callbacks in flight.
import { appendFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, expect } from 'vitest';
import { releaseTestGpu } from '../util/node.ts';

const dir = process.env.WGPT_TEST_TRACE;
let traceFile: string | null = null;

function trace(line: string): void {
  if (!traceFile) return;
  try {
    appendFileSync(traceFile, `${new Date().toISOString()} ${line}\n`);
  } catch {
    // tracing must never fail a test
  }
}

beforeAll(() => {
  const file = expect.getState().testPath ?? 'unknown';
  if (dir) traceFile = join(dir, `${basename(file).replace(/[^\w.-]/g, '_')}.${process.pid}.log`);
  trace(`file ${file}`);
});
beforeEach((ctx) => trace(`start ${ctx.task.name}`));
afterEach((ctx) => trace(`end ${ctx.task.name} ${ctx.task.result?.state ?? ''}`));
afterAll(async () => {
  await releaseTestGpu();
  trace('done');
});
