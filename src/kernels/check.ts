/** Argument checks shared by the kernel wrappers: every wrong input names the shapes involved. */
import { ShapeError } from '../errors.ts';
import { expectDim, expectShape, shapeStr, type Tensor } from '../gpu/tensor.ts';

export { expectDim, expectShape };

/** Check that `t` has exactly `n` elements (any shape). */
export function expectSize(op: string, arg: string, t: Tensor, n: number, what: string): void {
  if (t.size !== n) throw new ShapeError(`${op}: ${arg} ${shapeStr(t.shape)} has ${t.size} elements, expected ${n} (${what})`);
}

/** Product of all dims but the last, and the last dim. */
export function rowsCols(t: Tensor): [number, number] {
  const c = t.shape[t.shape.length - 1] ?? 1;
  return [c === 0 ? 0 : t.size / c, c];
}

/** Throw if two tensors are the same binding where the kernel needs them distinct. */
export function expectDistinct(op: string, a: Tensor, b: Tensor, names: string): void {
  if (a.buffer === b.buffer && a.offset === b.offset) throw new ShapeError(`${op}: ${names} must be different tensors`);
}

/**
 * True on GPUs, false on CPU adapters (lavapipe, SwiftShader): the one rule for which kernel
 * variants are the defaults. CPU adapters get barrier-free kernels where each invocation does
 * more work; GPUs get more invocations, workgroup memory and split-K (src/kernels/matmul.ts,
 * attention.ts).
 */
export function prefersGpuKernels(gpu: { report: { isSoftware: boolean } }): boolean {
  return !gpu.report.isSoftware;
}

/** Lanes of the device's smallest subgroup, 0 without the 'subgroups' feature. */
export function subgroupLanes(gpu: { device: GPUDevice; report: { subgroupMinSize: number } }): number {
  return gpu.device.features.has('subgroups' as GPUFeatureName) ? gpu.report.subgroupMinSize : 0;
}
