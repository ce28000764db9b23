/** CPU references (float64) for shaders/matmul.wgsl. Shapes as in the kernel's header. */

/** out (N, OC) = inp (N, C) . weight (OC, C)^T + bias (OC) */
export function matmulForwardRef(inp: ArrayLike<number>, weight: ArrayLike<number>, bias: ArrayLike<number> | null, N: number, C: number, OC: number): Float64Array {
  const out = new Float64Array(N * OC);
  for (let n = 0; n < N; n++) {
    for (let o = 0; o < OC; o++) {
      let s = bias ? bias[o] : 0;
      for (let c = 0; c < C; c++) s += inp[n * C + c] * weight[o * C + c];
      out[n * OC + o] = s;
    }
  }
  return out;
}

/** Gradients of matmulForwardRef given dout (N, OC): dinp (N, C), dweight (OC, C), dbias (OC). */
export function matmulBackwardRef(dout: ArrayLike<number>, inp: ArrayLike<number>, weight: ArrayLike<number>, N: number, C: number, OC: number) {
  const dinp = new Float64Array(N * C);
  const dweight = new Float64Array(OC * C);
  const dbias = new Float64Array(OC);
  for (let n = 0; n < N; n++) {
    for (let o = 0; o < OC; o++) {
      const d = dout[n * OC + o];
      dbias[o] += d;
      for (let c = 0; c < C; c++) {
        dinp[n * C + c] += d * weight[o * C + c];
        dweight[o * C + c] += d * inp[n * C + c];
      }
    }
  }
  return { dinp, dweight, dbias };
}

/** out[b] (M, N) = alpha * op(A[b]) . op(B[b]); A stored (M,K) or (K,M) if transA; B (K,N) or (N,K) if transB. */
export function batchedMatmulRef(
  a: ArrayLike<number>, b: ArrayLike<number>, M: number, N: number, K: number,
  o: { transA?: boolean; transB?: boolean; alpha?: number; batch?: number } = {},
): Float64Array {
  const batch = o.batch ?? 1;
  const out = new Float64Array(batch * M * N);
  for (let z = 0; z < batch; z++) {
    const ab = z * M * K, bb = z * K * N, cb = z * M * N;
    for (let m = 0; m < M; m++) {
      for (let n = 0; n < N; n++) {
        let s = 0;
        for (let k = 0; k < K; k++) {
          const av = o.transA ? a[ab + k * M + m] : a[ab + m * K + k];
          const bv = o.transB ? b[bb + n * K + k] : b[bb + k * N + n];
          s += av * bv;
        }
        out[cb + m * N + n] = (o.alpha ?? 1) * s;
      }
    }
  }
  return out;
}
