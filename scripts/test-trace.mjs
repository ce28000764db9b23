#!/usr/bin/env node
// After a failed `vitest run`: name the test files whose worker died before their last test ended
// (a native crash shows in vitest only as "Worker exited unexpectedly"), with the test that was
// running and the trace's last lines. Reads the folder test/setup/global.ts made.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const dir = process.env.WGPT_TEST_TRACE ?? join(tmpdir(), 'wgpt-test-trace');
if (!existsSync(dir)) {
  console.error(`test-trace: no trace folder ${dir}`);
  process.exit(0);
}
let unfinished = 0;
for (const name of readdirSync(dir).sort()) {
  const lines = readFileSync(join(dir, name), 'utf8').trimEnd().split('\n');
  if (lines.at(-1)?.endsWith(' done')) continue;
  unfinished++;
  const file = lines.find((l) => / file /.test(l))?.replace(/^\S+ file /, '') ?? name;
  const running = [...lines].reverse().find((l) => / (start|end) /.test(l));
  console.error(`test-trace: ${file} (worker pid ${name.split('.').at(-2)}) never finished; last event: ${running ?? '(none)'}`);
  for (const l of lines.slice(-6)) console.error(`    ${l}`);
}
console.error(unfinished ? `test-trace: ${unfinished} test file(s) did not finish` : 'test-trace: every test file that started also finished');
