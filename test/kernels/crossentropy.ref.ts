/** CPU reference (float64) for shaders/crossentropy.wgsl. N rows, V vocabulary. */

/**
 * losses (N) and dlogits (N,V) of the fused softmax + cross-entropy: for 0 <= t < V,
 * loss = logsumexp(row) - row[t], dlogits = (softmax(row) - onehot(t)) * scale;
 * any other target (negative = ignore index; >= V = out of range) gives loss 0 and a zero row.
 */
export function crossEntropyRef(logits: ArrayLike<number>, targets: ArrayLike<number>, scale: number, N: number, V: number) {
  const losses = new Float64Array(N);
  const dlogits = new Float64Array(N * V);
  for (let n = 0; n < N; n++) {
    const t = targets[n];
    if (t < 0 || t >= V) continue;
    const x = n * V;
    let m = -Infinity;
    for (let i = 0; i < V; i++) m = Math.max(m, logits[x + i]);
    let s = 0;
    for (let i = 0; i < V; i++) s += Math.exp(logits[x + i] - m);
    losses[n] = Math.log(s) + m - logits[x + t];
    for (let i = 0; i < V; i++) dlogits[x + i] = (Math.exp(logits[x + i] - m) / s - (i === t ? 1 : 0)) * scale;
  }
  return { losses, dlogits };
}
