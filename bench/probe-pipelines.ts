/**
 * Making a training step's pipelines (no compiling: lavapipe compiles at the first dispatch) on a
 * fresh device, with createComputePipeline one after another on the main thread, or with
 * createComputePipelineAsync all at once (Dawn makes them on worker threads). Alternating rounds,
 * each on a new device; prints the main thread's CPU time and the wall time until all are made.
 *
 *   MESA_SHADER_CACHE_DISABLE=true npx tsx bench/probe-pipelines.ts [small|wide] [ROUNDS]
 */
import { Gpu, type PipelineUse } from '../src/gpu/context.ts';
import { shaderSource } from '../src/gpu/shaders.ts';
import { mainThreadCpuMs, median } from './stats.ts';
import { TRAIN_CONFIGS, makeTrainer } from './train.ts';

const [name = 'small', roundsArg = '5'] = process.argv.slice(2);
const cfg = TRAIN_CONFIGS.find((c) => c.name === name);
if (!cfg) throw new Error(`config: ${TRAIN_CONFIGS.map((c) => c.name).join(' or ')}, got ${name}`);

// the step's pipelines, from one step on a device of their own
const first = await Gpu.create({ compileHelper: false });
await makeTrainer(first, cfg).trainStep(false);
const uses: PipelineUse[] = first.pipelineUses();
first.destroy();

async function makeAll(async: boolean): Promise<{ wall: number; main: number }> {
  const gpu = await Gpu.create({ compileHelper: false });
  const device = gpu.device;
  const main0 = mainThreadCpuMs();
  const t0 = performance.now();
  const made: Promise<unknown>[] = [];
  for (const u of uses) {
    const module = device.createShaderModule({ code: shaderSource(u.kernel, u.defines) });
    const constants: Record<string, number> = {};
    for (const [k, v] of Object.entries(u.constants)) constants[k] = typeof v === 'boolean' ? Number(v) : v;
    const desc: GPUComputePipelineDescriptor = { layout: 'auto', compute: { module, entryPoint: u.entry, constants } };
    if (async) made.push(device.createComputePipelineAsync(desc));
    else device.createComputePipeline(desc);
  }
  await Promise.all(made);
  const r = { wall: performance.now() - t0, main: mainThreadCpuMs() - main0 };
  gpu.destroy();
  return r;
}

const res: Record<'sync' | 'async', { wall: number[]; main: number[] }> = { sync: { wall: [], main: [] }, async: { wall: [], main: [] } };
for (let i = 0; i < Number(roundsArg); i++) {
  for (const mode of ['sync', 'async'] as const) {
    const r = await makeAll(mode === 'async');
    res[mode].wall.push(r.wall);
    res[mode].main.push(r.main);
  }
}
for (const mode of ['sync', 'async'] as const) {
  const { wall, main } = res[mode];
  console.log(`${mode.padEnd(5)} ${uses.length} pipelines: made in ${median(wall).toFixed(0)} ms (${wall.map((x) => x.toFixed(0)).join(', ')}), main thread ${median(main)} ms of CPU`);
}
process.exit(0);
