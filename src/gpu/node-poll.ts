/**
 * Dawn for Node waits for the GPU by polling. While any of its promises is pending (mapAsync,
 * onSubmittedWorkDone, popErrorScope, requestDevice), its AsyncRunner calls
 * wgpuInstanceProcessEvents from a callback it passes to `globalThis.setImmediate`, and schedules
 * the next call from inside that callback, with no pause (dawn/node/binding/AsyncRunner.cpp:
 * "TODO(crbug.com/dawn/1127): We probably want to reduce the frequency at which this gets
 * called"). The main thread spins at 100 % of a core for as long as the GPU works.
 *
 * On a CPU adapter that core is one the driver needs: lavapipe runs a dispatch on as many threads
 * as there are cores, and compiles pipelines on its queue thread. Measured on the 2-core dev
 * machine (`npx tsx bench/poll.ts`, bench/README.md): the main thread burned 2.0-2.2 s of CPU in
 * 10 `small` steps of 2.5-2.7 s, and the steps ran 1.4-1.6x faster with the polls spaced out.
 *
 * installPollThrottle() (called by acquireDevice for CPU adapters in Node, unless
 * AcquireOptions.busyPoll) wraps `globalThis.setImmediate` so that Dawn's polls, after the first one
 * of a wait, wait for a timer tick (setTimeout 0, about 1 ms) instead of running back to back: a
 * wait still notices completion within about a millisecond, and a promise that is ready at the
 * first poll (an error scope) costs no delay at all. Only Dawn's re-arming polls are spaced out:
 * an anonymous native function (what N-API makes: name '' and `[native code]`) scheduled from
 * inside another one; every other callback goes to the real setImmediate unchanged. The wrapper
 * is process-wide: once a Gpu on a CPU adapter installed it, it stays for the process. On a GPU adapter Dawn keeps polling as it does: the core it
 * spins is not one the GPU needs, and a timer tick would add up to 1 ms to every wait.
 */

const KEY = Symbol.for('wgpt.dawnPollThrottle');

interface Throttle {
  /** the setImmediate that was there before */
  immediate: typeof setImmediate;
  /** addon callbacks seen, and how many of them (Dawn re-arming its poll) waited for a timer */
  polls: number;
  deferred: number;
}

/**
 * True for the anonymous native functions that N-API addons (Dawn for Node) create. Promise
 * resolve functions look the same; they are told apart by where they are scheduled from (below).
 */
export function isAddonCallback(fn: unknown): boolean {
  return typeof fn === 'function' && fn.name === '' && Function.prototype.toString.call(fn).includes('[native code]');
}

/**
 * Space out Dawn for Node's polling (see the file comment). Process-wide and idempotent; a no-op
 * where there is no setImmediate (browsers).
 *
 * Dawn's poll loop is recognised by what it does: an addon callback that, while it runs,
 * schedules the next addon callback. Only that re-arming call is deferred to a timer; the first
 * poll of a wait, and every other callback (a promise's resolve function passed to setImmediate
 * included), goes to the real setImmediate and gets a real Immediate back.
 */
export function installPollThrottle(): void {
  const g = globalThis as any;
  if (g[KEY] || typeof g.setImmediate !== 'function' || typeof g.setTimeout !== 'function') return;
  const immediate: typeof setImmediate = g.setImmediate;
  const timeout: typeof setTimeout = g.setTimeout; // as installed now: later fake timers do not stall Dawn
  const state: Throttle = { immediate, polls: 0, deferred: 0 };
  let inAddonCallback = false;
  // run an addon callback with inAddonCallback set, so that what it schedules can be told apart
  const tracked = (fn: (...a: any[]) => unknown, args: any[]) =>
    function (this: unknown) {
      const outer = inAddonCallback;
      inAddonCallback = true;
      try {
        return fn.apply(this, args);
      } finally {
        inAddonCallback = outer;
      }
    };
  function throttledSetImmediate(this: unknown, fn: any, ...args: any[]): any {
    if (!isAddonCallback(fn)) return (immediate as any).call(this, fn, ...args);
    state.polls++;
    if (inAddonCallback) {
      state.deferred++;
      return (timeout as any)(tracked(fn, args), 0);
    }
    return (immediate as any).call(this, tracked(fn, args));
  }
  // keep what hangs off the original (util.promisify.custom, __promisify__)
  for (const k of Reflect.ownKeys(immediate)) {
    if (k === 'length' || k === 'name' || k === 'prototype') continue;
    const d = Object.getOwnPropertyDescriptor(immediate, k);
    if (d) Object.defineProperty(throttledSetImmediate, k, d);
  }
  Object.defineProperty(g, KEY, { value: state, configurable: true });
  g.setImmediate = throttledSetImmediate;
}

/** Remove the throttle (tests). */
export function uninstallPollThrottle(): void {
  const g = globalThis as any;
  const state: Throttle | undefined = g[KEY];
  if (!state) return;
  g.setImmediate = state.immediate;
  delete g[KEY];
}

/** Addon callbacks (Dawn's polls) seen since the throttle was installed, and how many waited for a timer; null without it. */
export function pollStats(): { polls: number; deferred: number } | null {
  const state: Throttle | undefined = (globalThis as any)[KEY];
  return state ? { polls: state.polls, deferred: state.deferred } : null;
}
