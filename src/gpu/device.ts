/**
 * Getting a WebGPU device, the same way in browsers (navigator.gpu) and in Node (Dawn, npm `webgpu`).
 *
 * On a machine with no GPU, Node finds lavapipe (Mesa's CPU Vulkan driver) through the Vulkan
 * loader, and Chromium uses SwiftShader. We ask for the limits a GPT needs up to what the adapter
 * offers, never more, and report the adapter so users can see what they are training on.
 */
import { NoAdapterError, WebGPUUnavailableError } from '../errors.ts';
import { installPollThrottle } from './node-poll.ts';

/** What we know about the adapter in use. */
export interface AdapterReport {
  /** 'browser' (navigator.gpu) or 'node' (Dawn for Node). */
  runtime: 'browser' | 'node';
  vendor: string;
  architecture: string;
  device: string;
  description: string;
  /** True for software/fallback adapters (SwiftShader reports this; lavapipe is detected by name). */
  isFallbackAdapter: boolean;
  /** True when the adapter is a CPU implementation (lavapipe, SwiftShader). */
  isSoftware: boolean;
  features: string[];
  /** The limits the device was created with (what kernels may rely on). */
  limits: Record<string, number>;
  /**
   * Smallest and largest subgroup size of the adapter (GPUAdapterInfo.subgroupMinSize / MaxSize),
   * 0 where the adapter does not say. Kernels that use the 'subgroups' feature check them.
   */
  subgroupMinSize: number;
  subgroupMaxSize: number;
}

export interface AcquireOptions {
  powerPreference?: GPUPowerPreference;
  /** Extra limits to require; each is clamped to what the adapter supports. */
  requiredLimits?: Record<string, number>;
  /** Dawn toggles/options for Node, e.g. ['backend=vulkan']. */
  dawnOptions?: string[];
  /**
   * Node only: leave Dawn for Node's busy polling as it is. By default the first Gpu of a process
   * on a CPU adapter (lavapipe) spaces Dawn's polls out by a timer tick after the first poll of
   * each wait, so that the main thread does not spin a whole core while it waits for the GPU: on
   * lavapipe that core runs the kernels (steps 1.4-1.6x faster on 2 cores). Process-wide: once
   * installed it stays, for every later Gpu too; a process with only GPU adapters keeps Dawn's
   * polling. See src/gpu/node-poll.ts.
   */
  busyPoll?: boolean;
  /**
   * Gpu.create: a second device of the same adapter that compiles, in parallel, the pipelines a
   * submission runs for the first time (see Gpu.create). Default: on for lavapipe in Node with at
   * least 2 CPU cores and Mesa's shader cache on (the helper hands its code over through that
   * cache; MESA_SHADER_CACHE_DISABLE=true turns it off; with a cache directory that cannot be
   * written it only costs CPU time), off everywhere else. true asks for it wherever Node runs (it
   * then only costs a device), false never.
   */
  compileHelper?: boolean;
  /**
   * Gpu: make new pipelines off the main thread (createComputePipelineAsync) while recording goes
   * on, and encode the dispatches that use them at the next submit (default true). A write or a
   * release in between must submit the recorded work first, and makes the pipelines it still
   * waits for there, synchronously. false makes each pipeline where it is first used
   * (createComputePipeline, which blocks). Errors are the same either way, thrown by the next
   * submit.
   */
  asyncPipelines?: boolean;
}

/** Limits a GPT trainer wants as large as the adapter allows. */
const WANTED_LIMITS = [
  'maxStorageBufferBindingSize',
  'maxBufferSize',
  'maxComputeWorkgroupStorageSize',
  'maxComputeInvocationsPerWorkgroup',
  'maxComputeWorkgroupSizeX',
  'maxComputeWorkgroupSizeY',
  'maxStorageBuffersPerShaderStage',
  'maxComputeWorkgroupsPerDimension',
] as const;

const REPORTED_LIMITS = [
  ...WANTED_LIMITS,
  'maxUniformBufferBindingSize',
  'minStorageBufferOffsetAlignment',
  'maxBindGroups',
] as const;

export interface AcquiredDevice {
  device: GPUDevice;
  adapter: GPUAdapter;
  report: AdapterReport;
  /** Node only: the Dawn instance; keeping it alive keeps the process alive. */
  release(): void;
}

function isNode(): boolean {
  return typeof process !== 'undefined' && !!process.versions?.node && typeof (globalThis as any).window === 'undefined';
}

/** The lavapipe ICD file locations Debian's mesa-vulkan-drivers installs. */
const LAVAPIPE_ICDS = ['/usr/share/vulkan/icd.d/lvp_icd.json', '/usr/share/vulkan/icd.d/lvp_icd.x86_64.json'];

/**
 * Dawn instances of this process, by options and Vulkan ICD: every device of the process comes
 * from one instance, counted by its users. Two live instances in one process are not safe in Dawn
 * for Node 0.6.2: after a device of one was destroyed and its instance dropped, the next
 * ProcessEvents of the other aborted on a freed mutex (`pthread_mutex_lock: Assertion
 * mutex->__data.__owner == 0`) or waited on it forever, in about 2 of 5 runs of
 * test/gpu/runtime.test.ts.
 */
const dawnInstances = new Map<string, { gpu: GPU; users: number }>();

async function nodeGpu(options: string[]): Promise<{ gpu: GPU; release(): void }> {
  let mod: any;
  try {
    const name = 'webgpu';
    mod = await import(/* @vite-ignore */ name);
  } catch (e) {
    throw new WebGPUUnavailableError(
      "WebGPU is not available in this Node process: the 'webgpu' package (Dawn for Node) could not be loaded. Install it with `npm install webgpu`.",
      { cause: e },
    );
  }
  const g = globalThis as any;
  // GPUBufferUsage, GPUMapMode, GPUShaderStage ... are globals in browsers; Dawn exports them.
  for (const [k, v] of Object.entries(mod.globals ?? {})) if (g[k] === undefined) g[k] = v;
  const key = `${options.join('\n')}|${process.env.VK_ICD_FILENAMES ?? ''}`;
  let entry = dawnInstances.get(key);
  if (!entry) {
    entry = { gpu: mod.create(options) as GPU, users: 0 };
    dawnInstances.set(key, entry);
  }
  entry.users++;
  const used = entry;
  let released = false;
  return {
    gpu: used.gpu,
    release: () => {
      if (released) return;
      released = true;
      // the last user gone: drop the instance, so that the Node process can exit
      if (--used.users === 0 && dawnInstances.get(key) === used) dawnInstances.delete(key);
    },
  };
}

/**
 * Acquire a GPUDevice with the limits a GPT needs. Throws WebGPUUnavailableError when there is no
 * WebGPU at all, NoAdapterError (with what was tried and how to fix it) when there is no adapter.
 */
export async function acquireDevice(opts: AcquireOptions = {}): Promise<AcquiredDevice> {
  const tried: string[] = [];
  let gpu: GPU | undefined;
  let release = () => {};
  let runtime: 'browser' | 'node';
  if (typeof navigator !== 'undefined' && (navigator as any).gpu) {
    gpu = (navigator as any).gpu as GPU;
    runtime = 'browser';
    tried.push('navigator.gpu');
  } else if (isNode()) {
    const n = await nodeGpu(opts.dawnOptions ?? []);
    gpu = n.gpu;
    release = n.release;
    runtime = 'node';
    tried.push(`Dawn for Node (webgpu) with VK_ICD_FILENAMES=${process.env.VK_ICD_FILENAMES ?? '(unset)'}`);
  } else {
    throw new WebGPUUnavailableError(
      'WebGPU is not available: navigator.gpu is undefined. Use a browser with WebGPU (Chrome/Edge 113+, Safari 26+, Firefox 141+ on Windows), ' +
        'or in Chromium on Linux start it with --enable-unsafe-webgpu --enable-features=Vulkan. Pages must be served over https or http://localhost.',
    );
  }
  let adapter = await gpu.requestAdapter({ powerPreference: opts.powerPreference ?? 'high-performance' });
  if (!adapter && runtime === 'node' && !process.env.VK_ICD_FILENAMES) {
    // No default Vulkan driver answered: point the loader at lavapipe if it is installed.
    const fsName = 'node:fs';
    const fs = await import(/* @vite-ignore */ fsName);
    const icd = LAVAPIPE_ICDS.find((p) => fs.existsSync(p));
    if (icd) {
      release(); // the instance that found no adapter
      process.env.VK_ICD_FILENAMES = icd;
      const n = await nodeGpu(opts.dawnOptions ?? []);
      gpu = n.gpu;
      release = n.release;
      tried.push(`Dawn for Node with VK_ICD_FILENAMES=${icd} (lavapipe)`);
      adapter = await gpu.requestAdapter();
    } else {
      tried.push(`lavapipe (none of ${LAVAPIPE_ICDS.join(', ')} exists)`);
    }
  }
  if (!adapter && runtime === 'browser') {
    adapter = await gpu.requestAdapter({ forceFallbackAdapter: true });
    tried.push('navigator.gpu with forceFallbackAdapter');
  }
  if (!adapter) {
    release();
    const hint =
      runtime === 'node'
        ? 'On Linux without a GPU install lavapipe (Debian: mesa-vulkan-drivers >= 24 from bookworm-backports, plus libvulkan1); ' +
          'in this repository `sudo bash scripts/install-system.sh` does it.'
        : 'Enable WebGPU in the browser (chrome://flags/#enable-unsafe-webgpu) or use a browser that ships it.';
    throw new NoAdapterError(tried, hint);
  }

  const requiredLimits: Record<string, number> = {};
  for (const name of WANTED_LIMITS) {
    const v = (adapter.limits as any)[name];
    if (typeof v === 'number') requiredLimits[name] = v;
  }
  for (const [name, v] of Object.entries(opts.requiredLimits ?? {})) {
    const max = (adapter.limits as any)[name];
    if (typeof max === 'number') requiredLimits[name] = Math.min(v, max);
  }
  const requiredFeatures: GPUFeatureName[] = [];
  if (adapter.features.has('timestamp-query')) requiredFeatures.push('timestamp-query');
  // subgroups: the matmul fast path on lavapipe broadcasts rows across a subgroup (src/kernels/matmul.ts)
  if (adapter.features.has('subgroups' as GPUFeatureName)) requiredFeatures.push('subgroups' as GPUFeatureName);
  const device = await adapter.requestDevice({ requiredLimits, requiredFeatures, label: 'wgpt' });

  const info: any = (adapter as any).info ?? {};
  const limits: Record<string, number> = {};
  for (const name of REPORTED_LIMITS) limits[name] = (device.limits as any)[name];
  const description = String(info.description ?? '');
  const software =
    !!(adapter as any).isFallbackAdapter || !!info.isFallbackAdapter ||
    /llvmpipe|lavapipe|swiftshader|software/i.test(`${info.vendor} ${info.architecture} ${info.device} ${description}`);
  // a CPU adapter needs the core that Dawn for Node's polling would spin (src/gpu/node-poll.ts); on
  // a GPU the polling stays as it is (a timer tick would add up to 1 ms to every wait there)
  if (runtime === 'node' && software && !opts.busyPoll) installPollThrottle();
  const report: AdapterReport = {
    runtime,
    vendor: String(info.vendor ?? ''),
    architecture: String(info.architecture ?? ''),
    device: String(info.device ?? ''),
    description,
    isFallbackAdapter: !!((adapter as any).isFallbackAdapter ?? info.isFallbackAdapter),
    isSoftware: software,
    features: [...device.features].map(String).sort(),
    limits,
    subgroupMinSize: Number(info.subgroupMinSize ?? 0) || 0,
    subgroupMaxSize: Number(info.subgroupMaxSize ?? 0) || 0,
  };
  return { device, adapter, report, release };
}

/** Whether Gpu.create should make a compile helper for this adapter (AcquireOptions.compileHelper). */
export async function wantsCompileHelper(report: AdapterReport, opts: AcquireOptions): Promise<boolean> {
  if (report.runtime !== 'node' || opts.compileHelper === false) return false;
  if (opts.compileHelper === true) return true;
  const lavapipe = /llvmpipe|lavapipe/i.test(`${report.device} ${report.description} ${report.architecture}`);
  const off = (v: string | undefined) => v !== undefined && /^(1|y|yes|true)$/i.test(v); // Mesa's env_var_as_boolean
  const cacheOff = off(process.env.MESA_SHADER_CACHE_DISABLE) || off(process.env.MESA_GLSL_CACHE_DISABLE) || process.env.MESA_SHADER_CACHE_MAX_SIZE === '0';
  if (!lavapipe || cacheOff) return false;
  const osName = 'node:os';
  const os = await import(/* @vite-ignore */ osName);
  return (os.availableParallelism?.() ?? os.cpus().length) >= 2;
}

/** One-line description of an adapter, for logs and benchmark headers. */
export function describeAdapter(r: AdapterReport): string {
  const name = [r.vendor, r.architecture, r.device || r.description].filter(Boolean).join(' / ') || 'unknown adapter';
  return `${name} (${r.runtime}${r.isSoftware ? ', software' : ''})`;
}
