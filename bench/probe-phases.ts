/**
 * The phases of a fresh process's first training step, with the CPU time the process and its main
 * thread had used at the end of each: where a cold first step waits on one core and where on two.
 *
 *   MESA_SHADER_CACHE_DIR=$(mktemp -d) npx tsx bench/probe-phases.ts [small|wide] [--sync-pipelines] [--no-compile-helper]
 *
 * Phases: device (Gpu.create), model (model, optimizer, batches), recorded (trainStep's synchronous
 * part: every dispatch recorded), submitted (trainStep resolved: pipelines made, the step encoded
 * and submitted), done (the GPU finished the step). Linux only (the main thread's CPU time comes
 * from /proc/self/task/PID/stat).
 */
import { Gpu } from '../src/gpu/context.ts';
import { mainThreadCpuMs } from './stats.ts';
import { TRAIN_CONFIGS, firstStepGpuOptions, makeTrainer } from './train.ts';

const name = process.argv[2] && !process.argv[2].startsWith('--') ? process.argv[2] : 'small';
const cfg = TRAIN_CONFIGS.find((c) => c.name === name);
if (!cfg) throw new Error(`config: ${TRAIN_CONFIGS.map((c) => c.name).join(' or ')}, got ${name}`);

const t0 = performance.now();
const cpu0 = process.cpuUsage();
const main0 = mainThreadCpuMs();
const rows: string[] = [];
const mark = (phase: string) => {
  const u = process.cpuUsage(cpu0);
  rows.push(`${phase.padEnd(10)} ${(performance.now() - t0).toFixed(0).padStart(6)} ms   process CPU ${((u.user + u.system) / 1000).toFixed(0).padStart(6)} ms   main thread ${String(mainThreadCpuMs() - main0).padStart(5)} ms`);
};

const gpu = await Gpu.create(firstStepGpuOptions(process.argv));
mark('device');
const trainer = makeTrainer(gpu, cfg);
mark('model');
const step = trainer.trainStep(false);
mark('recorded');
await step;
mark('submitted');
await gpu.sync();
mark('done');
console.log(`${name}: ${gpu.stats().pipelines} pipelines, compile helper ${JSON.stringify(gpu.compileHelperStats())}`);
console.log(rows.join('\n'));
process.exit(0);
