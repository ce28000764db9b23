/**
 * Matmul benchmark: our kernel (shaders/matmul.wgsl) next to TensorFlow.js's WebGPU backend, on the
 * same Dawn adapter in the same process. Run through bench/run.ts (`npm run bench -- --only matmul`).
 *
 * Shapes: every linear layer of a small GPT (B*T = 768 rows, C = 128, 4C = 512, vocab 98 with the
 * LM head tied to the token embedding), each as its three products, plus 1024 x 1024 x 1024:
 *   forward  out (N, OC)  = inp (N, C) . W (OC, C)^T     m=N,  n=OC, k=C   transB
 *   dinp     dinp (N, C) += dout (N, OC) . W (OC, C)     m=N,  n=C,  k=OC
 *   dweight  dW (OC, C)  += dout^T (OC, N) . inp (N, C)  m=OC, n=C,  k=N   transA
 * tfjs runs tf.matMul(a, b, transposeA, transposeB) with the same storage layouts (it overwrites
 * where ours accumulates; that costs ours one extra read of the output).
 *
 * Timing: inputs are uploaded and pipelines compiled before timing. One timed batch = R products
 * recorded back to back, then wait for the queue (onSubmittedWorkDone); the clock runs from the first
 * recorded dispatch to the end of the queue, for both implementations. R is chosen per implementation
 * so that a batch takes about 0.08 s. Batches of ours and tfjs alternate, so a slow moment of a shared
 * machine hits both; GFLOP/s = 2 M N K / seconds per product, the median over 7 batches; the ratio is
 * the median over the pairs (our batch, the tfjs batch right after it) of their speed ratio.
 */
import { readFileSync } from 'node:fs';
import { Gpu, TENSOR_USAGE } from '../src/gpu/context.ts';
import { median } from './stats.ts';
import { WGSL } from '../src/gpu/shaders.gen.ts';
import type { Tensor } from '../src/gpu/tensor.ts';
import { biasBackward, matmul } from '../src/kernels/matmul.ts';
import { tfjsSync, type Tfjs } from './tfjs.ts';

type Pass = 'forward' | 'dinp' | 'dweight';

interface Case {
  name: string;
  pass: Pass;
  m: number;
  k: number;
  n: number;
  transA: boolean;
  transB: boolean;
}

export interface Result {
  name: string;
  pass: Pass;
  m: number;
  k: number;
  n: number;
  gflops: number;
  tfjs_gflops: number | null;
  ratio: number | null;
  /** --baseline only: the seed kernel. */
  baseline_gflops?: number;
}

// ------------------------------------------------------------------------------------ options
export interface MatmulBenchOptions {
  /** timed batches per implementation (default 7) */
  reps?: number;
  /** only rows whose "name pass" contains this */
  only?: string;
  kernel?: 'auto' | 'tiled' | 'windows' | 'shared';
  /** split-K of the general kernel: 'auto' (the default) or a forced S (1: off) */
  splitK?: 'auto' | number;
  /** the windows path's subgroup kernel: true / false forced, undefined: the default (where the device has it) */
  subgroups?: boolean;
  /** the subgroup kernel's k-major layout for weight gradients: true / false forced (on the dweight shapes only), undefined: the default */
  kMajor?: boolean;
  /** also time the seed kernel (bench/matmul-v0.wgsl) */
  baseline?: boolean;
  /** print the table to stdout (else to `log`) */
  table: (line: string) => void;
  log: (...a: unknown[]) => void;
}

let REPS = 7;
let ONLY: string | undefined;
let KERNEL: 'auto' | 'tiled' | 'windows' | 'shared' = 'auto';
let SUBGROUPS: boolean | undefined;
let K_MAJOR: boolean | undefined;
let SPLIT_K: 'auto' | number = 'auto';
let BASELINE = false;
const BATCH_SECONDS = 0.08;
const batchSize = (secondsPerCall: number) => Math.max(1, Math.min(500, Math.round(BATCH_SECONDS / secondsPerCall)));

// ------------------------------------------------------------------------------------ shapes
/** The linear layers of a small GPT: rows N = B*T, in C, out OC. */
const N = 768;
const LAYERS: [string, number, number][] = [
  ['attn.qkv', 128, 384],
  ['attn.proj', 128, 128],
  ['mlp.fc', 128, 512],
  ['mlp.proj', 512, 128],
  ['lm_head', 128, 98],
];

function linearCases(name: string, rows: number, C: number, OC: number): Case[] {
  return [
    { name, pass: 'forward', m: rows, n: OC, k: C, transA: false, transB: true },
    { name, pass: 'dinp', m: rows, n: C, k: OC, transA: false, transB: false },
    { name, pass: 'dweight', m: OC, n: C, k: rows, transA: true, transB: false },
  ];
}

const ALL_CASES: Case[] = [
  ...LAYERS.flatMap(([name, C, OC]) => linearCases(name, N, C, OC)),
  ...linearCases('square1024', 1024, 1024, 1024),
];

// ------------------------------------------------------------------------------------ helpers
function randomData(n: number, seed: number): Float32Array {
  let s = seed >>> 0;
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = s / 4294967296 - 0.5;
  }
  return out;
}


/** Seconds for one batch: `record` R times, then wait for the device. */
async function timeBatch(R: number, record: () => void, sync: () => Promise<void>): Promise<number> {
  const t0 = performance.now();
  for (let i = 0; i < R; i++) record();
  await sync();
  return (performance.now() - t0) / 1000;
}

function maxAbsDiff(a: Float32Array, b: Float32Array): number {
  let d = 0;
  for (let i = 0; i < a.length; i++) d = Math.max(d, Math.abs(a[i] - b[i]));
  return d;
}

// ------------------------------------------------------------------------------------ bench
/** The seed kernel (bench/matmul-v0.wgsl), dispatched as it was: 4 x 4 per invocation, 8 x 8 workgroups. */
function matmulV0(gpu: Gpu, out: Tensor, a: Tensor, b: Tensor, M: number, N: number, K: number, transA: boolean, transB: boolean, accumulate: boolean): void {
  if (!WGSL.matmul_v0) WGSL.matmul_v0 = readFileSync(new URL('./matmul-v0.wgsl', import.meta.url), 'utf8');
  gpu.dispatch('matmul_v0', 'matmul', [out, a, b, gpu.dummy()], [Math.ceil(N / 32), Math.ceil(M / 32), 1], {
    constants: { M, N, K, TRANS_A: transA, TRANS_B: transB, ACCUMULATE: accumulate },
  });
}

/**
 * A weight as the model places it: src/model/params.ts keeps every parameter in one flat buffer,
 * so other parameters follow a weight (here 64 KiB of slack). The fast path binds an operand in
 * place only with room for a whole 64 KiB window after its last block; a weight in a buffer of its
 * own would be packed where the model's is not (the LM head's 98 x 128 tied embedding).
 */
function weightTensor(gpu: Gpu, shape: [number, number], data: Float32Array): Tensor {
  const size = shape[0] * shape[1];
  const t: Tensor = { buffer: gpu.createBuffer(size * 4 + 65536, TENSOR_USAGE(), 'b (weight)'), shape, dtype: 'f32', offset: 0, size, name: 'b' };
  gpu.write(t, data);
  return t;
}

async function benchCase(gpu: Gpu, tfjs: Tfjs | null, c: Case): Promise<Result & { maxDiff: number | null }> {
  const { m, n, k } = c;
  const aData = randomData(m * k, 1), bData = randomData(k * n, 2);
  const accumulate = c.pass !== 'forward';
  const a = gpu.tensor(c.transA ? [k, m] : [m, k], aData, 'f32', 'a');
  // B is the layer's weight in forward and dinp: placed as the model places it (weightTensor)
  const b = c.pass === 'dweight' ? gpu.tensor(c.transB ? [n, k] : [k, n], bData, 'f32', 'b') : weightTensor(gpu, c.transB ? [n, k] : [k, n], bData);
  const out = gpu.tensor([m, n], undefined, 'f32', 'out');
  const ours = () => matmul(gpu, out, a, b, m, n, k, { transA: c.transA, transB: c.transB, accumulate, kernel: KERNEL, splitK: SPLIT_K, subgroups: SUBGROUPS, kMajor: c.transA && !c.transB ? K_MAJOR : undefined });
  const seed = () => matmulV0(gpu, out, a, b, m, n, k, c.transA, c.transB, accumulate);

  // first call: compile, and check against tfjs on the same inputs
  ours();
  const oursFirst = await gpu.read(out);
  let ta: any = null, tb: any = null, theirs: (() => any) | null = null, maxDiff: number | null = null;
  if (tfjs) {
    const { tf } = tfjs;
    ta = tf.tensor(aData, c.transA ? [k, m] : [m, k]);
    tb = tf.tensor(bData, c.transB ? [n, k] : [k, n]);
    theirs = () => tf.matMul(ta, tb, c.transA, c.transB);
    const first = theirs();
    maxDiff = maxAbsDiff(oursFirst, await first.data()); // uploads ta, tb and compiles
    first.dispose();
  }

  const flop = 2 * m * n * k;
  // batch sizes: about BATCH_SECONDS per batch for each implementation, from one timed call
  const oursR = batchSize(await timeBatch(1, ours, () => gpu.sync()));
  const theirsR = tfjs && theirs ? batchSize(await timeBatch(1, () => theirs!().dispose(), () => tfjsSync(tfjs))) : 0;
  const seedR = BASELINE ? batchSize(await timeBatch(1, seed, () => gpu.sync())) : 0;
  const oursT: number[] = [], tfjsT: number[] = [], seedT: number[] = [];
  for (let rep = -1; rep < REPS; rep++) {
    // rep -1 is a warm-up batch for both
    const t = await timeBatch(oursR, ours, () => gpu.sync());
    if (rep >= 0) oursT.push(t / oursR);
    if (BASELINE) {
      const ts = await timeBatch(seedR, seed, () => gpu.sync());
      if (rep >= 0) seedT.push(ts / seedR);
    }
    if (tfjs && theirs) {
      const outs: any[] = [];
      const tt = await timeBatch(theirsR, () => outs.push(theirs!()), () => tfjsSync(tfjs));
      for (const o of outs) o.dispose();
      if (rep >= 0) tfjsT.push(tt / theirsR);
    }
  }
  gpu.release(a, b, out);
  ta?.dispose();
  tb?.dispose();

  const gflops = flop / median(oursT) / 1e9;
  const tfjs_gflops = tfjs ? flop / median(tfjsT) / 1e9 : null;
  return {
    name: c.name, pass: c.pass, m, k, n,
    gflops: round(gflops),
    tfjs_gflops: tfjs_gflops === null ? null : round(tfjs_gflops),
    // the ratio pairs each batch of ours with the tfjs batch right after it: robust to load drifts
    ratio: tfjs_gflops === null ? null : round(median(oursT.map((t, i) => tfjsT[i] / t))),
    ...(BASELINE ? { baseline_gflops: round(flop / median(seedT) / 1e9) } : {}),
    maxDiff,
  };
}

const round = (x: number, d = 3) => Number(x.toPrecision(d));

/** dbias (OC) += column sums of dout (N, OC): microseconds per call and GB/s read, ours and the seed's. */
async function benchBias(gpu: Gpu, rows: number, cols: number): Promise<{ us: number; gbs: number; seedUs?: number }> {
  const dout = gpu.tensor([rows, cols], randomData(rows * cols, 3));
  const dbias = gpu.tensor([cols]);
  const seed = () => {
    if (!WGSL.matmul_v0) WGSL.matmul_v0 = readFileSync(new URL('./matmul-v0.wgsl', import.meta.url), 'utf8');
    gpu.dispatch('matmul_v0', 'bias_backward', [dbias, dout], [Math.ceil(cols / 64)], { constants: { ROWS: rows, COLS: cols } });
  };
  const R = 200;
  biasBackward(gpu, dbias, dout);
  if (BASELINE) seed();
  await gpu.sync();
  const ts: number[] = [], seedTs: number[] = [];
  for (let rep = -1; rep < REPS; rep++) {
    const t = await timeBatch(R, () => biasBackward(gpu, dbias, dout), () => gpu.sync());
    if (rep >= 0) ts.push(t / R);
    if (BASELINE) {
      const t2 = await timeBatch(R, seed, () => gpu.sync());
      if (rep >= 0) seedTs.push(t2 / R);
    }
  }
  gpu.release(dout, dbias);
  const s = median(ts);
  return { us: s * 1e6, gbs: (rows * cols * 4) / s / 1e9, ...(BASELINE ? { seedUs: median(seedTs) * 1e6 } : {}) };
}

// ------------------------------------------------------------------------------------ entry
/** Run the matmul rows (and the bias_backward lines); returns the JSON rows. */
export async function benchMatmul(gpu: Gpu, tfjs: Tfjs | null, o: MatmulBenchOptions): Promise<Result[]> {
  REPS = o.reps ?? 7;
  ONLY = o.only;
  KERNEL = o.kernel ?? 'auto';
  SPLIT_K = o.splitK ?? 'auto';
  SUBGROUPS = o.subgroups;
  K_MAJOR = o.kMajor;
  BASELINE = !!o.baseline;
  const cases = ALL_CASES.filter((c) => !ONLY || `${c.name} ${c.pass}`.includes(ONLY));
  o.log(`matmul timing: median of ${REPS} batches of ~${BATCH_SECONDS} s each, after a warm-up batch\n`);
  const results: (Result & { maxDiff: number | null })[] = [];
  const head =
    `${'layer'.padEnd(11)} ${'pass'.padEnd(8)} ${'M'.padStart(5)} ${'K'.padStart(5)} ${'N'.padStart(5)}  ` +
    `${BASELINE ? `${'seed GFLOP/s'.padStart(12)} ` : ''}${'ours GFLOP/s'.padStart(12)} ${'tfjs GFLOP/s'.padStart(12)} ${'ratio'.padStart(6)}  max|diff|`;
  o.table(head + '\n' + '-'.repeat(head.length));
  for (const c of cases) {
    const r = await benchCase(gpu, tfjs, c);
    results.push(r);
    o.table(
      `${r.name.padEnd(11)} ${r.pass.padEnd(8)} ${String(r.m).padStart(5)} ${String(r.k).padStart(5)} ${String(r.n).padStart(5)}  ` +
        `${BASELINE ? `${r.baseline_gflops!.toFixed(2).padStart(12)} ` : ''}${r.gflops.toFixed(2).padStart(12)} ${(r.tfjs_gflops?.toFixed(2) ?? '-').padStart(12)} ${(r.ratio?.toFixed(2) ?? '-').padStart(6)}  ` +
        `${r.maxDiff === null ? '-' : r.maxDiff.toExponential(1)}`,
    );
  }
  if (!ONLY || 'bias'.includes(ONLY)) {
    const lines: string[] = ['', 'bias_backward: dbias (OC) += column sums of dout (768, OC)'];
    for (const cols of [98, 128, 384, 512]) {
      const b = await benchBias(gpu, N, cols);
      lines.push(`  OC=${String(cols).padEnd(4)} ${b.us.toFixed(0).padStart(6)} us/call  ${b.gbs.toFixed(2)} GB/s${b.seedUs ? `  (seed kernel: ${b.seedUs.toFixed(0)} us/call)` : ''}`);
    }
    o.table(lines.join('\n'));
  }
  return results.map(({ maxDiff: _, ...r }) => r);
}
