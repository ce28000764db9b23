/**
 * What Dawn for Node's busy polling costs a training step (src/gpu/node-poll.ts): `small` (or
 * `wide`) steps with Dawn's polls spaced out (the default) or left spinning (`--busy`), and the
 * main thread's CPU time while they ran. A process has one polling mode, so compare runs:
 *
 *   npx tsx bench/poll.ts [small|wide] [--busy]
 */
import { Gpu } from '../src/gpu/context.ts';
import { pollStats } from '../src/gpu/node-poll.ts';
import { mainThreadCpuMs } from './stats.ts';
import { TRAIN_CONFIGS, makeTrainer } from './train.ts';

const busy = process.argv.includes('--busy');
const name = process.argv.slice(2).find((a) => !a.startsWith('--')) ?? 'small';
const cfg = TRAIN_CONFIGS.find((c) => c.name === name);
if (!cfg) throw new Error(`config: ${TRAIN_CONFIGS.map((c) => c.name).join(' or ')}, got ${name}`);
const gpu = await Gpu.create({ busyPoll: busy });
const trainer = makeTrainer(gpu, cfg);
await trainer.trainStep(false);
await gpu.sync();
const steps = name === 'small' ? 10 : 3;
for (let r = 0; r < 3; r++) {
  const c0 = mainThreadCpuMs();
  const t0 = performance.now();
  for (let i = 0; i < steps; i++) await trainer.trainStep(false);
  await gpu.sync();
  const ms = performance.now() - t0;
  const tps = (steps * cfg.B * cfg.T) / (ms / 1000);
  console.log(`${busy ? 'busy polling' : 'polls spaced out'}: ${steps} ${name} steps ${ms.toFixed(0)} ms, ${tps.toFixed(0)} tokens/s, main thread CPU ${mainThreadCpuMs() - c0} ms`);
}
const s = pollStats();
console.log(s ? `Dawn polls ${s.polls}, ${s.deferred} spaced out by a timer` : 'Dawn polls: not counted (busy polling)');
process.exit(0);
