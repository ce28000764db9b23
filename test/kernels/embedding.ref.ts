/** CPU references (float64) for shaders/embedding.wgsl. Shapes as in the kernel's header. */

/** out (B,T,C) = wte[ids[b,t]] (V,C) + wpe[t] (maxT,C) */
export function embeddingForwardRef(ids: ArrayLike<number>, wte: ArrayLike<number>, wpe: ArrayLike<number>, B: number, T: number, C: number): Float64Array {
  const out = new Float64Array(B * T * C);
  for (let b = 0; b < B; b++) {
    for (let t = 0; t < T; t++) {
      const id = ids[b * T + t];
      for (let c = 0; c < C; c++) out[(b * T + t) * C + c] = wte[id * C + c] + wpe[t * C + c];
    }
  }
  return out;
}

/** Gradients of embeddingForwardRef given dout (B,T,C), by naive scatter: dwte (V,C), dwpe (maxT,C). */
export function embeddingBackwardRef(dout: ArrayLike<number>, ids: ArrayLike<number>, B: number, T: number, C: number, V: number, maxT: number) {
  const dwte = new Float64Array(V * C);
  const dwpe = new Float64Array(maxT * C);
  for (let b = 0; b < B; b++) {
    for (let t = 0; t < T; t++) {
      const id = ids[b * T + t];
      for (let c = 0; c < C; c++) {
        const d = dout[(b * T + t) * C + c];
        dwte[id * C + c] += d;
        dwpe[t * C + c] += d;
      }
    }
  }
  return { dwte, dwpe };
}
