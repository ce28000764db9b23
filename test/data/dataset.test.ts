import { describe, expect, it } from 'vitest';
import { CorpusError, Rng, RngStateError, TokenDataset } from '../../src/data/dataset.ts';
import { ShapeError } from '../../src/errors.ts';

const arange = (n: number): Int32Array => Int32Array.from({ length: n }, (_, i) => i);

describe('Rng', () => {
  it('is xoshiro128** (reference outputs for state [1, 2, 3, 4])', () => {
    const r = Rng.fromState([1, 2, 3, 4]);
    const got = Array.from({ length: 8 }, () => r.nextUint32());
    // from the authors' C implementation (prng.di.unimi.it/xoshiro128starstar.c)
    expect(got).toEqual([11520, 0, 5927040, 70819200, 2031721883, 1637235492, 1287239034, 3734860849]);
  });

  it('same seed, same sequence; different seeds differ; all 53 seed bits count', () => {
    const seq = (seed: number): number[] => {
      const r = new Rng(seed);
      return Array.from({ length: 20 }, () => r.next());
    };
    expect(seq(42)).toEqual(seq(42));
    expect(seq(42)).not.toEqual(seq(43));
    expect(seq(2 ** 40)).not.toEqual(seq(0));
    expect(seq(-1)).not.toEqual(seq(0xffffffff));
    for (const x of seq(7)) expect(x >= 0 && x < 1).toBe(true);
  });

  it('nextInt is uniform enough and in range', () => {
    const r = new Rng(1);
    const counts = new Array(7).fill(0);
    for (let i = 0; i < 70_000; i++) counts[r.nextInt(7)]++;
    for (const c of counts) expect(Math.abs(c - 10_000)).toBeLessThan(500); // ~5 sigma
    expect(() => r.nextInt(0)).toThrow(RangeError);
  });

  it('state() survives JSON and resumes the exact sequence', () => {
    const r = new Rng(99);
    for (let i = 0; i < 1000; i++) r.next();
    const saved = JSON.parse(JSON.stringify(r.state())) as number[];
    const a = Array.from({ length: 50 }, () => r.nextUint32());
    const b = Rng.fromState(saved);
    expect(Array.from({ length: 50 }, () => b.nextUint32())).toEqual(a);
  });

  it('setState rejects malformed states', () => {
    const r = new Rng(0);
    for (const bad of [[1, 2, 3], [1, 2, 3, -1], [1, 2, 3, 2 ** 32], [1, 2, 3, 0.5], [0, 0, 0, 0], 'x' as unknown as number[]]) {
      expect(() => r.setState(bad)).toThrow(RngStateError);
    }
    expect(() => new Rng(1.5)).toThrow(RngStateError);
  });
});

describe('TokenDataset', () => {
  it('splits contiguously: first 90% train, last 10% val', () => {
    const ds = new TokenDataset(arange(1000));
    const { train, val } = ds.split(0.1);
    expect(train.length).toBe(900);
    expect(val.length).toBe(100);
    expect(train.tokens[0]).toBe(0);
    expect(train.tokens[899]).toBe(899);
    expect(val.tokens[0]).toBe(900);
    expect(val.tokens[99]).toBe(999);
    expect(val.name).toBe('val');
  });

  it('batches are windows of T + 1 consecutive tokens; targets are inputs shifted by one', () => {
    const ds = new TokenDataset(arange(500));
    const B = 4, T = 16;
    const { inputs, targets } = ds.sampleBatch(B, T, new Rng(3));
    expect(inputs.length).toBe(B * T);
    for (let b = 0; b < B; b++) {
      const s = inputs[b * T];
      for (let t = 0; t < T; t++) {
        expect(inputs[b * T + t]).toBe(s + t);
        expect(targets[b * T + t]).toBe(s + t + 1);
      }
    }
  });

  it('every start in [0, N - T - 1] is reachable, including the last window', () => {
    const N = 20, T = 5;
    const ds = new TokenDataset(arange(N));
    const rng = new Rng(5);
    const seen = new Set<number>();
    for (let i = 0; i < 500; i++) seen.add(ds.sampleBatch(1, T, rng).inputs[0]);
    expect([...seen].sort((a, b) => a - b)).toEqual(Array.from({ length: N - T }, (_, i) => i));
    expect(ds.sampleBatch(1, N - 1, rng).inputs[0]).toBe(0); // exactly one window fits
  });

  it('reproducible from a seed and resumable from a saved RNG state', () => {
    const ds = new TokenDataset(Int32Array.from({ length: 5000 }, (_, i) => (i * 7919) % 97));
    const run = (rng: Rng, n: number): number[][] => Array.from({ length: n }, () => Array.from(ds.sampleBatch(8, 32, rng).inputs));
    expect(run(new Rng(11), 5)).toEqual(run(new Rng(11), 5));
    expect(run(new Rng(11), 1)).not.toEqual(run(new Rng(12), 1));
    const full = run(new Rng(11), 10);
    const first = new Rng(11);
    run(first, 4);
    const saved = JSON.stringify(first.state());
    expect(run(Rng.fromState(JSON.parse(saved)), 6)).toEqual(full.slice(4));
  });

  it('reuses output arrays when given', () => {
    const ds = new TokenDataset(arange(100));
    const out = { inputs: new Int32Array(8), targets: new Int32Array(8) };
    const b = ds.sampleBatch(2, 4, new Rng(1), out);
    expect(b.inputs).toBe(out.inputs);
    expect(() => ds.sampleBatch(2, 5, new Rng(1), out)).toThrow(ShapeError);
  });

  it('errors: empty corpus, corpus shorter than T + 1, split leaving a side empty, bad B/T', () => {
    expect(() => new TokenDataset(new Int32Array(0))).toThrow(CorpusError);
    expect(() => new TokenDataset(new Int32Array(0), 'val')).toThrow(/val: the corpus is empty \(0 tokens\)/);
    const ds = new TokenDataset(arange(64), 'val');
    expect(() => ds.sampleBatch(2, 64, new Rng(0))).toThrow(CorpusError);
    expect(() => ds.sampleBatch(2, 64, new Rng(0))).toThrow(/val: 64 tokens, but a window of T \+ 1 = 65 tokens is needed \(T = 64\)/);
    expect(() => new TokenDataset(arange(5)).split(0.1)).toThrow(/5 tokens are too few to split with valFraction 0.1 \(train 5, val 0 tokens\)/);
    expect(() => ds.split(0)).toThrow(RangeError);
    expect(() => ds.split(1)).toThrow(RangeError);
    expect(() => ds.sampleBatch(0, 4, new Rng(0))).toThrow(ShapeError);
    expect(() => ds.sampleBatch(2, 1.5, new Rng(0))).toThrow(ShapeError);
  });
});
