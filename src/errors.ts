/**
 * Typed errors. Every error wgpt throws on purpose is a WgptError with a stable `code`,
 * and a message that carries the actual values (shapes, limits, file offsets).
 */
export class WgptError extends Error {
  readonly code: string;
  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
  }
}

/** No WebGPU implementation in this environment (no navigator.gpu, no Dawn for Node). */
export class WebGPUUnavailableError extends WgptError {
  constructor(message: string, options?: { cause?: unknown }) { super('WEBGPU_UNAVAILABLE', message, options); }
}

/** WebGPU exists but no adapter was returned; `tried` lists what was attempted. */
export class NoAdapterError extends WgptError {
  readonly tried: string[];
  constructor(tried: string[], hint: string) {
    super('NO_ADAPTER', `no WebGPU adapter found (tried: ${tried.join('; ')}). ${hint}`);
    this.tried = tried;
  }
}

export interface ShaderMessage { type: string; line: number; column: number; message: string; sourceLine: string }

/** A WGSL module failed to compile; `messages` hold line numbers and the source lines. */
export class ShaderCompileError extends WgptError {
  readonly messages: ShaderMessage[];
  constructor(kernel: string, messages: ShaderMessage[]) {
    const text = messages
      .map((m) => `  ${kernel}.wgsl:${m.line}:${m.column} ${m.type}: ${m.message}\n    | ${m.sourceLine}`)
      .join('\n');
    super('SHADER_COMPILE', `WGSL compile error in ${kernel}:\n${text}`);
    this.messages = messages;
  }
}

/** A WebGPU validation or out-of-memory error caught through an error scope. */
export class GPUValidationError extends WgptError {
  constructor(what: string, message: string) { super('GPU_VALIDATION', `${what}: ${message}`); }
}

/** The GPU device was lost (driver reset, destroy(), tab backgrounded). */
export class DeviceLostError extends WgptError {
  readonly reason: string;
  constructor(reason: string, message: string) {
    super('DEVICE_LOST', `GPU device lost (${reason}): ${message}`);
    this.reason = reason;
  }
}

/** A tensor has the wrong shape, length or dtype for the operation. */
export class ShapeError extends WgptError {
  constructor(message: string) { super('SHAPE', message); }
}

/** A size exceeds a device limit; names the limit, what was needed and what the adapter has. */
export class LimitError extends WgptError {
  readonly limit: string;
  readonly needed: number;
  readonly available: number;
  constructor(limit: string, needed: number, available: number, what: string) {
    super('LIMIT', `${what} needs ${limit} >= ${needed}, but the device has ${available}`);
    this.limit = limit;
    this.needed = needed;
    this.available = available;
  }
}
