/**
 * matmul: linear layers (forward, backward) and batched products. See shaders/matmul.wgsl.
 *
 * Accumulation contract (llm.c's): matmulForward overwrites `out`; matmulBackward ADDS into
 * dinp, dweight and dbias (`+=`), so gradient accumulation and the residual stream work.
 */
import type { Gpu } from '../gpu/context.ts';
import type { Tensor } from '../gpu/tensor.ts';
import { ShapeError } from '../errors.ts';
import { expectDim, expectShape, rowsCols } from './check.ts';

const WG = 8; // workgroup is 8 x 8 invocations
const TILE = 4; // each invocation computes 4 x 4 outputs

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
}

/**
 * Low-level product: out (batch, M, N) = alpha * op(A) . op(B) [+ bias] [+ out].
 * A holds batch x M x K elements (stored (M,K), or (K,M) when transA), B batch x K x N.
 */
export function matmul(gpu: Gpu, out: Tensor, a: Tensor, b: Tensor, M: number, N: number, K: number, opts: BatchedMatmulOptions = {}): void {
  const op = 'matmul';
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
  const bias = opts.bias ?? gpu.dummy();
  gpu.dispatch(
    'matmul',
    'matmul',
    [out, a, b, bias],
    [Math.ceil(N / (WG * TILE)), Math.ceil(M / (WG * TILE)), batch],
    {
      constants: {
        M, N, K,
        TRANS_A: !!opts.transA,
        TRANS_B: !!opts.transB,
        HAS_BIAS: !!opts.bias,
        ACCUMULATE: !!opts.accumulate,
        ALPHA: opts.alpha ?? 1,
        STRIDE_A: batch > 1 ? strideA : 0,
        STRIDE_B: batch > 1 ? strideB : 0,
        STRIDE_C: batch > 1 ? strideC : 0,
      },
    },
  );
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

/** dbias (OC) += sum over rows of dout (N, OC). Deterministic: one invocation per column. */
export function biasBackward(gpu: Gpu, dbias: Tensor, dout: Tensor): void {
  const [N, OC] = rowsCols(dout);
  expectShape('biasBackward', 'dbias', dbias, [OC]);
  gpu.dispatch('matmul', 'bias_backward', [dbias, dout], [Math.ceil(OC / 64)], { constants: { ROWS: N, COLS: OC } });
}
