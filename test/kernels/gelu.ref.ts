/** CPU references (float64) for shaders/gelu.wgsl: GPT-2's tanh-approximated GELU. */

const GELU_SCALE = Math.sqrt(2 / Math.PI);
const GELU_CUBIC = 0.044715;

/** out (N) = 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))) */
export function geluForwardRef(inp: ArrayLike<number>): Float64Array {
  const out = new Float64Array(inp.length);
  for (let i = 0; i < inp.length; i++) {
    const x = inp[i];
    out[i] = 0.5 * x * (1 + Math.tanh(GELU_SCALE * (x + GELU_CUBIC * x * x * x)));
  }
  return out;
}

/** dinp (N) = gelu'(inp) * dout (the gradient itself; the kernel adds it into dinp). */
export function geluBackwardRef(inp: ArrayLike<number>, dout: ArrayLike<number>): Float64Array {
  const dinp = new Float64Array(inp.length);
  for (let i = 0; i < inp.length; i++) {
    const x = inp[i];
    const th = Math.tanh(GELU_SCALE * (x + GELU_CUBIC * x * x * x));
    const sech2 = 1 - th * th;
    // guard 0 * inf for |x| > 1e100 (x^2 overflows in float64 only there)
    const throughTanh = sech2 === 0 ? 0 : 0.5 * x * sech2 * GELU_SCALE * (1 + 3 * GELU_CUBIC * x * x);
    dinp[i] = (0.5 * (1 + th) + throughTanh) * dout[i];
  }
  return dinp;
}
