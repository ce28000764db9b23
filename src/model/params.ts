/**
 * Parameters of the GPT, llm.c style: one flat allocation cut into named views.
 *
 * Names follow nanoGPT's state dict (GPT-2 tensor names, nn.Linear layout (out, in)):
 *   transformer.wte.weight (V, C)            token embedding, tied to the LM head
 *   transformer.wpe.weight (T_max, C)        position embedding
 *   transformer.h.{l}.ln_1.weight/bias (C)
 *   transformer.h.{l}.attn.c_attn.weight (3C, C), .bias (3C)
 *   transformer.h.{l}.attn.c_proj.weight (C, C),  .bias (C)
 *   transformer.h.{l}.ln_2.weight/bias (C)
 *   transformer.h.{l}.mlp.c_fc.weight (4C, C),   .bias (4C)
 *   transformer.h.{l}.mlp.c_proj.weight (C, 4C), .bias (C)
 *   transformer.ln_f.weight/bias (C)
 *
 * Layout: every 2-D tensor (weight decay applies) comes first, then every 1-D tensor (no decay),
 * so AdamW runs as two contiguous ranges. Each tensor starts on a 256-byte boundary (64 floats)
 * so it can be bound on its own. The same layout is used for gradients and Adam's m and v.
 */
import type { GPTConfig } from './config.ts';

export interface ParamSpec {
  name: string;
  shape: number[];
  /** Offset in elements into the flat buffer (multiple of ALIGN). */
  offset: number;
  size: number;
  /** Weight decay applies (2-D tensors). */
  decay: boolean;
  /** Init: 'normal' with std, or constant. */
  init: { kind: 'normal'; std: number } | { kind: 'const'; value: number };
  /** Which block this tensor belongs to (-1 for embeddings and ln_f). */
  layer: number;
}

/** Floats per alignment unit: 64 floats = 256 bytes = minStorageBufferOffsetAlignment. */
export const ALIGN = 64;

export interface ParamLayout {
  specs: ParamSpec[];
  byName: Map<string, ParamSpec>;
  /** Total floats including alignment padding. */
  total: number;
  /** Elements [0, decayEnd) have weight decay; [decayEnd, total) do not. */
  decayEnd: number;
  /** Parameters without padding. */
  count: number;
}

export function paramLayout(c: GPTConfig): ParamLayout {
  const { vocabSize: V, blockSize: Tm, nLayer: L, nEmbd: C } = c;
  const std = 0.02;
  const projStd = 0.02 / Math.sqrt(2 * L); // GPT-2: residual projections scaled by 1/sqrt(2L)
  const mats: Omit<ParamSpec, 'offset' | 'size' | 'decay'>[] = [];
  const vecs: Omit<ParamSpec, 'offset' | 'size' | 'decay'>[] = [];
  const normal = (s: number) => ({ kind: 'normal' as const, std: s });
  const zeros = { kind: 'const' as const, value: 0 };
  const ones = { kind: 'const' as const, value: 1 };
  mats.push({ name: 'transformer.wte.weight', shape: [V, C], init: normal(std), layer: -1 });
  mats.push({ name: 'transformer.wpe.weight', shape: [Tm, C], init: normal(std), layer: -1 });
  for (let l = 0; l < L; l++) {
    const p = `transformer.h.${l}.`;
    mats.push({ name: `${p}attn.c_attn.weight`, shape: [3 * C, C], init: normal(std), layer: l });
    mats.push({ name: `${p}attn.c_proj.weight`, shape: [C, C], init: normal(projStd), layer: l });
    mats.push({ name: `${p}mlp.c_fc.weight`, shape: [4 * C, C], init: normal(std), layer: l });
    mats.push({ name: `${p}mlp.c_proj.weight`, shape: [C, 4 * C], init: normal(projStd), layer: l });
    vecs.push({ name: `${p}ln_1.weight`, shape: [C], init: ones, layer: l });
    vecs.push({ name: `${p}ln_1.bias`, shape: [C], init: zeros, layer: l });
    vecs.push({ name: `${p}attn.c_attn.bias`, shape: [3 * C], init: zeros, layer: l });
    vecs.push({ name: `${p}attn.c_proj.bias`, shape: [C], init: zeros, layer: l });
    vecs.push({ name: `${p}ln_2.weight`, shape: [C], init: ones, layer: l });
    vecs.push({ name: `${p}ln_2.bias`, shape: [C], init: zeros, layer: l });
    vecs.push({ name: `${p}mlp.c_fc.bias`, shape: [4 * C], init: zeros, layer: l });
    vecs.push({ name: `${p}mlp.c_proj.bias`, shape: [C], init: zeros, layer: l });
  }
  vecs.push({ name: 'transformer.ln_f.weight', shape: [C], init: ones, layer: -1 });
  vecs.push({ name: 'transformer.ln_f.bias', shape: [C], init: zeros, layer: -1 });

  const specs: ParamSpec[] = [];
  let off = 0;
  let count = 0;
  const place = (s: Omit<ParamSpec, 'offset' | 'size' | 'decay'>, decay: boolean) => {
    const size = s.shape.reduce((a, b) => a * b, 1);
    specs.push({ ...s, offset: off, size, decay });
    off += Math.ceil(size / ALIGN) * ALIGN;
    count += size;
  };
  for (const s of mats) place(s, true);
  const decayEnd = off;
  for (const s of vecs) place(s, false);
  return { specs, byName: new Map(specs.map((s) => [s.name, s])), total: off, decayEnd, count };
}
