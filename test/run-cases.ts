/**
 * Every GPU case in test/kernels/*.cases.ts, run in Node on whatever adapter Gpu.create() finds,
 * without vitest: for a machine that has a real GPU but not this repository's node_modules
 * (scripts/real-gpu/ bundles this file with esbuild and runs it there).
 *
 *   npx tsx test/run-cases.ts [FILTER] [--json]
 *
 * FILTER keeps cases whose "file: name" contains it. Prints one line per case, a summary, and
 * exits 1 when any case fails (or none ran). `--json` prints one JSON object on stdout instead.
 * The same cases run under vitest in `npm test` (test/kernels/*.test.ts, and in Chromium).
 */
import { Gpu } from '../src/gpu/context.ts';
import { describeAdapter } from '../src/gpu/device.ts';
import type { GpuCase } from './util/cases.ts';
import { cases as adamw } from './kernels/adamw.cases.ts';
import { cases as attention } from './kernels/attention.cases.ts';
import { cases as crossentropy } from './kernels/crossentropy.cases.ts';
import { cases as embedding } from './kernels/embedding.cases.ts';
import { cases as gelu } from './kernels/gelu.cases.ts';
import { cases as gradnorm } from './kernels/gradnorm.cases.ts';
import { cases as layernorm } from './kernels/layernorm.cases.ts';
import { cases as matmul } from './kernels/matmul.cases.ts';
import { cases as residual } from './kernels/residual.cases.ts';
import { cases as softmax } from './kernels/softmax.cases.ts';

/** Static imports (a bundler needs them); test/kernels/run-cases.test.ts checks this list is complete. */
export const CASE_FILES: Record<string, GpuCase[]> = {
  adamw, attention, crossentropy, embedding, gelu, gradnorm, layernorm, matmul, residual, softmax,
};

interface Result { file: string; name: string; ok: boolean; ms: number; error?: string }

async function main(): Promise<number> {
  const args = process.argv.slice(2);
  const json = args.includes('--json');
  const filter = args.find((a) => !a.startsWith('--')) ?? '';
  const say = (line: string) => (json ? process.stderr : process.stdout).write(line + '\n');

  const gpu = await Gpu.create();
  const adapter = describeAdapter(gpu.report);
  say(`adapter: ${adapter}`);
  const results: Result[] = [];
  const started = performance.now();
  for (const [file, cases] of Object.entries(CASE_FILES)) {
    for (const c of cases) {
      if (!`${file}: ${c.name}`.includes(filter)) continue;
      const t0 = performance.now();
      let error: string | undefined;
      try {
        await c.run(gpu);
      } catch (e) {
        error = e instanceof Error ? `${e.name}: ${e.message}` : String(e);
      }
      const r: Result = { file, name: c.name, ok: !error, ms: Math.round(performance.now() - t0), error };
      results.push(r);
      say(`${r.ok ? 'ok  ' : 'FAIL'} ${file}: ${c.name} (${r.ms} ms)${error ? `\n     ${error.split('\n').join('\n     ')}` : ''}`);
    }
  }
  gpu.destroy();
  const failed = results.filter((r) => !r.ok);
  const seconds = (performance.now() - started) / 1000;
  say(`${results.length - failed.length} of ${results.length} cases passed in ${seconds.toFixed(1)} s on ${adapter}`);
  if (json) process.stdout.write(JSON.stringify({ adapter: gpu.report, passed: results.length - failed.length, failed: failed.length, results }) + '\n');
  return failed.length || !results.length ? 1 : 0;
}

main().then(
  (code) => process.exit(code),
  (e) => {
    console.error(e);
    process.exit(1);
  },
);
