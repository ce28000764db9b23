/** CPU references (float64) for shaders/layernorm.wgsl. N rows, C channels; eps 1e-5, biased variance. */

export const LN_EPS = 1e-5;

/** out (N,C), mean (N), rstd (N) from inp (N,C), weight (C), bias (C). */
export function layernormForwardRef(inp: ArrayLike<number>, weight: ArrayLike<number>, bias: ArrayLike<number>, N: number, C: number) {
  const out = new Float64Array(N * C);
  const mean = new Float64Array(N);
  const rstd = new Float64Array(N);
  for (let n = 0; n < N; n++) {
    const x = n * C;
    let m = 0;
    for (let c = 0; c < C; c++) m += inp[x + c];
    m /= C;
    let v = 0;
    for (let c = 0; c < C; c++) v += (inp[x + c] - m) ** 2;
    v /= C;
    const r = 1 / Math.sqrt(v + LN_EPS);
    for (let c = 0; c < C; c++) out[x + c] = (inp[x + c] - m) * r * weight[c] + bias[c];
    mean[n] = m;
    rstd[n] = r;
  }
  return { out, mean, rstd };
}

/** Gradients dinp (N,C), dweight (C), dbias (C) of layernormForwardRef, given dout and the forward's mean/rstd. */
export function layernormBackwardRef(
  dout: ArrayLike<number>, inp: ArrayLike<number>, weight: ArrayLike<number>,
  mean: ArrayLike<number>, rstd: ArrayLike<number>, N: number, C: number,
) {
  const dinp = new Float64Array(N * C);
  const dweight = new Float64Array(C);
  const dbias = new Float64Array(C);
  for (let n = 0; n < N; n++) {
    const x = n * C;
    const m = mean[n], r = rstd[n];
    let dnormMean = 0, dnormNormMean = 0;
    for (let c = 0; c < C; c++) {
      const norm = (inp[x + c] - m) * r;
      const dnorm = dout[x + c] * weight[c];
      dnormMean += dnorm;
      dnormNormMean += dnorm * norm;
      dweight[c] += dout[x + c] * norm;
      dbias[c] += dout[x + c];
    }
    dnormMean /= C;
    dnormNormMean /= C;
    for (let c = 0; c < C; c++) {
      const norm = (inp[x + c] - m) * r;
      const dnorm = dout[x + c] * weight[c];
      dinp[x + c] = (dnorm - dnormMean - norm * dnormNormMean) * r;
    }
  }
  return { dinp, dweight, dbias };
}
