/** Record which kernel entry points a Gpu dispatches (tests of kernel choices). */
import type { Gpu } from '../../src/gpu/context.ts';

/**
 * Wrap gpu.dispatch so every dispatch appends "kernel.entry" to `entries` (in order, repeats
 * kept); `restore()` puts the original back.
 */
export function recordDispatches(gpu: Gpu): { entries: string[]; restore(): void } {
  const entries: string[] = [];
  const dispatch = gpu.dispatch.bind(gpu);
  gpu.dispatch = (kernel, entry, ...rest) => {
    entries.push(`${kernel}.${entry}`);
    return dispatch(kernel, entry, ...rest);
  };
  return { entries, restore: () => { gpu.dispatch = dispatch; } };
}
