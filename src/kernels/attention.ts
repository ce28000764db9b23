/**
 * attention: causal multi-head self-attention on llm.c's fused qkv layout. See shaders/attention.wgsl.
 *
 * Dimensions: B batch, T time, C channels, NH heads, HS = C / NH head size.
 * Accumulation contract: attentionForward overwrites `out` and `lse`; attentionBackward ADDS (+=)
 * into `dqkv`.
 */
import type { Gpu } from '../gpu/context.ts';
import type { Tensor } from '../gpu/tensor.ts';
import { LimitError, ShapeError } from '../errors.ts';
import { expectDim, expectDistinct, expectShape, prefersGpuKernels, subgroupLanes } from './check.ts';
import { dims as uniformDims } from './uniforms.ts';

const WG = 64; // invocations per workgroup, one group of rows (of one (b, h)) each
const LANES = 8; // the row-per-lane kernels (*_sg): a workgroup is one subgroup of (at least) 8 lanes, one row each
// Largest head size the row-per-lane kernels take by default. Each lane holds whole head vectors,
// unrolled: at HS = 256 on lavapipe they compiled 3.7x slower than the per-invocation kernels and
// ran 1.4x slower; at 128, 2.2x slower to compile (once) but 3x faster to run (bench/README.md).
const LANE_MAX_HEAD_SIZE = 128;

/**
 * Largest head size accepted. The key-row backward pass keeps 4 * QR HS-long f32 arrays in private
 * memory (QR = 1 rows per invocation at HS = 256: 4 KiB; the row-per-lane kernels keep 6 whole
 * head vectors per lane: 6 KiB), and WGSL caps a function's private variables at 8 KiB. GPT-2
 * uses 64; 128 is the largest common size.
 */
export const ATTENTION_MAX_HEAD_SIZE = 256;

/** B, T, C from a (B, T, C) tensor, and HS from C and NH, with the checks every entry point needs. */
function dims(op: string, arg: string, t: Tensor, NH: number): { B: number; T: number; C: number; HS: number } {
  if (t.shape.length !== 3) throw new ShapeError(`${op}: ${arg} has shape (${t.shape.join(', ')}), expected (B, T, C)`);
  const [B, T, C] = t.shape;
  expectDim(op, 'B', B);
  expectDim(op, 'T', T);
  expectDim(op, 'C', C);
  expectDim(op, 'NH', NH);
  if (C % NH !== 0) throw new ShapeError(`${op}: channels C=${C} (${arg} (${t.shape.join(', ')})) are not divisible by NH=${NH} heads`);
  const HS = C / NH;
  if (HS > ATTENTION_MAX_HEAD_SIZE) {
    throw new ShapeError(`${op}: head size HS = C / NH = ${C} / ${NH} = ${HS} exceeds ${ATTENTION_MAX_HEAD_SIZE} (per-invocation private arrays, WGSL's 8 KiB limit)`);
  }
  return { B, T, C, HS };
}

/**
 * Options of attentionForward / attentionBackward (the defaults are right; for tests and
 * benchmarks). gpu.kernelDefaults.attention supplies defaults for the options a call leaves out.
 */
export interface AttentionOptions {
  /**
   * Rows (queries, or keys in the key pass) per invocation, QR, of the per-invocation kernels
   * (the ones that run unless the row-per-lane kernels below do). Default: 4 on CPU adapters
   * (SwiftShader; lavapipe runs the row-per-lane kernels), so each loaded vector serves 4 rows;
   * 1 on GPUs, where 4 times the invocations (B*NH*T) fill the chip and the per-invocation
   * arrays are a quarter the size. Fewer for large heads either way (the key pass keeps 4 * QR
   * head vectors in private memory, which WGSL caps at 8 KiB per function: 16 * QR * HS bytes).
   */
  rows?: 1 | 2 | 4;
  /**
   * The row-per-lane kernels (`*_sg` in shaders/attention.wgsl): one subgroup of 8 lanes per 8
   * rows, the other side's vectors loaded an eighth per lane and shared by subgroupBroadcast.
   * Needs the 'subgroups' feature with at least 8 lanes (LimitError otherwise). Default: on CPU
   * adapters that have it (lavapipe), for head sizes up to 128, unless `rows` is given (`rows`
   * picks the per-invocation kernels, so the two cannot be combined).
   */
  subgroups?: boolean;
}

/** True when the row-per-lane kernels run: forced by `opts`, or the default described there. */
function rowPerLane(gpu: Gpu, opts: AttentionOptions, HS: number): boolean {
  const has = subgroupLanes(gpu) >= LANES;
  if (opts.subgroups && opts.rows !== undefined) {
    throw new ShapeError(`attention: rows per invocation (${opts.rows}) belongs to the per-invocation kernels and cannot be combined with subgroups: true`);
  }
  if (opts.subgroups && !has) {
    throw new LimitError("subgroup lanes (feature 'subgroups', smallest subgroup)", LANES, subgroupLanes(gpu), 'attention with subgroups: true');
  }
  return opts.subgroups ?? (opts.rows === undefined && has && !prefersGpuKernels(gpu) && HS <= LANE_MAX_HEAD_SIZE);
}

function rowsPerInvocation(gpu: Gpu, HS: number, want?: number): number {
  const HS4 = Math.ceil(HS / 4);
  const most = HS4 <= 16 ? 4 : HS4 <= 32 ? 2 : 1;
  if (want !== undefined && ![1, 2, 4].includes(want)) throw new ShapeError(`attention: rows per invocation must be 1, 2 or 4, got ${want}`);
  return Math.min(most, want ?? (prefersGpuKernels(gpu) ? 1 : 4));
}

/**
 * The template defines of the module (every entry point needs them): the head size, in vec4s, and
 * QR; SUBGROUPS (which also enables the extension) adds the row-per-lane kernels, with CPL, the
 * vec4s of a head vector each lane loads.
 */
function defines(HS: number, QR: number, perLane = false) {
  const HS4 = Math.ceil(HS / 4);
  return { HS, HS4, VEC4: HS % 4 === 0, QR, SUBGROUPS: perLane, CPL: perLane ? Math.ceil(HS4 / LANES) : 1 };
}

/** One pass: `entry` with QR rows per invocation, or its row-per-lane twin `entry`_sg. */
function launch(gpu: Gpu, entry: string, bindings: Tensor[], B: number, T: number, NH: number, HS: number, QR: number, perLane: boolean): void {
  const sizes = uniformDims(gpu, [B, T, NH], [1 / Math.sqrt(HS)]);
  const workgroups = perLane ? B * NH * Math.ceil(T / LANES) : Math.ceil((B * NH * Math.ceil(T / QR)) / WG);
  gpu.dispatch('attention', perLane ? `${entry}_sg` : entry, [...bindings, sizes], gpu.grid(workgroups), { defines: defines(HS, QR, perLane) });
}

// D (B, NH, T) = rowsum(dout * out), written by the dq pass and read by the dkv pass: one scratch
// per device, grown as needed and never shrunk (a buffer referenced by recorded work must not be
// destroyed before it is submitted; gpu.destroy() frees it with everything else).
const scratchD = new WeakMap<Gpu, Tensor>();

function scratch(gpu: Gpu, elements: number): Tensor {
  const have = scratchD.get(gpu);
  if (have && have.size >= elements) return { ...have, shape: [elements], size: elements };
  const t = gpu.tensor([Math.max(elements, have?.size ?? 0)], undefined, 'f32', 'attention.D');
  scratchD.set(gpu, t);
  return { ...t, shape: [elements], size: elements };
}

/**
 * Causal self-attention forward.
 *   out (B, T, C)  =  softmax_causal(q.k^T / sqrt(HS)) . v, per head, heads side by side
 *   lse (B, NH, T) =  log-sum-exp of each query row's scaled scores (for attentionBackward)
 * from qkv (B, T, 3C) = [q | k | v] per row. Overwrites out and lse. C must be divisible by NH.
 */
export function attentionForward(gpu: Gpu, out: Tensor, lse: Tensor, qkv: Tensor, NH: number, callOpts: AttentionOptions = {}): void {
  const op = 'attentionForward';
  const opts: AttentionOptions = { ...gpu.kernelDefaults.attention, ...callOpts };
  const { B, T, C, HS } = dims(op, 'out', out, NH);
  expectShape(op, 'qkv', qkv, [B, T, 3 * C]);
  expectShape(op, 'lse', lse, [B, NH, T]);
  expectDistinct(op, out, qkv, 'out and qkv');
  expectDistinct(op, lse, qkv, 'lse and qkv');
  launch(gpu, 'attention_forward', [out, lse, qkv], B, T, NH, HS, rowsPerInvocation(gpu, HS, opts.rows), rowPerLane(gpu, opts, HS));
}

/**
 * Causal self-attention backward. Adds (+=) into dqkv (B, T, 3C) the gradient of the loss with
 * respect to qkv, given dout (B, T, C) and the forward's qkv (B, T, 3C), out (B, T, C) and
 * lse (B, NH, T). Two deterministic passes: one per query row (dq), one per key row (dk, dv);
 * D (B, NH, T) passes between them through a scratch buffer kept per device.
 */
export function attentionBackward(gpu: Gpu, dqkv: Tensor, dout: Tensor, qkv: Tensor, out: Tensor, lse: Tensor, NH: number, callOpts: AttentionOptions = {}): void {
  const op = 'attentionBackward';
  const opts: AttentionOptions = { ...gpu.kernelDefaults.attention, ...callOpts };
  const { B, T, C, HS } = dims(op, 'dout', dout, NH);
  expectShape(op, 'dqkv', dqkv, [B, T, 3 * C]);
  expectShape(op, 'qkv', qkv, [B, T, 3 * C]);
  expectShape(op, 'out', out, [B, T, C]);
  expectShape(op, 'lse', lse, [B, NH, T]);
  for (const [t, name] of [[dout, 'dout'], [qkv, 'qkv'], [out, 'out'], [lse, 'lse']] as const) {
    expectDistinct(op, dqkv, t, `dqkv and ${name}`);
  }
  const D = scratch(gpu, B * NH * T);
  const QR = rowsPerInvocation(gpu, HS, opts.rows);
  const perLane = rowPerLane(gpu, opts, HS);
  launch(gpu, 'attention_backward_dq', [dqkv, dout, qkv, out, lse, D], B, T, NH, HS, QR, perLane);
  launch(gpu, 'attention_backward_dkv', [dqkv, dout, qkv, lse, D], B, T, NH, HS, QR, perLane);
}

/**
 * Attention of one new token (generation, B = 1) against a KV cache.
 *   out (1, C) = softmax(q_pos . k_s / sqrt(HS), s <= pos) . v_s, per head
 * cache (T_max, 3C) holds q | k | v rows like the training qkv; row `pos` must already hold the
 * new token's qkv. `pos` is a (1) u32 tensor (written per token, so one pipeline serves every
 * position). Overwrites out.
 */
export function attentionDecode(gpu: Gpu, out: Tensor, cache: Tensor, pos: Tensor, NH: number): void {
  const op = 'attentionDecode';
  const C = out.shape[out.shape.length - 1];
  if (out.size !== C) throw new ShapeError(`${op}: out must be one row (1, C), got (${out.shape.join(', ')})`);
  expectDim(op, 'NH', NH);
  if (C % NH !== 0) throw new ShapeError(`${op}: channels C=${C} are not divisible by NH=${NH} heads`);
  const HS = C / NH;
  if (HS > ATTENTION_MAX_HEAD_SIZE) throw new ShapeError(`${op}: head size ${HS} exceeds ${ATTENTION_MAX_HEAD_SIZE}`);
  expectShape(op, 'cache', cache, [-1, 3 * C]);
  expectShape(op, 'pos', pos, [1], 'u32');
  gpu.dispatch('attention', 'attention_decode', [out, cache, pos, uniformDims(gpu, [1, cache.shape[0], NH], [1 / Math.sqrt(HS)])], [Math.ceil(NH / WG)], {
    defines: defines(HS, rowsPerInvocation(gpu, HS)),
  });
}
