/**
 * Probe: the compile time of each pipeline of a training step, alone. One Gpu runs a `small` (or
 * `wide`) step to learn the step's pipelines (Gpu.pipelineUses); then, ROUNDS times, a fresh Gpu
 * compiles each of them with Gpu.precompile (no work runs) and the time to the device being idle
 * is taken. Turn Mesa's shader cache off, or the later rounds measure the cache:
 *
 *   MESA_SHADER_CACHE_DISABLE=true npx tsx bench/probe-compile.ts [small|wide] [ROUNDS] [FILTER]
 *
 * FILTER keeps the pipelines whose kernel.entry contains it. Prints the median per pipeline.
 */
import { Gpu } from '../src/gpu/context.ts';
import { TRAIN_CONFIGS, makeTrainer } from './train.ts';
import { median } from './stats.ts';

const [name = 'small', roundsArg = '3', filter = ''] = process.argv.slice(2);
const cfg = TRAIN_CONFIGS.find((c) => c.name === name);
if (!cfg) throw new Error(`config: ${TRAIN_CONFIGS.map((c) => c.name).join(' or ')}, got ${name}`);
const first = await Gpu.create({ compileHelper: false });
await makeTrainer(first, cfg).trainStep(false);
await first.sync();
const uses = first.pipelineUses().filter((u) => `${u.kernel}.${u.entry}`.includes(filter));
first.destroy();
const times = uses.map(() => [] as number[]);
for (let r = 0; r < Number(roundsArg); r++) {
  const gpu = await Gpu.create({ compileHelper: false });
  for (let i = 0; i < uses.length; i++) {
    const t0 = performance.now();
    gpu.precompile(uses[i]);
    await gpu.sync();
    times[i].push(performance.now() - t0);
  }
  gpu.destroy();
}
let sum = 0;
uses.forEach((u, i) => {
  const m = median(times[i]);
  sum += m;
  const defs = Object.entries(u.defines).map(([k, v]) => `${k}=${v}`).join(' ');
  console.log(`${`${u.kernel}.${u.entry}`.padEnd(38)} ${m.toFixed(0).padStart(5)} ms   ${defs}`);
});
console.log(`${uses.length} pipelines, ${sum.toFixed(0)} ms in all (median of ${roundsArg} rounds each)`);
process.exit(0);
