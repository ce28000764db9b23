/**
 * Test helpers with no test-runner dependency, so the same cases run in Node (vitest) and in
 * headless Chromium (puppeteer): seeded random data and closeness checks that print the worst error.
 */

/** mulberry32: small, fast, seeded. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** n samples of N(0, std^2), seeded (Box-Muller), as float32-representable float64s. */
export function randn(n: number, seed: number, std = 1): Float64Array {
  const r = rng(seed);
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const u = Math.max(r(), 1e-12);
    const v = r();
    out[i] = Math.fround(std * Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v));
  }
  return out;
}

/** n samples of U(lo, hi), seeded. */
export function randu(n: number, seed: number, lo = -1, hi = 1): Float64Array {
  const r = rng(seed);
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) out[i] = Math.fround(lo + (hi - lo) * r());
  return out;
}

/** n integers in [0, k), seeded. */
export function randint(n: number, k: number, seed: number): Int32Array {
  const r = rng(seed);
  const out = new Int32Array(n);
  for (let i = 0; i < n; i++) out[i] = Math.floor(r() * k);
  return out;
}

export interface Tolerance {
  atol: number;
  rtol: number;
  /** Why this tolerance: printed with failures so nobody loosens it blindly. */
  reason: string;
}

export class MismatchError extends Error {}

/**
 * Require |got - want| <= atol + rtol * |want| element-wise. On failure the message names the
 * tensor, the worst element, both values, the tolerance and its reason. Returns the worst abs error.
 */
export function assertClose(name: string, got: ArrayLike<number>, want: ArrayLike<number>, tol: Tolerance): number {
  if (got.length !== want.length) throw new MismatchError(`${name}: length ${got.length}, expected ${want.length}`);
  let worst = -1;
  let worstExcess = -Infinity;
  let maxAbs = 0;
  let bad = 0;
  for (let i = 0; i < got.length; i++) {
    const g = got[i];
    const w = want[i];
    const err = Math.abs(g - w);
    if (!Number.isFinite(g) && g !== w) {
      bad++;
      if (worstExcess < Infinity) { worstExcess = Infinity; worst = i; }
      continue;
    }
    maxAbs = Math.max(maxAbs, err);
    const excess = err - (tol.atol + tol.rtol * Math.abs(w));
    if (excess > 0) bad++;
    if (excess > worstExcess) { worstExcess = excess; worst = i; }
  }
  if (bad > 0) {
    throw new MismatchError(
      `${name}: ${bad}/${got.length} elements off; worst at [${worst}]: got ${got[worst]}, want ${want[worst]} ` +
        `(|err| ${Math.abs(got[worst] - want[worst]).toExponential(3)}; atol ${tol.atol}, rtol ${tol.rtol}: ${tol.reason})`,
    );
  }
  return maxAbs;
}

export function assert(cond: unknown, msg: string): asserts cond {
  if (!cond) throw new Error(msg);
}

/** Run fn and require it to throw an error whose name is `errName` and message matches `re`. */
export function assertThrows(fn: () => unknown, errName: string, re: RegExp): void {
  let caught: unknown = null;
  try { fn(); } catch (e) { caught = e; }
  if (!caught) throw new Error(`expected ${errName} matching ${re}, nothing was thrown`);
  const e = caught as Error;
  if (e.name !== errName || !re.test(e.message)) throw new Error(`expected ${errName} matching ${re}, got ${e.name}: ${e.message}`);
}

/** Central finite differences of a scalar function f(x) at x, for checking CPU references. */
export function numericGrad(f: (x: Float64Array) => number, x: Float64Array, eps = 1e-5): Float64Array {
  const g = new Float64Array(x.length);
  for (let i = 0; i < x.length; i++) {
    const old = x[i];
    x[i] = old + eps;
    const fp = f(x);
    x[i] = old - eps;
    const fm = f(x);
    x[i] = old;
    g[i] = (fp - fm) / (2 * eps);
  }
  return g;
}

/** sum(a * b): the scalar loss L = <out, G> used to turn a Jacobian check into a gradient check. */
export function dot(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * b[i];
  return s;
}
