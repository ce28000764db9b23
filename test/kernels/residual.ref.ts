/** CPU references (float64) for shaders/residual.wgsl. */

/** out (N) = a + b */
export function residualForwardRef(a: ArrayLike<number>, b: ArrayLike<number>): Float64Array {
  const out = new Float64Array(a.length);
  for (let i = 0; i < a.length; i++) out[i] = a[i] + b[i];
  return out;
}

/** Gradients of residualForwardRef: da = db = dout (the kernel adds them into da, db). */
export function residualBackwardRef(dout: ArrayLike<number>): { da: Float64Array; db: Float64Array } {
  return { da: Float64Array.from(dout), db: Float64Array.from(dout) };
}
