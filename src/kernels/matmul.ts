/**
 * matmul: linear layers (forward, backward) and batched products. See shaders/matmul.wgsl.
 *
 * Accumulation contract (llm.c's): matmulForward overwrites `out`; matmulBackward ADDS into
 * dinp, dweight and dbias (`+=`), so gradient accumulation and the residual stream work.
 */
import type { Gpu } from '../gpu/context.ts';
import type { Tensor } from '../gpu/tensor.ts';
import { LimitError, ShapeError } from '../errors.ts';
import { expectDim, expectShape, prefersGpuKernels, rowsCols, subgroupLanes } from './check.ts';
import { dims } from './uniforms.ts';

const WG = 8; // general kernel: workgroup of 8 x 8 invocations
const SHARED_TILE = 64; // shared kernel: a 64 x 64 tile of C per workgroup
const TILE = 4; // each invocation computes 4 x 4 outputs
const RP = 128; // fast path: rows per packed block, side of a region of C
const SG_LANES = 8; // matmul_windows_sg: lanes it broadcasts from (the subgroup must have at least these)
const SG_ROWS = 16; // matmul_windows_sg: rows of C per subgroup (4 columns per lane)
const WIN_MAX = 2; // fast path: k-blocks (uniform windows per operand) per dispatch (shaders/matmul.wgsl: WIN_MAX)
const WIN_TILE = 8; // fast path: each invocation computes 8 x 8 outputs
const WINDOW_FLOATS = 16384; // one 64 KiB uniform window
const MAX_PACKED_BYTES = 64 << 20; // larger operands take the general kernel (row-layout size; k-major can need 9/8 of it)
const MIN_WINDOW_MACS = 1 << 20; // smaller products take the general kernel (fewer dispatches)

export interface BatchedMatmulOptions {
  /** A is stored (K, M) instead of (M, K). */
  transA?: boolean;
  /** B is stored (N, K) instead of (K, N). */
  transB?: boolean;
  /** out = alpha * A.B (+ bias) (+ out). */
  alpha?: number;
  /** Add into `out` instead of overwriting it. */
  accumulate?: boolean;
  /** Bias (N,) added to every row. */
  bias?: Tensor;
  /** Number of independent products (batch); strides are taken from M, N, K unless given. */
  batch?: number;
  /** Elements between batches; 0 means the operand is shared by all batches. */
  strideA?: number;
  strideB?: number;
  strideC?: number;
  /**
   * Which kernel (for tests and benchmarks; the default 'auto' is right otherwise): 'tiled' is the
   * general kernel, 'windows' the packed uniform-window path (batch 1 only) that 'auto' picks on
   * CPU adapters (lavapipe) for products of at least 2^20 multiply-adds, 'shared' the
   * workgroup-memory kernel that 'auto' picks on GPUs (every shape: on an H100 it beat the general
   * kernel at all 12 of the `small` model's products that used it, bench/results/h100-2026-11-27,
   * run 4; in run 5's single table two were within noise the other way).
   */
  kernel?: 'auto' | 'tiled' | 'windows' | 'shared';
  /**
   * Split-K for the general and the workgroup-memory kernel (batch 1): S products over slices of
   * K, summed in order by a second dispatch. Default 'auto': on hardware adapters, when C has few
   * tiles and K is long (a weight gradient); never on CPU adapters. A number forces S (tests); 1
   * turns it off.
   */
  splitK?: 'auto' | number;
  /**
   * The windows path's kernel: true for `matmul_windows_sg` (rows of A broadcast across a
   * subgroup; needs the device's 'subgroups' feature with subgroups of at least 8 lanes, as on
   * lavapipe), false for `matmul_windows`. Default: true where the device has it.
   */
  subgroups?: boolean;
  /**
   * The subgroup kernel's k-major layout for A stored (K, M) and B stored (K, N) (transA, not
   * transB: a weight gradient): false for the row layout, true to force it. Default: with the
   * subgroup kernel, where padding K to a multiple of 128 adds at most an eighth.
   */
  kMajor?: boolean;
  /**
   * The windows path computes C^T = op(B)^T . op(A)^T and stores it transposed: true / false
   * forced (tests, benchmarks). Default: where N fills the kernel's tiles clearly worse than M.
   */
  transposedC?: boolean;
}

const CHOICES = ['kernel', 'splitK', 'subgroups', 'kMajor', 'transposedC'] as const;

/** The kernel-choice options of gpu.kernelDefaults.matmul (anything else there is an error: shapes are per call). */
function choiceDefaults(gpu: Gpu): BatchedMatmulOptions {
  const d = gpu.kernelDefaults.matmul;
  if (!d) return {};
  const bad = Object.keys(d).filter((k) => !(CHOICES as readonly string[]).includes(k));
  if (bad.length) throw new ShapeError(`matmul: gpu.kernelDefaults.matmul may only hold ${CHOICES.join(', ')}, got ${bad.join(', ')}`);
  return d as BatchedMatmulOptions;
}

/**
 * Low-level product: out (batch, M, N) = alpha * op(A) . op(B) [+ bias] [+ out].
 * A holds batch x M x K elements (stored (M,K), or (K,M) when transA), B batch x K x N.
 */
export function matmul(gpu: Gpu, out: Tensor, a: Tensor, b: Tensor, M: number, N: number, K: number, callOpts: BatchedMatmulOptions = {}): void {
  const op = 'matmul';
  const opts = { ...choiceDefaults(gpu), ...callOpts };
  expectDim(op, 'M', M);
  expectDim(op, 'N', N);
  expectDim(op, 'K', K);
  const batch = opts.batch ?? 1;
  expectDim(op, 'batch', batch);
  const strideA = opts.strideA ?? M * K;
  const strideB = opts.strideB ?? K * N;
  const strideC = opts.strideC ?? M * N;
  const need = (stride: number, per: number) => (batch - 1) * stride + per;
  if (a.size < need(strideA, M * K)) throw new ShapeError(`${op}: A ${a.name ?? ''} has ${a.size} elements, needs ${need(strideA, M * K)} for batch ${batch} of (${opts.transA ? `${K}, ${M}` : `${M}, ${K}`})`);
  if (b.size < need(strideB, K * N)) throw new ShapeError(`${op}: B ${b.name ?? ''} has ${b.size} elements, needs ${need(strideB, K * N)} for batch ${batch} of (${opts.transB ? `${N}, ${K}` : `${K}, ${N}`})`);
  if (out.size < need(strideC, M * N)) throw new ShapeError(`${op}: out ${out.name ?? ''} has ${out.size} elements, needs ${need(strideC, M * N)} for batch ${batch} of (${M}, ${N})`);
  if (opts.bias) expectShape(op, 'bias', opts.bias, [N]);
  const kernel = opts.kernel ?? 'auto';
  if (kernel === 'windows' && batch !== 1) throw new ShapeError(`${op}: kernel 'windows' needs batch 1, got ${batch}`);
  const forcedSplit = typeof opts.splitK === 'number' && opts.splitK > 1;
  if (kernel === 'windows' && forcedSplit) throw new ShapeError(`${op}: kernel 'windows' has no split-K (splitK ${opts.splitK})`);
  if (kernel === 'windows' || (kernel === 'auto' && batch === 1 && !forcedSplit && windowsPay(gpu, M, N, K))) {
    matmulWindows(gpu, out, a, b, M, N, K, opts);
    return;
  }
  const sA = batch > 1 ? strideA : 0;
  const sB = batch > 1 ? strideB : 0;
  const sC = batch > 1 ? strideC : 0;
  // vec4 loads where the contiguous dimension (and every batch's start) is a multiple of 4 elements
  const by4 = (x: number) => x % 4 === 0;
  const vecA = by4(sA) && by4(a.offset / 4) && by4(opts.transA ? M : K);
  const vecB = by4(sB) && by4(b.offset / 4) && by4(opts.transB ? K : N);
  const flags = (opts.bias ? 1 : 0) | (opts.accumulate ? 2 : 0);
  const shared = kernel === 'shared' || (kernel === 'auto' && prefersGpuKernels(gpu));
  const pipeline = { defines: { ...DEFINES_OFF, A_VEC4: vecA, B_VEC4: vecB, SHARED: shared }, constants: { TRANS_A: !!opts.transA, TRANS_B: !!opts.transB } };
  // the kernels walk k 4 at a time when an operand is read as vec4 along k: slices of 4k then
  const kBy4 = (!opts.transA && vecA) || (!!opts.transB && vecB);
  const split = splitKPlan(gpu, M, N, K, batch, opts.splitK ?? 'auto', kBy4, shared ? SHARED_TILE : WG * TILE);
  const entry = shared ? 'matmul_shared' : 'matmul';
  const grid = (z: number): [number, number, number] =>
    shared ? [Math.ceil(N / SHARED_TILE), Math.ceil(M / SHARED_TILE), z] : [Math.ceil(N / (WG * TILE)), Math.ceil(M / (WG * TILE)), z];
  if (!split) {
    gpu.dispatch('matmul', entry, [out, a, b, opts.bias ?? gpu.dummy(), dims(gpu, [M, N, K, sA, sB, sC, flags, 0], [opts.alpha ?? 1])], grid(batch), pipeline);
    return;
  }
  // S partial products (no bias, overwrite) into scratch slices of M*N, then their ordered sum
  const { S, chunk } = split;
  const partials = splitScratch(gpu, S * M * N);
  gpu.dispatch('matmul', entry, [partials, a, b, gpu.dummy(), dims(gpu, [M, N, K, 0, 0, M * N, 0, chunk], [1])], grid(S), pipeline);
  gpu.dispatch('matmul', 'matmul_splitk_reduce', [out, partials, dims(gpu, [M * N, N, S, flags], [opts.alpha ?? 1]), opts.bias ?? gpu.dummy()], gpu.grid(Math.ceil((M * N) / 64)), {
    defines: DEFINES_OFF,
  });
}

// ---------------------------------------------------------------------------------- split-K
// A weight gradient (M, N) = (OC, C) with K = B*T leaves a real GPU mostly idle: tens of
// tiles (32 x 32, or 64 x 64 for the workgroup-memory kernel), each walking all of K. Split-K runs
// S times as many workgroups on K / S each.
const SPLIT_TARGET_TILES = 512; // aim for about this many workgroups
const SPLIT_MIN_CHUNK = 128; // k-values per slice, at least
const SPLIT_MAX_FLOATS = (SPLIT_TARGET_TILES + SPLIT_TARGET_TILES / 4) * SHARED_TILE ** 2; // what 'auto' can need

function splitKPlan(gpu: Gpu, M: number, N: number, K: number, batch: number, want: 'auto' | number, kBy4: boolean, tile: number): { S: number; chunk: number } | null {
  let S: number;
  const tiles = Math.ceil(M / tile) * Math.ceil(N / tile);
  if (want === 'auto') {
    if (!prefersGpuKernels(gpu) || batch !== 1 || tiles * 4 > SPLIT_TARGET_TILES) return null;
    S = Math.min(Math.ceil(SPLIT_TARGET_TILES / tiles), Math.floor(K / SPLIT_MIN_CHUNK));
  } else {
    if (!Number.isInteger(want) || want < 1) throw new ShapeError(`matmul: splitK must be 'auto' or an integer >= 1, got ${want}`);
    if (want > 1 && batch !== 1) throw new ShapeError(`matmul: splitK ${want} needs batch 1, got ${batch}`);
    S = Math.min(want, K);
  }
  if (S < 2) return null;
  // slices of a multiple of 4 k-values (the vec4 loop walks k by 4); S shrinks to what is needed
  const chunk = kBy4 ? Math.ceil(K / S / 4) * 4 : Math.ceil(K / S);
  return { S: Math.ceil(K / chunk), chunk };
}

const splitScratchOf = new WeakMap<Gpu, { buffer: GPUBuffer; floats: number }>();

/** The device's split-K scratch, at least `floats` long. Made once at the size 'auto' can need (10 MiB), grown only for a forced larger split (tests). */
function splitScratch(gpu: Gpu, floats: number): Tensor {
  let s = splitScratchOf.get(gpu);
  if (!s || s.floats < floats) {
    // an outgrown buffer is kept alive (recorded dispatches may still bind it), not destroyed
    const n = Math.max(floats, SPLIT_MAX_FLOATS);
    s = { buffer: gpu.createBuffer(n * 4, GPUBufferUsage.STORAGE, 'matmul.splitk'), floats: n };
    splitScratchOf.set(gpu, s);
  }
  return view(s.buffer, 0, floats, 'splitk partials');
}

// ------------------------------------------------------------------------------ the fast path
// See shaders/matmul.wgsl (2.): on lavapipe, uniform-buffer loads are ~3x cheaper than storage
// loads, so both operands are packed into 64 KiB blocks and read through uniform windows.

/**
 * Defines every dispatch of the matmul module passes (the general kernel's binding types; SHARED:
 * the module with the workgroup-memory kernel; SUBGROUPS: with the subgroup windows kernel).
 */
const DEFINES_OFF = { A_VEC4: false, B_VEC4: false, SHARED: false, SUBGROUPS: false };

/** k-blocking of K: Q blocks of KC values (KC a multiple of 4, at most 128, RP * KC <= 16384). */
function kBlocks(K: number): { Q: number; KC: number } {
  const Q = Math.ceil(K / (WINDOW_FLOATS / RP));
  return { Q, KC: Math.ceil(Math.ceil(K / Q) / 4) * 4 };
}

/** Floats of a packed operand with `rows` rows: P x Q blocks of RP x KC. */
function packedFloats(rows: number, { Q, KC }: { Q: number; KC: number }): number {
  return Math.ceil(rows / RP) * Q * RP * KC;
}

function isLavapipe(gpu: Gpu): boolean {
  const r = gpu.report;
  return r.runtime === 'node' && r.isSoftware && /llvmpipe|lavapipe/i.test(`${r.device} ${r.description}`);
}

/** True when the device can run `matmul_windows_sg`: the 'subgroups' feature, with at least 8 lanes. */
export function hasSubgroupWindows(gpu: Gpu): boolean {
  return subgroupLanes(gpu) >= SG_LANES;
}

function windowsPay(gpu: Gpu, M: number, N: number, K: number): boolean {
  return (
    isLavapipe(gpu) &&
    M * N * K >= MIN_WINDOW_MACS &&
    Math.max(packedFloats(M, kBlocks(K)), packedFloats(N, kBlocks(K))) * 4 <= MAX_PACKED_BYTES &&
    (gpu.limits.maxUniformBufferBindingSize ?? 65536) >= WINDOW_FLOATS * 4
  );
}

interface WindowState {
  /** Scratch buffers for packed operands, by operand and size class; never shrunk. */
  scratch: Map<string, GPUBuffer>;
  /** Per (M, N, K, alpha, bias, accumulate, k-major, C^T): the uniform buffer of dispatch parameters, one 256-byte slot per dispatch. */
  params: Map<string, GPUBuffer>;
}
const windowState = new WeakMap<Gpu, WindowState>();

function state(gpu: Gpu): WindowState {
  let s = windowState.get(gpu);
  if (!s) windowState.set(gpu, (s = { scratch: new Map(), params: new Map() }));
  return s;
}

/** A view of `floats` floats of `buffer` at byte `offset`, bindable like a tensor. */
function view(buffer: GPUBuffer, offset: number, floats: number, name: string): Tensor {
  return { buffer, offset, size: floats, shape: [floats], dtype: 'f32', name };
}

/** A scratch buffer for a packed operand ('a' or 'b'), with one window of slack past the end. */
function scratch(gpu: Gpu, which: string, floats: number): GPUBuffer {
  const bytes = 2 ** Math.ceil(Math.log2(floats * 4 + WINDOW_FLOATS * 4));
  const s = state(gpu).scratch;
  const key = `${which}:${bytes}`;
  let buf = s.get(key);
  if (!buf) {
    buf = gpu.createBuffer(bytes, GPUBufferUsage.STORAGE | GPUBufferUsage.UNIFORM, `matmul.pack${which.toUpperCase()}`);
    s.set(key, buf);
  }
  return buf;
}

/**
 * Pack op(X) (rows x K) into `dst` as (P, Q, RP, KC) blocks; `trans`: X is stored (K, rows).
 * `blocks` overrides the k-blocking (the k-major layout packs X stored (K, R) as rows = K,
 * K = R with blocks of exactly RP).
 */
function pack(gpu: Gpu, dst: GPUBuffer, x: Tensor, rows: number, K: number, trans: boolean, blocks = kBlocks(K)): void {
  const { Q, KC } = blocks;
  const floats = packedFloats(rows, blocks);
  // vec4 loads where the contiguous dimension is a multiple of 4; rows of any other K too when
  // not transposed and X is whole vec4s (each row's 4 k-values shifted out of two vec4s)
  const vec4 = x.offset % 16 === 0 && ((trans ? rows : K) % 4 === 0 || (!trans && x.size % 4 === 0));
  gpu.dispatch('matmul', 'matmul_pack', [view(dst, 0, floats, 'packed'), x, dims(gpu, [rows, K, KC, Q, trans ? 1 : 0, 4])], gpu.grid(Math.ceil(floats / 16 / 64)), {
    defines: { ...DEFINES_OFF, A_VEC4: vec4 },
  });
}

/**
 * True when op(X) (rows x K) is already in the packed layout, so its blocks can be bound in place
 * and the pack skipped: X not transposed, K one k-block with KC = K (K <= 128, K % 4 == 0), at an
 * offset a uniform binding may start at, in a buffer with UNIFORM usage (tensors have it) and
 * room for a whole 64 KiB window from every block's start (rows past the end are read, but they
 * only feed outputs that are never stored). Never the buffer C is written to: a uniform and a
 * writable storage binding of one buffer conflict within a dispatch.
 */
function inPlace(gpu: Gpu, x: Tensor, rows: number, K: number, trans: boolean, out: Tensor): boolean {
  const { Q, KC } = kBlocks(K);
  const blockBytes = RP * K * 4;
  if (trans || Q !== 1 || KC !== K || !bindableAsWindows(gpu, x, out) || blockBytes % gpu.device.limits.minUniformBufferOffsetAlignment !== 0) return false;
  return x.offset + (Math.ceil(rows / RP) - 1) * blockBytes + WINDOW_FLOATS * 4 <= x.buffer.size;
}

/**
 * What any in-place operand needs: UNIFORM usage (tensors have it), an offset a uniform binding
 * may start at, and not the buffer C is written to (a uniform and a writable storage binding of
 * one buffer conflict within a dispatch).
 */
function bindableAsWindows(gpu: Gpu, x: Tensor, out: Tensor): boolean {
  return x.buffer !== out.buffer && !!(x.buffer.usage & GPUBufferUsage.UNIFORM) && x.offset % gpu.device.limits.minUniformBufferOffsetAlignment === 0;
}

/**
 * The k-major layout (`matmul_windows_sg` only) for A stored (K, M) and B stored (K, N), a weight
 * gradient's operands: blocks of RP k-rows x RP rows, rows contiguous. An operand with exactly
 * RP rows (and K a multiple of RP, `inPlaceKMajor`) is then bound in place, and any other is
 * packed without a transpose. K is padded to a multiple of RP with zeros, so only where that adds
 * at most an eighth.
 */
function kMajorPays(K: number, opts: BatchedMatmulOptions): boolean {
  return !!opts.transA && !opts.transB && Math.ceil(K / RP) * RP * 8 <= K * 9;
}

/**
 * True when X stored (K, rows) already has the k-major layout: rows = RP, K a multiple of RP
 * (every window lies inside X: k-rows past K would add garbage, not only feed unstored outputs),
 * and `bindableAsWindows`.
 */
function inPlaceKMajor(gpu: Gpu, x: Tensor, rows: number, K: number, out: Tensor): boolean {
  return rows === RP && K % RP === 0 && bindableAsWindows(gpu, x, out);
}

/** out (M, N) = alpha * op(A) . op(B) [+ bias] [+ out] through packed uniform windows. */
function matmulWindows(gpu: Gpu, out: Tensor, a: Tensor, b: Tensor, M: number, N: number, K: number, opts: BatchedMatmulOptions): void {
  const sg = opts.subgroups ?? hasSubgroupWindows(gpu);
  if (sg && !hasSubgroupWindows(gpu)) {
    throw new LimitError("subgroup lanes (feature 'subgroups', smallest subgroup)", SG_LANES, subgroupLanes(gpu), 'matmul with subgroups: true');
  }
  if (opts.kMajor && !(sg && opts.transA && !opts.transB)) {
    throw new ShapeError(`matmul: kMajor needs the subgroup windows kernel with transA and not transB, got subgroups ${sg}, transA ${!!opts.transA}, transB ${!!opts.transB}`);
  }
  const kMajor = opts.kMajor ?? (sg && kMajorPays(K, opts));
  const { Q, KC } = kMajor ? { Q: Math.ceil(K / RP), KC: RP } : kBlocks(K);
  const PA = Math.ceil(M / RP), PB = Math.ceil(N / RP), G = Math.ceil(Q / WIN_MAX);
  // Row layout: op(A) rows are m; op(B)^T rows are n (B stored (K, N) is the transposed case).
  // k-major: A and B as stored. Each is packed into scratch, or bound where it is when it already
  // has the layout. Block (p, q) (rows p*RP.., k-values q*KC..) is at `block` below.
  const operand = (x: Tensor, rows: number, trans: boolean, which: 'a' | 'b') => {
    if (kMajor ? inPlaceKMajor(gpu, x, rows, K, out) : inPlace(gpu, x, rows, K, trans, out)) return { buffer: x.buffer, base: x.offset };
    // k-major: X stored (K, rows) packed untransposed as K "rows" of `rows` values, blocks (q, p) of RP x RP
    const [packRows, packK, packTrans, blocks] = kMajor ? [K, rows, false, { Q: Math.ceil(rows / RP), KC: RP }] : [rows, K, trans, kBlocks(K)];
    const buffer = scratch(gpu, which, packedFloats(packRows, blocks));
    pack(gpu, buffer, x, packRows, packK, packTrans, blocks);
    return { buffer, base: 0 };
  };
  const srcA = operand(a, M, !!opts.transA, 'a');
  const srcB = operand(b, N, !opts.transB, 'b');
  // The dispatches compute C^T = op(B)^T . op(A)^T instead (operands swapped, win_store writes
  // it transposed) where N fills the kernel's tiles (rows x columns of C per workgroup) clearly
  // worse than M: the LM head's N = V = 99 fills 99 of 128 columns, as M = 99 rows 99 of 112.
  const [tileR, tileC] = sg ? [SG_ROWS, SG_LANES * 4] : [WIN_TILE, 8 * WIN_TILE];
  const fill = (r: number, c: number) => (r / (Math.ceil(r / tileR) * tileR)) * (c / (Math.ceil(c / tileC) * tileC));
  const swap = opts.transposedC ?? fill(N, M) > 1.05 * fill(M, N);
  // the computed matrix: R x Cn from the row operand src1 (P1 row blocks) and the column operand src2
  const [R, Cn, src1, src2, P1, P2] = swap ? [N, M, srcB, srcA, PB, PA] : [M, N, srcA, srcB, PA, PB];

  // dispatch parameters: one 256-byte slot per (region, k-group), written once per shape and options
  const alpha = opts.alpha ?? 1;
  const key = `${M}x${N}x${K}:${alpha}:${opts.bias ? 'bias' : ''}:${opts.accumulate ? 'acc' : ''}${kMajor ? ':k-major' : ''}${swap ? ':C^T' : ''}`;
  const paramsMap = state(gpu).params;
  let params = paramsMap.get(key);
  if (!params) {
    const slots = new Uint32Array(P1 * P2 * G * 64);
    const f32 = new Float32Array(slots.buffer);
    let d = 0;
    for (let p1 = 0; p1 < P1; p1++) {
      for (let p2 = 0; p2 < P2; p2++) {
        for (let g = 0; g < G; g++, d++) {
          // struct Window: the region, k-blocks W, flags (bit 0: bias, on the first group only;
          // bit 1: accumulate, for every group after the first; bit 2: k-major; bit 3: C^T), alpha
          const flags = (opts.bias && g === 0 ? 1 : 0) | (opts.accumulate || g > 0 ? 2 : 0) | (kMajor ? 4 : 0) | (swap ? 8 : 0);
          slots.set([p1 * RP, p2 * RP, Math.min(RP, R - p1 * RP), Math.min(RP, Cn - p2 * RP), KC / 4, N, Math.min(WIN_MAX, Q - g * WIN_MAX), flags], d * 64);
          f32[d * 64 + 8] = alpha;
        }
      }
    }
    params = gpu.createBuffer(slots.byteLength, GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST, `matmul.windows ${key}`);
    gpu.device.queue.writeBuffer(params, 0, slots);
    paramsMap.set(key, params);
  }

  // row layout: block (p, q) of a (P, Q, RP, KC) array; k-major: of a (Q, P, RP, RP) array
  const block = (src: { buffer: GPUBuffer; base: number }, p: number, P: number, q: number, name: string) =>
    view(src.buffer, src.base + (kMajor ? q * P + p : p * Q + q) * RP * KC * 4, WINDOW_FLOATS, name);
  let d = 0;
  for (let p1 = 0; p1 < P1; p1++) {
    for (let p2 = 0; p2 < P2; p2++) {
      const rows = Math.min(RP, R - p1 * RP), cols = Math.min(RP, Cn - p2 * RP);
      for (let g = 0; g < G; g++, d++) {
        const W = Math.min(WIN_MAX, Q - g * WIN_MAX);
        const wa: Tensor[] = [], wb: Tensor[] = [];
        for (let w = 0; w < WIN_MAX; w++) {
          const q = g * WIN_MAX + Math.min(w, W - 1); // unused slots repeat the last window
          wa.push(block(src1, p1, P1, q, 'window of A'));
          wb.push(block(src2, p2, P2, q, 'window of B'));
        }
        const bindings = [out, ...wa, ...wb, opts.bias ?? gpu.dummy(), view(params, d * 256, 12, 'window')];
        if (sg) {
          gpu.dispatch('matmul', 'matmul_windows_sg', bindings, [Math.ceil(cols / (SG_LANES * 4)), Math.ceil(rows / SG_ROWS)], {
            defines: { ...DEFINES_OFF, SUBGROUPS: true },
          });
        } else {
          gpu.dispatch('matmul', 'matmul_windows', bindings, [Math.ceil(cols / (8 * WIN_TILE)), Math.ceil(rows / WIN_TILE)], { defines: DEFINES_OFF });
        }
      }
    }
  }
}

/**
 * Linear layer forward: out (N, OC) = inp (N, C) . weight(OC, C)^T + bias (OC).
 * `inp` may have any leading dims (B, T, C); `out` must match them with OC last.
 */
export function matmulForward(gpu: Gpu, out: Tensor, inp: Tensor, weight: Tensor, bias?: Tensor): void {
  const op = 'matmulForward';
  const [N, C] = rowsCols(inp);
  const [OC, C2] = [weight.shape[0], weight.shape[1]];
  expectShape(op, 'weight', weight, [-1, C]);
  if (C2 !== C) throw new ShapeError(`${op}: weight (${weight.shape.join(', ')}) does not match inp channels ${C}`);
  expectShape(op, 'out', out, [...inp.shape.slice(0, -1), OC]);
  if (bias) expectShape(op, 'bias', bias, [OC]);
  matmul(gpu, out, inp, weight, N, OC, C, { transB: true, bias });
}

/**
 * Linear layer backward. Adds (+=) into dinp (N, C), dweight (OC, C) and dbias (OC).
 * Pass null for gradients that are not needed (e.g. dinp of the first layer).
 */
export function matmulBackward(
  gpu: Gpu,
  dinp: Tensor | null,
  dweight: Tensor | null,
  dbias: Tensor | null,
  dout: Tensor,
  inp: Tensor,
  weight: Tensor,
): void {
  const op = 'matmulBackward';
  const [N, C] = rowsCols(inp);
  const OC = weight.shape[0];
  expectShape(op, 'weight', weight, [OC, C]);
  expectShape(op, 'dout', dout, [...inp.shape.slice(0, -1), OC]);
  if (dinp) {
    expectShape(op, 'dinp', dinp, inp.shape);
    matmul(gpu, dinp, dout, weight, N, C, OC, { accumulate: true });
  }
  if (dweight) {
    expectShape(op, 'dweight', dweight, [OC, C]);
    matmul(gpu, dweight, dout, inp, OC, C, N, { transA: true, accumulate: true });
  }
  if (dbias) {
    expectShape(op, 'dbias', dbias, [OC]);
    biasBackward(gpu, dbias, dout);
  }
}

/**
 * dbias (OC) += sum over rows of dout (N, OC). Deterministic: rows in order per 4 columns on CPU
 * adapters; on GPUs 32 row slices per 4 columns, summed in order. `slices` forces one (tests).
 */
export function biasBackward(gpu: Gpu, dbias: Tensor, dout: Tensor, slices = prefersGpuKernels(gpu)): void {
  const [N, OC] = rowsCols(dout);
  expectShape('biasBackward', 'dbias', dbias, [OC]);
  const vec4 = OC % 4 === 0 && dout.offset % 16 === 0;
  gpu.dispatch('matmul', slices ? 'bias_backward_slices' : 'bias_backward', [dbias, dout, dims(gpu, [N, OC])], [Math.ceil(OC / 4 / (slices ? 8 : 16))], {
    defines: { ...DEFINES_OFF, A_VEC4: vec4 },
  });
}
