/** CPU references (float64) for shaders/softmax.wgsl. N rows of V entries. */

/** out (N,V) = softmax of each row of inp (N,V), max subtracted first. */
export function softmaxForwardRef(inp: ArrayLike<number>, N: number, V: number): Float64Array {
  const out = new Float64Array(N * V);
  for (let n = 0; n < N; n++) {
    const x = n * V;
    let m = -Infinity;
    for (let i = 0; i < V; i++) m = Math.max(m, inp[x + i]);
    let s = 0;
    for (let i = 0; i < V; i++) s += (out[x + i] = Math.exp(inp[x + i] - m));
    for (let i = 0; i < V; i++) out[x + i] /= s;
  }
  return out;
}

/** dinp (N,V) = out * (dout - sum_j dout_j * out_j), per row. */
export function softmaxBackwardRef(dout: ArrayLike<number>, out: ArrayLike<number>, N: number, V: number): Float64Array {
  const dinp = new Float64Array(N * V);
  for (let n = 0; n < N; n++) {
    const x = n * V;
    let s = 0;
    for (let i = 0; i < V; i++) s += dout[x + i] * out[x + i];
    for (let i = 0; i < V; i++) dinp[x + i] = out[x + i] * (dout[x + i] - s);
  }
  return dinp;
}
