/**
 * TensorFlow.js's WebGPU backend as the baseline, on the same Dawn adapter in the same process.
 *
 * tfjs finds WebGPU through navigator.gpu; Node has no such global, so we give it one made by
 * Dawn for Node (npm `webgpu`) before the backend module is loaded. It requests its own adapter
 * and device from that instance: the same Vulkan driver our Gpu uses (the bench prints both).
 */
import { createRequire } from 'node:module';
import { create, globals } from 'webgpu';

export interface Tfjs {
  /** The @tensorflow/tfjs-core module. */
  tf: any;
  /** The WebGPUBackend instance (device, queue, submitQueue()). */
  backend: any;
  /** What tfjs reports about its adapter. */
  adapter: { vendor: string; architecture: string };
}

/** Load tfjs-core + the WebGPU backend on Dawn. Call once, after our own Gpu is created. */
export async function loadTfjs(): Promise<Tfjs> {
  const g = globalThis as any;
  for (const [k, v] of Object.entries(globals)) if (g[k] === undefined) g[k] = v;
  const gpu = create([]);
  // Node >= 21 has a navigator global (read-only getter); Node 20 has none.
  if (g.navigator) Object.defineProperty(g.navigator, 'gpu', { value: gpu, configurable: true });
  else Object.defineProperty(g, 'navigator', { value: { gpu }, configurable: true, writable: true });

  const tf: any = await import('@tensorflow/tfjs-core');
  await import('@tensorflow/tfjs-backend-webgpu'); // registers 'webgpu' now that navigator.gpu exists
  // Gradients (for the training benchmark) are not in tfjs-core's Node bundle. Its unbundled ES
  // build registers them, in tfjs's global gradient registry that the bundle's engine reads too;
  // that build uses extensionless imports, so it is loaded with require (tsx transpiles it).
  createRequire(import.meta.url)('@tensorflow/tfjs-core/dist/register_all_gradients.js');
  if (!(await tf.setBackend('webgpu'))) throw new Error('tfjs: the webgpu backend failed to initialise on Dawn');
  await tf.ready();
  const backend = tf.backend();
  const info = backend.adapterInfo ?? {};
  return { tf, backend, adapter: { vendor: String(info.vendor ?? ''), architecture: String(info.architecture ?? '') } };
}

/** Wait until every tfjs dispatch recorded so far has run on the device. */
export async function tfjsSync(t: Tfjs): Promise<void> {
  const b = t.backend;
  if (b.commandEncoder) {
    b.endComputePassEncoder(); // what tfjs itself does before submitting (see getBufferData)
    b.submitQueue();
  }
  await t.backend.device.queue.onSubmittedWorkDone();
}
