/** The runtime's promises: typed errors with the facts, bind-group reuse, memory counters. */
import { describe, expect, it } from 'vitest';
import { Gpu } from '../../src/gpu/context.ts';
import { registerKernel } from '../../src/gpu/shaders.ts';
import { DeviceLostError, GPUValidationError, LimitError, ShaderCompileError } from '../../src/errors.ts';
import { geluForward } from '../../src/kernels/gelu.ts';
import { testGpu } from '../util/node.ts';

describe('Gpu runtime', () => {
  it('reports the adapter and the limits it asked for', async () => {
    const gpu = await testGpu();
    expect(gpu.report.runtime).toBe('node');
    expect(gpu.limits.maxStorageBufferBindingSize).toBeGreaterThanOrEqual(128 * 1024 * 1024);
    expect(gpu.limits.maxComputeWorkgroupStorageSize).toBeGreaterThanOrEqual(16384);
  });

  it('a WGSL compile error throws ShaderCompileError with the line and the source line', async () => {
    const gpu = await testGpu();
    registerKernel('broken', `
@group(0) @binding(0) var<storage, read_write> x: array<f32>;
@compute @workgroup_size(1)
fn main() {
  x[0] = 1.0 + true;
}`);
    const t = gpu.tensor([1]);
    gpu.dispatch('broken', 'main', [t], [1]);
    const err = await gpu.submit().catch((e) => e);
    expect(err).toBeInstanceOf(ShaderCompileError);
    const m = (err as ShaderCompileError).messages[0];
    expect(m.sourceLine).toContain('1.0 + true');
    expect(err.message).toMatch(new RegExp(`broken\\.wgsl:${m.line}:`));
    gpu.release(t);
  });

  it('a validation error is caught by an error scope and thrown as GPUValidationError', async () => {
    const gpu = await testGpu();
    const a = gpu.tensor([8]);
    const small = gpu.tensor([1]);
    // gelu over 8 elements bound to a 1-element output: the wrapper catches the shape...
    expect(() => geluForward(gpu, small, a)).toThrow(/shape/);
    // ...and a raw dispatch with a too-small buffer is caught by WebGPU validation
    registerKernel('needs16', `
@group(0) @binding(0) var<storage, read_write> x: array<vec4<f32>, 4>;
@compute @workgroup_size(1) fn main() { x[0] = vec4<f32>(1.0); }`);
    gpu.dispatch('needs16', 'main', [small], [1]);
    await expect(gpu.submit()).rejects.toThrow(GPUValidationError);
    gpu.release(a, small);
  });

  it('releasing a tensor that recorded work still uses lets that work run first', async () => {
    const gpu = await testGpu();
    const a = gpu.tensor([8], new Float32Array(8).fill(2)), b = gpu.tensor([8]);
    geluForward(gpu, b, a); // recorded, not submitted
    gpu.release(a);
    const got = await gpu.read(b); // the next submit: no "used in submit while destroyed"
    expect(Array.from(got).every((v) => Math.abs(v - 1.9545977) < 1e-5)).toBe(true); // gelu(2)
    gpu.release(b);
  });

  it('a buffer over maxBufferSize is a LimitError naming the limit, before allocating', async () => {
    const gpu = await testGpu();
    const max = gpu.limits.maxBufferSize;
    expect(() => gpu.createBuffer(max + 4, GPUBufferUsage.STORAGE, 'huge')).toThrow(LimitError);
    expect(() => gpu.createBuffer(max + 4, GPUBufferUsage.STORAGE, 'huge')).toThrow(/maxBufferSize >= \d+, but the device has \d+/);
  });

  it('bind groups and pipelines are reused: repeating a dispatch creates nothing new', async () => {
    const gpu = await testGpu();
    const a = gpu.tensor([1000]), b = gpu.tensor([1000]);
    geluForward(gpu, b, a);
    await gpu.submit();
    const s1 = gpu.stats();
    for (let i = 0; i < 20; i++) geluForward(gpu, b, a);
    await gpu.submit();
    expect(gpu.stats()).toEqual(s1);
    gpu.release(a, b);
    expect(gpu.stats().buffers).toBe(s1.buffers - 2);
    expect(gpu.stats().bindGroups).toBe(s1.bindGroups - 1); // forgotten with the buffers
  });

  it('after device loss every call throws DeviceLostError', async () => {
    const gpu = await Gpu.create(); // its own device: this one is destroyed
    const t = gpu.tensor([4], [1, 2, 3, 4]);
    gpu.device.destroy();
    const info = await gpu.lost;
    expect(info.reason).toBe('destroyed');
    expect(() => gpu.tensor([4])).toThrow(DeviceLostError);
    await expect(gpu.read(t)).rejects.toThrow(DeviceLostError);
    gpu.destroy();
  });

  it('devices made and destroyed one after another leave a live device working (one Dawn instance per process)', async () => {
    // With a Dawn instance per device, this aborted the process (a freed mutex in Dawn's event
    // processing) or hung it, in about 2 of 5 runs of this file: see src/gpu/device.ts.
    const live = await testGpu();
    const a = live.tensor([4096], Array.from({ length: 4096 }, (_, i) => (i % 13) - 6));
    const b = live.tensor([4096]);
    for (let round = 0; round < 6; round++) {
      const other = await Gpu.create();
      other.tensor([16], new Array(16).fill(round));
      other.device.destroy();
      await other.lost;
      other.destroy();
      (globalThis as { gc?: () => void }).gc?.(); // let a dropped instance be finalized now
      live.startProfile();
      geluForward(live, b, a);
      const prof = await live.stopProfile();
      expect(prof.get('gelu.gelu_forward')?.count).toBe(1);
      const y = await live.read(b);
      expect(y[7]).toBeCloseTo(0.5 * 1 * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (1 + 0.044715))), 5); // gelu(1)
    }
    live.release(a, b);
  });
});

describe('profiling', () => {
  it('times each dispatch with timestamp queries and groups by kernel', async () => {
    const gpu = await testGpu();
    expect(gpu.canProfile).toBe(true); // lavapipe and SwiftShader both have timestamp-query
    const a = gpu.tensor([1 << 16]), b = gpu.tensor([1 << 16]);
    gpu.startProfile();
    for (let i = 0; i < 5; i++) geluForward(gpu, b, a);
    await gpu.submit();
    geluForward(gpu, b, a);
    const prof = await gpu.stopProfile();
    const g = prof.get('gelu.gelu_forward');
    expect(g?.count).toBe(6);
    expect(g!.ms).toBeGreaterThan(0);
    gpu.release(a, b);
  });
});
