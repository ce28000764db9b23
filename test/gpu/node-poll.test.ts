/**
 * Dawn for Node's polling, spaced out (src/gpu/node-poll.ts): Dawn's own callbacks wait for a
 * timer tick after the first poll of a wait, every other setImmediate callback is untouched.
 */
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { installPollThrottle, isAddonCallback, pollStats } from '../../src/gpu/node-poll.ts';
import { matmul } from '../../src/kernels/matmul.ts';
import { testGpu } from '../util/node.ts';

describe('Dawn for Node polling', () => {
  it('a Gpu on a CPU adapter spaces out Dawn\'s polls while it waits for the GPU (a GPU adapter keeps them)', async () => {
    const gpu = await testGpu();
    if (!gpu.report.isSoftware) {
      expect(pollStats(), 'no throttle for a GPU adapter').toBeNull();
      return;
    }
    expect(pollStats(), 'Gpu.create installs the throttle on a CPU adapter').not.toBeNull();
    // work that keeps lavapipe busy for a while: a 768 x 768 x 768 matmul, 4 times
    const n = 768;
    const a = gpu.tensor([n, n], new Float32Array(n * n).fill(0.5));
    const b = gpu.tensor([n, n], new Float32Array(n * n).fill(0.25));
    const c = gpu.tensor([n, n]);
    await gpu.sync();
    const p0 = pollStats()!;
    const t0 = performance.now();
    for (let i = 0; i < 4; i++) matmul(gpu, c, a, b, n, n, n);
    await gpu.sync();
    const ms = performance.now() - t0;
    const p1 = pollStats()!;
    const polls = p1.polls - p0.polls;
    // spinning, Dawn polls tens of times per millisecond; spaced out, at most once per timer tick
    // (>= 1 ms), plus the first, immediate poll of each wait
    expect(polls).toBeGreaterThan(0);
    expect(polls).toBeLessThanOrEqual(ms * 1.2 + 10);
    expect(p1.deferred - p0.deferred).toBeGreaterThan(0);
    expect((await gpu.read(c, 0, 1))[0]).toBeCloseTo(n * 0.125, 3);
    gpu.release(a, b, c);
  });

  it('tells N-API callbacks from JavaScript, bound and built-in functions', () => {
    // a Proxy of an anonymous function prints as native code with an empty name, as N-API's do
    expect(isAddonCallback(new Proxy(() => {}, {}))).toBe(true);
    expect(isAddonCallback(() => {})).toBe(false);
    expect(isAddonCallback(function named() {})).toBe(false);
    expect(isAddonCallback((() => {}).bind(null))).toBe(false); // native, but named 'bound '
    expect(isAddonCallback(Math.max)).toBe(false);
    expect(isAddonCallback('not a function')).toBe(false);
  });

  it('leaves other setImmediate callbacks, promise resolvers and promisify(setImmediate) as they were', async () => {
    installPollThrottle();
    const ran: number[] = [];
    await new Promise<void>((resolve) => setImmediate((a: number, b: number) => { ran.push(a, b); resolve(); }, 1, 2));
    expect(ran).toEqual([1, 2]);
    const handle = setImmediate(() => {});
    expect(handle.constructor.name).toBe('Immediate');
    clearImmediate(handle);
    expect(await promisify(setImmediate)('value')).toBe('value');
    // a promise's resolve function is an anonymous native function too, but it is never deferred,
    // however often it is scheduled
    const before = pollStats()!.deferred;
    for (let i = 0; i < 50; i++) {
      await new Promise<void>((resolve) => {
        expect(setImmediate(resolve).constructor.name).toBe('Immediate');
      });
    }
    expect(pollStats()!.deferred).toBe(before);
  });

  it('defers an addon callback that schedules the next one from inside itself (Dawn\'s poll loop)', async () => {
    installPollThrottle();
    const before = pollStats()!;
    const kinds: string[] = [];
    await new Promise<void>((done) => {
      let left = 5;
      // a Proxy of an anonymous function looks like an N-API callback: native, no name
      const poll = (): unknown => new Proxy(() => {
        if (--left === 0) return done();
        kinds.push(setImmediate(poll() as () => void).constructor.name);
      }, {});
      kinds.push(setImmediate(poll() as () => void).constructor.name);
    });
    expect(kinds).toEqual(['Immediate', 'Timeout', 'Timeout', 'Timeout', 'Timeout']);
    const after = pollStats()!;
    expect(after.polls - before.polls).toBe(5);
    expect(after.deferred - before.deferred).toBe(4);
  });

});
