/**
 * Benchmarks (see bench/README.md): matmul (bench/matmul.ts) and a full training step
 * (bench/train.ts), ours next to TensorFlow.js's WebGPU backend on the same Dawn adapter in the
 * same process, and (training) PyTorch on the CPU.
 *
 *   npm run bench                  readable tables (matmul, then training)
 *   npm run bench -- --json        one JSON object on stdout: {adapter, matmul: [...], train: [...]}
 *   options: --only matmul | --only train    one part
 *            --only SUBSTR          matmul rows whose "name pass" contains SUBSTR (no training)
 *            --config small,wide    training configs (default: all)
 *            --reps N               timed batches (matmul default 7; training 5, or 2 when a step > 5 s)
 *            --no-tfjs              ours only;  --no-torch: no PyTorch;  --no-first-step: skip the child processes
 *            --kernel tiled|windows|shared  force one of our matmul kernels
 *            --split-k N            force split-K of the general matmul kernel (1: off; default auto)
 *            --subgroups on|off     force the windows path's subgroup kernel on or off (default: where the device has it)
 *            --k-major on|off       force its k-major layout for weight gradients on or off (default: where it pays)
 *            --baseline             also time the seed matmul kernel (bench/matmul-v0.wgsl)
 */
import { Gpu } from '../src/gpu/context.ts';
import { describeAdapter } from '../src/gpu/device.ts';
import { loadTfjs } from './tfjs.ts';
import { benchMatmul } from './matmul.ts';
import { benchTrain, TRAIN_CONFIGS } from './train.ts';

const argv = process.argv.slice(2);
const flag = (f: string) => argv.includes(f);
const value = (f: string) => {
  const i = argv.indexOf(f);
  return i >= 0 ? argv[i + 1] : undefined;
};
/** --NAME on|off as a boolean, undefined when absent; anything else is an error. */
const onOff = (f: string) => {
  const v = value(f);
  if (v === undefined) return undefined;
  if (v !== 'on' && v !== 'off') throw new Error(`${f} takes on or off, got ${v}`);
  return v === 'on';
};
const JSON_OUT = flag('--json');
const ONLY = value('--only');
const PART_MATMUL = !ONLY || ONLY !== 'train';
const PART_TRAIN = !ONLY || ONLY === 'train';
const MATMUL_FILTER = ONLY && ONLY !== 'train' && ONLY !== 'matmul' ? ONLY : undefined;
const REPS = value('--reps') ? Number(value('--reps')) : undefined;
const CONFIGS = value('--config')?.split(',');

// In --json mode stdout carries only the JSON object; everything else (tfjs chatter) goes to stderr.
const log = (...a: unknown[]) => console.error(...a);
if (JSON_OUT) console.log = console.info = console.warn = log;
const table = (line: string) => (JSON_OUT ? log(line) : process.stdout.write(line + '\n'));

async function main(): Promise<void> {
  const started = performance.now();
  const gpu = await Gpu.create();
  log(`adapter: ${describeAdapter(gpu.report)} - ${gpu.report.description}`);
  const tfjs = flag('--no-tfjs') ? null : await loadTfjs();
  if (tfjs) {
    log(`tfjs ${tfjs.tf.version_core} webgpu backend adapter: ${tfjs.adapter.vendor} / ${tfjs.adapter.architecture}`);
    if (tfjs.adapter.vendor !== gpu.report.vendor || tfjs.adapter.architecture !== gpu.report.architecture) {
      log(`WARNING: tfjs got a different adapter (${tfjs.adapter.vendor}/${tfjs.adapter.architecture}) than ours (${gpu.report.vendor}/${gpu.report.architecture})`);
    }
  }

  const matmul = PART_MATMUL
    ? await benchMatmul(gpu, tfjs, { reps: REPS, only: MATMUL_FILTER, kernel: (value('--kernel') ?? 'auto') as 'auto' | 'tiled' | 'windows' | 'shared', splitK: value('--split-k') ? Number(value('--split-k')) : 'auto', subgroups: onOff('--subgroups'), kMajor: onOff('--k-major'), baseline: flag('--baseline'), table, log })
    : [];
  const configs = TRAIN_CONFIGS.filter((c) => !CONFIGS || CONFIGS.includes(c.name));
  const train = PART_TRAIN
    ? await benchTrain(gpu, { configs, tfjs, torch: !flag('--no-torch'), firstStep: !flag('--no-first-step'), reps: REPS, log: JSON_OUT ? log : (...a) => console.log(...a) })
    : [];
  log(`\nbench took ${((performance.now() - started) / 1000).toFixed(1)} s`);

  if (JSON_OUT) {
    const adapter = { ...gpu.report, summary: describeAdapter(gpu.report) };
    process.stdout.write(JSON.stringify({ adapter, date: new Date().toISOString(), matmul, train }) + '\n');
  }
  // Dawn instances keep Node alive; exit explicitly.
  process.exit(0);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
