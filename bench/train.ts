/**
 * Training-step benchmark: one full step (forward + backward + clip + AdamW) of wgpt's GPT, in
 * tokens/s, next to the same GPT in TensorFlow.js (WebGPU backend on the same Dawn adapter, same
 * process; bench/tfjs_gpt.ts) and in PyTorch on the CPU (bench/torch_gpt.py, 2 threads, a child
 * process), with the same config and batch.
 *
 * Per config it reports (see bench/README.md):
 *   tokens_per_s        ours: B*T / seconds per step (median over timed batches)
 *   tfjs_tokens_per_s   TensorFlow.js, Adam (tfjs has no AdamW), same clipping
 *   torch_tokens_per_s  PyTorch CPU, AdamW, 2 threads (null without /usr/bin/python3 + torch)
 *   first_step_ms       a fresh child process: Gpu.create + model + optimizer + first step done
 *                       (median of FIRST_STEP_RUNS = 3 processes, each with an empty cache)
 *                       (cold in-process caches), with Mesa's on-disk shader cache empty (cold)
 *                       and again with it filled by that run (warm)
 *   kernels             GPU ms per step by kernel entry point (timestamp queries, gpu.startProfile)
 *   gpu_bytes           bytes of GPU buffers alive after the steps (gpu.stats(); the peak, since a
 *                       step allocates nothing that outlives it)
 *
 * Timing: pipelines compiled and one step run first; a batch is R steps recorded back to back,
 * timed until the device is idle; batches of ours, tfjs and torch alternate, so a slow moment of
 * a shared machine hits all three; ratios are medians over the triples of adjacent batches.
 *
 * Child mode (used for first_step_ms): `tsx bench/train.ts --first-step NAME` prints one JSON line;
 * add `--no-compile-helper` to time it without Gpu.create's compile helper (lavapipe), and
 * `--sync-pipelines` to make each pipeline where it is first used (AcquireOptions.asyncPipelines false).
 */
import { spawn, spawnSync, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { mkdtempSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Gpu } from '../src/gpu/context.ts';
import type { AcquireOptions } from '../src/gpu/device.ts';
import { GPT } from '../src/model/gpt.ts';
import { Trainer, type BatchSource } from '../src/train/trainer.ts';
import type { GPTConfig } from '../src/model/config.ts';
import type { Tfjs } from './tfjs.ts';
import { TfjsGpt, type GptShape } from './tfjs_gpt.ts';
import { median } from './stats.ts';

/** Cold first steps per config, each in a fresh process with an empty Mesa cache; the median is reported. */
const FIRST_STEP_RUNS = 3;

export interface TrainConfig extends GptShape {
  name: string;
}

/** `small` is the preset (V = 99: a char-level vocabulary); `wide` a larger model on the same data. */
export const TRAIN_CONFIGS: TrainConfig[] = [
  { name: 'small', L: 4, C: 128, NH: 4, T: 64, B: 12, V: 99 },
  { name: 'wide', L: 6, C: 384, NH: 6, T: 256, B: 8, V: 99 },
];

export interface TrainResult {
  name: string;
  config: GptShape;
  tokens_per_s: number;
  step_ms: number;
  /**
   * ms per step until trainStep returns (recording and submitting, before the GPU is done),
   * median over the batches: when it is close to step_ms the step is bound by the CPU side
   */
  cpu_ms_per_step: number;
  tfjs_tokens_per_s: number | null;
  torch_tokens_per_s: number | null;
  /** medians over adjacent batches: ours / tfjs and ours / torch speed */
  tfjs_ratio: number | null;
  torch_ratio: number | null;
  first_step_ms: number | null;
  /** every cold run; first_step_ms is their median */
  first_step_cold_runs_ms: number[];
  first_step_warm_ms: number | null;
  first_step: FirstStep | null;
  kernels: Record<string, number>;
  dispatches_per_step: number;
  gpu_bytes: number;
  pipelines: number;
  batches: number;
  steps_per_batch: number;
  /** training loss before and after the timed steps (ours on fresh random batches: it stays near ln V) */
  loss: { first: number; last: number };
  /** tfjs: the loss of its one fixed batch before and after its steps (it must drop: the model trains) */
  tfjs_loss?: { first: number; last: number };
}

export interface FirstStep {
  /** ms from process start of main() (after imports) */
  device_ms: number;
  model_ms: number;
  step_ms: number;
  total_ms: number;
  pipelines: number;
  /** whether the device had Gpu.create's compile helper (on by default for lavapipe) */
  compile_helper: boolean;
  /** Mesa on-disk shader cache directory used and whether it held anything before the run */
  shader_cache: 'cold' | 'warm';
}

export interface TrainBenchOptions {
  configs: TrainConfig[];
  tfjs: Tfjs | null;
  torch: boolean;
  firstStep: boolean;
  /** timed batches per implementation */
  reps?: number;
  log: (...a: unknown[]) => void;
}

const here = dirname(fileURLToPath(import.meta.url));
const round = (x: number, d = 4) => Number(x.toPrecision(d));

/** Random token batches (speed does not depend on the data), seeded. */
export class RandomBatches implements BatchSource {
  private s: number;
  private readonly V: number;
  constructor(V: number, seed = 1) {
    this.V = V;
    this.s = seed >>> 0;
  }
  private rand(): number {
    this.s = (Math.imul(this.s, 1664525) + 1013904223) >>> 0;
    return this.s / 4294967296;
  }
  next(B: number, T: number) {
    const inputs = new Int32Array(B * T);
    const targets = new Int32Array(B * T);
    for (let i = 0; i < B * T; i++) {
      inputs[i] = Math.floor(this.rand() * this.V);
      targets[i] = Math.floor(this.rand() * this.V);
    }
    return { inputs, targets };
  }
  getState() {
    return this.s;
  }
  setState(s: unknown) {
    this.s = s as number;
  }
}

function gptConfig(c: GptShape): GPTConfig {
  return { vocabSize: c.V, blockSize: c.T, nLayer: c.L, nHead: c.NH, nEmbd: c.C };
}

/** The benchmark's trainer for config c: a seeded model on random batches, constant learning rate. */
export function makeTrainer(gpu: Gpu, c: TrainConfig): Trainer {
  const model = GPT.create(gpu, gptConfig(c), { seed: 1 });
  return new Trainer(model, new RandomBatches(c.V), null, { steps: 1 << 30, batchSize: c.B, seqLen: c.T, lr: 1e-3, warmupSteps: 0 });
}

// ------------------------------------------------------------------------------------ torch
/** PyTorch CPU in a child process that runs n steps per request (bench/torch_gpt.py serve). */
class TorchWorker {
  private readonly proc: ChildProcessWithoutNullStreams;
  private buf = '';
  private waiting: ((line: string) => void) | null = null;
  private lines: string[] = [];

  private constructor(proc: ChildProcessWithoutNullStreams) {
    this.proc = proc;
    proc.stdout.setEncoding('utf8');
    proc.stdout.on('data', (d: string) => {
      this.buf += d;
      let i;
      while ((i = this.buf.indexOf('\n')) >= 0) {
        const line = this.buf.slice(0, i);
        this.buf = this.buf.slice(i + 1);
        if (this.waiting) {
          const w = this.waiting;
          this.waiting = null;
          w(line);
        } else this.lines.push(line);
      }
    });
  }

  private nextLine(): Promise<string> {
    const l = this.lines.shift();
    if (l !== undefined) return Promise.resolve(l);
    return new Promise((resolve, reject) => {
      this.waiting = resolve;
      this.proc.once('exit', (code) => reject(new Error(`torch_gpt.py exited (${code})`)));
    });
  }

  static async start(c: GptShape): Promise<TorchWorker | null> {
    const py = '/usr/bin/python3';
    if (!existsSync(py) || spawnSync(py, ['-c', 'import torch'], { stdio: 'ignore' }).status !== 0) return null;
    const proc = spawn(py, [join(here, 'torch_gpt.py'), ...[c.L, c.C, c.NH, c.T, c.B, c.V].map(String), 'serve', '2'], {
      stdio: ['pipe', 'pipe', 'pipe'],
      env: { ...process.env, OMP_NUM_THREADS: '2' },
    });
    const w = new TorchWorker(proc);
    JSON.parse(await w.nextLine()); // {"ready": true}
    return w;
  }

  /** Seconds for n steps. */
  async steps(n: number): Promise<number> {
    this.proc.stdin.write(`${n}\n`);
    return JSON.parse(await this.nextLine()).seconds;
  }

  stop(): void {
    this.proc.stdin.end();
    this.proc.kill();
  }
}

// ------------------------------------------------------------------------------------ first step
/** Gpu options of a first-step run from its flags: --no-compile-helper, --sync-pipelines. */
export function firstStepGpuOptions(argv: readonly string[]): AcquireOptions {
  return {
    ...(argv.includes('--no-compile-helper') ? { compileHelper: false } : {}),
    ...(argv.includes('--sync-pipelines') ? { asyncPipelines: false } : {}),
  };
}

/** Child mode: time device + model + first step in this fresh process; print one JSON line. */
async function firstStepChild(name: string): Promise<void> {
  const c = TRAIN_CONFIGS.find((x) => x.name === name);
  if (!c) throw new Error(`unknown config ${name}`);
  const t0 = performance.now();
  const gpu = await Gpu.create(firstStepGpuOptions(process.argv));
  const t1 = performance.now();
  const trainer = makeTrainer(gpu, c);
  const t2 = performance.now();
  await trainer.trainStep(false);
  await gpu.sync();
  const t3 = performance.now();
  const helper = gpu.compileHelperStats();
  process.stdout.write(JSON.stringify({ device_ms: t1 - t0, model_ms: t2 - t1, step_ms: t3 - t2, total_ms: t3 - t0, pipelines: gpu.stats().pipelines, compile_helper: helper.enabled }) + '\n');
  process.exit(0);
}

/** Run firstStepChild in a fresh process with the given Mesa shader cache directory. */
function firstStep(name: string, cacheDir: string): FirstStep | null {
  const warm = existsSync(cacheDir) && spawnSync('find', [cacheDir, '-type', 'f', '-size', '+1k'], { encoding: 'utf8' }).stdout.trim() !== '';
  const r = spawnSync(process.execPath, [...process.execArgv, fileURLToPath(import.meta.url), '--first-step', name], {
    encoding: 'utf8',
    env: { ...process.env, MESA_SHADER_CACHE_DIR: cacheDir },
    timeout: 600_000,
  });
  const line = r.stdout.trim().split('\n').pop() ?? '';
  try {
    const j = JSON.parse(line);
    return { ...j, shader_cache: warm ? 'warm' : 'cold' };
  } catch {
    console.error(`first-step child failed (${r.status}): ${r.stderr.slice(-2000)}`);
    return null;
  }
}

// ------------------------------------------------------------------------------------ bench
async function timed(fn: () => Promise<void>): Promise<number> {
  const t0 = performance.now();
  await fn();
  return (performance.now() - t0) / 1000;
}

export async function benchTrain(gpu: Gpu, o: TrainBenchOptions): Promise<TrainResult[]> {
  const { log } = o;
  const out: TrainResult[] = [];
  for (const c of o.configs) {
    const tokens = c.B * c.T;
    log(`\n[train ${c.name}] L=${c.L} C=${c.C} NH=${c.NH} T=${c.T} B=${c.B} V=${c.V} (${tokens} tokens per step)`);

    // first step in fresh processes: cold (FIRST_STEP_RUNS times, each with an empty Mesa shader
    // cache; the median is reported, since one run moves by a quarter on a shared machine), then
    // warm (the last run's cache)
    let first: FirstStep | null = null, warm: FirstStep | null = null;
    let coldRuns: number[] = [];
    if (o.firstStep) {
      const runs: FirstStep[] = [];
      let dir = '';
      for (let i = 0; i < FIRST_STEP_RUNS; i++) {
        if (dir) rmSync(dir, { recursive: true, force: true });
        dir = mkdtempSync(join(tmpdir(), 'wgpt-mesa-cache-'));
        const r = firstStep(c.name, dir);
        if (r) runs.push(r);
      }
      warm = firstStep(c.name, dir);
      rmSync(dir, { recursive: true, force: true });
      coldRuns = runs.map((r) => round(r.total_ms));
      first = [...runs].sort((a, b) => a.total_ms - b.total_ms)[Math.floor((runs.length - 1) / 2)] ?? null;
      if (first) log(`  first step, fresh process: ${first.total_ms.toFixed(0)} ms with a cold Mesa shader cache, median of ${coldRuns.join(', ')} (device ${first.device_ms.toFixed(0)}, model ${first.model_ms.toFixed(0)}, step ${first.step_ms.toFixed(0)}; ${first.pipelines} pipelines${first.compile_helper ? ', compile helper' : ''}), ${warm?.total_ms.toFixed(0) ?? '-'} ms warm`);
    }

    // ours: build, compile (first step), then one profiled step
    const trainer = makeTrainer(gpu, c);
    const pipelines0 = gpu.stats().pipelines;
    await trainer.trainStep(false);
    await gpu.sync();
    const pipelines = gpu.stats().pipelines - pipelines0;
    const oursStep = async () => {
      await trainer.trainStep(false);
    };
    // steps per batch: about BATCH_S seconds of our steps
    const one = await timed(async () => { await oursStep(); await gpu.sync(); });

    // per-kernel GPU time: P profiled steps, each recorded as Trainer.trainStep records it but
    // submitted in three parts (forward, backward, update); per kernel the median over the steps
    // (a loaded machine can stall one dispatch's timing)
    let kernels: Record<string, number> = {};
    let dispatches = 0;
    if (gpu.canProfile) {
      const P = one > 5 ? 1 : 3;
      const per = new Map<string, number[]>();
      for (let k = 0; k < P; k++) {
        const d0 = gpu.dispatchCount;
        gpu.startProfile();
        const { inputs, targets } = trainer.train.next(c.B, c.T);
        trainer.opt.prepare(1e-3);
        trainer.model.zeroGrad();
        trainer.model.forward(inputs, c.B, c.T, targets);
        await gpu.submit();
        trainer.model.backward();
        await gpu.submit();
        trainer.opt.update(1e-3);
        const prof = await gpu.stopProfile();
        dispatches = gpu.dispatchCount - d0;
        for (const [label, v] of prof) per.set(label, [...(per.get(label) ?? []), v.ms]);
      }
      const sorted = [...per.entries()].map(([label, ms]) => [label, median(ms)] as const).sort((a, b) => b[1] - a[1]);
      kernels = Object.fromEntries(sorted.map(([k, ms]) => [k, round(ms, 3)]));
    }
    const lossFirst = (await trainer.trainStep(true)).loss!;

    // tfjs: same model with tf ops
    let tg: TfjsGpt | null = null;
    let tfjsLossFirst = NaN;
    if (o.tfjs) {
      tg = new TfjsGpt(o.tfjs, c);
      const b = new RandomBatches(c.V, 2).next(c.B, c.T);
      tg.setBatch(b.inputs, b.targets);
      tg.step(); // compile
      await tfjsSyncOf(o.tfjs);
      tfjsLossFirst = await tg.lossValue();
    }
    const torch = o.torch ? await TorchWorker.start(c) : null;

    const BATCH_S = 1.5;
    const R = Math.max(1, Math.min(20, Math.round(BATCH_S / one)));
    const reps = o.reps ?? (one > 5 ? 2 : 5);
    const ours: number[] = [], theirs: number[] = [], torchs: number[] = [], cpu: number[] = [];
    for (let rep = -1; rep < reps; rep++) {
      let recorded = 0;
      const t = await timed(async () => {
        const r0 = performance.now();
        for (let i = 0; i < R; i++) await oursStep();
        recorded = performance.now() - r0;
        await gpu.sync();
      });
      if (rep >= 0) ours.push(t / R);
      if (rep >= 0) cpu.push(recorded / R);
      if (tg && o.tfjs) {
        const tt = await timed(async () => {
          for (let i = 0; i < R; i++) tg!.step();
          await tfjsSyncOf(o.tfjs!);
        });
        if (rep >= 0) theirs.push(tt / R);
      }
      if (torch) {
        const ts = await torch.steps(R);
        if (rep >= 0) torchs.push(ts / R);
      }
      if (rep >= 0) log(`  batch ${rep + 1}/${reps} (${R} steps): ours ${(tokens / (t / R)).toFixed(0)} tok/s` +
        (theirs.length ? `, tfjs ${(tokens / theirs[theirs.length - 1]).toFixed(0)}` : '') +
        (torchs.length ? `, torch ${(tokens / torchs[torchs.length - 1]).toFixed(0)}` : ''));
    }
    const lossLast = (await trainer.trainStep(true)).loss!;
    const tfjsLossLast = tg ? await tg.lossValue() : NaN;
    const gpuBytes = gpu.stats().bytes;
    torch?.stop();
    tg?.dispose();

    const step = median(ours);
    const res: TrainResult = {
      name: c.name,
      config: { L: c.L, C: c.C, NH: c.NH, T: c.T, B: c.B, V: c.V },
      tokens_per_s: round(tokens / step),
      step_ms: round(step * 1000),
      cpu_ms_per_step: round(median(cpu)),
      tfjs_tokens_per_s: theirs.length ? round(tokens / median(theirs)) : null,
      torch_tokens_per_s: torchs.length ? round(tokens / median(torchs)) : null,
      tfjs_ratio: theirs.length ? round(median(ours.map((t, i) => theirs[i] / t)), 3) : null,
      torch_ratio: torchs.length ? round(median(ours.map((t, i) => torchs[i] / t)), 3) : null,
      first_step_ms: first ? round(first.total_ms) : null,
      first_step_cold_runs_ms: coldRuns,
      first_step_warm_ms: warm ? round(warm.total_ms) : null,
      first_step: first,
      kernels,
      dispatches_per_step: dispatches,
      gpu_bytes: gpuBytes,
      pipelines,
      batches: reps,
      steps_per_batch: R,
      loss: { first: round(lossFirst), last: round(lossLast) },
      ...(tg ? { tfjs_loss: { first: round(tfjsLossFirst), last: round(tfjsLossLast) } } : {}),
    };
    out.push(res);
    log(`  ours ${res.tokens_per_s} tok/s (${res.step_ms} ms/step, of which ${res.cpu_ms_per_step} ms until trainStep returns), tfjs ${res.tfjs_tokens_per_s ?? '-'} (ours/tfjs ${res.tfjs_ratio ?? '-'}), torch ${res.torch_tokens_per_s ?? '-'} (ours/torch ${res.torch_ratio ?? '-'})`);
    log(`  loss ${res.loss.first} -> ${res.loss.last}${res.tfjs_loss ? ` (tfjs, one fixed batch: ${res.tfjs_loss.first} -> ${res.tfjs_loss.last})` : ''}; ${pipelines} pipelines; ${dispatches} dispatches per step; GPU buffers ${(gpuBytes / 2 ** 20).toFixed(1)} MiB`);
    const total = Object.values(kernels).reduce((a, b) => a + b, 0);
    if (total > 0) {
      log(`  GPU time per step by kernel (profiled: one pass per dispatch, median of steps): ${total.toFixed(1)} ms`);
      for (const [k, ms] of Object.entries(kernels)) log(`    ${k.padEnd(40)} ${ms.toFixed(2).padStart(9)} ms  ${((100 * ms) / total).toFixed(1).padStart(5)} %`);
    }
    trainer.destroy();
    trainer.model.destroy();
  }
  return out;
}

async function tfjsSyncOf(t: Tfjs): Promise<void> {
  const { tfjsSync } = await import('./tfjs.ts');
  await tfjsSync(t);
}

// ------------------------------------------------------------------------------------ child entry
if (process.argv.includes('--first-step')) {
  firstStepChild(process.argv[process.argv.indexOf('--first-step') + 1]).catch((e) => {
    console.error(e);
    process.exit(1);
  });
}
