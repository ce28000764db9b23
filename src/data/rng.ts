/**
 * Seeded random numbers with a state you can save and restore, so data order is reproducible and
 * a resumed run draws exactly the batches the uninterrupted run would have drawn.
 * Generator: xoshiro128** (Blackman & Vigna), state seeded by splitmix32.
 */
import { WgptError } from '../errors.ts';

/** setState got something that is not a state from state(). */
export class RngStateError extends WgptError {
  constructor(message: string) { super('RNG_STATE', message); }
}

function splitmix32(seed: number): () => number {
  let a = seed | 0;
  return () => {
    a = (a + 0x9e3779b9) | 0;
    let t = a ^ (a >>> 16);
    t = Math.imul(t, 0x21f0aaad);
    t ^= t >>> 15;
    t = Math.imul(t, 0x735a2d97);
    return (t ^ (t >>> 15)) >>> 0;
  };
}

export class Rng {
  private readonly s = new Uint32Array(4);

  /** seed: any safe integer (negative and > 2^32 included; all 53 bits count). */
  constructor(seed: number) {
    if (!Number.isSafeInteger(seed)) throw new RngStateError(`seed must be a safe integer, got ${seed}`);
    const lo = seed >>> 0;
    const hi = Math.floor(seed / 4294967296) | 0;
    const sm = splitmix32(lo ^ Math.imul(hi, 0x85ebca6b));
    for (let i = 0; i < 4; i++) this.s[i] = sm();
    if ((this.s[0] | this.s[1] | this.s[2] | this.s[3]) === 0) this.s[0] = 1; // all-zero is a fixed point
  }

  /** A generator continuing from a saved state(). */
  static fromState(state: readonly number[]): Rng {
    const r = new Rng(0);
    r.setState(state);
    return r;
  }

  /** Uniform integer in [0, 2^32). */
  nextUint32(): number {
    const s = this.s;
    const result = Math.imul(rotl(Math.imul(s[1], 5), 7), 9) >>> 0;
    const t = s[1] << 9;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 11);
    return result;
  }

  /** Uniform float in [0, 1), 32 bits of resolution. */
  next(): number {
    return this.nextUint32() / 4294967296;
  }

  /** Uniform integer in [0, n), unbiased (rejection sampling); n an integer in [1, 2^32]. */
  nextInt(n: number): number {
    if (!Number.isInteger(n) || n < 1 || n > 4294967296) throw new RangeError(`nextInt: n must be an integer in [1, 2^32], got ${n}`);
    const limit = 4294967296 - (4294967296 % n);
    for (;;) {
      const x = this.nextUint32();
      if (x < limit) return x % n;
    }
  }

  /** The generator's state: four uint32 numbers, JSON-serializable. */
  state(): number[] {
    return Array.from(this.s);
  }

  /** Continue from a state() taken earlier (here or in another process). */
  setState(state: readonly number[]): void {
    if (!Array.isArray(state) || state.length !== 4 || !state.every((x) => Number.isInteger(x) && x >= 0 && x <= 0xffffffff)) {
      throw new RngStateError(`RNG state must be 4 integers in [0, 2^32), got ${JSON.stringify(state)?.slice(0, 80)}`);
    }
    if (state.every((x) => x === 0)) throw new RngStateError('RNG state must not be all zeros');
    for (let i = 0; i < 4; i++) this.s[i] = state[i];
  }
}

function rotl(x: number, k: number): number {
  return (x << k) | (x >>> (32 - k));
}
